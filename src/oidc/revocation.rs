//! Token revocation (RFC 7009) and introspection (RFC 7662).

use serde_json::{Map, Value, json};

use super::audit::Audit;
use super::error::{ErrorCode, OidcError};
use super::params::Params;
use super::{Client, Provider, claims};
use crate::crypto::TokenHash;

impl Provider {
    /// RFC 7009 §2: revokes an access token, or a refresh token with its whole family. An unknown
    /// token is answered with success; a token issued to another client is refused with
    /// `unauthorized_client` and revokes nothing (§2.1).
    pub async fn revoke(&self, form: &Params, basic: Option<(String, String)>) -> Result<(), OidcError> {
        if let Some(name) = form.duplicate() {
            return Err(OidcError::new(
                ErrorCode::InvalidRequest,
                format!("parameter `{name}` appears more than once"),
            ));
        }
        let client = self.authenticate_client(form, basic).await?;
        let token = form
            .get("token")
            .ok_or_else(|| OidcError::new(ErrorCode::InvalidRequest, "token is missing"))?;
        let hash = TokenHash::of(token);
        let now = self.clock.now();
        let not_yours = || OidcError::new(ErrorCode::UnauthorizedClient, "the token was issued to another client");
        let revoked = if let Some(access) = self.db.find_access_token(&hash, now).await? {
            if access.client_id != client.id {
                return Err(not_yours());
            }
            self.db
                .delete_access_token(&hash)
                .await?
                .then_some((access.userid, "access token"))
        } else if let Some(refresh) = self.db.find_refresh_token(&hash).await? {
            if refresh.client_id != client.id {
                return Err(not_yours());
            }
            self.db.revoke_refresh_family(&refresh.family_id).await?;
            Some((Some(refresh.userid), "refresh token and its family"))
        } else {
            None
        };
        if let Some((userid, what)) = revoked {
            self.audit(Audit {
                kind: "revocation",
                outcome: "success",
                userid: userid.as_deref(),
                client_id: Some(&client.id),
                detail: Some(what),
                ..Default::default()
            })
            .await;
        }
        Ok(())
    }

    /// RFC 7662 §2: what a token means, for an authenticated confidential client.
    pub async fn introspect(&self, form: &Params, basic: Option<(String, String)>) -> Result<Value, OidcError> {
        if let Some(name) = form.duplicate() {
            return Err(OidcError::new(
                ErrorCode::InvalidRequest,
                format!("parameter `{name}` appears more than once"),
            ));
        }
        let caller = self.authenticate_client(form, basic).await?;
        if caller.is_public() {
            return Err(OidcError::new(
                ErrorCode::InvalidClient,
                "introspection needs an authenticated client",
            ));
        }
        let token = form
            .get("token")
            .ok_or_else(|| OidcError::new(ErrorCode::InvalidRequest, "token is missing"))?;
        let hash = TokenHash::of(token);
        let now = self.clock.now();
        let inactive = json!({ "active": false });
        let found = if let Some(a) = self.db.find_access_token(&hash, now).await? {
            Introspected {
                client_id: a.client_id,
                userid: a.userid,
                scope: a.scope,
                iat: a.created_at,
                exp: a.expires_at,
                token_type: "Bearer",
                audience: a.audience,
            }
        } else if let Some(r) = self.db.find_refresh_token(&hash).await? {
            if r.expires_at <= now || r.family_expires_at <= now {
                return Ok(inactive);
            }
            Introspected {
                client_id: r.client_id,
                userid: Some(r.userid),
                scope: r.scope,
                iat: r.created_at,
                exp: r.expires_at,
                token_type: "refresh_token",
                audience: None,
            }
        } else {
            return Ok(inactive);
        };
        // Only the client it was issued to, or a resource server allowed to (RFC 7662 §4).
        if found.client_id != caller.id.as_str() && !caller.introspect_any {
            return Ok(inactive);
        }
        let Some(owner) = self.clients.get(&found.client_id) else {
            return Ok(inactive);
        };
        // A token about a person whose row is gone means nothing any more.
        let user = match &found.userid {
            Some(userid) => match self.db.find_user(userid).await? {
                Some(user) => Some(user),
                None => return Ok(inactive),
            },
            None => None,
        };
        Ok(Value::Object(self.introspection(&owner, user.as_ref(), found)))
    }

    fn introspection(
        &self,
        owner: &Client,
        user: Option<&crate::store::UserRecord>,
        found: Introspected,
    ) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("active".into(), json!(true));
        out.insert("scope".into(), json!(found.scope));
        out.insert("client_id".into(), json!(owner.id));
        if let Some(user) = user {
            out.insert("username".into(), json!(user.identity.userid));
        }
        out.insert("token_type".into(), json!(found.token_type));
        out.insert("exp".into(), json!(found.exp));
        out.insert("iat".into(), json!(found.iat));
        // A client's own token (client credentials) is about the client.
        let sub = match user {
            Some(user) => claims::subject(&user.identity, &self.identity, &owner.id),
            None => owner.id.to_string(),
        };
        out.insert("sub".into(), json!(sub));
        // The resource server it was issued for (RFC 8707), else the client.
        let aud = found.audience.unwrap_or_else(|| owner.id.to_string());
        out.insert("aud".into(), json!(aud));
        out.insert("iss".into(), json!(self.issuer));
        out
    }
}

/// A live token found by introspection.
struct Introspected {
    client_id: String,
    userid: Option<String>,
    scope: String,
    iat: i64,
    exp: i64,
    token_type: &'static str,
    audience: Option<String>,
}
