//! The request parameters of the oapi family, however they arrive: a JSON body, a form body,
//! the query string.

use std::collections::HashMap;

use actix_web::HttpRequest;
use actix_web::http::header::CONTENT_TYPE;
use serde_json::{Map, Value};

use super::query_pairs;

/// Request parameters: the body (JSON object, or form when declared so) first, then the query
/// string. Form and query values are strings, so numbers are also read from numeric strings.
pub(super) struct Params {
    body: Map<String, Value>,
    is_form: bool,
    query: HashMap<String, String>,
}

impl Params {
    pub(super) fn parse(req: &HttpRequest, body: &[u8]) -> Self {
        let is_form = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.to_ascii_lowercase().contains("x-www-form-urlencoded"));
        let body = if is_form {
            serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, Value::String(v)))
                .collect()
        } else {
            serde_json::from_slice::<Map<String, Value>>(body).unwrap_or_default()
        };
        Self {
            body,
            is_form,
            query: query_pairs(req),
        }
    }

    /// From the query string, else from a form body (not from JSON or headers).
    pub(super) fn access_token(&self) -> Option<String> {
        let from_form = || {
            self.body
                .get("access_token")
                .filter(|_| self.is_form)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        self.query.get("access_token").cloned().or_else(from_form)
    }

    fn value(&self, key: &str) -> Option<Value> {
        self.body
            .get(key)
            .cloned()
            .or_else(|| self.query.get(key).cloned().map(Value::String))
    }

    pub(super) fn text(&self, key: &str) -> Option<String> {
        match self.value(key)? {
            Value::String(s) if !s.is_empty() => Some(s),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    pub(super) fn int(&self, key: &str) -> Option<i64> {
        match self.value(key)? {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        }
    }
}
