//! dingo's SSO sessions: started by a login, reused by later authorization requests so that a
//! second app logs in without going to DingTalk again.

use super::Provider;
use crate::crypto::{TokenHash, random_token, token_hash};
use crate::identity::LoginRoute;
use crate::store::Session;

impl Provider {
    /// A new session for `userid`, to be stored: the cookie value (shown once) and the session.
    pub(super) fn new_session(&self, userid: &str, route: LoginRoute) -> (String, Session) {
        let now = self.clock.now();
        let cookie = random_token();
        let session = Session {
            id_hash: token_hash(&cookie),
            sid: random_token(),
            userid: userid.to_owned(),
            route: route.amr().to_owned(),
            auth_time: now,
            created_at: now,
            expires_at: now + self.ttl.session_ttl,
        };
        (cookie, session)
    }

    /// The live session of the browser with this cookie, if any.
    pub async fn current_session(&self, cookie: Option<&str>) -> Option<Session> {
        let cookie = cookie?;
        match self.db.find_session(&TokenHash::of(cookie), self.clock.now()).await {
            Ok(session) => session,
            Err(e) => {
                tracing::error!(cause = %e, "cannot read a session");
                None
            }
        }
    }

    /// How long the session cookie should live, in seconds.
    pub fn session_ttl(&self) -> i64 {
        self.ttl.session_ttl
    }
}

/// The token of a confirmation form (a logout, a device approval): bound to the session
/// cookie, which pages of other sites can neither read nor forge, and to what is confirmed.
pub(super) fn form_token(purpose: &str, session_cookie: &str) -> String {
    token_hash(&format!("{purpose}:{session_cookie}"))
}
