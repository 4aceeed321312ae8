//! `GET`/`POST /userinfo` with a bearer token; errors per RFC 6750 §3.

use actix_web::http::StatusCode;
use actix_web::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use actix_web::{HttpRequest, HttpResponse, web};

use super::{BodyError, no_store};
use crate::oidc::{BearerError, Params};
use crate::state::AppState;

pub async fn userinfo(
    state: web::Data<AppState>,
    request: HttpRequest,
    body: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let body = match super::body(body) {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            return no_store(&mut HttpResponse::PayloadTooLarge()).json(
                serde_json::json!({"error": "invalid_request", "error_description": "the request body is too large"}),
            );
        }
        Err(BodyError::Unreadable) => {
            return challenge(&BearerError::InvalidRequest("the request body could not be read"));
        }
    };
    match bearer_token(&request, &body) {
        Ok(token) => match state.provider.userinfo(&token).await {
            Ok(claims) => no_store(&mut HttpResponse::Ok()).json(claims),
            Err(e) => challenge(&e),
        },
        Err(e) => challenge(&e),
    }
}

/// The token from `Authorization: Bearer`, or from a form body (RFC 6750 §2.2); never both.
fn bearer_token(request: &HttpRequest, body: &[u8]) -> Result<String, BearerError> {
    let from_header = match request.headers().get(AUTHORIZATION) {
        None => None,
        Some(value) => {
            let value = value
                .to_str()
                .map_err(|_| BearerError::InvalidRequest("malformed Authorization header"))?;
            match value.split_once(' ') {
                Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                    Some(token.trim().to_owned())
                }
                _ => {
                    return Err(BearerError::InvalidRequest(
                        "the Authorization header must be `Bearer <token>`",
                    ));
                }
            }
        }
    };
    let from_body = if super::is_form(request) {
        Params::parse(&String::from_utf8_lossy(body))
            .get("access_token")
            .map(str::to_owned)
    } else {
        None
    };
    match (from_header, from_body) {
        (Some(_), Some(_)) => Err(BearerError::InvalidRequest("send the access token one way only")),
        (Some(token), None) | (None, Some(token)) => Ok(token),
        (None, None) => Err(BearerError::Missing),
    }
}

fn challenge(e: &BearerError) -> HttpResponse {
    let (status, error) = match e {
        BearerError::Missing => (StatusCode::UNAUTHORIZED, None),
        BearerError::InvalidRequest(d) => (StatusCode::BAD_REQUEST, Some(("invalid_request", *d))),
        BearerError::InvalidToken(d) => (StatusCode::UNAUTHORIZED, Some(("invalid_token", *d))),
        BearerError::InsufficientScope(d) => (StatusCode::FORBIDDEN, Some(("insufficient_scope", *d))),
        BearerError::Internal => {
            return no_store(&mut HttpResponse::InternalServerError())
                .json(serde_json::json!({"error": "server_error"}));
        }
        BearerError::Unavailable => {
            return no_store(&mut HttpResponse::ServiceUnavailable()).json(serde_json::json!({
                "error": "temporarily_unavailable",
                "error_description": "the database is unavailable; try again shortly"
            }));
        }
    };
    let header = match error {
        None => "Bearer realm=\"dingo\"".to_owned(),
        Some((code, description)) => {
            format!("Bearer realm=\"dingo\", error=\"{code}\", error_description=\"{description}\"")
        }
    };
    let mut builder = HttpResponse::build(status);
    no_store(&mut builder).insert_header((WWW_AUTHENTICATE, header));
    match error {
        None => builder.finish(),
        Some((code, description)) => builder.json(serde_json::json!({"error": code, "error_description": description})),
    }
}
