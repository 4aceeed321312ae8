//! Token exchange (RFC 8693): a client trades an access token dingo issued to it for a person
//! for one at another registered app (`audience`), as its `may_exchange_for` allows. The person
//! must still pass that app's policy; nothing wider than both apps' scopes is issued; each
//! exchange is audited.

use super::super::audit::Audit;
use super::super::error::{ErrorCode, OidcError};
use super::super::params::Params;
use super::super::{Client, Provider, Scopes};
use super::{Grant, Subject, TokenResponse, invalid_request};
use crate::crypto::TokenHash;

/// The one token type dingo takes and issues.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

impl Provider {
    pub(super) async fn token_exchange_grant(
        &self,
        form: &Params,
        client: &Client,
    ) -> Result<TokenResponse, OidcError> {
        if client.is_public() {
            return Err(OidcError::new(
                ErrorCode::UnauthorizedClient,
                "a public client cannot exchange tokens",
            ));
        }
        let subject_token = form
            .get("subject_token")
            .ok_or_else(|| invalid_request("subject_token is missing"))?;
        if form.get("subject_token_type") != Some(ACCESS_TOKEN_TYPE) {
            return Err(invalid_request(format!(
                "subject_token_type must be {ACCESS_TOKEN_TYPE}"
            )));
        }
        if form.get("requested_token_type").is_some_and(|t| t != ACCESS_TOKEN_TYPE) {
            return Err(invalid_request(format!(
                "requested_token_type must be {ACCESS_TOKEN_TYPE}"
            )));
        }
        if form.get("actor_token").is_some() {
            return Err(invalid_request("actor_token is not supported"));
        }
        let target_id = form
            .get("audience")
            .ok_or_else(|| invalid_request("audience is missing: the client_id of the app the token is for"))?;
        let not_allowed = || {
            OidcError::new(
                ErrorCode::InvalidTarget,
                "this client may not exchange tokens for that audience",
            )
        };
        if !client.may_exchange_for.iter().any(|c| c == target_id) {
            return Err(not_allowed());
        }
        let target = self.clients.get(target_id).ok_or_else(not_allowed)?;
        let now = self.clock.now();
        let invalid_subject = || {
            OidcError::new(
                ErrorCode::InvalidGrant,
                "subject_token is not a live access token of this client's",
            )
        };
        let held = self
            .db
            .find_access_token(&TokenHash::of(subject_token), now)
            .await?
            .filter(|t| t.client_id == client.id.as_str())
            .ok_or_else(invalid_subject)?;
        let userid = held.userid.as_deref().ok_or_else(invalid_subject)?;
        let user = self.db.find_user(userid).await?.ok_or_else(invalid_subject)?;
        if let Err(refusal) = self.admits(&target, &user.identity).await {
            return Err(OidcError::new(ErrorCode::InvalidGrant, refusal.describe()));
        }
        let scope = exchanged_scope(form.get("scope"), &held.scope, &target.scopes)?;
        let store = self.db.checkout().await?;
        let mut issued = self
            .issue(
                Grant {
                    client: &target,
                    subject: Subject::OnBehalfOf(&user),
                    scope: &scope,
                    auth_time: held.created_at,
                    nonce: None,
                    sid: None,
                    route: "token_exchange",
                    code_hash: None,
                    refresh: None,
                    audience: target.resources.first().map(String::as_str),
                },
                store,
            )
            .await?;
        issued.issued_token_type = Some(ACCESS_TOKEN_TYPE);
        // Never longer than the token it was traded for.
        issued.expires_in = issued.expires_in.min(held.expires_at - now);
        let detail = format!("for {}", target.id);
        self.audit(Audit {
            kind: "token_exchange",
            outcome: "success",
            userid: Some(userid),
            client_id: Some(&client.id),
            detail: Some(&detail),
            ..Default::default()
        })
        .await;
        Ok(issued)
    }
}

/// The scopes of the traded token that the target app may have, narrowed to those asked for.
fn exchanged_scope(requested: Option<&str>, held: &str, target: &[String]) -> Result<String, OidcError> {
    let held = Scopes::parse(held);
    let grantable: Vec<&str> = held.iter().filter(|s| target.iter().any(|t| t == s)).collect();
    let chosen: Vec<&str> = match requested {
        None => grantable,
        Some(requested) => {
            let requested = Scopes::parse(requested);
            if let Some(extra) = requested.iter().find(|s| !grantable.contains(s)) {
                return Err(OidcError::new(
                    ErrorCode::InvalidScope,
                    format!("scope {extra} is not held by the subject token or not allowed to the audience"),
                ));
            }
            grantable.into_iter().filter(|s| requested.contains(s)).collect()
        }
    };
    if !chosen.contains(&"openid") {
        return Err(OidcError::new(
            ErrorCode::InvalidScope,
            "the exchanged token would carry no scope of a person",
        ));
    }
    Ok(chosen.join(" "))
}
