//! A per-engine circuit breaker.
//!
//! Closed: calls pass; N consecutive failures open it. Open: calls fail at once until
//! the cool-down has passed, then exactly one probe is let through (half-open). A
//! successful probe closes the breaker; a failed one opens it again.

use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Observable state of a breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls fail fast.
    Open,
    /// One probe call is in flight or allowed.
    HalfOpen,
}

#[derive(Debug)]
enum Inner {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// `probe` is when the current probe was let through; a probe that never reports
    /// (its caller went away) stops blocking others after one cool-down.
    HalfOpen {
        probe: Option<Instant>,
    },
}

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
}

/// Permission to make one call; report its outcome with `success`/`failure`.
pub(crate) enum Permit {
    Normal,
    Probe,
}

impl Breaker {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            inner: Mutex::new(Inner::Closed { failures: 0 }),
        }
    }

    pub(crate) fn state(&self) -> BreakerState {
        match *self.inner.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// `None` when the call must fail fast.
    pub(crate) fn acquire(&self) -> Option<Permit> {
        if self.threshold == 0 {
            return Some(Permit::Normal);
        }
        let mut inner = self.inner.lock();
        match *inner {
            Inner::Closed { .. } => Some(Permit::Normal),
            Inner::Open { until } => {
                let now = Instant::now();
                if now >= until {
                    *inner = Inner::HalfOpen { probe: Some(now) };
                    Some(Permit::Probe)
                } else {
                    None
                }
            }
            Inner::HalfOpen { probe: Some(t) } if t.elapsed() < self.cooldown => None,
            Inner::HalfOpen { .. } => {
                *inner = Inner::HalfOpen {
                    probe: Some(Instant::now()),
                };
                Some(Permit::Probe)
            }
        }
    }

    pub(crate) fn success(&self, _permit: Permit) {
        if self.threshold == 0 {
            return;
        }
        *self.inner.lock() = Inner::Closed { failures: 0 };
    }

    /// Returns true when this failure opened the breaker.
    pub(crate) fn failure(&self, permit: Permit) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let mut inner = self.inner.lock();
        let open = match (&*inner, permit) {
            (_, Permit::Probe) => true,
            (Inner::Closed { failures }, Permit::Normal) => failures + 1 >= self.threshold,
            // A call admitted before the breaker opened finished late: keep the state.
            (Inner::Open { .. } | Inner::HalfOpen { .. }, Permit::Normal) => return false,
        };
        if open {
            *inner = Inner::Open {
                until: Instant::now() + self.cooldown,
            };
        } else if let Inner::Closed { failures } = &mut *inner {
            *failures += 1;
        }
        open
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_and_half_opens_after_cooldown() {
        let b = Breaker::new(2, Duration::from_millis(30));
        let p = b.acquire().unwrap();
        assert!(!b.failure(p));
        let p = b.acquire().unwrap();
        assert!(b.failure(p));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.acquire().is_none());
        std::thread::sleep(Duration::from_millis(40));
        let probe = b.acquire().expect("probe allowed after cooldown");
        assert!(b.acquire().is_none(), "only one probe at a time");
        b.success(probe);
        assert_eq!(b.state(), BreakerState::Closed);
    }

    #[test]
    fn failed_probe_reopens() {
        let b = Breaker::new(1, Duration::from_millis(10));
        let p = b.acquire().unwrap();
        b.failure(p);
        std::thread::sleep(Duration::from_millis(15));
        let probe = b.acquire().unwrap();
        assert!(b.failure(probe));
        assert!(b.acquire().is_none());
    }

    #[test]
    fn success_resets_consecutive_count() {
        let b = Breaker::new(2, Duration::from_secs(60));
        let p = b.acquire().unwrap();
        b.failure(p);
        let p = b.acquire().unwrap();
        b.success(p);
        let p = b.acquire().unwrap();
        assert!(!b.failure(p));
        assert_eq!(b.state(), BreakerState::Closed);
    }
}
