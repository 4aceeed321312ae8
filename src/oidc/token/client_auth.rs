//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3,
//! RFC 7523 §2.2).

use std::sync::Arc;

use super::super::error::{ErrorCode, OidcError};
use super::super::params::Params;
use super::super::{Client, ClientKind, Provider, SecretMethod};
use super::assertion::ASSERTION_TYPE;
use super::invalid_request;

impl Provider {
    /// Exactly one method, and the one the client registered; public clients identify
    /// themselves with `client_id` and no secret.
    pub(crate) async fn authenticate_client(
        &self,
        form: &Params,
        basic: Option<(String, String)>,
    ) -> Result<Arc<Client>, OidcError> {
        if let Some(kind) = form.get("client_assertion_type") {
            if basic.is_some() || form.get("client_secret").is_some() {
                return Err(invalid_request("use one client authentication method, not two"));
            }
            if kind != ASSERTION_TYPE {
                return Err(invalid_request(format!(
                    "client_assertion_type must be {ASSERTION_TYPE}"
                )));
            }
            let assertion = form
                .get("client_assertion")
                .ok_or_else(|| invalid_request("client_assertion is missing"))?;
            return self.authenticate_assertion(assertion, form.get("client_id")).await;
        }
        let invalid_client = || OidcError::new(ErrorCode::InvalidClient, "client authentication failed");
        let (client_id, secret, method) = match (basic, form.get("client_secret")) {
            (Some(_), Some(_)) => return Err(invalid_request("use one client authentication method, not two")),
            (Some((id, secret)), None) => {
                if form.get("client_id").is_some_and(|form_id| form_id != id) {
                    return Err(invalid_request("client_id does not match the Authorization header"));
                }
                (id, Some(secret), SecretMethod::Basic)
            }
            (None, secret) => {
                // No authentication at all (RFC 6749 §5.2).
                let id = form.get("client_id").ok_or_else(|| {
                    OidcError::new(
                        ErrorCode::InvalidClient,
                        "no client authentication: send the client's credentials, or client_id for a public client",
                    )
                })?;
                (id.to_owned(), secret.map(str::to_owned), SecretMethod::Post)
            }
        };
        let client = self.clients.get(&client_id).ok_or_else(invalid_client)?;
        let authenticated = match (&client.kind, secret) {
            (ClientKind::Public, None) => true,
            (ClientKind::Confidential { only, .. }, Some(secret)) => {
                only.is_none_or(|m| m == method) && client.secret_matches(&secret)
            }
            _ => false,
        };
        if authenticated {
            Ok(client)
        } else {
            Err(invalid_client())
        }
    }
}
