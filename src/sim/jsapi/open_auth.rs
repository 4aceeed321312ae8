//! `POST /jsapi/openAuth` {clientId, corpId, rpcScope, fieldScope, type}: the outcome of the
//! client's delegated-authorization dialog (DINGTALK-API.md §5), chosen with
//! [`Simulator::set_open_auth_outcome`]. `ok` for `type` 0 carries a user-authorization
//! `authCode` for the in-app person, exchanged at `/v1.0/oauth2/userAccessToken` exactly like a
//! web-login code (same store, bound to `clientId`; no `corpId` in that token response).
//!
//! With outcome `ok`, a malformed request is `{status: 'failed', result: null}` plus the
//! documented `errorCode`/`errorMessage`: 400006 no clientId, 500101 unknown clientId,
//! 400007 `type` 1 without corpId, 500403 a corpId other than the directory's, 400008 no
//! in-app person. `type` 1 (org authorization) succeeds with an empty `result`.

use std::fmt;
use std::str::FromStr;

use actix_web::{HttpRequest, HttpResponse};
use serde_json::{Map, Value, json};

use super::{cors_json, inapp_person, json_object, text};
use crate::sim::Simulator;
use crate::sim::state::Grant;

/// What the user (or their admin) does in the `openAuth` dialog.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OpenAuthOutcome {
    /// Consents: `{status: 'ok', result: {authCode}}`.
    #[default]
    Ok,
    /// Closes the dialog: `{status: 'cancel', result: null}`.
    Cancel,
    /// Org authorization sent to an admin: `{status: 'toAdmin', result: null}`.
    ToAdmin,
    /// `{status: 'failed', result: null}`.
    Failed,
}

impl OpenAuthOutcome {
    const ALL: [Self; 4] = [Self::Ok, Self::Cancel, Self::ToAdmin, Self::Failed];

    /// The `status` string, as the dialog reports it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Cancel => "cancel",
            Self::ToAdmin => "toAdmin",
            Self::Failed => "failed",
        }
    }
}

impl fmt::Display for OpenAuthOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that names no [`OpenAuthOutcome`].
#[derive(Debug, thiserror::Error)]
#[error("unknown openAuth outcome {0:?}; expected ok, cancel, toAdmin or failed")]
pub struct UnknownOpenAuthOutcome(String);

impl FromStr for OpenAuthOutcome {
    type Err = UnknownOpenAuthOutcome;

    /// `ok`, `cancel`, `toAdmin` or `failed`, in any letter case.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|o| o.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownOpenAuthOutcome(s.to_owned()))
    }
}

pub(super) fn open_auth(sim: &Simulator, _req: &HttpRequest, body: &[u8]) -> HttpResponse {
    let outcome = sim.open_auth_outcome();
    let answer = match outcome {
        OpenAuthOutcome::Ok => consent(sim, &json_object(body)),
        other => json!({ "status": other.as_str(), "result": null }),
    };
    cors_json(answer)
}

/// The `ok` answer, or `failed` with the reason.
fn consent(sim: &Simulator, body: &Map<String, Value>) -> Value {
    let Some(client_id) = text(body, "clientId") else {
        return failed(400006, "clientId is required");
    };
    if sim.directory().app(client_id).is_none() {
        return failed(500101, "应用不存在 app does not exist");
    }
    let org = match body.get("type") {
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => s.trim() == "1",
        _ => false,
    };
    match text(body, "corpId") {
        None if org => return failed(400007, "corpId is required"),
        Some(corp_id) if corp_id != sim.directory().corp_id() => {
            return failed(500403, "企业未开通该应用 the org has not enabled the app");
        }
        _ => {}
    }
    if org {
        return json!({ "status": "ok", "result": {} });
    }
    let person = match inapp_person(sim) {
        Ok(person) => person,
        Err(reason) => return failed(400008, &reason),
    };
    let grant = Grant {
        unionid: person.unionid().to_owned(),
        client_id: client_id.to_owned(),
        scope: scopes(body),
    };
    match sim.store().issue_code(grant, sim.now()) {
        Ok(code) => json!({ "status": "ok", "result": { "authCode": code } }),
        Err(_) => failed(-1, "系统繁忙 system busy"),
    }
}

/// rpcScope and fieldScope (comma-separated strings or arrays), space-separated.
fn scopes(body: &Map<String, Value>) -> String {
    let mut scopes = Vec::new();
    for key in ["rpcScope", "fieldScope"] {
        match body.get(key) {
            Some(Value::String(s)) => scopes.extend(s.split(',').map(str::trim)),
            Some(Value::Array(items)) => scopes.extend(items.iter().filter_map(Value::as_str)),
            _ => {}
        }
    }
    scopes.retain(|s| !s.is_empty());
    scopes.join(" ")
}

fn failed(error_code: i64, message: &str) -> Value {
    json!({
        "status": "failed",
        "result": null,
        "errorCode": error_code,
        "errorMessage": message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_parse_from_their_status_strings() {
        for outcome in OpenAuthOutcome::ALL {
            assert_eq!(outcome.as_str().parse::<OpenAuthOutcome>().ok(), Some(outcome));
        }
        assert_eq!(
            "toadmin".parse::<OpenAuthOutcome>().ok(),
            Some(OpenAuthOutcome::ToAdmin)
        );
        assert_eq!(
            " Cancel ".parse::<OpenAuthOutcome>().ok(),
            Some(OpenAuthOutcome::Cancel)
        );
        let error = "maybe".parse::<OpenAuthOutcome>().unwrap_err().to_string();
        assert!(error.contains("maybe") && error.contains("toAdmin"), "{error}");
        assert_eq!(OpenAuthOutcome::default(), OpenAuthOutcome::Ok);
    }

    #[test]
    fn scopes_are_read_from_strings_and_arrays() {
        let body = json!({ "rpcScope": "Contact.User.Read, ", "fieldScope": ["Contact.User.mobile"] });
        let Value::Object(body) = body else { unreachable!() };
        assert_eq!(scopes(&body), "Contact.User.Read Contact.User.mobile");
    }
}
