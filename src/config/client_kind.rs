//! A client's registration read into enums once, at the edge: how it authenticates, which kind of
//! client that makes it, the format of its access tokens. The configuration file keeps the
//! names as text, so that every mistake in it is reported, each with its key.

use super::ClientSettings;

/// `token_endpoint_auth_method` (RFC 7591 §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    /// A public client: no authentication, PKCE instead.
    None,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        Self::ClientSecretBasic,
        Self::ClientSecretPost,
        Self::PrivateKeyJwt,
        Self::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClientSecretBasic => "client_secret_basic",
            Self::ClientSecretPost => "client_secret_post",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::None => "none",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.as_str() == name)
    }

    /// Every name, for discovery and error messages.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|m| m.as_str()).collect()
    }
}

/// What a client is, from how it authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClientType {
    /// No secret (a single-page or native app): PKCE.
    Public,
    /// Signs an assertion with its own key.
    PrivateKeyJwt,
    /// Holds a secret.
    Confidential,
}

impl ClientType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::PrivateKeyJwt => "private_key_jwt",
            Self::Confidential => "confidential",
        }
    }
}

/// `access_token_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AccessTokenFormat {
    #[default]
    Opaque,
    /// RFC 9068: a JWT with `typ: at+jwt`.
    Jwt,
}

impl ClientSettings {
    /// The registered method; `Err` with the name when it is unknown.
    pub fn auth_method(&self) -> Result<Option<AuthMethod>, String> {
        match self.token_endpoint_auth_method.as_deref() {
            None => Ok(None),
            Some(name) => AuthMethod::parse(name)
                .map(Some)
                .ok_or_else(|| format!("unknown method {name:?} ({})", AuthMethod::names().join(", "))),
        }
    }

    /// The kind of client its registration makes it (an unknown method counts as none given).
    pub fn client_type(&self) -> ClientType {
        match (self.public, self.auth_method().ok().flatten()) {
            (true, _) | (_, Some(AuthMethod::None)) => ClientType::Public,
            (_, Some(AuthMethod::PrivateKeyJwt)) => ClientType::PrivateKeyJwt,
            _ => ClientType::Confidential,
        }
    }

    /// The format of its access tokens; `Err` with the name when it is unknown.
    pub fn access_token_format(&self) -> Result<AccessTokenFormat, String> {
        match self.access_token_format.as_deref() {
            None | Some("opaque") => Ok(AccessTokenFormat::Opaque),
            Some("jwt") => Ok(AccessTokenFormat::Jwt),
            Some(other) => Err(format!("unknown format {other:?} (opaque or jwt)")),
        }
    }

    /// The algorithm of its ID tokens (RS256 when none is given); `Err` when it is unknown.
    pub fn id_token_alg(&self) -> Result<crate::crypto::Alg, String> {
        match self.id_token_signed_response_alg.as_deref() {
            None => Ok(crate::crypto::Alg::RS256),
            Some(name) => name.parse(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(public: bool, method: Option<&str>) -> ClientSettings {
        ClientSettings {
            public,
            token_endpoint_auth_method: method.map(str::to_owned),
            ..Default::default()
        }
    }

    #[test]
    fn a_clients_type_follows_from_how_it_authenticates() {
        assert_eq!(client(true, None).client_type(), ClientType::Public);
        assert_eq!(client(false, Some("none")).client_type(), ClientType::Public);
        assert_eq!(
            client(false, Some("private_key_jwt")).client_type(),
            ClientType::PrivateKeyJwt
        );
        assert_eq!(
            client(false, Some("client_secret_post")).client_type(),
            ClientType::Confidential
        );
        assert_eq!(client(false, None).client_type(), ClientType::Confidential);
        assert!(client(false, Some("tls_client_auth")).auth_method().is_err());
        for method in AuthMethod::ALL {
            assert_eq!(AuthMethod::parse(method.as_str()), Some(method));
        }
    }
}
