//! Client authentication at the token, revocation and introspection endpoints (RFC 6749 §2.3).

use super::super::error::{ErrorCode, OidcError};
use super::super::params::Params;
use super::super::{Client, Provider};
use super::invalid_request;

impl Provider {
    /// Exactly one method; public clients identify themselves with `client_id` and no secret.
    pub(crate) fn authenticate_client(
        &self,
        form: &Params,
        basic: Option<(String, String)>,
    ) -> Result<&Client, OidcError> {
        let invalid_client = || OidcError::new(ErrorCode::InvalidClient, "client authentication failed");
        let (client_id, secret) = match (basic, form.get("client_secret")) {
            (Some(_), Some(_)) => return Err(invalid_request("use one client authentication method, not two")),
            (Some((id, secret)), None) => {
                if form.get("client_id").is_some_and(|form_id| form_id != id) {
                    return Err(invalid_request("client_id does not match the Authorization header"));
                }
                (id, Some(secret))
            }
            (None, secret) => {
                let id = form
                    .get("client_id")
                    .ok_or_else(|| invalid_request("client_id is missing"))?;
                (id.to_owned(), secret.map(str::to_owned))
            }
        };
        let client = self.clients.get(&client_id).ok_or_else(invalid_client)?;
        let authenticated = match (client.is_public(), secret) {
            (true, None) => true,
            (false, Some(secret)) => client.secret_matches(&secret),
            _ => false,
        };
        if authenticated {
            Ok(client)
        } else {
            Err(invalid_client())
        }
    }
}
