//! Protocol errors. The `Display` of an [`ErrorCode`] is the registered OAuth/OIDC error code.

/// The error codes of RFC 6749 §4.1.2.1 and §5.2, RFC 6750 §3.1, OIDC Core §3.1.2.6, RFC 8707
/// and RFC 8628.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    UnauthorizedClient,
    AccessDenied,
    UnsupportedResponseType,
    InvalidScope,
    ServerError,
    TemporarilyUnavailable,
    LoginRequired,
    /// OIDC Core §3.1.2.6: `prompt=none`, and the person has not agreed to what the app asks.
    ConsentRequired,
    RequestNotSupported,
    RequestUriNotSupported,
    InvalidClient,
    InvalidGrant,
    UnsupportedGrantType,
    InvalidToken,
    InsufficientScope,
    /// RFC 8707 §2: the requested resource is not one the client may ask for.
    InvalidTarget,
    /// RFC 8628 §3.5: the person has not decided yet; poll again.
    AuthorizationPending,
    /// RFC 8628 §3.5: polled too soon; wait five seconds longer from now on.
    SlowDown,
    /// RFC 8628 §3.5: the device code expired before it was approved.
    ExpiredToken,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::InvalidScope => "invalid_scope",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::LoginRequired => "login_required",
            Self::ConsentRequired => "consent_required",
            Self::RequestNotSupported => "request_not_supported",
            Self::RequestUriNotSupported => "request_uri_not_supported",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidToken => "invalid_token",
            Self::InsufficientScope => "insufficient_scope",
            Self::InvalidTarget => "invalid_target",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error to send to a client: a code, a description safe to show, and a cause for the log only.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{code}: {description}")]
pub struct OidcError {
    pub code: ErrorCode,
    pub description: String,
    /// Internal detail: logged once where the error becomes a response, never sent.
    pub cause: Option<String>,
}

impl OidcError {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: safe_description(&description.into()),
            cause: None,
        }
    }

    /// A failure of ours: the client learns only that the server failed.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self {
            code: ErrorCode::ServerError,
            description: "the server could not complete the request".into(),
            cause: Some(cause.to_string()),
        }
    }
}

/// `error_description` may hold only printable ASCII but `"` and `\` (RFC 6749 §5.2,
/// `%x20-21 / %x23-5B / %x5D-7E`): quotes become `'`, a backslash `/`, anything else `?`.
pub fn safe_description(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            '"' => '\'',
            '\\' => '/',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

impl From<crate::store::StoreError> for OidcError {
    fn from(e: crate::store::StoreError) -> Self {
        if e.is_unavailable() {
            Self {
                code: ErrorCode::TemporarilyUnavailable,
                description: "the database is unavailable; try again shortly".into(),
                cause: Some(e.to_string()),
            }
        } else {
            Self::internal(e)
        }
    }
}

impl From<crate::crypto::KeyError> for OidcError {
    fn from(e: crate::crypto::KeyError) -> Self {
        Self::internal(e)
    }
}

#[cfg(test)]
mod description_tests {
    use super::*;

    #[test]
    fn descriptions_keep_to_the_characters_rfc_6749_allows() {
        let e = OidcError::new(ErrorCode::InvalidRequest, "redirect_uri \"a\\b\" 不对\n");
        assert_eq!(e.description, "redirect_uri 'a/b' ???");
        assert!(
            e.description
                .bytes()
                .all(|b| (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\')
        );
    }
}
