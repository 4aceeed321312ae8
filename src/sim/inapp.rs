//! The server half of in-app (免登) login (DINGTALK-API.md §4.4–4.5): with its app token, an app
//! turns a JSAPI `requestAuthCode` code into the member's identity. Codes are single use, live
//! 5 minutes and are good for any app of the corp; a used, expired or unknown code — which
//! includes one minted by another corp — is 40078.

use actix_web::HttpResponse;
use aws_lc_rs::digest;
use serde_json::json;

use super::Simulator;
use super::directory::Member;
use super::envelope::{oapi_plain, topapi_error, topapi_result};
use super::oapi::App;
use super::params::Params;

const BAD_CODE: (i64, &str) = (40078, "不存在的临时授权码");

/// `POST /topapi/v2/user/getuserinfo` {code}.
pub(super) fn getuserinfo(sim: &Simulator, params: &Params, app: &App) -> HttpResponse {
    let Some(code) = params.text("code") else {
        return topapi_error(40035, "缺少参数 code");
    };
    match take(sim, &code, &app.client_id) {
        // Outside the app's visible range (DINGTALK-API.md Appendix B.1).
        Some(m) if !app.access.sees_member(sim.directory(), m) => topapi_error(40079, "不存在的授权信息"),
        Some(m) => topapi_result(json!({
            "userid": m.userid,
            "unionid": m.unionid,
            "associated_unionid": "",
            "device_id": device_id(&m.userid),
            "sys": m.admin || m.boss,
            "sys_level": sys_level(m),
            "name": m.name,
        })),
        None => topapi_error(BAD_CODE.0, BAD_CODE.1),
    }
}

/// Legacy `GET /user/getuserinfo?code=`: flat fields, mixed casing, no `request_id`.
pub(super) fn legacy_getuserinfo(sim: &Simulator, params: &Params, app: &App) -> HttpResponse {
    let Some(code) = params.text("code") else {
        return oapi_plain(json!({ "errcode": 40035, "errmsg": "缺少参数 code" }));
    };
    match take(sim, &code, &app.client_id) {
        Some(m) if !app.access.sees_member(sim.directory(), m) => {
            oapi_plain(json!({ "errcode": 40079, "errmsg": "不存在的授权信息" }))
        }
        Some(m) => oapi_plain(json!({
            "errcode": 0,
            "errmsg": "ok",
            "userid": m.userid,
            "name": m.name,
            "deviceId": device_id(&m.userid),
            "is_sys": m.admin || m.boss,
            "sys_level": sys_level(m),
        })),
        None => oapi_plain(json!({ "errcode": BAD_CODE.0, "errmsg": BAD_CODE.1 })),
    }
}

/// The member of a live code issued for any app (V1) or for `client_id` (V2).
fn take<'a>(sim: &'a Simulator, code: &str, client_id: &str) -> Option<&'a Member> {
    let userid = sim.store().take_inapp_code(code, client_id, sim.now())?;
    sim.directory().member_by_userid(&userid)
}

/// 1 primary admin, 100 boss, 0 anyone else (the simulator has no sub-admins, level 2). An
/// admin who is also the boss reports 1.
fn sys_level(m: &Member) -> i64 {
    if m.admin {
        1
    } else if m.boss {
        100
    } else {
        0
    }
}

/// A stable 32-hex device id per member (the simulated phone does not change).
fn device_id(userid: &str) -> String {
    let digest = digest::digest(&digest::SHA256, format!("device\n{userid}").as_bytes());
    digest.as_ref().iter().take(16).map(|b| format!("{b:02x}")).collect()
}
