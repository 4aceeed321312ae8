//! The request middleware: a request id (kept from a well-formed `X-Request-Id`, else new) in a
//! span around the whole request and in the response header, one log line per request, and the
//! HTTP metrics. Routes are labelled by their pattern; the query string is never logged.

use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::web;
use tracing::Instrument;

use super::ops;
use crate::state::AppState;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The `route` label of requests that matched no route.
const UNMATCHED: &str = "unmatched";
/// Longest incoming request id that is kept.
const MAX_REQUEST_ID_LEN: usize = 128;

/// One log line per request: method, route pattern, path (never the query, which can hold
/// codes), status and time, inside a `request` span carrying `request_id`; and the HTTP metrics.
pub async fn log_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let request_id =
        incoming_request_id(request.headers()).unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
    let span = tracing::info_span!("request", request_id = %request_id);
    let method = request.method().clone();
    let path = request.path().to_owned();
    let route = request.match_pattern();
    let state = request.app_data::<web::Data<AppState>>().cloned();
    let outcome = next.call(request).instrument(span.clone()).await;
    let status = match &outcome {
        Ok(response) => response.status(),
        Err(e) => e.as_response_error().status_code(),
    };
    let route = route.as_deref().unwrap_or(UNMATCHED);
    let took = started.elapsed();
    let ms = took.as_millis() as u64;
    span.in_scope(|| {
        if is_probe(route) {
            tracing::debug!(%method, route, %path, status = status.as_u16(), ms, "request");
        } else {
            tracing::info!(%method, route, %path, status = status.as_u16(), ms, "request");
        }
    });
    if let Some(state) = state {
        state
            .metrics
            .record_http_request(route, method_label(&method), status.as_u16(), took);
    }
    let mut response = outcome?;
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// The caller's `X-Request-Id` when it is 1–128 characters of `A-Z a-z 0-9 - _ . :`.
fn incoming_request_id(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(REQUEST_ID)?.to_str().ok()?;
    let well_formed = !value.is_empty()
        && value.len() <= MAX_REQUEST_ID_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    well_formed.then(|| value.to_owned())
}

/// Health checks and scrapes arrive every few seconds: they are logged at debug level only.
fn is_probe(route: &str) -> bool {
    matches!(route, ops::HEALTHZ | ops::READYZ | ops::METRICS)
}

/// Standard methods by name; anything else is `other`, so the label stays bounded.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::HEAD => "HEAD",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(REQUEST_ID, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn only_well_formed_request_ids_are_kept() {
        for kept in ["abc-123", "0f9e.cafe:1_x", &"a".repeat(128)] {
            assert_eq!(incoming_request_id(&headers(kept)).as_deref(), Some(kept));
        }
        for refused in ["", "has space", "quote\"", "ünï", &"a".repeat(129)] {
            assert_eq!(incoming_request_id(&headers(refused)), None, "{refused}");
        }
        assert_eq!(incoming_request_id(&HeaderMap::new()), None);
    }
}
