//! Random values in the shapes DingTalk uses: 32-hex tokens and codes, short `request_id`s,
//! upper-case UUID `requestid`s.

use aws_lc_rs::error::Unspecified;

/// An opaque token or auth code: 32 lower-case hex digits, like DingTalk's.
pub(crate) fn token() -> Result<String, Unspecified> {
    let mut bytes = [0u8; 16];
    aws_lc_rs::rand::fill(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A `request_id` as on oapi responses (e.g. `4e7exhl6pm0t`). Purely informative, so a
/// failing random source yields a fixed id rather than failing the response.
pub(crate) fn request_id() -> String {
    const ALPHABET: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 13];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        return "0000000000000".to_owned();
    }
    bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect()
}

/// A `requestid` as on api.dingtalk.com error bodies (upper-case UUID).
pub(crate) fn request_uuid() -> String {
    let mut bytes = [0u8; 16];
    // Informative only: on failure the all-zero bytes still make a well-formed UUID.
    let _ = aws_lc_rs::rand::fill(&mut bytes);
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
        .to_uppercase()
}

/// A number uniform in [0, 1), for faults that hit a fraction of calls (0 if the random source
/// fails, which makes such a fault fire).
pub(crate) fn unit() -> f64 {
    let mut bytes = [0u8; 4];
    match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.0,
    }
}
