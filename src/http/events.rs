//! `POST /dingtalk/events`: DingTalk's HTTP event push. The answer is the encrypted `success`
//! DingTalk expects, or a JSON error with a 4xx for a push that cannot be read (503 while the
//! event cannot be recorded, so that DingTalk pushes it again).

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde_json::json;

use super::{BodyError, body};
use crate::membership::{Push, Refused};
use crate::state::AppState;

pub async fn push(
    state: web::Data<AppState>,
    request: HttpRequest,
    read: Result<web::Bytes, actix_web::Error>,
) -> HttpResponse {
    let Some(receiver) = &state.http_push else {
        return error(
            StatusCode::NOT_FOUND,
            "not_enabled",
            "event push is not enabled here (events.mode)",
        );
    };
    let bytes = match body(read) {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => {
            return error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "invalid_request",
                "the body is too large",
            );
        }
        Err(BodyError::Unreadable) => {
            return error(StatusCode::BAD_REQUEST, "invalid_request", "the body cannot be read");
        }
    };
    let query = crate::oidc::Params::parse(request.query_string());
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&bytes).ok();
    let push = Push {
        signature: query.get("msg_signature").or_else(|| query.get("signature")),
        timestamp: query.get("timestamp").or_else(|| query.get("timeStamp")),
        nonce: query.get("nonce"),
        encrypt: parsed.as_ref().and_then(|v| v.get("encrypt")).and_then(|v| v.as_str()),
    };
    match receiver.receive(&push).await {
        Ok(reply) => HttpResponse::Ok().json(reply),
        Err(refused) => {
            let status = match refused {
                Refused::Crypto(crate::dingtalk::events::CryptoError::BadSignature) => StatusCode::UNAUTHORIZED,
                Refused::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                _ => StatusCode::BAD_REQUEST,
            };
            error(status, refused.reason(), &refused.to_string())
        }
    }
}

fn error(status: StatusCode, code: &str, description: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({ "error": code, "error_description": description }))
}
