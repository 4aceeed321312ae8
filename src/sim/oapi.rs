//! The oapi.dingtalk.com family: always HTTP 200 with a numeric `errcode`; the app token comes
//! from `?access_token=` (or a form body field `access_token`), never from a header.
//! `/gettoken` and `/sns/getuserinfo_bycode` take no token (credentials and a signature).

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Value, json};

use super::access::AppAccess;
use super::envelope::{oapi_gateway, oapi_plain, oapi_unknown_api, topapi_error, topapi_result};
use super::params::Params;
use super::state::{TOKEN_TTL, TokenStatus};
use super::{Simulator, bodies, inapp, query_pairs, sns};

const NOT_FOUND_USER: (i64, &str) = (60121, "找不到该用户");

/// The app an oapi call is made for (by its token), and what it may read.
pub(super) struct App {
    pub(super) client_id: String,
    pub(super) access: AppAccess,
}

/// Routes every path outside `/v1.0/` and the login pages.
pub(crate) fn handle(sim: &Simulator, req: &HttpRequest, tail: &str, body: &[u8]) -> HttpResponse {
    let topapi: fn(&Simulator, &Params, &App) -> HttpResponse = match tail {
        "gettoken" => return gettoken(sim, req),
        "sns/getuserinfo_bycode" => return sns::getuserinfo_bycode(sim, req, body),
        "topapi/v2/user/getuserinfo" => inapp::getuserinfo,
        "user/getuserinfo" => inapp::legacy_getuserinfo,
        "topapi/user/getbyunionid" => getbyunionid,
        "user/getUseridByUnionid" => get_userid_by_unionid,
        "topapi/v2/user/get" => user_get,
        "topapi/v2/department/listparentbyuser" => listparentbyuser,
        "topapi/v2/department/get" => department_get,
        _ => return oapi_unknown_api(&api_name(tail)),
    };
    let params = Params::parse(req, body);
    let token = params.access_token().unwrap_or_default();
    if token.is_empty() {
        return oapi_gateway("40000", "access_token is blank");
    }
    // Only app tokens are accepted; a user token is as unknown here as a made-up one.
    let client_id = match sim.store().check_app_token(&token, sim.now()) {
        TokenStatus::Valid(client_id) => client_id.to_owned(),
        TokenStatus::Expired => return oapi_gateway("42001", "access_token超时"),
        TokenStatus::Unknown => return oapi_gateway("40014", "不合法的access_token"),
    };
    let access = sim.app_access(&client_id);
    topapi(sim, &params, &App { client_id, access })
}

/// `GET /gettoken?appkey&appsecret` — parameters from the query string only.
fn gettoken(sim: &Simulator, req: &HttpRequest) -> HttpResponse {
    let query = query_pairs(req);
    let get = |k: &str| query.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let Some(app_key) = get("appkey") else {
        return oapi_plain(json!({ "errcode": 40035, "errmsg": "缺少参数 corpid or appkey" }));
    };
    let secret = get("appsecret").unwrap_or_default();
    let Some(app) = sim.directory().authenticate_app(app_key, secret) else {
        return oapi_plain(json!({ "errcode": 40096, "errmsg": "不合法的appKey或appSecret" }));
    };
    match sim.store().app_token(&app.client_id, sim.now()) {
        Ok(token) => oapi_plain(json!({
            "errcode": 0,
            "access_token": token,
            "errmsg": "ok",
            "expires_in": TOKEN_TTL,
        })),
        Err(_) => oapi_plain(json!({ "errcode": -1, "errmsg": "系统繁忙" })),
    }
}

/// `POST /topapi/user/getbyunionid` {unionid} → {contact_type, userid}.
fn getbyunionid(sim: &Simulator, params: &Params, _app: &App) -> HttpResponse {
    let Some(unionid) = params.text("unionid") else {
        return missing("unionid");
    };
    match sim
        .directory()
        .member_by_unionid(&unionid)
        .filter(|m| !sim.has_left(&m.userid))
    {
        Some(m) => topapi_result(json!({ "contact_type": 0, "userid": m.userid })),
        None => topapi_error(NOT_FOUND_USER.0, NOT_FOUND_USER.1),
    }
}

