//! Which calls may be sent again, and how long to wait before doing so.

use std::time::Duration;

/// Whether a call may be sent again after DingTalk failed to answer it properly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// A read (app token, directory lookups, `users/me`): sending it twice does no harm.
    Safe,
    /// Redeems a single-use login code (`userAccessToken`, `getuserinfo`,
    /// `getuserinfo_bycode`): sent again only after a failure that shows DingTalk did not run it —
    /// no connection could be made, the connection was cut before any answer, its gateway
    /// answered 502, 503 or 504, or it answered busy or over its QPS limit, all of which come
    /// before the API runs. Not after a timeout (the API may still be running, and the time is
    /// spent), another 5xx or a garbled answer (the API ran and may have used the code), or any
    /// refusal. Should a cut connection have come after the API ran after all, the second
    /// attempt is told the code was used, and the login fails as unavailable, as it would have
    /// without the retry: never as a rejected code.
    IfUnused,
}

/// Bounded retries with exponential backoff and full jitter.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The ceiling of the first wait; it doubles for each further retry.
    pub base: Duration,
}

impl Backoff {
    /// The wait before retry `retry` (0 for the first retry), given `unit` uniform in [0, 1):
    /// uniform in [0, base × 2^retry). `None` when the retries are used up.
    pub fn delay(&self, retry: u32, unit: f64) -> Option<Duration> {
        if retry >= self.retries {
            return None;
        }
        let ceiling = self.base.saturating_mul(1 << retry.min(16));
        Some(ceiling.mul_f64(unit.clamp(0.0, 1.0)))
    }
}

/// A number uniform in [0, 1) for jitter (0 if the system's generator fails: no jitter then).
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 4];
    match aws_lc_rs::rand::fill(&mut bytes) {
        Ok(()) => f64::from(u32::from_le_bytes(bytes)) / (f64::from(u32::MAX) + 1.0),
        Err(_) => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        retries: 2,
        base: Duration::from_millis(100),
    };

    #[test]
    fn each_wait_stays_below_its_doubling_ceiling() {
        assert_eq!(BACKOFF.delay(0, 0.0), Some(Duration::ZERO));
        assert_eq!(BACKOFF.delay(0, 0.5), Some(Duration::from_millis(50)));
        assert!(BACKOFF.delay(0, 0.999_999).unwrap() < Duration::from_millis(100));
        assert_eq!(BACKOFF.delay(1, 0.5), Some(Duration::from_millis(100)));
        assert!(BACKOFF.delay(1, 0.999_999).unwrap() < Duration::from_millis(200));
    }

    #[test]
    fn retries_stop_at_the_bound() {
        assert!(BACKOFF.delay(1, 0.1).is_some());
        assert_eq!(BACKOFF.delay(2, 0.1), None);
        let none = Backoff { retries: 0, ..BACKOFF };
        assert_eq!(none.delay(0, 0.1), None);
    }

    #[test]
    fn out_of_range_units_and_huge_retries_are_clamped() {
        let many = Backoff {
            retries: 100,
            base: Duration::from_millis(100),
        };
        assert_eq!(many.delay(0, 7.0), Some(Duration::from_millis(100)));
        assert_eq!(many.delay(0, -1.0), Some(Duration::ZERO));
        assert!(many.delay(60, 0.5).is_some(), "no overflow");
    }

    #[test]
    fn jitter_is_a_unit_fraction() {
        for _ in 0..100 {
            let unit = jitter();
            assert!((0.0..1.0).contains(&unit), "{unit}");
        }
    }
}
