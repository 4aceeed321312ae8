//! What the simulator remembers between calls: auth codes (web login and openAuth, in-app,
//! legacy sns — three separate books), app tokens, user tokens and refresh tokens. Every method
//! takes `now` (unix seconds) from the caller's clock.

use std::collections::HashMap;

use aws_lc_rs::error::Unspecified;

use super::random;

/// Auth codes of every kind are single use and live 5 minutes.
pub(crate) const CODE_TTL: i64 = 300;
/// App and user access tokens live 2 hours (`expires_in`/`expireIn` = 7200).
pub(crate) const TOKEN_TTL: i64 = 7200;
/// Refresh tokens live 30 days.
pub(crate) const REFRESH_TTL: i64 = 30 * 24 * 3600;
/// Expired tokens are remembered this long so that they answer "expired" rather than "unknown".
const EXPIRED_MEMORY: i64 = 7 * 24 * 3600;

/// Who signed in, for which app, with which scope.
#[derive(Clone, Debug)]
pub(crate) struct Grant {
    pub(crate) unionid: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
}

impl Grant {
    /// Whether the authorize request asked for `corpid` (space- or comma-separated scopes).
    pub(crate) fn has_corpid_scope(&self) -> bool {
        self.scope.split([' ', ',', '+']).any(|s| s == "corpid")
    }
}

#[derive(Debug)]
struct Expiring<T> {
    value: T,
    expires_at: i64,
}

impl<T> Expiring<T> {
    fn live(&self, now: i64) -> bool {
        now < self.expires_at
    }
}

/// Single-use codes of one kind, each living [`CODE_TTL`].
#[derive(Debug)]
struct Codes<T> {
    live: HashMap<String, Expiring<T>>,
}

impl<T> Default for Codes<T> {
    fn default() -> Self {
        Self { live: HashMap::new() }
    }
}

impl<T> Codes<T> {
    fn issue(&mut self, value: T, now: i64) -> Result<String, Unspecified> {
        self.prune(now);
        let code = random::token()?;
        self.live.insert(
            code.clone(),
            Expiring {
                value,
                expires_at: now + CODE_TTL,
            },
        );
        Ok(code)
    }

    /// Consumes `code` if it is live and `fits`. A live code that does not fit (presented by
    /// another app) is left in place.
    fn take(&mut self, code: &str, now: i64, fits: impl FnOnce(&T) -> bool) -> Option<T> {
        let entry = self.live.get(code)?;
        if entry.live(now) && !fits(&entry.value) {
            return None;
        }
        let entry = self.live.remove(code)?;
        entry.live(now).then_some(entry.value)
    }

    fn prune(&mut self, now: i64) {
        self.live.retain(|_, e| e.live(now));
    }
}

/// How an access token presented to an API looks to the simulator.
#[derive(Debug)]
pub(crate) enum TokenStatus<T> {
    Valid(T),
    Expired,
    Unknown,
}

/// A freshly issued user token pair.
#[derive(Debug)]
pub(crate) struct UserTokens {
    pub(crate) access_token: String,
    pub(crate) refresh_token: String,
    pub(crate) grant: Grant,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    /// Web-login and openAuth codes, exchanged at `userAccessToken`.
    codes: Codes<Grant>,
    /// In-app (免登) codes → the member's userid and the app a V2 code is bound to, read by
    /// `getuserinfo`.
    inapp_codes: Codes<(String, Option<String>)>,
    /// Legacy sns tmp codes (`client_id` = the legacy appId), read by `getuserinfo_bycode`.
    sns_codes: Codes<Grant>,
    /// token → client_id
    app_tokens: HashMap<String, Expiring<String>>,
    /// client_id → its current token
    current_app_token: HashMap<String, String>,
    user_tokens: HashMap<String, Expiring<Grant>>,
    refresh_tokens: HashMap<String, Expiring<Grant>>,
}

impl State {
    pub(crate) fn issue_code(&mut self, grant: Grant, now: i64) -> Result<String, Unspecified> {
        self.prune(now);
        self.codes.issue(grant, now)
    }

    /// Consumes `code` if it is live and was issued to `client_id`. A live code presented by
    /// another app is left in place.
    pub(crate) fn take_code(&mut self, code: &str, client_id: &str, now: i64) -> Option<Grant> {
        self.codes.take(code, now, |g| g.client_id == client_id)
    }

    /// An in-app code for the member `userid`: bound to app `client_id` (V2
    /// `dd.requestAuthCode`, DINGTALK-API.md Appendix B.4), or good for any app of the corp (V1).
    pub(crate) fn issue_inapp_code(
        &mut self,
        userid: &str,
        client_id: Option<&str>,
        now: i64,
    ) -> Result<String, Unspecified> {
        self.inapp_codes
            .issue((userid.to_owned(), client_id.map(str::to_owned)), now)
    }

