//! Stand-ins for the DingTalk client's JSAPI (DINGTALK-API.md §4.1–4.3, §5), so in-app login
//! can be exercised from an ordinary browser: two scripts that a page on any origin loads with
//! a plain `<script src>` — `GET /jsapi/dingtalk.open.js` (`window.dd`) and
//! `GET /jsapi/open-auth.js` (`window.openAuth`) — and the two CORS-enabled JSON endpoints they
//! fetch from, `POST /jsapi/requestAuthCode` and `POST /jsapi/openAuth` ([`open_auth`]). The
//! scripts find those endpoints relative to their own `src`, so any mount prefix works. These
//! routes stand for the client, not a DingTalk server API: not counted, not hit by outages.
//!
//! `requestAuthCode` answers `{code}` (an in-app code for `topapi/v2/user/getuserinfo`) or
//! `{errorCode, errorMessage}`:
//! - 3 `对应企业没有<host>域名微应用`: corpId missing or not the directory's (§4.3);
//! - 7 no in-app person: the setting names nobody or a non-member, or no member is active;
//! - 8 no randomness to mint a code;
//! - 1 `dd.requestAuthCode` (V2) on a client older than 7.0.45 (7.0.50 on PC), and 5 V2
//!   without `clientId`; 1000 `not in DingTalk` and 1001 simulator unreachable: answered by
//!   the script itself (DingTalk's own codes for these are unknown; 9, reported for a
//!   signature mismatch, is not reused);
//! - any code set with [`Simulator::set_inapp_failure`] (-1 reads 用户取消, user cancelled).

mod open_auth;

use std::future::ready;

use actix_web::http::Method;
use actix_web::http::header::{self, CacheControl, CacheDirective};
use actix_web::web::{self, ServiceConfig};
use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};
use url::Url;

use super::Simulator;
use super::directory::Person;

pub use open_auth::{OpenAuthOutcome, UnknownOpenAuthOutcome};

const DD_SCRIPT: &str = include_str!("jsapi/dingtalk.open.js");
const OPEN_AUTH_SCRIPT: &str = include_str!("jsapi/open-auth.js");

const DOMAIN_MISMATCH: i64 = 3;
const NO_PERSON: i64 = 7;
const BUSY: i64 = 8;
const USER_CANCELLED: i64 = -1;

/// Mounts the scripts and the two mint endpoints (each with its CORS preflight).
pub(super) fn configure(sim: &Simulator, cfg: &mut ServiceConfig) {
    cfg.route("/jsapi/dingtalk.open.js", web::get().to(|| ready(script(DD_SCRIPT))));
    cfg.route("/jsapi/open-auth.js", web::get().to(|| ready(script(OPEN_AUTH_SCRIPT))));
    cfg.service(
        web::resource("/jsapi/requestAuthCode")
            .route(web::post().to(sim.bridge(request_auth_code)))
            .route(web::method(Method::OPTIONS).to(|| ready(preflight()))),
    );
    cfg.service(
        web::resource("/jsapi/openAuth")
            .route(web::post().to(sim.bridge(open_auth::open_auth)))
            .route(web::method(Method::OPTIONS).to(|| ready(preflight()))),
    );
}

/// `POST /jsapi/requestAuthCode` {corpId, clientId?} → {code} | {errorCode, errorMessage}.
/// The code is for the in-app person: bound to the app when `clientId` is given (V2), good for
/// any app of the corp otherwise (V1).
fn request_auth_code(sim: &Simulator, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    if let Some(error_code) = sim.inapp_failure() {
        let message = match error_code {
            DOMAIN_MISMATCH => domain_mismatch(req),
            USER_CANCELLED => "用户取消 user cancelled".to_owned(),
            _ => format!("模拟的失败 simulated failure {error_code}"),
        };
        return failure(error_code, &message);
    }
    let body = json_object(body);
    if text(&body, "corpId") != Some(sim.directory().corp_id()) {
        return failure(DOMAIN_MISMATCH, &domain_mismatch(req));
    }
    let member = match inapp_person(sim) {
        Ok(Person::Member(m)) => m,
        Ok(Person::Outsider(o)) => {
            let message = format!("{} 不是本企业成员 is not a member", o.unionid);
            return failure(NO_PERSON, &message);
        }
        Err(reason) => return failure(NO_PERSON, &reason),
    };
    let client_id = text(&body, "clientId");
    let issued = sim.store().issue_inapp_code(&member.userid, client_id, sim.now());
    match issued {
        Ok(code) => cors_json(json!({ "code": code })),
        Err(_) => failure(BUSY, "系统繁忙 system busy"),
    }
}

/// Who the in-app JSAPIs sign in as: the in-app setting, else the auto-login one, else the
/// first active member.
fn inapp_person(sim: &Simulator) -> Result<Person<'_>, String> {
    let directory = sim.directory();
    match sim.inapp_user() {
        Some(key) => directory
            .person(&key)
            .ok_or_else(|| format!("免登用户不存在 in-app person {key:?} matches nobody")),
        None => directory
            .members()
            .iter()
            .find(|m| m.active)
            .map(Person::Member)
            .ok_or_else(|| "没有已激活的成员 no active member".to_owned()),
    }
}

/// "This corp has no micro-app on the page's domain", naming the calling page's host.
fn domain_mismatch(req: &HttpRequest) -> String {
    let host = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .and_then(|origin| Url::parse(origin).ok())
        .and_then(|url| url.host_str().map(str::to_owned))
        .unwrap_or_else(|| "xxxx".to_owned());
    format!("对应企业没有{host}域名微应用")
}

fn failure(error_code: i64, message: &str) -> HttpResponse {
    cors_json(json!({ "errorCode": error_code, "errorMessage": message }))
}

/// A JSON object body; anything else reads as empty.
fn json_object(body: &[u8]) -> Map<String, Value> {
    serde_json::from_slice(body).unwrap_or_default()
}

/// A non-empty string field.
fn text<'a>(body: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    body.get(key).and_then(Value::as_str).filter(|s| !s.is_empty())
}

/// A bridge answer: HTTP 200 whatever the outcome (the body says), readable from any origin.
fn cors_json(body: Value) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header(CacheControl(vec![CacheDirective::NoStore]))
        .json(body)
}

/// The answer to the browser's preflight for a JSON POST from another origin.
fn preflight() -> HttpResponse {
    HttpResponse::NoContent()
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"))
        .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "Content-Type"))
        .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
        .finish()
}

fn script(source: &'static str) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/javascript; charset=utf-8")
        .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header(CacheControl(vec![CacheDirective::NoCache]))
        .body(source)
}
