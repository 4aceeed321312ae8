//! The authorization endpoint's checks (OIDC Core 3.1.2.1, RFC 6749 §4.1.1, RFC 7636).

use serde::{Deserialize, Serialize};
use url::Url;

use super::error::{ErrorCode, OidcError};
use super::params::Params;
use super::reply::{ClientReply, ResponseMode};
use super::{Client, ClientRegistry, Scopes};

/// Problems that make redirecting unsafe: the person is shown a page instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PageError {
    MissingClientId,
    UnknownClient,
    MissingRedirectUri,
    UnregisteredRedirectUri,
    /// A parameter repeated before the client and redirect URI could be trusted.
    DuplicateParameter(String),
    /// The callback came without a `state`.
    LoginStateMissing,
    /// The callback's `state` is unknown: already used, or not issued by dingo.
    LoginStateUnknown,
    /// The callback arrived in another browser than the one that started the login.
    LoginStateOtherBrowser,
    /// A `request_uri` that was never pushed, was used, expired, or is another client's.
    PushedRequestUnknown,
    /// Something failed on our side; the log has the cause.
    Internal,
    /// The database cannot be reached right now.
    Unavailable,
}

impl PageError {
    /// The page for a store failure: "try again shortly" when the database is unreachable.
    pub fn of_store(e: &crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable
        } else {
            Self::Internal
        }
    }
}

/// A validated authorization request, kept while the person is at DingTalk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    pub client_id: String,
    pub redirect_uri: String,
    /// The scopes granted: those requested that the client may have, `openid` first.
    pub scope: Vec<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    /// The S256 PKCE challenge.
    pub code_challenge: Option<String>,
    pub max_age: Option<i64>,
    /// `prompt=none`: the login must complete without any interaction, or fail.
    #[serde(default)]
    pub prompt_none: bool,
    /// `prompt=login` or `select_account`: to DingTalk again even with a live session.
    #[serde(default)]
    pub prompt_login: bool,
    /// `login_hint`: the userid the client expects.
    #[serde(default)]
    pub login_hint: Option<String>,
    /// `id_token_hint`, once verified: the `sub` the client expects.
    #[serde(default)]
    pub hinted_subject: Option<String>,
    /// How the response reaches the client.
    #[serde(default)]
    pub response_mode: ResponseMode,
    /// `prompt=consent`: the person is asked to agree, whatever they agreed before.
    #[serde(default)]
    pub prompt_consent: bool,
    /// A request waiting on the consent page, for the session of this `sid` (never a login
    /// state: the DingTalk callbacks refuse it).
    #[serde(default)]
    pub consent_sid: Option<String>,
    /// How many times DingTalk could not be reached for this request and it was tried again.
    #[serde(default)]
    pub retries: u8,
    /// A device page's login (RFC 8628): it ends back on that page, which `redirect_uri`
    /// names, with a session and no code.
    #[serde(default)]
    pub device: bool,
}

/// Where an authorization request goes next.
#[derive(Debug)]
pub enum Checked {
    Valid(AuthorizationRequest),
    /// Tell the client, at its verified redirect URI.
    ErrorRedirect(ClientReply),
    /// The redirect URI cannot be trusted: show a page.
    Page(PageError),
}

pub fn check(params: &Params, clients: &ClientRegistry, issuer: &str) -> Checked {
    let Some(client_id) = params.get("client_id") else {
        return Checked::Page(PageError::MissingClientId);
    };
    let Some(client) = clients.get(client_id) else {
        return Checked::Page(PageError::UnknownClient);
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return Checked::Page(PageError::MissingRedirectUri);
    };
    if !client.has_redirect_uri(redirect_uri) {
        return Checked::Page(PageError::UnregisteredRedirectUri);
    }
    if let Some(name) = params.duplicate()
        && matches!(name, "client_id" | "redirect_uri")
    {
        return Checked::Page(PageError::DuplicateParameter(name.to_owned()));
    }
    let state = params.get("state").map(str::to_owned);
    // Errors go back the way the client asked for, when it asked for a way there is.
    let mode = ResponseMode::parse(params.get("response_mode")).unwrap_or_default();
    match validate(params, &client) {
        Ok(request) => Checked::Valid(AuthorizationRequest { state, ..request }),
        Err(e) => Checked::ErrorRedirect(error_reply(redirect_uri, mode, &e, state.as_deref(), issuer)),
    }
}

