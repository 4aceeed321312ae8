//! `POST /sns/getuserinfo_bycode?accessKey=&timestamp=&signature=` `{"tmp_auth_code"}`
//! (DINGTALK-API.md §7.2–7.3). No access token: the legacy app signs the request with its
//! secret, `signature = Base64(HMAC-SHA256(key = appSecret, msg = timestamp))`, URL-encoded.
//!
//! Checks, in this order, each answered HTTP 200 with a flat `{errcode, errmsg}` (the codes are
//! DingTalk's; the errmsg texts are the simulator's own):
//! - 853001 `timestamp 格式错误 invalid timestamp`: missing or not decimal milliseconds;
//! - 853002 `timestamp 与服务器时间相差超过1分钟 request expired`: |now_ms − timestamp| > 60 000;
//! - 853003 `accessKey 不存在 invalid appid`: not a `[[legacy_apps]]` app_id;
//! - 853004 `签名不匹配 invalid signature`: missing, not Base64 or not the MAC (see
//!   `legacy_signature` for the accepted strings to sign);
//! - 41026 no `tmp_auth_code`; 40078 unknown, used, expired or another app's code.

use actix_web::{HttpRequest, HttpResponse};
use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::sim::bodies;
use crate::sim::directory::{LegacyApp, LegacySignature};
use crate::sim::envelope::oapi_plain;
use crate::sim::{Simulator, query_pairs};

/// The largest accepted distance between the request's timestamp and the simulator's clock.
const MAX_SKEW_MS: u64 = 60_000;

pub(crate) fn getuserinfo_bycode(sim: &Simulator, req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let query = query_pairs(req);
    let get = |key: &str| query.get(key).map(String::as_str).unwrap_or_default();
    let timestamp = get("timestamp");
    let Some(millis) = parse_millis(timestamp) else {
        return error(853001, "timestamp 格式错误 invalid timestamp");
    };
    if sim.now_ms().abs_diff(millis) > MAX_SKEW_MS {
        return error(853002, "timestamp 与服务器时间相差超过1分钟 request expired");
    }
    let Some(app) = sim.directory().legacy_app(get("accessKey")) else {
        return error(853003, "accessKey 不存在 invalid appid");
    };
    let mode = sim.directory().legacy_signature();
    if !signature_matches(app, timestamp, get("signature"), mode) {
        return error(853004, "签名不匹配 invalid signature");
    }
    let body: Map<String, Value> = serde_json::from_slice(body).unwrap_or_default();
    let Some(code) = body
        .get("tmp_auth_code")
        .and_then(Value::as_str)
        .filter(|c| !c.is_empty())
    else {
        return error(41026, "缺少参数 tmp_auth_code");
    };
    let grant = sim.store().take_sns_code(code, &app.app_id, sim.now());
    let person = grant.and_then(|g| sim.directory().person_by_unionid(&g.unionid));
    let Some(person) = person else {
        return error(40078, "不存在的临时授权码");
    };
    oapi_plain(json!({
        "errcode": 0,
        "errmsg": "ok",
        "user_info": {
            "nick": person.nick(),
            "unionid": person.unionid(),
            "openid": bodies::open_id(&app.app_id, person.unionid()),
            "main_org_auth_high_level": false,
        },
    }))
}

/// Epoch milliseconds written as plain decimal digits.
fn parse_millis(text: &str) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Whether `signature` (already URL-decoded) is the Base64 HMAC-SHA256 of `timestamp` — or, in
/// the `TimestampNewlineSecret` mode, of `timestamp + "\n" + appSecret` — under the app secret.
/// The comparison is constant-time.
fn signature_matches(app: &LegacyApp, timestamp: &str, signature: &str, mode: LegacySignature) -> bool {
    let Ok(tag) = STANDARD.decode(signature) else {
        return false;
    };
    let key = hmac::Key::new(hmac::HMAC_SHA256, app.app_secret.as_bytes());
    let mut messages = vec![timestamp.to_owned()];
    if mode == LegacySignature::TimestampNewlineSecret {
        messages.push(format!("{timestamp}\n{}", app.app_secret));
    }
    messages.iter().any(|m| hmac::verify(&key, m.as_bytes(), &tag).is_ok())
}

fn error(errcode: i64, errmsg: &str) -> HttpResponse {
    oapi_plain(json!({ "errcode": errcode, "errmsg": errmsg }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app(secret: &str) -> LegacyApp {
        LegacyApp {
            app_id: "legacy".to_owned(),
            app_secret: secret.to_owned(),
            redirect_uris: Vec::new(),
        }
    }

    #[test]
    fn the_official_worked_example_verifies() {
        let app = app("testappSecret");
        let signature = "HCbG3xNE3vzhO+u7qCUL1jS5hsu2n5r2cFhnTrtyDAE=";
        assert!(signature_matches(
            &app,
            "1546084445901",
            signature,
            LegacySignature::Timestamp
        ));
        assert!(!signature_matches(
            &app,
            "1546084445902",
            signature,
            LegacySignature::Timestamp
        ));
        // An unencoded `+` arrives as a space and no longer matches.
        let mangled = signature.replace('+', " ");
        assert!(!signature_matches(
            &app,
            "1546084445901",
            &mangled,
            LegacySignature::Timestamp
        ));
    }

    #[test]
    fn the_newline_variant_is_accepted_only_in_its_mode() {
        let app = app("testappSecret");
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"testappSecret");
        let tag = hmac::sign(&key, b"1546084445901\ntestappSecret");
        let signature = STANDARD.encode(tag.as_ref());
        assert!(!signature_matches(
            &app,
            "1546084445901",
            &signature,
            LegacySignature::Timestamp
        ));
        assert!(signature_matches(
            &app,
            "1546084445901",
            &signature,
            LegacySignature::TimestampNewlineSecret
        ));
        assert!(signature_matches(
            &app,
            "1546084445901",
            "HCbG3xNE3vzhO+u7qCUL1jS5hsu2n5r2cFhnTrtyDAE=",
            LegacySignature::TimestampNewlineSecret
        ));
    }

    #[test]
    fn timestamps_must_be_plain_digits() {
        assert_eq!(parse_millis("1546084445901"), Some(1_546_084_445_901));
        for bad in ["", "+1", "-1", "1.5", "abc", "99999999999999999999"] {
            assert_eq!(parse_millis(bad), None, "{bad:?}");
        }
    }
}
