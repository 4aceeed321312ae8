//! DingTalk's two response envelopes (DINGTALK-API.md §1): oapi answers HTTP 200 with a numeric
//! `errcode` (the real reason in `sub_code` when it is 88); api answers 4xx/5xx with a string `code`.

use serde::de::DeserializeOwned;
use serde_json::Value;

/// What an upstream call said, before the client decides what it means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// An oapi error: `errcode`, or `sub_code` when errcode is 88 and sub_code is present.
    Oapi { code: i64, message: String },
    /// An api error: HTTP status and `code`.
    Api { status: u16, code: String, message: String },
    /// Not a body either family would send.
    Malformed(String),
}

impl Failure {
    /// A short description for operators; never contains request data.
    pub fn describe(&self) -> String {
        match self {
            Failure::Oapi { code, message } => format!("errcode {code} ({message})"),
            Failure::Api { status, code, message } => format!("HTTP {status} {code} ({message})"),
            Failure::Malformed(why) => format!("malformed response: {why}"),
        }
    }
}

/// Reads an oapi body. `errcode` may be a number or (in some documented examples) a string.
pub fn parse_oapi<T: DeserializeOwned>(body: &[u8]) -> Result<T, Failure> {
    let value = json_object(body)?;
    let errcode = value.get("errcode").and_then(number_or_string).unwrap_or(0);
    if errcode != 0 {
        let sub_code = value.get("sub_code").and_then(number_or_string);
        let message = value
            .get("sub_msg")
            .filter(|_| errcode == 88)
            .or_else(|| value.get("errmsg"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let code = match (errcode, sub_code) {
            (88, Some(sub)) => sub,
            _ => errcode,
        };
        return Err(Failure::Oapi { code, message });
    }
    serde_json::from_value(value).map_err(|e| Failure::Malformed(e.to_string()))
}

/// Reads an api body given its HTTP status.
pub fn parse_api<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, Failure> {
    if (200..300).contains(&status) {
        return serde_json::from_value(json_object(body)?).map_err(|e| Failure::Malformed(e.to_string()));
    }
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let field = |upper: &str, lower: &str| {
        value
            .get(lower)
            .or_else(|| value.get(upper))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    Err(Failure::Api {
        status,
        code: field("Code", "code"),
        message: field("Message", "message"),
    })
}

/// Whether an api-family error body says `system.busy` (sent with HTTP 500).
pub fn is_api_busy(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("code").and_then(Value::as_str).map(|c| c == super::API_BUSY))
        .unwrap_or(false)
}

/// Both families answer with a JSON object; serde alone would also read a struct from an array.
fn json_object(body: &[u8]) -> Result<Value, Failure> {
    match serde_json::from_slice(body) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(Failure::Malformed("not a JSON object".into())),
        Err(e) => Err(Failure::Malformed(e.to_string())),
    }
}

fn number_or_string(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
