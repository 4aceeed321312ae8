//! The life of a signing key, per algorithm: **next** (published, not yet signing) → **signing**
//! (the newest key whose activation has passed) → **retiring** (superseded, still published until
//! every token it signed has expired) → **retired** (gone from the JWKS). Pure arithmetic on unix
//! seconds; the times themselves live in the database.

/// The moments that place a key in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyTimes {
    pub created_at: i64,
    /// From then on the key may sign (it is published from `created_at`).
    pub activates_at: i64,
    /// From then on it no longer signs; `None` while nothing supersedes it.
    pub retires_at: Option<i64>,
    /// From then on it is no longer published.
    pub removed_at: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum KeyState {
    /// Published ahead of its activation; signs nothing yet.
    Next,
    /// Signs new tokens (the newest activated key of its algorithm).
    Signing,
    /// Superseded; published until the tokens it signed have expired.
    Retiring,
    /// No longer published.
    Retired,
}

impl KeyState {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Next => "next",
            KeyState::Signing => "signing",
            KeyState::Retiring => "retiring",
            KeyState::Retired => "retired",
        }
    }

    /// Whether the key is in the JWKS.
    pub fn is_published(self) -> bool {
        !matches!(self, KeyState::Retired)
    }
}

impl KeyTimes {
    /// The key's state at `now`, judged from its own times. Only a key published ahead of its
    /// activation is ever next: one made to sign at once signs from its creation, even for a
    /// reader whose clock is a little behind the instance that made it. Should two activated
    /// keys of one algorithm both be unretired, the newer signs: [`crate::crypto::KeySet`]
    /// decides that.
    pub fn state_at(&self, now: i64) -> KeyState {
        if self.removed_at.is_some_and(|t| t <= now) {
            KeyState::Retired
        } else if self.retires_at.is_some_and(|t| t <= now) {
            KeyState::Retiring
        } else if self.activates_at > now && self.activates_at > self.created_at {
            KeyState::Next
        } else {
            KeyState::Signing
        }
    }
}

/// When keys are created, activated and removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// Seconds a new key is published before it signs.
    pub publish_ahead: i64,
    /// Seconds a key signs before its successor takes over; 0: never automatically.
    pub rotate_every: i64,
    /// Seconds a superseded key stays published: the longest lifetime of anything it signed.
    pub retire_after: i64,
}

/// The JWKS may be cached at least this long…
const MIN_MAX_AGE: i64 = 60;
/// …and at most this long.
const MAX_MAX_AGE: i64 = 3600;

impl Schedule {
    /// `Cache-Control: max-age` for the JWKS: at most half of `publish_ahead`, so that a relying
    /// party caching it refetches at least once between a key's publication and its first use
    /// (even when another instance published it and this one reloads a little later); at most
    /// an hour, at least a minute.
    pub fn jwks_max_age(&self) -> u64 {
        let age = (self.publish_ahead / 2).clamp(MIN_MAX_AGE, MAX_MAX_AGE);
        u64::try_from(age).unwrap_or(MIN_MAX_AGE as u64)
    }

    /// When a key created now as the next key starts signing.
    pub fn next_activation(&self, now: i64) -> i64 {
        now + self.publish_ahead
    }

    /// When a key that stops signing at `retires_at` leaves the JWKS.
    pub fn removal(&self, retires_at: i64) -> i64 {
        retires_at + self.retire_after
    }

    /// Whether the signing key `signing` is due for a successor at `now`: it has signed for
    /// `rotate_every - publish_ahead`, so that the successor, published now, signs when the
    /// key reaches `rotate_every`.
    pub fn successor_due(&self, signing: &KeyTimes, now: i64) -> bool {
        self.rotate_every > 0 && now - signing.activates_at >= self.rotate_every - self.publish_ahead
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400;

    fn schedule() -> Schedule {
        Schedule {
            publish_ahead: DAY,
            rotate_every: 90 * DAY,
            retire_after: 3600,
        }
    }

    #[test]
    fn a_key_is_next_then_signing_then_retiring_then_retired() {
        let times = KeyTimes {
            created_at: 1000,
            activates_at: 1000 + DAY,
            retires_at: Some(1000 + 91 * DAY),
            removed_at: Some(1000 + 91 * DAY + 3600),
        };
        assert_eq!(times.state_at(1000), KeyState::Next);
        assert_eq!(times.state_at(1000 + DAY - 1), KeyState::Next);
        assert_eq!(times.state_at(1000 + DAY), KeyState::Signing);
        assert_eq!(times.state_at(1000 + 91 * DAY - 1), KeyState::Signing);
        assert_eq!(times.state_at(1000 + 91 * DAY), KeyState::Retiring);
        assert_eq!(times.state_at(1000 + 91 * DAY + 3599), KeyState::Retiring);
        assert_eq!(times.state_at(1000 + 91 * DAY + 3600), KeyState::Retired);
        assert!(KeyState::Retiring.is_published() && !KeyState::Retired.is_published());
    }

    #[test]
    fn a_key_made_to_sign_at_once_signs_for_a_clock_a_little_behind() {
        let at_once = KeyTimes {
            created_at: 1000,
            activates_at: 1000,
            retires_at: None,
            removed_at: None,
        };
        assert_eq!(at_once.state_at(999), KeyState::Signing);
        let ahead = KeyTimes {
            activates_at: 1001,
            ..at_once
        };
        assert_eq!(ahead.state_at(999), KeyState::Next);
    }

    #[test]
    fn an_unsuperseded_key_signs_forever() {
        let times = KeyTimes {
            created_at: 0,
            activates_at: 0,
            retires_at: None,
            removed_at: None,
        };
        assert_eq!(times.state_at(i64::MAX / 2), KeyState::Signing);
    }

    #[test]
    fn a_successor_is_due_publish_ahead_before_the_rotation_period_ends() {
        let s = schedule();
        let signing = KeyTimes {
            created_at: 0,
            activates_at: 0,
            retires_at: None,
            removed_at: None,
        };
        assert!(!s.successor_due(&signing, 89 * DAY - 1));
        assert!(s.successor_due(&signing, 89 * DAY));
        assert_eq!(
            s.next_activation(89 * DAY),
            90 * DAY,
            "it signs when the old one is 90 days old"
        );
        assert_eq!(s.removal(90 * DAY), 90 * DAY + 3600);
        let never = Schedule { rotate_every: 0, ..s };
        assert!(!never.successor_due(&signing, 10_000 * DAY));
    }

    #[test]
    fn the_jwks_max_age_is_half_the_publication_lead_within_a_minute_and_an_hour() {
        let with = |publish_ahead| {
            Schedule {
                publish_ahead,
                ..schedule()
            }
            .jwks_max_age()
        };
        assert_eq!(with(DAY), 3600);
        assert_eq!(with(3600), 1800);
        assert_eq!(with(600), 300);
        assert_eq!(with(120), 60);
        assert_eq!(with(0), 60);
        for publish_ahead in [120, 121, 600, 7199, 7200, 7201, DAY, 30 * DAY] {
            let age = with(publish_ahead) as i64;
            assert!(
                age * 2 <= publish_ahead && (60..=3600).contains(&age),
                "{publish_ahead}: {age}"
            );
        }
    }
}
