//! The api.dingtalk.com family (`/v1.0/...`): JSON bodies in camelCase, token only in the
//! `x-acs-dingtalk-access-token` header, errors as 4xx/5xx `{code, message, requestid}`.

use actix_web::http::header::CONTENT_TYPE;
use actix_web::http::{Method, StatusCode};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use super::Simulator;
use super::bodies;
use super::envelope::{api_busy, api_error, api_invalid_client, api_missing, api_not_found, api_ok};
use super::state::{TOKEN_TTL, TokenStatus};

const TOKEN_HEADER: &str = "x-acs-dingtalk-access-token";

/// Routes `/v1.0/{tail}`. A known path with the wrong method is "not found", as on the real API.
pub(crate) fn handle(sim: &Simulator, req: &HttpRequest, tail: &str, body: &[u8]) -> HttpResponse {
    let post = req.method() == Method::POST;
    let get = req.method() == Method::GET;
    let segments: Vec<&str> = tail.split('/').collect();
    match segments.as_slice() {
        ["oauth2", "accessToken"] if post => app_access_token(sim, req, body),
        ["oauth2", "userAccessToken"] if post => user_access_token(sim, req, body),
        ["oauth2", corp_id, "token"] if post => corp_token(sim, req, body, corp_id),
        ["contact", "users", who] if get && !who.is_empty() => user_profile(sim, req, who),
        ["contact", "empLeaveRecords"] if get => leave_records(sim, req),
        ["gateway", "connections", "open"] if post => match json_body(req, body) {
            Some(body) => super::stream::open_connection(sim, req, &Value::Object(body)),
            None => api_missing("body"),
        },
        _ => api_not_found(),
    }
}

/// `POST /v1.0/oauth2/accessToken` {appKey, appSecret} → {accessToken, expireIn}.
fn app_access_token(sim: &Simulator, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let Some(body) = json_body(req, body) else {
        return api_missing("body");
    };
    let Some(app_key) = text(&body, "appKey") else {
        return api_missing("appKey");
    };
    let secret = text(&body, "appSecret").unwrap_or_default();
    let Some(app) = sim.directory().authenticate_app(app_key, secret) else {
        return api_invalid_client();
    };
    match sim.store().app_token(&app.client_id, sim.now()) {
        Ok(token) => api_ok(json!({ "accessToken": token, "expireIn": TOKEN_TTL })),
        Err(_) => api_busy(),
    }
}

/// `POST /v1.0/oauth2/{corpId}/token` {client_id, client_secret, grant_type} (snake_case here).
fn corp_token(sim: &Simulator, req: &HttpRequest, body: &[u8], corp_id: &str) -> HttpResponse {
    let Some(body) = json_body(req, body) else {
        return api_missing("body");
    };
    let Some(client_id) = text(&body, "client_id") else {
        return api_missing("client_id");
    };
    let Some(secret) = text(&body, "client_secret") else {
        return api_missing("client_secret");
    };
    let Some(grant_type) = text(&body, "grant_type") else {
        return api_missing("grant_type");
    };
    if corp_id != sim.directory().corp_id() {
        return api_error(StatusCode::INTERNAL_SERVER_ERROR, "unknownError", "未知错误");
    }
    if grant_type != "client_credentials" {
        return api_error(StatusCode::BAD_REQUEST, "unsupported.grant.type", "不支持的授权类型");
    }
    let Some(app) = sim.directory().authenticate_app(client_id, secret) else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalid.client",
            "无效的clientId或者clientSecret",
        );
    };
    match sim.store().app_token(&app.client_id, sim.now()) {
        Ok(token) => api_ok(json!({ "access_token": token, "expires_in": TOKEN_TTL })),
        Err(_) => api_busy(),
    }
}

/// `POST /v1.0/oauth2/userAccessToken` {clientId, clientSecret, code | refreshToken, grantType}.
fn user_access_token(sim: &Simulator, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let Some(body) = json_body(req, body) else {
        return api_missing("body");
    };
    let Some(client_id) = text(&body, "clientId") else {
        return api_missing("clientId");
    };
    let Some(secret) = text(&body, "clientSecret") else {
        return api_missing("clientSecret");
    };
    let Some(grant_type) = text(&body, "grantType") else {
        return api_missing("grantType");
    };
    let Some(app) = sim.directory().authenticate_app(client_id, secret) else {
        return api_invalid_client();
    };
    let now = sim.now();
    let issued = match grant_type {
        "authorization_code" => {
            let code = text(&body, "code").unwrap_or_default();
            let mut store = sim.store();
            match store.take_code(code, &app.client_id, now) {
                Some(grant) => store.issue_user_tokens(grant, now),
                None => {
                    return api_error(
                        StatusCode::BAD_REQUEST,
                        "invalidParameter.authCode.notFound",
                        "不合法的临时授权码",
                    );
                }
            }
        }
        "refresh_token" => {
            let refresh = text(&body, "refreshToken").unwrap_or_default();
            match sim.store().refresh(refresh, &app.client_id, now) {
                Some(issued) => issued,
                None => {
                    return api_error(
                        StatusCode::BAD_REQUEST,
                        "invalidParameter.refreshToken.notFound",
                        "不合法的refreshToken",
                    );
                }
            }
        }
        _ => {
            return api_error(StatusCode::BAD_REQUEST, "unsupported.grant.type", "不支持的授权类型");
        }
    };
    let Ok(tokens) = issued else {
        return api_busy();
    };
    let mut out = json!({
        "accessToken": tokens.access_token,
        "refreshToken": tokens.refresh_token,
        "expireIn": TOKEN_TTL,
    });
    if tokens.grant.has_corpid_scope() {
        out["corpId"] = json!(sim.directory().corp_id());
    }
    api_ok(out)
}

