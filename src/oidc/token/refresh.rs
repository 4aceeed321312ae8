//! The refresh_token grant (RFC 6749 §6, OIDC Core 12, RFC 9700 §4.14): rotation on every use,
//! reuse detection with a grace window, and a fresh look at the person in DingTalk.

use super::super::audit::Audit;
use super::super::error::{ErrorCode, OidcError};
use super::super::params::Params;
use super::super::{Client, Provider, Scopes};
use super::{Grant, GrantedRefresh, Subject, TokenResponse, invalid_grant, invalid_request, successor};
use crate::crypto::TokenHash;
use crate::identity::{Identity, Refusal, Upstream, UpstreamError};
use crate::store::{Checkout, RefreshToken, Rotation, UserRecord};

impl Provider {
    pub(super) async fn refresh_token_grant(
        &self,
        form: &Params,
        client: &Client,
        upstream: &impl Upstream,
        audience: Option<&str>,
    ) -> Result<TokenResponse, OidcError> {
        let presented = form
            .get("refresh_token")
            .ok_or_else(|| invalid_request("refresh_token is missing"))?;
        let hash = TokenHash::of(presented);
        let now = self.clock.now();
        // Look before consuming: if DingTalk cannot be asked, the token stays usable.
        let Some(current) = self.db.find_refresh_token(&hash).await? else {
            return self
                .reused_refresh_token(presented, &hash, client, form, audience)
                .await;
        };
        if current.client_id != client.id {
            return Err(invalid_grant("the refresh token was issued to another client"));
        }
        if current.expires_at <= now || current.family_expires_at <= now {
            return Err(invalid_grant("the refresh token has expired"));
        }
        let scope = narrowed_scope(form, &current.scope)?;
        let person = self.recheck_person(&current, client, upstream).await?;
        // One connection for the rest: the person, the successor, the rotation, the tokens.
        let mut store = self.db.checkout().await?;
        let user = match person {
            // The person is stored again unless an administrator disabled them.
            Person::Confirmed(identity) => match store.upsert_user(&identity, self.clock.now()).await? {
                Some(user) => user,
                None => {
                    drop(store);
                    return Err(self.refused(&current, client, Refusal::Disabled).await);
                }
            },
            // As last confirmed: nothing is written, so the grace does not grow.
            Person::Remembered(user) => user,
        };
        // The successor is stored before the token is marked used, so that a concurrent refresh
        // that loses the race finds it and gets the same one (a successor is derived, and two
        // requests store the same row).
        let next = successor(presented, &current.successor_key);
        let row = self.refresh_token_row(
            &next,
            &current.family_id,
            client,
            &current.userid,
            &current.scope,
            current.sid.as_deref(),
            &current.route,
            current.auth_time,
            current.family_expires_at,
        );
        store.insert_refresh_token(&row).await?;
        let token = match store.rotate_refresh_token(&hash, now).await? {
            Rotation::Fresh(token) => token,
            // Another request rotated it a moment ago.
            Rotation::Reused { .. } | Rotation::Unknown => {
                drop(store);
                return self
                    .reused_refresh_token(presented, &hash, client, form, audience)
                    .await;
            }
        };
        let target = Target {
            scope: &scope,
            audience,
        };
        self.refreshed(client, &user, &token, target, next, store).await
    }

    /// A token seen before: the same successor again within the grace window for its own client
    /// (concurrent refreshes), otherwise a sign of theft — the whole family is revoked.
    async fn reused_refresh_token(
        &self,
        presented: &str,
        hash: &TokenHash,
        client: &Client,
        form: &Params,
        audience: Option<&str>,
    ) -> Result<TokenResponse, OidcError> {
        let now = self.clock.now();
        let (token, used_at) = match self.db.rotate_refresh_token(hash, now).await? {
            Rotation::Reused { token, used_at } => (token, used_at),
            Rotation::Fresh(_) | Rotation::Unknown => return Err(invalid_grant("the refresh token is invalid")),
        };
        let next = successor(presented, &token.successor_key);
        let in_grace = token.client_id == client.id && now - used_at <= self.ttl.refresh_token_reuse_grace;
        if in_grace
            && self
                .db
                .refresh_token_exists(&TokenHash::of(&next), &token.family_id)
                .await?
        {
            let scope = narrowed_scope(form, &token.scope)?;
            let user = self
                .db
                .find_user(&token.userid)
                .await?
                .ok_or_else(|| OidcError::internal("the user of a refresh token is gone"))?;
            return self
                .refreshed(
                    client,
                    &user,
                    &token,
                    Target {
                        scope: &scope,
                        audience,
                    },
                    next,
                    self.db.checkout().await?,
                )
                .await;
        }
        tracing::warn!(client = %token.client_id, "a used refresh token was presented again; its family is revoked");
        self.db.revoke_refresh_family(&token.family_id).await?;
        Err(invalid_grant("the refresh token has already been used"))
    }

    async fn refreshed(
        &self,
        client: &Client,
        user: &crate::store::UserRecord,
        token: &RefreshToken,
        target: Target<'_>,
        next: String,
        store: Checkout,
    ) -> Result<TokenResponse, OidcError> {
        self.issue(
            Grant {
                client,
                subject: Subject::Person(user),
                scope: target.scope,
                auth_time: token.auth_time,
                // OIDC Core 12.2: a refreshed ID token carries no nonce.
                nonce: None,
                sid: token.sid.as_deref(),
                route: &token.route,
                code_hash: None,
                audience: target.audience,
                refresh: Some(GrantedRefresh {
                    token: next,
                    family_id: token.family_id.clone(),
                    new_row: None,
                }),
            },
            store,
        )
        .await
    }

