//! The app access token cache. Concurrent callers wait for one fetch instead of each fetching.

use std::future::Future;

use tokio::sync::Mutex;

use crate::identity::UpstreamError as DingTalkError;

/// Renew this many seconds before DingTalk's expiry (clients in the wild use 5–10 min, §3.5).
const RENEW_EARLY: i64 = 300;

#[derive(Default)]
pub struct AppTokenCache {
    slot: Mutex<Option<(String, i64)>>,
}

/// Never shows the token.
impl std::fmt::Debug for AppTokenCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppTokenCache").finish_non_exhaustive()
    }
}

impl AppTokenCache {
    /// The cached token while it is fresh at `now`; otherwise the result of `fetch`, which returns
    /// the token and its expiry. The lock is held across the fetch: that is the single flight.
    /// The flag tells whether the token came from the cache.
    pub async fn get_or_fetch<F, Fut>(&self, now: i64, fetch: F) -> Result<(String, bool), DingTalkError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(String, i64), DingTalkError>>,
    {
        let mut slot = self.slot.lock().await;
        if let Some((token, expires_at)) = slot.as_ref()
            && now < expires_at - RENEW_EARLY
        {
            return Ok((token.clone(), true));
        }
        let (token, expires_at) = fetch().await?;
        *slot = Some((token.clone(), expires_at));
        Ok((token, false))
    }

    /// Forgets `token` if it is still the cached one (another caller may have replaced it already).
    pub async fn invalidate(&self, token: &str) {
        let mut slot = self.slot.lock().await;
        if slot.as_ref().is_some_and(|(cached, _)| cached == token) {
            *slot = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_cached_token_never_shows_in_debug_output() {
        let cache = AppTokenCache::default();
        let fetched = cache
            .get_or_fetch(0, || async { Ok(("live-app-token".to_owned(), 7200)) })
            .await
            .unwrap();
        assert_eq!(fetched, ("live-app-token".to_owned(), false));
        assert!(!format!("{cache:?}").contains("live"));
    }
}