pub(super) fn validate(params: &Params, client: &Client) -> Result<AuthorizationRequest, OidcError> {
    let invalid = |description: String| OidcError::new(ErrorCode::InvalidRequest, description);
    if let Some(name) = params.duplicate() {
        return Err(invalid(format!("parameter `{name}` appears more than once")));
    }
    if params.get("request").is_some() {
        return Err(OidcError::new(
            ErrorCode::RequestNotSupported,
            "request objects are not supported",
        ));
    }
    if params.get("request_uri").is_some() {
        return Err(OidcError::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported",
        ));
    }
    match params.get("response_type") {
        None => return Err(invalid("response_type is missing".into())),
        Some("code") => {}
        Some(_) => {
            return Err(OidcError::new(
                ErrorCode::UnsupportedResponseType,
                "only response_type=code is supported",
            ));
        }
    }
    let response_mode = ResponseMode::parse(params.get("response_mode"))
        .ok_or_else(|| invalid("response_mode must be query, fragment or form_post".into()))?;
    let requested = Scopes::parse(params.get("scope").unwrap_or_default());
    if !requested.contains("openid") {
        return Err(OidcError::new(ErrorCode::InvalidScope, "scope must include openid"));
    }
    let scope: Vec<String> = granted(&requested, client).iter().map(str::to_owned).collect();
    let code_challenge = check_pkce(params, client, params.get("redirect_uri").unwrap_or_default())?;
    let prompts: Vec<&str> = params
        .get("prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .collect();
    let prompt_none = prompts.contains(&"none");
    if prompt_none && prompts.len() > 1 {
        return Err(invalid("prompt=none cannot be combined with other values".into()));
    }
    let max_age = match params.get("max_age") {
        None => None,
        Some(v) => Some(
            v.parse::<i64>()
                .ok()
                .filter(|n| *n >= 0)
                .ok_or_else(|| invalid("max_age must be a non-negative integer".into()))?,
        ),
    };
    Ok(AuthorizationRequest {
        client_id: client.id.to_string(),
        redirect_uri: params.get("redirect_uri").unwrap_or_default().to_owned(),
        scope,
        state: None,
        nonce: params.get("nonce").map(str::to_owned),
        code_challenge,
        max_age,
        prompt_none,
        // select_account: DingTalk's login page is where an account is chosen, so it is shown
        // again as for prompt=login, whatever session there is.
        prompt_login: prompts.iter().any(|p| matches!(*p, "login" | "select_account")),
        login_hint: params.get("login_hint").map(str::to_owned),
        hinted_subject: None,
        response_mode,
        prompt_consent: prompts.contains(&"consent"),
        consent_sid: None,
        retries: 0,
        device: false,
    })
}

/// `openid` first, then what was asked for and the client may have (the rest is left out).
pub(super) fn granted(requested: &Scopes, client: &Client) -> Scopes {
    let mut granted = Scopes::parse("openid");
    for s in requested
        .iter()
        .filter(|s| client.scopes.iter().any(|allowed| allowed == s))
    {
        granted.insert(s);
    }
    granted
}

/// S256 only; required for public clients (RFC 7636, RFC 9700 §2.1.1), native apps among them
/// (RFC 8252 §6, §8.1), and for any redirect to a private-use scheme, which another app on the
/// device may claim. (A confidential web app on a loopback address, in development, may go
/// without.)
fn check_pkce(params: &Params, client: &Client, redirect_uri: &str) -> Result<Option<String>, OidcError> {
    let invalid = |d: &str| OidcError::new(ErrorCode::InvalidRequest, d);
    let challenge = params.get("code_challenge");
    match (challenge, params.get("code_challenge_method")) {
        (None, Some(_)) => Err(invalid("code_challenge_method given without code_challenge")),
        (None, None) if client.is_public() || super::clients::is_private_use_redirect(redirect_uri) => {
            Err(invalid("PKCE is required: send code_challenge with S256"))
        }
        (None, None) => Ok(None),
        (Some(_), method) if method != Some("S256") => {
            Err(invalid("code_challenge_method must be S256 (plain is not accepted)"))
        }
        (Some(c), _) => {
            let well_formed = c.len() == 43 && c.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if well_formed {
                Ok(Some(c.to_owned()))
            } else {
                Err(invalid("code_challenge must be a base64url SHA-256 (43 characters)"))
            }
        }
    }
}

/// The error for `redirect_uri`, with `state` and `iss` (RFC 9207).
pub fn error_reply(
    redirect_uri: &str,
    mode: ResponseMode,
    e: &OidcError,
    state: Option<&str>,
    issuer: &str,
) -> ClientReply {
    let mut pairs = vec![
        ("error", e.code.as_str()),
        ("error_description", e.description.as_str()),
    ];
    if let Some(state) = state {
        pairs.push(("state", state));
    }
    pairs.push(("iss", issuer));
    ClientReply::new(redirect_uri, mode, &pairs)
}

/// Appends `pairs` to the query of a URL that was checked to be absolute.
pub fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs);
            url.into()
        }
        Err(_) => uri.to_owned(),
    }
}

#[cfg(test)]
mod tests;
