//! A relying party built on the `openidconnect` crate: it checks discovery, the JWKS, the ID
//! token's signature, issuer, audience, expiry, nonce and at_hash independently of dingo.

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreIdTokenClaims, CoreProviderMetadata};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};

use super::app::{TestApp, WEB_CLIENT, WEB_REDIRECT, WEB_SECRET};

pub struct Rp {
    pub metadata: CoreProviderMetadata,
    pub http: reqwest::Client,
}

pub struct Started {
    pub url: String,
    pub state: CsrfToken,
    pub nonce: Nonce,
    pub verifier: PkceCodeVerifier,
}

pub struct Verified {
    pub claims: CoreIdTokenClaims,
    /// Every claim of the verified ID token, DingTalk's included.
    pub raw_claims: serde_json::Value,
    pub access_token: String,
}

impl Rp {
    pub async fn discover(app: &TestApp) -> Self {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let metadata = CoreProviderMetadata::discover_async(IssuerUrl::new(app.address.clone()).unwrap(), &http)
            .await
            .unwrap();
        Rp { metadata, http }
    }

    pub fn client(
        &self,
    ) -> openidconnect::core::CoreClient<
        openidconnect::EndpointSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointNotSet,
        openidconnect::EndpointMaybeSet,
        openidconnect::EndpointMaybeSet,
    > {
        CoreClient::from_provider_metadata(
            self.metadata.clone(),
            ClientId::new(WEB_CLIENT.into()),
            Some(ClientSecret::new(WEB_SECRET.into())),
        )
        .set_redirect_uri(RedirectUrl::new(WEB_REDIRECT.into()).unwrap())
    }

    pub fn start(&self, scopes: &[&str]) -> Started {
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let client = self.client();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in scopes {
            request = request.add_scope(Scope::new((*scope).into()));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        Started {
            url: url.into(),
            state,
            nonce,
            verifier,
        }
    }

    /// Redeems the code and verifies everything about the ID token.
    pub async fn finish(&self, started: Started, code: &str) -> Verified {
        let client = self.client();
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.into()))
            .unwrap()
            .set_pkce_verifier(started.verifier)
            .request_async(&self.http)
            .await
            .unwrap();
        let id_token = tokens.id_token().expect("an id_token");
        let verifier = client.id_token_verifier();
        let claims = id_token.claims(&verifier, &started.nonce).unwrap().clone();
        let expected = claims.access_token_hash().expect("at_hash");
        let actual = AccessTokenHash::from_token(
            tokens.access_token(),
            id_token.signing_alg().unwrap(),
            id_token.signing_key(&verifier).unwrap(),
        )
        .unwrap();
        assert_eq!(&actual, expected, "at_hash");
        let jwt = id_token.to_string();
        let payload = dingo::crypto::b64url_decode(jwt.split('.').nth(1).unwrap()).unwrap();
        Verified {
            claims,
            raw_claims: serde_json::from_slice(&payload).unwrap(),
            access_token: tokens.access_token().secret().clone(),
        }
    }
}
