//! CORS for browser apps: discovery and the JWKS answer any origin; the token, userinfo,
//! revocation and introspection endpoints answer only an origin some client registered
//! (`allowed_origins`), echoed exactly, with `Vary: Origin`; `/authorize` and the pages never.
//! Preflights are answered here, before routing.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE, ACCESS_CONTROL_REQUEST_METHOD,
    HeaderMap, HeaderValue, ORIGIN, VARY,
};
use actix_web::middleware::Next;
use actix_web::{HttpResponse, web};

use crate::oidc::paths;
use crate::state::AppState;

/// Who may call a path from a script.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Policy {
    AnyOrigin,
    Registered,
}

fn policy(path: &str) -> Option<Policy> {
    match path {
        paths::DISCOVERY | paths::JWKS => Some(Policy::AnyOrigin),
        paths::TOKEN | paths::PAR | paths::USERINFO | paths::REVOKE | paths::INTROSPECT => Some(Policy::Registered),
        _ => None,
    }
}

pub async fn cors(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let Some(policy) = policy(request.path()) else {
        return next.call(request).await.map(ServiceResponse::map_into_left_body);
    };
    let origin = request
        .headers()
        .get(ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let allowed = origin.filter(|origin| match policy {
        Policy::AnyOrigin => true,
        Policy::Registered => request
            .app_data::<web::Data<AppState>>()
            .is_some_and(|state| state.provider.allows_origin(origin)),
    });
    let preflight =
        request.method() == Method::OPTIONS && request.headers().contains_key(ACCESS_CONTROL_REQUEST_METHOD);
    if preflight {
        let mut response = HttpResponse::NoContent().finish();
        let headers = response.headers_mut();
        allow(headers, policy, allowed.as_deref());
        if allowed.is_some() {
            headers.insert(
                ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static("GET, HEAD, POST"),
            );
            headers.insert(
                ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static("authorization, content-type"),
            );
            headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        }
        return Ok(request.into_response(response).map_into_right_body());
    }
    let mut response = next.call(request).await?;
    allow(response.headers_mut(), policy, allowed.as_deref());
    Ok(response.map_into_left_body())
}

/// The headers that let `origin` read the answer (none when it may not), and `Vary: Origin`
/// where the answer depends on it.
fn allow(headers: &mut HeaderMap, policy: Policy, origin: Option<&str>) {
    match policy {
        Policy::AnyOrigin => {
            if origin.is_some() {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
            }
        }
        Policy::Registered => {
            headers.append(VARY, HeaderValue::from_static("Origin"));
            if let Some(value) = origin.and_then(|o| HeaderValue::from_str(o).ok()) {
                headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, value);
                headers.insert(ACCESS_CONTROL_ALLOW_CREDENTIALS, HeaderValue::from_static("true"));
                headers.insert(
                    ACCESS_CONTROL_EXPOSE_HEADERS,
                    HeaderValue::from_static("www-authenticate"),
                );
            }
        }
    }
}
