//! The grant types dingo serves: one list, read by the token endpoint's dispatch, its errors,
//! each client's allowance and the discovery document.

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
    /// RFC 8693: a person's access token traded for one at another app.
    TokenExchange,
    /// RFC 8628: a device polls for the tokens a person approved elsewhere.
    DeviceCode,
}

impl GrantType {
    pub const ALL: [GrantType; 5] = [
        Self::AuthorizationCode,
        Self::RefreshToken,
        Self::ClientCredentials,
        Self::TokenExchange,
        Self::DeviceCode,
    ];

    /// What a client may use when its registration names none.
    pub const DEFAULT: [GrantType; 2] = [Self::AuthorizationCode, Self::RefreshToken];

    /// The registered name (RFC 6749 §4, the `grant_type` parameter).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AuthorizationCode => "authorization_code",
            Self::RefreshToken => "refresh_token",
            Self::ClientCredentials => "client_credentials",
            Self::TokenExchange => "urn:ietf:params:oauth:grant-type:token-exchange",
            Self::DeviceCode => "urn:ietf:params:oauth:grant-type:device_code",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|g| g.as_str() == name)
    }

    /// Every name, for discovery and error messages.
    pub fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|g| g.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_grant_type_parses_back_from_its_name() {
        for grant in GrantType::ALL {
            assert_eq!(GrantType::parse(grant.as_str()), Some(grant));
        }
        assert_eq!(GrantType::parse("password"), None, "the password grant is not served");
        assert_eq!(
            GrantType::names(),
            [
                "authorization_code",
                "refresh_token",
                "client_credentials",
                "urn:ietf:params:oauth:grant-type:token-exchange",
                "urn:ietf:params:oauth:grant-type:device_code"
            ]
        );
    }
}
