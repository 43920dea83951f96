//! A per-engine circuit breaker.
//!
//! Closed: calls pass; N consecutive failures open it. Open: calls fail at once until
//! the cool-down has passed; then the breaker is half-open: calls are let through as
//! trials until the first verdict. The first successful trial closes the breaker; a
//! failed one opens it again for another cool-down.
//!
//! Trials are not limited to one: a single gateway request often makes several
//! concurrent upstream calls (a task list reads its items at once), and refusing all but
//! one of them would fail the first request after every recovery.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// Observable state of a breaker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass.
    Closed,
    /// Calls fail fast.
    Open,
    /// Trial calls are let through until one of them succeeds or fails.
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
    /// Trials are let through until the first verdict.
    HalfOpen,
}

#[derive(Debug)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    inner: Mutex<Inner>,
    /// Whether `inner` is `Closed` with no failure counted: the state of nearly every
    /// call. Admitting a call and reporting its success then only read this flag, so
    /// calls made by different workers do not keep taking the lock (a write to memory
    /// every worker shares) when there is nothing to change.
    healthy: AtomicBool,
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
            healthy: AtomicBool::new(true),
        }
    }

    /// Sets `inner` and the flag that mirrors it (called with the lock held).
    fn set(&self, inner: &mut Inner, to: Inner) {
        self.healthy.store(
            matches!(to, Inner::Closed { failures: 0 }),
            Ordering::Release,
        );
        *inner = to;
    }

    pub(crate) fn state(&self) -> BreakerState {
        if self.healthy.load(Ordering::Acquire) {
            return BreakerState::Closed;
        }
        match *self.inner.lock() {
            Inner::Closed { .. } => BreakerState::Closed,
            Inner::Open { until } if Instant::now() >= until => BreakerState::HalfOpen,
            Inner::Open { .. } => BreakerState::Open,
            Inner::HalfOpen => BreakerState::HalfOpen,
        }
    }

    /// `None` when the call must fail fast.
    pub(crate) fn acquire(&self) -> Option<Permit> {
        if self.threshold == 0 || self.healthy.load(Ordering::Acquire) {
            return Some(Permit::Normal);
        }
        let mut inner = self.inner.lock();
        match *inner {
            Inner::Closed { .. } => Some(Permit::Normal),
            Inner::Open { until } => {
                if Instant::now() >= until {
                    self.set(&mut inner, Inner::HalfOpen);
                    Some(Permit::Probe)
                } else {
                    None
                }
            }
            Inner::HalfOpen => Some(Permit::Probe),
        }
    }

    pub(crate) fn success(&self, _permit: Permit) {
        if self.threshold == 0 || self.healthy.load(Ordering::Acquire) {
            // Already closed with nothing counted.
            return;
        }
        let mut inner = self.inner.lock();
        self.set(&mut inner, Inner::Closed { failures: 0 });
    }

    /// Returns true when this failure opened the breaker.
    pub(crate) fn failure(&self, permit: Permit) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let mut inner = self.inner.lock();
        let open = match (&*inner, permit) {
            (Inner::HalfOpen, _) => true,
            // A trial that failed after another one closed the breaker counts as a plain
            // failure; so does any failure while closed.
            (Inner::Closed { failures }, _) => failures + 1 >= self.threshold,
            // A call admitted earlier finished late: the breaker is already open.
            (Inner::Open { .. }, _) => return false,
        };
        if open {
            let until = Instant::now() + self.cooldown;
            self.set(&mut inner, Inner::Open { until });
        } else if let Inner::Closed { failures } = *inner {
            self.set(
                &mut inner,
                Inner::Closed {
                    failures: failures + 1,
                },
            );
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
        let probe = b.acquire().expect("trial allowed after cooldown");
        let second = b.acquire().expect("concurrent trials are allowed too");
        b.success(probe);
        b.success(second);
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
    fn late_trial_failure_after_recovery_counts_as_one_failure() {
        let b = Breaker::new(3, Duration::from_millis(10));
        for _ in 0..3 {
            let p = b.acquire().unwrap();
            b.failure(p);
        }
        std::thread::sleep(Duration::from_millis(15));
        let (t1, t2) = (b.acquire().unwrap(), b.acquire().unwrap());
        b.success(t1);
        assert!(!b.failure(t2), "one late failure does not reopen");
        assert_eq!(b.state(), BreakerState::Closed);
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
