//! How an authorization response reaches the client: in its redirect URI's query (the code
//! flow's default), in the fragment (OAuth 2.0 Multiple Response Type Encoding Practices §2,
//! which single-page-app libraries may ask for), or posted by an auto-submitting form (OAuth 2.0
//! Form Post Response Mode).

use serde::{Deserialize, Serialize};
use url::Url;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResponseMode {
    #[default]
    Query,
    Fragment,
    FormPost,
}

impl ResponseMode {
    /// The `response_mode` values, as discovery advertises them.
    pub const NAMES: [&'static str; 3] = ["query", "fragment", "form_post"];

    /// `response_mode`, absent meaning `query`; `None` for an unknown mode.
    pub fn parse(name: Option<&str>) -> Option<Self> {
        match name {
            None | Some("query") => Some(Self::Query),
            Some("fragment") => Some(Self::Fragment),
            Some("form_post") => Some(Self::FormPost),
            Some(_) => None,
        }
    }
}

/// An authorization response (a code, or an error) for the client's verified redirect URI.
#[derive(Clone, PartialEq, Eq)]
pub struct ClientReply {
    pub redirect_uri: String,
    pub params: Vec<(String, String)>,
    pub mode: ResponseMode,
}

/// Parameter values (a code) stay out of logs.
impl std::fmt::Debug for ClientReply {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientReply")
            .field("redirect_uri", &self.redirect_uri)
            .field("params", &self.params.iter().map(|(k, _)| k).collect::<Vec<_>>())
            .field("mode", &self.mode)
            .finish()
    }
}

impl ClientReply {
    pub fn new(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)]) -> Self {
        Self {
            redirect_uri: redirect_uri.to_owned(),
            params: params.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            mode,
        }
    }

    /// The redirect URI carrying the parameters: in its fragment in fragment mode, else in its
    /// query (form_post uses this only as a link of last resort).
    pub fn location(&self) -> String {
        let Ok(mut url) = Url::parse(&self.redirect_uri) else {
            return self.redirect_uri.clone();
        };
        if self.mode == ResponseMode::Fragment {
            let encoded = serde_urlencoded::to_string(&self.params).unwrap_or_default();
            url.set_fragment(Some(&encoded));
        } else {
            url.query_pairs_mut().extend_pairs(&self.params);
        }
        url.into()
    }

    /// The value a CSP `form-action` needs to let the form reach the redirect URI.
    pub fn form_action_source(&self) -> String {
        match Url::parse(&self.redirect_uri) {
            Ok(url) if matches!(url.scheme(), "http" | "https") => url.origin().ascii_serialization(),
            Ok(url) => format!("{}:", url.scheme()),
            Err(_) => "'none'".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_mode_puts_the_parameters_where_it_says() {
        let pairs = [("code", "c 1"), ("state", "s")];
        let query = ClientReply::new("https://app.example.com/cb?tenant=a", ResponseMode::Query, &pairs);
        assert_eq!(query.location(), "https://app.example.com/cb?tenant=a&code=c+1&state=s");
        let fragment = ClientReply::new("https://app.example.com/cb?tenant=a", ResponseMode::Fragment, &pairs);
        assert_eq!(
            fragment.location(),
            "https://app.example.com/cb?tenant=a#code=c+1&state=s"
        );
        assert_eq!(fragment.form_action_source(), "https://app.example.com");
        let native = ClientReply::new("com.example.app:/cb", ResponseMode::FormPost, &pairs);
        assert_eq!(native.form_action_source(), "com.example.app:");
        assert!(!format!("{query:?}").contains("c 1"), "no code in logs");
        assert_eq!(ResponseMode::parse(Some("form_post")), Some(ResponseMode::FormPost));
        assert_eq!(ResponseMode::parse(Some("web_message")), None);
    }
}
