//! The organisation's console (`GET /org`): what an administrator does in DingTalk's 管理后台 —
//! make someone leave, move them, make them an administrator — each change delivered to the app
//! as DingTalk's event. The forms post to `POST /org/{leave,move,admin}` (`userid`, and `dept_id`
//! or `admin`), which a script or `curl` can call too: a form gets the page back, a request
//! with `Accept: application/json` gets `{"eventId"}` (404 for an unknown member).

use std::fmt::Write;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::json;

use super::Simulator;
use super::pages::{document, escape};

/// The administrator who makes the console's changes (`optStaffId`): the organisation's first
/// administrator, if any.
fn operator(sim: &Simulator) -> Option<String> {
    sim.directory()
        .members()
        .iter()
        .find(|m| m.admin)
        .map(|m| m.userid.clone())
}

/// `GET /org`: every member, with what can be changed.
pub(super) fn console(sim: &Simulator, req: &HttpRequest) -> HttpResponse {
    let query = super::query_pairs(req);
    let directory = sim.directory();
    let mut body = String::from(
        "<h1>通讯录管理 · Organisation</h1>\
         <p>这里的变更会像钉钉一样以通讯录事件通知应用。<br>\
         Changes made here reach the app as DingTalk's organisation events.</p>",
    );
    if let Some(done) = query.get("done") {
        let _ = write!(body, "<p class=\"done\" id=\"done\">{}</p>", escape(done));
    }
    body.push_str(
        "<form method=\"post\" action=\"org/hiccup\"><button id=\"hiccup\">钉钉故障演练 · DingTalk hiccup</button>\
         <span class=\"detail\"> 下一次登录兑换登录码时钉钉返回 HTTP 500。\
         The next login's code exchange gets HTTP 500 from DingTalk.</span></form>",
    );
    for m in directory.members() {
        let department_options: String = directory
            .departments()
            .iter()
            .map(|d| {
                let selected = if m.dept_id_list.first() == Some(&d.id) {
                    " selected"
                } else {
                    ""
                };
                format!("<option value=\"{}\"{selected}>{}</option>", d.id, escape(&d.name))
            })
            .collect();
        let departments: Vec<&str> = m
            .dept_id_list
            .iter()
            .filter_map(|id| directory.department(*id).map(|d| d.name.as_str()))
            .collect();
        let left = sim.has_left(&m.userid);
        let state = match (left, m.admin) {
            (true, _) => "<span class=\"badge\">已离职 · left</span>",
            (false, true) => "<span class=\"badge\">管理员 · admin</span>",
            (false, false) => "",
        };
        let user = escape(&m.userid);
        let _ = write!(
            body,
            "<div class=\"person\" id=\"member-{user}\"><div class=\"name\">{name}{state}</div>\
             <div class=\"detail\">{user} · {departments}</div>",
            name = escape(&m.name),
            departments = escape(&departments.join("、")),
        );
        if !left {
            let _ = write!(
                body,
                "<form method=\"post\" action=\"org/leave\"><input type=\"hidden\" name=\"userid\" value=\"{user}\">\
                 <button class=\"danger\" id=\"leave-{user}\">离职 · Leave</button></form>\
                 <form method=\"post\" action=\"org/admin\"><input type=\"hidden\" name=\"userid\" value=\"{user}\">\
                 <input type=\"hidden\" name=\"admin\" value=\"{admin}\"><button>{admin_label}</button></form>\
                 <form method=\"post\" action=\"org/move\"><input type=\"hidden\" name=\"userid\" value=\"{user}\">\
                 <select name=\"dept_id\" aria-label=\"部门 Department\">{department_options}</select>\
                 <button>调岗 · Move</button></form>",
                admin = !m.admin,
                admin_label = if m.admin {
                    "取消管理员 · Revoke admin"
                } else {
                    "设为管理员 · Make admin"
                },
            );
        }
        body.push_str("</div>");
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .body(document("通讯录管理 · Organisation", &body))
}

/// The calls that redeem a login code, one per route (web, in-app, legacy).
const CODE_CALLS: &[&str] = &[
    "/v1.0/oauth2/userAccessToken",
    "/topapi/v2/user/getuserinfo",
    "/sns/getuserinfo_bycode",
];

/// `POST /org/hiccup`: the next call redeeming a login code, on each route, fails with HTTP 500
/// (after which dingo does not send the code again): a person sees dingo's "try again" page.
pub(super) fn hiccup(sim: &Simulator, req: &HttpRequest, _: &[u8]) -> HttpResponse {
    for path in CODE_CALLS {
        sim.inject(super::Fault::new(super::FaultKind::Status(500)).on(path).times(1));
    }
    answer(
        req,
        StatusCode::OK,
        None,
        "下一次登录时钉钉将出错 · DingTalk will fail the next login",
    )
}

/// `POST /org/{change}`: applies the change and delivers its event.
pub(super) fn change(sim: &Simulator, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let form: std::collections::HashMap<String, String> = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let userid = form.get("userid").map(String::as_str).unwrap_or_default();
    let Some(member) = sim.directory().member_by_userid(userid) else {
        return answer(
            req,
            StatusCode::NOT_FOUND,
            None,
            &format!("没有成员 no member {userid:?}"),
        );
    };
    let name = member.name.clone();
    let change = req.match_info().get("change").unwrap_or_default();
    let (event_id, done) = match change {
        "leave" if !sim.has_left(userid) => (
            sim.leave(userid, operator(sim).as_deref()),
            format!("{name} 已离职 · left"),
        ),
        "admin" => {
            let admin = form.get("admin").is_some_and(|a| a == "true");
            (
                sim.set_admin(userid, admin),
                format!("{name} 的管理员身份已变更 · admin changed"),
            )
        }
        "move" => match form.get("dept_id").and_then(|d| d.parse::<i64>().ok()) {
            Some(dept) if sim.directory().department(dept).is_some() => {
                (sim.move_member(userid, &[dept]), format!("{name} 已调岗 · moved"))
            }
            _ => return answer(req, StatusCode::BAD_REQUEST, None, "dept_id 不是部门 not a department"),
        },
        "leave" => {
            return answer(
                req,
                StatusCode::CONFLICT,
                None,
                &format!("{name} 已离职 · already left"),
            );
        }
        _ => return answer(req, StatusCode::NOT_FOUND, None, "没有此操作 no such change"),
    };
    answer(req, StatusCode::OK, event_id.as_deref(), &done)
}

/// JSON for scripts, else back to the console saying what was done.
fn answer(req: &HttpRequest, status: StatusCode, event_id: Option<&str>, message: &str) -> HttpResponse {
    let wants_json = req
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/json"));
    if wants_json {
        return HttpResponse::build(status).json(json!({ "eventId": event_id, "message": message }));
    }
    let query = serde_urlencoded::to_string([("done", message)]).unwrap_or_default();
    // Relative to `/org/{change}`: back to the sibling `/org`.
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, format!("../org?{query}")))
        .finish()
}
