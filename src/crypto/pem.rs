//! PEM armour (RFC 7468) for PKCS#8 private keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const LABEL: &str = "PRIVATE KEY";

pub fn encode_private_key(der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {LABEL}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {LABEL}-----\n"));
    out
}

/// The DER inside the first `PRIVATE KEY` block, or why there is none.
pub fn decode_private_key(text: &str) -> Result<Vec<u8>, String> {
    let begin = format!("-----BEGIN {LABEL}-----");
    let end = format!("-----END {LABEL}-----");
    let start = text
        .find(&begin)
        .ok_or_else(|| format!("no `{begin}` block (keys must be unencrypted PKCS#8 PEM)"))?;
    let body = &text[start + begin.len()..];
    let stop = body.find(&end).ok_or_else(|| format!("no `{end}` line"))?;
    let b64: String = body[..stop].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD
        .decode(b64)
        .map_err(|e| format!("invalid base64 in PEM body: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trips_and_wraps_lines_at_64() {
        let der: Vec<u8> = (0..=255).collect();
        let pem = encode_private_key(&der);
        assert!(pem.lines().all(|l| l.len() <= 64 || l.starts_with("-----")));
        assert_eq!(decode_private_key(&pem).unwrap(), der);
    }

    #[test]
    fn an_rsa_private_key_block_is_refused_with_a_hint() {
        let err =
            decode_private_key("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\n").unwrap_err();
        assert!(err.contains("PKCS#8"), "{err}");
    }
}
