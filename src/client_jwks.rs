//! Fetching `private_key_jwt` clients' `jwks_uri` documents, cached for a few minutes.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::oidc::JwksSource;

const FRESH_FOR: Duration = Duration::from_secs(300);
/// Largest document accepted.
const MAX_BYTES: usize = 64 * 1024;

#[derive(Debug)]
pub struct HttpJwks {
    http: reqwest::Client,
    cache: Mutex<HashMap<String, (String, Instant)>>,
}

impl HttpJwks {
    /// The fetcher, with an HTTP client that gives up after 3 s and follows no redirect (a
    /// client's `jwks_uri` must not send dingo elsewhere, to an internal host for instance).
    pub fn new() -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            http,
            cache: Mutex::new(HashMap::new()),
        })
    }

    fn cached(&self, uri: &str) -> Option<String> {
        let cache = self.cache.lock().ok()?;
        cache
            .get(uri)
            .filter(|(_, at)| at.elapsed() < FRESH_FOR)
            .map(|(doc, _)| doc.clone())
    }

    async fn download(&self, uri: &str) -> Result<String, String> {
        let response = self
            .http
            .get(uri)
            .send()
            .await
            .map_err(|e| e.without_url().to_string())?;
        if !response.status().is_success() {
            return Err(format!("jwks_uri answered HTTP {}", response.status().as_u16()));
        }
        let body = response.bytes().await.map_err(|e| e.without_url().to_string())?;
        if body.len() > MAX_BYTES {
            return Err("jwks_uri document too large".into());
        }
        let text = String::from_utf8(body.to_vec()).map_err(|_| "jwks_uri document is not UTF-8".to_owned())?;
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(uri.to_owned(), (text.clone(), Instant::now()));
        }
        Ok(text)
    }
}

impl JwksSource for HttpJwks {
    fn fetch<'a>(
        &'a self,
        uri: &'a str,
        fresh: bool,
    ) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + 'a>> {
        Box::pin(async move {
            match self.cached(uri).filter(|_| !fresh) {
                Some(document) => Ok(document),
                None => self.download(uri).await,
            }
        })
    }
}
