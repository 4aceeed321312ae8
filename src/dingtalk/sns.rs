//! The legacy scan-login signature (DINGTALK-API.md §7.3).

use aws_lc_rs::hmac;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Base64(HMAC-SHA256(key = appSecret, message = the millisecond timestamp)), not yet
/// percent-encoded (the query builder encodes `+`, `/` and `=`).
pub fn signature(app_secret: &str, timestamp_ms: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, app_secret.as_bytes());
    STANDARD.encode(hmac::sign(&key, timestamp_ms.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_official_worked_example_signs_and_encodes_exactly() {
        let sig = signature("testappSecret", "1546084445901");
        assert_eq!(sig, "HCbG3xNE3vzhO+u7qCUL1jS5hsu2n5r2cFhnTrtyDAE=");
        let encoded: String = url::form_urlencoded::byte_serialize(sig.as_bytes()).collect();
        assert_eq!(encoded, "HCbG3xNE3vzhO%2Bu7qCUL1jS5hsu2n5r2cFhnTrtyDAE%3D");
    }
}
