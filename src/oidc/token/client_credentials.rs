//! The client_credentials grant (RFC 6749 §4.4): a service authenticates as itself and gets an
//! access token about itself — no person, so no ID token and no refresh token.

use super::super::error::{ErrorCode, OidcError};
use super::super::params::Params;
use super::super::{Client, Provider, Scopes};
use super::{Grant, Subject, TokenResponse};

/// Scopes that describe a person, meaningless for a client acting as itself: every scope dingo
/// knows is one (a service's own scopes are the client's registered names beyond these).
const PERSON_SCOPES: &[&str] = crate::config::KNOWN_SCOPES;

impl Provider {
    pub(super) async fn client_credentials_grant(
        &self,
        form: &Params,
        client: &Client,
        audience: Option<&str>,
    ) -> Result<TokenResponse, OidcError> {
        if client.is_public() {
            return Err(OidcError::new(
                ErrorCode::UnauthorizedClient,
                "a public client cannot use client credentials",
            ));
        }
        let scope = granted_scope(form.get("scope"), &client.scopes)?;
        let store = self.db.checkout().await?;
        self.issue(
            Grant {
                client,
                subject: Subject::Client,
                scope: &scope,
                auth_time: self.clock.now(),
                nonce: None,
                sid: None,
                route: "client_credentials",
                code_hash: None,
                audience,
                refresh: None,
            },
            store,
        )
        .await
    }
}

/// The requested scopes, each of which the client is registered for and none about a person;
/// without a request, every such scope it is registered for.
fn granted_scope(requested: Option<&str>, allowed: &[String]) -> Result<String, OidcError> {
    let grantable = |s: &str| allowed.iter().any(|a| a == s) && !PERSON_SCOPES.contains(&s);
    let Some(requested) = requested else {
        let all: Vec<&str> = allowed.iter().map(String::as_str).filter(|s| grantable(s)).collect();
        return Ok(all.join(" "));
    };
    let requested = Scopes::parse(requested);
    for s in requested.iter() {
        if PERSON_SCOPES.contains(&s) {
            return Err(OidcError::new(
                ErrorCode::InvalidScope,
                format!("scope {s:?} describes a person, and client credentials carry none"),
            ));
        }
        if !grantable(s) {
            return Err(OidcError::new(
                ErrorCode::InvalidScope,
                format!("the client is not registered for scope {s:?}"),
            ));
        }
    }
    Ok(requested.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_only_scopes_it_is_registered_for_and_none_about_a_person() {
        let allowed: Vec<String> = ["openid", "profile", "reports.read"].map(String::from).to_vec();
        assert_eq!(granted_scope(None, &allowed).unwrap(), "reports.read");
        assert_eq!(
            granted_scope(Some("reports.read reports.read"), &allowed).unwrap(),
            "reports.read"
        );
        assert_eq!(granted_scope(Some(""), &allowed).unwrap(), "");
        for refused in ["openid", "profile reports.read", "reports.write"] {
            let e = granted_scope(Some(refused), &allowed).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidScope, "{refused}");
        }
    }
}