    /// Asks DingTalk again whether the person is still a member who may use this client; when
    /// DingTalk cannot be reached, relies on what it said last, within the outage grace.
    async fn recheck_person(
        &self,
        token: &RefreshToken,
        client: &Client,
        upstream: &impl Upstream,
    ) -> Result<Person, OidcError> {
        let refusal = match upstream.identity_of(&token.userid).await {
            Ok(identity) => match self.allows(client, &identity) {
                Ok(()) => return Ok(Person::Confirmed(identity)),
                Err(refusal) => refusal,
            },
            Err(UpstreamError::NotMember) => Refusal::NotMember,
            Err(UpstreamError::NotVisible) => Refusal::NotVisible,
            Err(UpstreamError::Unavailable(why)) => {
                tracing::warn!(cause = %why, "DingTalk unavailable during a refresh");
                if let Some(user) = self.remembered(token, client).await? {
                    return Ok(Person::Remembered(user));
                }
                return Err(OidcError::new(
                    ErrorCode::TemporarilyUnavailable,
                    "DingTalk cannot be reached; try again shortly",
                ));
            }
            Err(e @ (UpstreamError::InvalidCode | UpstreamError::Refused { .. })) => {
                return Err(OidcError::internal(e));
            }
        };
        Err(self.refused(token, client, refusal).await)
    }

    /// The person as DingTalk last confirmed them, if that was within
    /// `identity.refresh_outage_grace` and nothing has said otherwise since (see
    /// [`crate::store::Db::user_confirmed_since`]), and the client's policy lets them in as they
    /// were. Such a grant is audited and counted.
    async fn remembered(&self, token: &RefreshToken, client: &Client) -> Result<Option<UserRecord>, OidcError> {
        let grace = self.identity.refresh_outage_grace;
        if grace <= 0 {
            return Ok(None);
        }
        let since = self.clock.now() - grace;
        let user = self
            .db
            .user_confirmed_since(&token.userid, since, crate::membership::ORG_EVENT)
            .await?;
        let Some(user) = user.filter(|u| self.allows(client, &u.identity).is_ok()) else {
            return Ok(None);
        };
        tracing::warn!(client = %client.id, "refresh granted from what dingo knew: DingTalk cannot be reached");
        self.metrics.record_refresh_outage_grant(&client.id);
        self.audit(Audit {
            kind: "refresh",
            outcome: "outage_grace",
            userid: Some(&token.userid),
            client_id: Some(&client.id),
            detail: Some("DingTalk could not be reached; granted from the person's last check"),
            ..Default::default()
        })
        .await;
        Ok(Some(user))
    }

    /// A person who may no longer use the client is offboarded: everywhere when they left or
    /// may log in nowhere, only at this client when its own policy refuses them (their sessions
    /// stay for the other apps). The answer is the error to return.
    async fn refused(&self, token: &RefreshToken, client: &Client, refusal: Refusal) -> OidcError {
        let how = crate::oidc::reassess::offboarding_for(refusal, client);
        tracing::info!(client = %client.id, reason = refusal.describe(), "refresh refused; the person's access is revoked");
        let audit = Audit {
            kind: "refresh",
            outcome: refusal.metric_label(),
            client_id: Some(&client.id),
            ..Default::default()
        };
        if let Err(e) = self.offboard(&token.userid, how, audit).await {
            return e;
        }
        invalid_grant(refusal.describe())
    }
}

/// Who a refresh is for.
enum Person {
    /// As DingTalk describes them now.
    Confirmed(Identity),
    /// As DingTalk last described them (it cannot be reached now).
    Remembered(UserRecord),
}

/// What refreshed tokens are for: the scope granted, and the resource server (`aud`).
struct Target<'a> {
    scope: &'a str,
    audience: Option<&'a str>,
}

/// RFC 6749 §6: the scope may be narrowed, never widened.
fn narrowed_scope(form: &Params, granted: &str) -> Result<String, OidcError> {
    let Some(requested) = form.get("scope") else {
        return Ok(granted.to_owned());
    };
    let (granted, requested) = (Scopes::parse(granted), Scopes::parse(requested));
    if let Some(s) = requested.iter().find(|s| !granted.contains(s)) {
        return Err(OidcError::new(
            ErrorCode::InvalidScope,
            format!("scope {s:?} was not granted"),
        ));
    }
    if !requested.contains("openid") {
        return Err(OidcError::new(ErrorCode::InvalidScope, "scope must include openid"));
    }
    Ok(requested.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refresh_may_narrow_the_scope_but_not_widen_it() {
        let form = |s: &str| Params::parse(&format!("scope={s}"));
        assert_eq!(
            narrowed_scope(&Params::default(), "openid profile").unwrap(),
            "openid profile"
        );
        assert_eq!(narrowed_scope(&form("openid"), "openid profile").unwrap(), "openid");
        assert!(narrowed_scope(&form("openid+email"), "openid profile").is_err());
        assert!(narrowed_scope(&form("profile"), "openid profile").is_err());
    }
}
