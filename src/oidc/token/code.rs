//! The authorization_code grant (RFC 6749 §4.1.3, RFC 7636 §4.6).

use super::super::error::OidcError;
use super::super::params::Params;
use super::super::{Client, Provider, Scopes};
use super::{Grant, GrantedRefresh, Subject, TokenResponse, invalid_grant, invalid_request};
use crate::crypto::{TokenHash, b64url, constant_time_eq, random_token, sha256};
use crate::store::{CodeRedemption, RedeemedCode};

impl Provider {
    pub(super) async fn authorization_code_grant(
        &self,
        form: &Params,
        client: &Client,
        audience: Option<&str>,
    ) -> Result<TokenResponse, OidcError> {
        let code = form.get("code").ok_or_else(|| invalid_request("code is missing"))?;
        let now = self.clock.now();
        // One connection redeems the code and stores the tokens.
        let mut store = self.db.checkout().await?;
        let RedeemedCode { code: redeemed, user } =
            match store.redeem_authorization_code(&TokenHash::of(code), now).await? {
                CodeRedemption::Redeemed(redeemed) => *redeemed,
                CodeRedemption::Replayed => {
                    tracing::warn!(client = %client.id, "an authorization code was used twice; its tokens are revoked");
                    return Err(invalid_grant("the authorization code has already been used"));
                }
                CodeRedemption::Unknown => return Err(invalid_grant("the authorization code is invalid")),
            };
        if redeemed.client_id != client.id {
            return Err(invalid_grant("the authorization code was issued to another client"));
        }
        if redeemed.expires_at <= now {
            return Err(invalid_grant("the authorization code has expired"));
        }
        if form.get("redirect_uri") != Some(redeemed.redirect_uri.as_str()) {
            return Err(invalid_grant("redirect_uri does not match the authorization request"));
        }
        match (&redeemed.code_challenge, form.get("code_verifier")) {
            (Some(challenge), Some(verifier)) => {
                if !pkce_s256_matches(verifier, challenge) {
                    return Err(invalid_grant("code_verifier does not match the code_challenge"));
                }
            }
            (Some(_), None) => return Err(invalid_grant("code_verifier is missing")),
            (None, Some(_)) => return Err(invalid_grant("code_verifier given but no code_challenge was")),
            (None, None) => {}
        }
        // Disabled since the code was issued (offboarding also removes unredeemed codes).
        let user = user.ok_or_else(|| invalid_grant("the person may no longer log in"))?;
        let wants_refresh = client.refresh_tokens || Scopes::parse(&redeemed.scope).contains("offline_access");
        let refresh = if wants_refresh {
            // The family is named after the code, so a replayed code revokes it too.
            let token = random_token();
            let absolute = client
                .refresh_token_absolute_ttl
                .unwrap_or(self.ttl.refresh_token_absolute_ttl);
            let row = self.refresh_token_row(
                &token,
                &redeemed.code_hash,
                client,
                &redeemed.userid,
                &redeemed.scope,
                redeemed.sid.as_deref(),
                &redeemed.route,
                redeemed.auth_time,
                now + absolute,
            );
            Some((token, row))
        } else {
            None
        };
        self.issue(
            Grant {
                client,
                subject: Subject::Person(&user),
                scope: &redeemed.scope,
                auth_time: redeemed.auth_time,
                nonce: redeemed.nonce.as_deref(),
                sid: redeemed.sid.as_deref(),
                route: &redeemed.route,
                code_hash: Some(&redeemed.code_hash),
                audience,
                refresh: refresh.map(|(token, row)| GrantedRefresh {
                    token,
                    family_id: row.family_id.clone(),
                    new_row: Some(row),
                }),
            },
            store,
        )
        .await
    }
}

/// RFC 7636 §4.6: BASE64URL(SHA256(ASCII(code_verifier))) == code_challenge.
fn pkce_s256_matches(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    well_formed && constant_time_eq(b64url(sha256(verifier)).as_bytes(), challenge.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_matches_the_rfc_7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_s256_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_s256_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!pkce_s256_matches(
            "short",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }
}
