//! How one DingTalk call ended, as the `result` label of `dingo_dingtalk_calls_total`:
//! `ok`, the oapi errcode (or sub_code), the api `code`, `timeout`, `connect_error`,
//! `transport_error`, `http_5xx`, `malformed`; and for requests not sent, `circuit_open` (the
//! breaker is open) or `rate_limited` (the rate limiter's turn would come after the deadline).

use super::Failure;

/// Longest api `code` kept as a label value (they are short identifiers; this bounds a bad one).
const MAX_CODE_LEN: usize = 64;

pub(super) const OK: &str = "ok";
pub(super) const HTTP_5XX: &str = "http_5xx";
pub(super) const RATE_LIMITED: &str = "rate_limited";
pub(super) const CIRCUIT_OPEN: &str = "circuit_open";

pub(super) fn of_transport(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connect_error"
    } else {
        "transport_error"
    }
}

pub(super) fn of_failure(failure: &Failure) -> String {
    match failure {
        Failure::Oapi { code, .. } => code.to_string(),
        Failure::Api { status, code, .. } if code.is_empty() => format!("http_{status}"),
        Failure::Api { code, .. } => code.chars().take(MAX_CODE_LEN).collect(),
        Failure::Malformed(_) => "malformed".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_labelled_by_their_code() {
        let oapi = Failure::Oapi {
            code: 60121,
            message: "找不到该用户".into(),
        };
        assert_eq!(of_failure(&oapi), "60121");
        let api = |code: &str| Failure::Api {
            status: 400,
            code: code.into(),
            message: String::new(),
        };
        assert_eq!(of_failure(&api("invalidCode")), "invalidCode");
        assert_eq!(of_failure(&api("")), "http_400");
        assert_eq!(of_failure(&api(&"x".repeat(500))).len(), MAX_CODE_LEN);
        assert_eq!(of_failure(&Failure::Malformed("eof".into())), "malformed");
    }
}
