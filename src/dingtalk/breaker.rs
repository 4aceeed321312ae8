//! A circuit breaker in front of DingTalk: after `threshold` failed requests in a row it opens,
//! and requests fail at once for `cooldown`; then one request at a time probes DingTalk (half
//! open), and the first success closes the circuit. Only failures of DingTalk itself count
//! (unreachable, timed out, 5xx, busy, garbled); a business answer such as 60121, or a QPS limit
//! on one API (left to the rate limiter and retries), comes from a working DingTalk. Times are
//! monotonic instants passed in, so tests need no clock.

use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// A probe is out until `probe_until`; after that (it was abandoned) another may go.
    HalfOpen {
        probe_until: Instant,
    },
}

impl State {
    /// The value of the `dingo_dingtalk_circuit_state` gauge: 0 closed, 1 open, 2 half-open.
    pub fn gauge(&self) -> i64 {
        match self {
            State::Closed { .. } => 0,
            State::Open { .. } => 1,
            State::HalfOpen { .. } => 2,
        }
    }
}

#[derive(Debug)]
pub struct Breaker {
    /// 0: the breaker never opens.
    threshold: u32,
    cooldown: Duration,
    /// How long a probe may take before another request may probe in its place.
    probe_window: Duration,
    state: Mutex<State>,
}

/// A request was refused because the circuit is open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Open;

impl Breaker {
    pub fn new(threshold: u32, cooldown: Duration, probe_window: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            probe_window,
            state: Mutex::new(State::Closed { failures: 0 }),
        }
    }

    pub fn state(&self) -> State {
        *self.lock()
    }

    /// Whether a request may go to DingTalk at `now`. Once the cool-down is over, the first
    /// caller goes as the probe and the others keep failing until the probe reports.
    pub fn admit(&self, now: Instant) -> Result<(), Open> {
        let mut state = self.lock();
        match *state {
            State::Closed { .. } => Ok(()),
            State::Open { until } | State::HalfOpen { probe_until: until } if now >= until => {
                *state = State::HalfOpen {
                    probe_until: now + self.probe_window,
                };
                Ok(())
            }
            State::Open { .. } | State::HalfOpen { .. } => Err(Open),
        }
    }

    /// The outcome of an admitted request: `failed` when DingTalk itself failed.
    pub fn record(&self, failed: bool, now: Instant) {
        let mut state = self.lock();
        *state = match (*state, failed) {
            (_, false) => State::Closed { failures: 0 },
            (State::Closed { failures }, true) => {
                let failures = failures.saturating_add(1);
                if self.threshold > 0 && failures >= self.threshold {
                    State::Open {
                        until: now + self.cooldown,
                    }
                } else {
                    State::Closed { failures }
                }
            }
            (State::HalfOpen { .. }, true) => State::Open {
                until: now + self.cooldown,
            },
            // A request admitted before the circuit opened changes nothing.
            (open @ State::Open { .. }, true) => open,
        };
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const COOLDOWN: Duration = Duration::from_secs(5);
    const PROBE: Duration = Duration::from_secs(3);

    fn breaker(threshold: u32) -> Breaker {
        Breaker::new(threshold, COOLDOWN, PROBE)
    }

    fn fail(b: &Breaker, times: u32, now: Instant) {
        for _ in 0..times {
            b.admit(now).unwrap();
            b.record(true, now);
        }
    }

    #[test]
    fn it_opens_after_the_threshold_of_consecutive_failures() {
        let b = breaker(3);
        let t0 = Instant::now();
        fail(&b, 2, t0);
        assert_eq!(b.state(), State::Closed { failures: 2 });
        fail(&b, 1, t0);
        assert_eq!(b.state(), State::Open { until: t0 + COOLDOWN });
        assert_eq!(b.admit(t0 + COOLDOWN - Duration::from_millis(1)), Err(Open));
    }

    #[test]
    fn a_success_resets_the_count() {
        let b = breaker(3);
        let t0 = Instant::now();
        fail(&b, 2, t0);
        b.record(false, t0);
        fail(&b, 2, t0);
        assert_eq!(b.state(), State::Closed { failures: 2 });
    }

    #[test]
    fn after_the_cool_down_one_probe_goes_and_its_success_closes_the_circuit() {
        let b = breaker(1);
        let t0 = Instant::now();
        fail(&b, 1, t0);
        let later = t0 + COOLDOWN;
        assert_eq!(b.admit(later), Ok(()), "the probe");
        assert_eq!(b.state().gauge(), 2);
        assert_eq!(b.admit(later), Err(Open), "others wait for the probe");
        b.record(false, later);
        assert_eq!(b.state(), State::Closed { failures: 0 });
        assert_eq!(b.admit(later), Ok(()));
    }

    #[test]
    fn a_failed_probe_opens_the_circuit_for_another_cool_down() {
        let b = breaker(1);
        let t0 = Instant::now();
        fail(&b, 1, t0);
        let later = t0 + COOLDOWN;
        b.admit(later).unwrap();
        b.record(true, later);
        assert_eq!(
            b.state(),
            State::Open {
                until: later + COOLDOWN
            }
        );
        assert_eq!(b.admit(later + Duration::from_secs(1)), Err(Open));
    }

    #[test]
    fn an_abandoned_probe_is_replaced_after_its_window() {
        let b = breaker(1);
        let t0 = Instant::now();
        fail(&b, 1, t0);
        b.admit(t0 + COOLDOWN).unwrap();
        assert_eq!(b.admit(t0 + COOLDOWN + PROBE - Duration::from_millis(1)), Err(Open));
        assert_eq!(b.admit(t0 + COOLDOWN + PROBE), Ok(()));
    }

    #[test]
    fn late_failures_of_requests_admitted_earlier_do_not_extend_the_cool_down() {
        let b = breaker(1);
        let t0 = Instant::now();
        fail(&b, 1, t0);
        b.record(true, t0 + Duration::from_secs(2));
        assert_eq!(b.state(), State::Open { until: t0 + COOLDOWN });
    }

    #[test]
    fn a_zero_threshold_never_opens() {
        let b = breaker(0);
        let t0 = Instant::now();
        fail(&b, 1000, t0);
        assert_eq!(b.state().gauge(), 0);
    }
}