    /// Consumes a live in-app code redeemed by app `client_id`; the member's userid. A code
    /// bound to another app is left in place.
    pub(crate) fn take_inapp_code(&mut self, code: &str, client_id: &str, now: i64) -> Option<String> {
        self.inapp_codes
            .take(code, now, |(_, bound)| bound.as_deref().is_none_or(|b| b == client_id))
            .map(|(userid, _)| userid)
    }

    /// A legacy sns tmp code; `grant.client_id` is the legacy appId.
    pub(crate) fn issue_sns_code(&mut self, grant: Grant, now: i64) -> Result<String, Unspecified> {
        self.sns_codes.issue(grant, now)
    }

    /// Consumes `code` if it is live and was issued to legacy app `app_id`.
    pub(crate) fn take_sns_code(&mut self, code: &str, app_id: &str, now: i64) -> Option<Grant> {
        self.sns_codes.take(code, now, |g| g.client_id == app_id)
    }

    /// The app's token: the current one while it is live (its expiry pushed to now + 7200),
    /// otherwise a new one. Expired tokens are kept so that they answer "expired".
    pub(crate) fn app_token(&mut self, client_id: &str, now: i64) -> Result<String, Unspecified> {
        if let Some(token) = self.current_app_token.get(client_id)
            && let Some(entry) = self.app_tokens.get_mut(token).filter(|e| e.live(now))
        {
            entry.expires_at = now + TOKEN_TTL;
            return Ok(token.clone());
        }
        self.prune(now);
        let token = random::token()?;
        self.app_tokens.insert(
            token.clone(),
            Expiring {
                value: client_id.to_owned(),
                expires_at: now + TOKEN_TTL,
            },
        );
        self.current_app_token.insert(client_id.to_owned(), token.clone());
        Ok(token)
    }

    /// The client_id an app token belongs to. User tokens are not app tokens: `Unknown`.
    pub(crate) fn check_app_token(&self, token: &str, now: i64) -> TokenStatus<&str> {
        match self.app_tokens.get(token) {
            Some(e) if e.live(now) => TokenStatus::Valid(&e.value),
            Some(_) => TokenStatus::Expired,
            None => TokenStatus::Unknown,
        }
    }

    /// Forgets every app token: each is then unknown (40014) and the next request gets a new one.
    pub(crate) fn forget_app_tokens(&mut self) {
        self.app_tokens.clear();
        self.current_app_token.clear();
    }

    pub(crate) fn issue_user_tokens(&mut self, grant: Grant, now: i64) -> Result<UserTokens, Unspecified> {
        self.prune(now);
        let refresh_token = random::token()?;
        self.refresh_tokens.insert(
            refresh_token.clone(),
            Expiring {
                value: grant.clone(),
                expires_at: now + REFRESH_TTL,
            },
        );
        let access_token = random::token()?;
        self.user_tokens.insert(
            access_token.clone(),
            Expiring {
                value: grant.clone(),
                expires_at: now + TOKEN_TTL,
            },
        );
        Ok(UserTokens {
            access_token,
            refresh_token,
            grant,
        })
    }

    /// New tokens for a live refresh token of `client_id`. Refresh tokens are single use: the
    /// presented one is consumed and a new one issued (observed on the real service; the docs are
    /// silent).
    pub(crate) fn refresh(
        &mut self,
        refresh_token: &str,
        client_id: &str,
        now: i64,
    ) -> Option<Result<UserTokens, Unspecified>> {
        let entry = self.refresh_tokens.get(refresh_token)?;
        if entry.live(now) && entry.value.client_id != client_id {
            return None;
        }
        let grant = self.refresh_tokens.remove(refresh_token).filter(|e| e.live(now))?.value;
        Some(self.issue_user_tokens(grant, now))
    }

    pub(crate) fn check_user_token(&self, token: &str, now: i64) -> TokenStatus<&Grant> {
        match self.user_tokens.get(token) {
            Some(e) if e.live(now) => TokenStatus::Valid(&e.value),
            Some(_) => TokenStatus::Expired,
            None => TokenStatus::Unknown,
        }
    }

