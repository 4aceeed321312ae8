//! `POST /token`: errors exactly as RFC 6749 §5.2.

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::no_store;
use crate::oidc::{ErrorCode, OidcError, Params};
use crate::state::AppState;

pub async fn token(state: web::Data<AppState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, basic) = match client_request(&request, &body) {
        Ok(parts) => parts,
        Err(response) => return *response,
    };
    let used_basic = basic.is_some();
    match state.provider.token(&form, basic, &state.dingtalk).await {
        Ok(tokens) => no_store(&mut HttpResponse::Ok()).json(tokens),
        Err(e) => error_response(&e, used_basic),
    }
}

/// `POST /revoke` (RFC 7009): 200 with an empty body whenever the client is authenticated.
pub async fn revoke(state: web::Data<AppState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, basic) = match client_request(&request, &body) {
        Ok(parts) => parts,
        Err(response) => return *response,
    };
    let used_basic = basic.is_some();
    match state.provider.revoke(&form, basic).await {
        Ok(()) => no_store(&mut HttpResponse::Ok()).finish(),
        Err(e) => error_response(&e, used_basic),
    }
}

/// `POST /introspect` (RFC 7662).
pub async fn introspect(state: web::Data<AppState>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let (form, basic) = match client_request(&request, &body) {
        Ok(parts) => parts,
        Err(response) => return *response,
    };
    let used_basic = basic.is_some();
    match state.provider.introspect(&form, basic).await {
        Ok(answer) => no_store(&mut HttpResponse::Ok()).json(answer),
        Err(e) => error_response(&e, used_basic),
    }
}

/// A client id and secret from `Authorization: Basic`.
type BasicCredentials = (String, String);

/// The form and the `Authorization: Basic` credentials of a client's request, or the error
/// response when the body is not a form or the header is malformed.
fn client_request(request: &HttpRequest, body: &[u8]) -> Result<(Params, Option<BasicCredentials>), Box<HttpResponse>> {
    if !super::is_form(request) {
        let e = OidcError::new(
            ErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        );
        return Err(Box::new(error_response(&e, false)));
    }
    let basic = basic_credentials(request).map_err(|e| Box::new(error_response(&e, true)))?;
    Ok((Params::parse(&String::from_utf8_lossy(body)), basic))
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(id) ":" urlencode(secret))`.
fn basic_credentials(request: &HttpRequest) -> Result<Option<(String, String)>, OidcError> {
    let Some(header) = request.headers().get(AUTHORIZATION) else {
        return Ok(None);
    };
    let malformed = || OidcError::new(ErrorCode::InvalidClient, "malformed Basic authorization header");
    let value = header.to_str().map_err(|_| malformed())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(malformed());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(malformed());
    }
    let decoded = STANDARD.decode(encoded.trim()).map_err(|_| malformed())?;
    let decoded = String::from_utf8(decoded).map_err(|_| malformed())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(malformed)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(Some((unescape(id), unescape(secret))))
}

fn error_response(e: &OidcError, used_basic: bool) -> HttpResponse {
    if let Some(cause) = &e.cause {
        tracing::error!(cause = %cause, "token request failed");
    }
    let status = match e.code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    let mut builder = HttpResponse::build(status);
    no_store(&mut builder);
    if e.code == ErrorCode::InvalidClient && used_basic {
        builder.insert_header((WWW_AUTHENTICATE, "Basic realm=\"dingo\""));
    }
    builder.json(serde_json::json!({"error": e.code.as_str(), "error_description": e.description}))
}