/// Legacy `GET /user/getUseridByUnionid?unionid=` → flat {contactType, userid}, no `request_id`.
fn get_userid_by_unionid(sim: &Simulator, params: &Params, _app: &App) -> HttpResponse {
    let Some(unionid) = params.text("unionid") else {
        return oapi_plain(json!({ "errcode": 40035, "errmsg": "缺少参数 unionid" }));
    };
    match sim.directory().member_by_unionid(&unionid) {
        Some(m) => oapi_plain(json!({
            "errcode": 0,
            "errmsg": "ok",
            "contactType": 0,
            "userid": m.userid,
        })),
        None => oapi_plain(json!({ "errcode": NOT_FOUND_USER.0, "errmsg": NOT_FOUND_USER.1 })),
    }
}

/// `POST /topapi/v2/user/get` {userid, language}. A member outside the app's contact scope
/// (`visible = false`, or outside its `AppAccess::scope`) is 50002.
fn user_get(sim: &Simulator, params: &Params, app: &App) -> HttpResponse {
    let Some(userid) = params.text("userid") else {
        return missing("userid");
    };
    match sim
        .directory()
        .member_by_userid(&userid)
        .filter(|m| !sim.has_left(&m.userid))
    {
        Some(m) if !app.access.sees_member(sim.directory(), m) => topapi_error(50002, "企业员工不在授权范围"),
        Some(m) => topapi_result(bodies::user_get(sim.directory(), m, &app.access)),
        None => topapi_error(NOT_FOUND_USER.0, NOT_FOUND_USER.1),
    }
}

/// `POST /topapi/v2/department/listparentbyuser` {userid} → one id chain per department.
fn listparentbyuser(sim: &Simulator, params: &Params, _app: &App) -> HttpResponse {
    let Some(userid) = params.text("userid") else {
        return missing("userid");
    };
    let Some(m) = sim.directory().member_by_userid(&userid) else {
        return topapi_error(33012, "无效的USERID");
    };
    let parent_list: Vec<Value> = m
        .dept_id_list
        .iter()
        .map(|d| json!({ "parent_dept_id_list": sim.directory().department_chain(*d) }))
        .collect();
    topapi_result(json!({ "parent_list": parent_list }))
}

/// `POST /topapi/v2/department/get` {dept_id, language}: 88/60011 without the department
/// permission, 50004 outside the app's contact scope.
fn department_get(sim: &Simulator, params: &Params, app: &App) -> HttpResponse {
    let Some(dept_id) = params.int("dept_id") else {
        return missing("dept_id");
    };
    if !app.access.departments {
        return oapi_gateway("60011", "没有调用该接口的权限");
    }
    if sim.directory().department(dept_id).is_some() && !app.access.sees_department(sim.directory(), dept_id) {
        return topapi_error(50004, "部门不在授权范围");
    }
    match sim.directory().department(dept_id) {
        Some(dept) => topapi_result(bodies::department_get(sim.directory(), dept)),
        None => topapi_error(60003, "部门不存在"),
    }
}

fn missing(name: &str) -> HttpResponse {
    topapi_error(40035, &format!("缺少参数 {name}"))
}

/// The API name the gateway reports for a path: `/topapi/v2/user/x` → `dingtalk.oapi.v2.user.x`.
fn api_name(tail: &str) -> String {
    let rest = tail.strip_prefix("topapi/").unwrap_or(tail);
    format!("dingtalk.oapi.{}", rest.trim_matches('/').replace('/', "."))
}

#[cfg(test)]
mod tests {
    use super::api_name;

    #[test]
    fn api_names_follow_the_gateway_convention() {
        assert_eq!(api_name("topapi/v2/user/notexist"), "dingtalk.oapi.v2.user.notexist");
        assert_eq!(api_name("user/nothing"), "dingtalk.oapi.user.nothing");
    }
}
