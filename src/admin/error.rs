//! What can go wrong with an administrator's request, told apart so that each adapter answers
//! rightly: the command line's message, the console's page, the API's status (404, 409, 403, 422,
//! 503, 500).

use crate::config::Problem;
use crate::oidc::OidcError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// No such person, session, client or key (what, and which).
    #[error("no {0} {1:?}")]
    NotFound(&'static str, String),
    /// It exists already.
    #[error("{0}")]
    Conflict(String),
    /// It may not be changed here (a client from the configuration file).
    #[error("{0}")]
    ReadOnly(String),
    /// The request is not valid: every problem, by field.
    #[error("{}", problems_text(.0))]
    Invalid(Vec<Problem>),
    /// The database cannot be reached; trying again later may work.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    #[error("{0}")]
    Internal(String),
}

fn problems_text(problems: &[Problem]) -> String {
    let lines: Vec<String> = problems.iter().map(|p| format!("{}: {}", p.path, p.message)).collect();
    lines.join("; ")
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            Self::Unavailable(e.to_string())
        } else {
            Self::Internal(e.to_string())
        }
    }
}

impl From<OidcError> for AdminError {
    fn from(e: OidcError) -> Self {
        let cause = e.cause.clone().unwrap_or_else(|| e.to_string());
        if e.code == crate::oidc::ErrorCode::TemporarilyUnavailable {
            Self::Unavailable(cause)
        } else {
            Self::Internal(cause)
        }
    }
}

impl From<crate::keyring::KeyringError> for AdminError {
    fn from(e: crate::keyring::KeyringError) -> Self {
        Self::Internal(e.to_string())
    }
}