/// `GET /v1.0/contact/users/{unionId | me}` with a user token.
fn user_profile(sim: &Simulator, req: &HttpRequest, who: &str) -> HttpResponse {
    let Some(token) = header_token(req) else {
        return missing_token();
    };
    let grant = match sim.store().check_user_token(token, sim.now()) {
        // App tokens, unknown and expired tokens alike.
        TokenStatus::Valid(grant) => grant.clone(),
        TokenStatus::Expired | TokenStatus::Unknown => {
            return api_error(StatusCode::BAD_REQUEST, "InvalidAuthentication", "不合法的access_token");
        }
    };
    if who != "me" && who != grant.unionid {
        return api_error(StatusCode::NOT_FOUND, "invalidParameter.user.notFound", "用户不存在");
    }
    match sim.directory().person_by_unionid(&grant.unionid) {
        Some(person) => api_ok(bodies::users_me(person, &grant.client_id)),
        None => api_error(StatusCode::NOT_FOUND, "invalidParameter.user.notFound", "用户不存在"),
    }
}

/// `GET /v1.0/contact/empLeaveRecords?startTime&endTime&nextToken&maxResults` with the app
/// token (DINGTALK-EVENTS.md §6): who left in the window, oldest first, at most 50 a page.
fn leave_records(sim: &Simulator, req: &HttpRequest) -> HttpResponse {
    let Some(token) = header_token(req) else {
        return missing_token();
    };
    if !matches!(sim.store().check_app_token(token, sim.now()), TokenStatus::Valid(_)) {
        return api_error(StatusCode::BAD_REQUEST, "InvalidAuthentication", "不合法的access_token");
    }
    let query = super::query_pairs(req);
    let time = |name: &str| {
        query
            .get(name)
            .and_then(|t| crate::calendar::parse_time(t, sim.now()).ok())
            .map(|s| s * 1000)
    };
    let Some(start) = time("startTime") else {
        return api_error(
            StatusCode::BAD_REQUEST,
            "invalidParameter.startTime",
            "startTime参数错误",
        );
    };
    let end = time("endTime").map_or(i64::MAX, |end| end + 999);
    let size = match query.get("maxResults").map(|m| m.parse::<usize>()) {
        None => 50,
        Some(Ok(size)) if (1..=50).contains(&size) => size,
        Some(_) => {
            return api_error(
                StatusCode::BAD_REQUEST,
                "invalidParameter.maxResults",
                "maxResults参数错误",
            );
        }
    };
    let skip: usize = query.get("nextToken").and_then(|t| t.parse().ok()).unwrap_or(0);
    let window: Vec<(String, i64)> = sim
        .leavers()
        .into_iter()
        .filter(|(_, at)| (start..=end).contains(at))
        .collect();
    let records: Vec<Value> = window
        .iter()
        .skip(skip)
        .take(size)
        .map(|(userid, at)| {
            json!({
                "userId": userid,
                "name": sim.directory().members().iter().find(|m| &m.userid == userid).map(|m| m.name.clone()),
                "leaveTime": crate::calendar::format_utc(at.div_euclid(1000)),
                "leaveReason": "oapi",
            })
        })
        .collect();
    let mut out = json!({ "records": records });
    if skip + size < window.len() {
        out["nextToken"] = json!((skip + size).to_string());
    }
    api_ok(out)
}

/// The token of the `x-acs-dingtalk-access-token` header, if there is one.
fn header_token(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

/// The answer to a request without the token header.
fn missing_token() -> HttpResponse {
    api_error(
        StatusCode::BAD_REQUEST,
        "AuthenticationFailed.MissingParameter",
        &format!("缺少参数：{TOKEN_HEADER}"),
    )
}

/// The JSON object body; `None` (→ 400 `Missingbody`) for an empty, form or non-JSON body.
fn json_body(req: &HttpRequest, body: &[u8]) -> Option<Map<String, Value>> {
    let declared_other = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| !ct.to_ascii_lowercase().contains("json"));
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(map)) if !declared_other => Some(map),
        _ => None,
    }
}

/// A non-empty string field.
fn text<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}
