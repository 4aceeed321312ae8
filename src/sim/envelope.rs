//! Response builders for DingTalk's two API families (DINGTALK-API.md §1):
//! oapi answers HTTP 200 with a numeric `errcode`; api answers 2xx with the bare object or
//! 4xx/5xx with `{code, message, requestid}`.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use serde_json::{Value, json};

use super::random;

/// `topapi/*` success: payload under `result`, plus `request_id`.
pub(crate) fn topapi_result(result: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "errcode": 0,
        "errmsg": "ok",
        "result": result,
        "request_id": random::request_id(),
    }))
}

/// `topapi/*` business error, e.g. 60121 找不到该用户.
pub(crate) fn topapi_error(errcode: i64, errmsg: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "errcode": errcode,
        "errmsg": errmsg,
        "request_id": random::request_id(),
    }))
}

/// Old-style oapi body (`/gettoken`): fields at top level, no `request_id`.
pub(crate) fn oapi_plain(body: Value) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

/// Gateway failure wrapped in errcode 88; the real reason is the string `sub_code`.
pub(crate) fn oapi_gateway(sub_code: &str, sub_msg: &str) -> HttpResponse {
    HttpResponse::Ok().json(json!({
        "errcode": 88,
        "sub_code": sub_code,
        "sub_msg": sub_msg,
        "errmsg": format!("ding talk error[subcode={sub_code},submsg={sub_msg}]"),
        "request_id": random::request_id(),
    }))
}

/// Unknown oapi path: errcode 22 "Invalid method", not an HTTP 404.
pub(crate) fn oapi_unknown_api(api_name: &str) -> HttpResponse {
    let sub_msg = format!("不合法ApiName，ApiName = {api_name}");
    HttpResponse::Ok().json(json!({
        "errcode": 22,
        "sub_msg": sub_msg,
        "errmsg": format!("Invalid method[submsg={sub_msg}]"),
        "request_id": random::request_id(),
    }))
}

/// api.dingtalk.com success: the bare business object.
pub(crate) fn api_ok(body: Value) -> HttpResponse {
    HttpResponse::Ok().json(body)
}

/// api.dingtalk.com failure: `{code, message, requestid}` with a 4xx/5xx status.
pub(crate) fn api_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(json!({
        "code": code,
        "message": message,
        "requestid": random::request_uuid(),
    }))
}

/// 400 `Missing<field>`, the gateway's answer to an absent required parameter (`Missingbody`
/// for a missing or non-JSON body).
pub(crate) fn api_missing(field: &str) -> HttpResponse {
    api_error(
        StatusCode::BAD_REQUEST,
        &format!("Missing{field}"),
        &format!("{field} is mandatory for this action"),
    )
}

pub(crate) fn api_not_found() -> HttpResponse {
    api_error(
        StatusCode::NOT_FOUND,
        "InvalidAction.NotFound",
        "Specified api is not found, please check your url and method.",
    )
}

pub(crate) fn api_invalid_client() -> HttpResponse {
    api_error(
        StatusCode::BAD_REQUEST,
        "invalidClientIdOrSecret",
        "无效的clientId或者clientSecret",
    )
}

/// The api answer when the simulator itself cannot serve (no randomness).
pub(crate) fn api_busy() -> HttpResponse {
    api_error(StatusCode::INTERNAL_SERVER_ERROR, "unknownError", "未知错误")
}