    /// Forgets dead codes and long-expired tokens so a long-running simulator stays small.
    fn prune(&mut self, now: i64) {
        let horizon = now - EXPIRED_MEMORY;
        self.codes.prune(now);
        self.inapp_codes.prune(now);
        self.sns_codes.prune(now);
        self.app_tokens.retain(|_, e| e.expires_at > horizon);
        let app_tokens = &self.app_tokens;
        self.current_app_token.retain(|_, token| app_tokens.contains_key(token));
        self.user_tokens.retain(|_, e| e.expires_at > horizon);
        self.refresh_tokens.retain(|_, e| e.live(now));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(client_id: &str) -> Grant {
        Grant {
            unionid: "u".to_owned(),
            client_id: client_id.to_owned(),
            scope: "openid corpid".to_owned(),
        }
    }

    #[test]
    fn a_code_is_taken_once() {
        let mut state = State::default();
        let code = state.issue_code(grant("app"), 1000).unwrap();
        assert!(state.take_code(&code, "app", 1001).is_some());
        assert!(state.take_code(&code, "app", 1002).is_none());
    }

    #[test]
    fn a_code_presented_by_another_app_stays_usable_by_its_own() {
        let mut state = State::default();
        let code = state.issue_code(grant("app"), 1000).unwrap();
        assert!(state.take_code(&code, "other", 1001).is_none());
        assert!(state.take_code(&code, "app", 1002).is_some());
    }

    #[test]
    fn a_code_dies_after_five_minutes() {
        let mut state = State::default();
        let code = state.issue_code(grant("app"), 1000).unwrap();
        assert!(state.take_code(&code, "app", 1000 + CODE_TTL).is_none());
    }

    #[test]
    fn the_three_code_books_are_separate() {
        let mut state = State::default();
        let web = state.issue_code(grant("app"), 1000).unwrap();
        let inapp = state.issue_inapp_code("zhangsan", None, 1000).unwrap();
        let sns = state.issue_sns_code(grant("legacy"), 1000).unwrap();
        assert!(state.take_inapp_code(&web, "app", 1001).is_none());
        assert!(state.take_sns_code(&inapp, "legacy", 1001).is_none());
        assert!(state.take_code(&sns, "legacy", 1001).is_none());
        assert!(state.take_sns_code(&sns, "other", 1001).is_none());
        assert_eq!(state.take_inapp_code(&inapp, "app", 1001).as_deref(), Some("zhangsan"));
        assert!(state.take_inapp_code(&inapp, "app", 1002).is_none());
        assert!(state.take_sns_code(&sns, "legacy", 1002).is_some());
        assert!(state.take_code(&web, "app", 1002).is_some());
    }

    #[test]
    fn an_in_app_code_dies_after_five_minutes() {
        let mut state = State::default();
        let code = state.issue_inapp_code("zhangsan", None, 1000).unwrap();
        assert!(state.take_inapp_code(&code, "app", 1000 + CODE_TTL).is_none());
    }

    #[test]
    fn a_v2_in_app_code_is_good_only_for_its_app() {
        let mut state = State::default();
        let code = state.issue_inapp_code("zhangsan", Some("app"), 1000).unwrap();
        assert!(state.take_inapp_code(&code, "other", 1001).is_none());
        assert_eq!(state.take_inapp_code(&code, "app", 1001).as_deref(), Some("zhangsan"));
    }

    #[test]
    fn an_app_token_is_reused_and_extended_then_replaced_once_expired() {
        let mut state = State::default();
        let first = state.app_token("app", 0).unwrap();
        assert_eq!(state.app_token("app", 7000).unwrap(), first);
        assert!(matches!(
            state.check_app_token(&first, 14000),
            TokenStatus::Valid("app")
        ));
        let second = state.app_token("app", 14200 + 1).unwrap();
        assert_ne!(second, first);
        assert!(matches!(state.check_app_token(&first, 14201), TokenStatus::Expired));
    }

    #[test]
    fn a_refresh_token_is_rotated_on_use() {
        let mut state = State::default();
        let first = state.issue_user_tokens(grant("app"), 0).unwrap();
        let second = state.refresh(&first.refresh_token, "app", 10).unwrap().unwrap();
        assert_ne!(second.refresh_token, first.refresh_token);
        assert_ne!(second.access_token, first.access_token);
        assert!(state.refresh(&first.refresh_token, "app", 11).is_none());
        assert!(state.refresh(&second.refresh_token, "other", 12).is_none());
        assert!(state.refresh(&second.refresh_token, "app", REFRESH_TTL + 10).is_none());
    }

    #[test]
    fn corpid_scope_is_found_with_either_separator() {
        let mut g = grant("app");
        assert!(g.has_corpid_scope());
        g.scope = "openid,corpid".to_owned();
        assert!(g.has_corpid_scope());
        g.scope = "openid".to_owned();
        assert!(!g.has_corpid_scope());
    }
}
