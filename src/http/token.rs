//! `POST /token`: errors exactly as RFC 6749 §5.2.

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::limit::{Limited, Limits};
use super::{BodyError, no_store};
use crate::oidc::{ErrorCode, OidcError, Params};
use crate::state::AppState;

/// A client's request body, as the `web::Bytes` extractor read it (bounded by `limits.max_body_bytes`).
type Body = Result<web::Bytes, actix_web::Error>;

pub async fn token(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
    body: Body,
) -> HttpResponse {
    let (form, basic) = match client_request(&state, &limits, &request, body) {
        Ok(parts) => parts,
        Err(response) => return *response,
    };
    let used_basic = basic.is_some();
    match state.provider.token(&form, basic, state.dingtalk.as_ref()).await {
        Ok(tokens) => no_store(&mut HttpResponse::Ok()).json(tokens),
        Err(e) => error_response(&e, used_basic),
    }
}

/// `POST /revoke` (RFC 7009): 200 with an empty body whenever the client is authenticated.
pub async fn revoke(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
    body: Body,
) -> HttpResponse {
    let (form, basic) = match client_request(&state, &limits, &request, body) {
        Ok(parts) => parts,
        Err(response) => return *response,
    };
    let used_basic = basic.is_some();
    match state.provider.revoke(&form, basic).await {
        Ok(()) => no_store(&mut HttpResponse::Ok()).finish(),
        Err(e) => error_response(&e, used_basic),
    }
}

/// `POST /par` (RFC 9126): 201 with the `request_uri` to send the browser with.
pub async fn par(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
    body: Body,
) -> HttpResponse {
    let (form, basic) = match client_request(&state, &limits, &request, body) {
        Ok(parts) => parts,
        Err(response) => return *response,
    };
    let used_basic = basic.is_some();
    match state.provider.push_request(&form, basic).await {
        Ok(pushed) => no_store(&mut HttpResponse::Created()).json(serde_json::json!({
            "request_uri": pushed.request_uri,
            "expires_in": pushed.expires_in,
        })),
        Err(e) => error_response(&e, used_basic),
    }
}

/// `POST /device_authorization` (RFC 8628 §3.1): a device's codes, and where to send the person.
pub async fn device_authorization(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
    body: Body,
) -> HttpResponse {
    let (form, basic) = match client_request(&state, &limits, &request, body) {
        Ok(parts) => parts,
        Err(response) => return *response,
    };
    let used_basic = basic.is_some();
    match state.provider.device_authorization(&form, basic).await {
        Ok(started) => no_store(&mut HttpResponse::Ok()).json(started),
        Err(e) => error_response(&e, used_basic),
    }
}

/// `POST /introspect` (RFC 7662).
pub async fn introspect(
    state: web::Data<AppState>,
    limits: web::Data<Limits>,
    request: HttpRequest,
    body: Body,
) -> HttpResponse {
    let (form, basic) = match client_request(&state, &limits, &request, body) {
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
/// response when a rate limit refuses it, the body is too large or not a form, or the header is
/// malformed.
fn client_request(
    state: &AppState,
    limits: &Limits,
    request: &HttpRequest,
    body: Body,
) -> Result<(Params, Option<BasicCredentials>), Box<HttpResponse>> {
    limits
        .oauth_address(request)
        .map_err(|limited| Box::new(too_many_requests(limited)))?;
    let body = super::body(body).map_err(|e| {
        let (status, description) = match e {
            BodyError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "the request body is too large"),
            BodyError::Unreadable => (StatusCode::BAD_REQUEST, "the request body could not be read"),
        };
        let e = OidcError::new(ErrorCode::InvalidRequest, description);
        Box::new(error_response_with(status, &e, false))
    })?;
    if !super::is_form(request) {
        let e = OidcError::new(
            ErrorCode::InvalidRequest,
            "the body must be application/x-www-form-urlencoded",
        );
        return Err(Box::new(error_response(&e, false)));
    }
    let basic = basic_credentials(request).map_err(|e| Box::new(error_response(&e, true)))?;
    let form = Params::parse(&String::from_utf8_lossy(&body));
    let named = basic
        .as_ref()
        .map(|(id, _)| id.clone())
        .or_else(|| form.get("client_id").map(str::to_owned))
        .or_else(|| form.get("client_assertion").and_then(assertion_issuer));
    if let Some(client) = named.filter(|id| state.provider.client(id).is_some()) {
        limits
            .oauth_client(request, &client)
            .map_err(|limited| Box::new(too_many_requests(limited)))?;
    }
    Ok((form, basic))
}

/// The `iss` of a client assertion, unverified: only to know which client's limit it counts
/// against (the assertion is verified when the client is authenticated).
fn assertion_issuer(assertion: &str) -> Option<String> {
    let payload = crate::crypto::b64url_decode(assertion.split('.').nth(1)?)?;
    let claims: serde_json::Value = serde_json::from_slice(&payload).ok()?;
    claims["iss"].as_str().map(str::to_owned)
}

/// 429 (RFC 6585 §4) with `Retry-After`. RFC 6749 §5.2 defines no error code for "too many
/// requests": `slow_down` exists only for device-flow polling (RFC 8628 §3.5), which clients of
/// these endpoints do not expect, so the body says `temporarily_unavailable` — the registered
/// OAuth code for "try again later" — and the status and header say how and when.
fn too_many_requests(limited: Limited) -> HttpResponse {
    no_store(&mut HttpResponse::TooManyRequests())
        .insert_header((RETRY_AFTER, limited.retry_after))
        .json(serde_json::json!({
            "error": ErrorCode::TemporarilyUnavailable.as_str(),
            "error_description": format!("too many requests: try again in {} seconds", limited.retry_after),
        }))
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
    let status = match e.code {
        ErrorCode::InvalidClient => StatusCode::UNAUTHORIZED,
        ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
        ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::BAD_REQUEST,
    };
    error_response_with(status, e, used_basic)
}

fn error_response_with(status: StatusCode, e: &OidcError, used_basic: bool) -> HttpResponse {
    if let Some(cause) = &e.cause {
        tracing::error!(cause = %cause, "token request failed");
    }
    let mut builder = HttpResponse::build(status);
    no_store(&mut builder);
    if e.code == ErrorCode::InvalidClient && used_basic {
        builder.insert_header((WWW_AUTHENTICATE, "Basic realm=\"dingo\""));
    }
    builder.json(serde_json::json!({"error": e.code.as_str(), "error_description": e.description}))
}
