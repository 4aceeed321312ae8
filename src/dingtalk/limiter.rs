//! A client-side rate limiter: each DingTalk API (by path) is called at most `per_second` times
//! a second. It spaces calls evenly (GCRA without burst: each call reserves the next free slot,
//! one interval after the previous one), so that no one-second window, however placed, holds
//! more than `per_second` calls. A caller whose slot would come only after its deadline is
//! refused at once instead of waiting in vain.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Limiter {
    /// Time between two calls to one API; `None`: no limit.
    interval: Option<Duration>,
    /// API → when its next call may start.
    next: Mutex<HashMap<&'static str, Instant>>,
}

/// The caller's turn would come after its deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLate;

impl Limiter {
    /// `per_second` calls per second per API; 0 turns the limiter off.
    pub fn new(per_second: u32) -> Self {
        Self {
            interval: (per_second > 0).then(|| Duration::from_secs(1) / per_second),
            next: Mutex::default(),
        }
    }

    /// Reserves a slot for a call to `api` asked for at `now`: when the call may start (`now`
    /// when the API is idle). A slot past `deadline` is not reserved.
    pub fn reserve(&self, api: &'static str, now: Instant, deadline: Instant) -> Result<Instant, TooLate> {
        let Some(interval) = self.interval else {
            return Ok(now);
        };
        let mut next = self.next.lock().unwrap_or_else(PoisonError::into_inner);
        let slot = next.get(api).copied().filter(|t| *t > now).unwrap_or(now);
        if slot >= deadline {
            return Err(TooLate);
        }
        next.insert(api, slot + interval);
        Ok(slot)
    }

    /// Waits for a slot for `api`, or fails at once if it would come after `deadline`.
    pub async fn wait(&self, api: &'static str, deadline: Instant) -> Result<(), TooLate> {
        let now = Instant::now();
        let slot = self.reserve(api, now, deadline)?;
        if slot > now {
            tokio::time::sleep(slot - now).await;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAR: Duration = Duration::from_secs(3600);

    #[test]
    fn calls_are_spaced_one_interval_apart() {
        let limiter = Limiter::new(20);
        let t0 = Instant::now();
        let slots: Vec<Duration> = (0..4)
            .map(|_| limiter.reserve("a", t0, t0 + FAR).unwrap() - t0)
            .collect();
        let ms = Duration::from_millis;
        assert_eq!(slots, [ms(0), ms(50), ms(100), ms(150)]);
    }

    #[test]
    fn no_one_second_window_holds_more_than_the_limit() {
        let limiter = Limiter::new(20);
        let t0 = Instant::now();
        let slots: Vec<Instant> = (0..100).map(|_| limiter.reserve("a", t0, t0 + FAR).unwrap()).collect();
        for (i, start) in slots.iter().enumerate() {
            let within = slots[i..]
                .iter()
                .take_while(|s| **s < *start + Duration::from_secs(1))
                .count();
            assert!(within <= 20, "{within} calls in the second from call {i}");
        }
    }

    #[test]
    fn each_api_has_its_own_budget() {
        let limiter = Limiter::new(1);
        let t0 = Instant::now();
        assert_eq!(limiter.reserve("a", t0, t0 + FAR), Ok(t0));
        assert_eq!(limiter.reserve("b", t0, t0 + FAR), Ok(t0));
        assert_eq!(limiter.reserve("a", t0, t0 + FAR), Ok(t0 + Duration::from_secs(1)));
    }

    #[test]
    fn an_idle_api_starts_at_once() {
        let limiter = Limiter::new(10);
        let t0 = Instant::now();
        limiter.reserve("a", t0, t0 + FAR).unwrap();
        let later = t0 + Duration::from_secs(5);
        assert_eq!(limiter.reserve("a", later, later + FAR), Ok(later));
    }

    #[test]
    fn a_slot_past_the_deadline_is_refused_and_not_taken() {
        let limiter = Limiter::new(10);
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_millis(150);
        assert!(limiter.reserve("a", t0, deadline).is_ok());
        assert!(limiter.reserve("a", t0, deadline).is_ok());
        assert_eq!(
            limiter.reserve("a", t0, deadline),
            Err(TooLate),
            "its slot is at 200 ms"
        );
        assert_eq!(
            limiter.reserve("a", t0, t0 + FAR),
            Ok(t0 + Duration::from_millis(200)),
            "the refused caller did not take the slot"
        );
    }

    #[test]
    fn zero_means_no_limit() {
        let limiter = Limiter::new(0);
        let t0 = Instant::now();
        for _ in 0..1000 {
            assert_eq!(limiter.reserve("a", t0, t0 + Duration::from_millis(1)), Ok(t0));
        }
    }
}
