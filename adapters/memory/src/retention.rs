//! Retention: ended workflows (done or canceled) and their tasks are deleted for good
//! once they have been ended for longer than a configured time, by a periodic sweep
//! ([`MemoryEngine::spawn_retention`], [`MemoryEngine::run_retention`]) or on demand
//! ([`MemoryEngine::purge_ended_before`], the gateway's admin purge).
//!
//! This module holds the policy ([`RetentionPolicy`], [`parse_retention`]); the sweep
//! itself is part of each engine.
//!
//! [`MemoryEngine::spawn_retention`]: crate::MemoryEngine::spawn_retention
//! [`MemoryEngine::run_retention`]: crate::MemoryEngine::run_retention
//! [`MemoryEngine::purge_ended_before`]: crate::MemoryEngine::purge_ended_before

use std::time::Duration;

pub use crate::store::StoreCounts;

/// Default time between two sweeps.
pub const DEFAULT_SWEEP_SECS: u64 = 60;

/// Default number of instances deleted per batch (one commit each).
pub const DEFAULT_BATCH: usize = 500;

/// Longest retention accepted: 100 years.
const MAX_RETENTION: Duration = Duration::from_secs(100 * 366 * 86_400);

/// How long ended workflows are kept and how they are swept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetentionPolicy {
    /// Time after its end during which an instance is kept.
    pub keep: Duration,
    /// Time between two sweeps.
    pub sweep_every: Duration,
    /// Most instances deleted per batch; the sweep yields between batches.
    pub batch: usize,
}

impl RetentionPolicy {
    /// Keeps ended instances for `keep`, with the default sweep period and batch size.
    pub fn keep(keep: Duration) -> Self {
        Self {
            keep,
            sweep_every: Duration::from_secs(DEFAULT_SWEEP_SECS),
            batch: DEFAULT_BATCH,
        }
    }
}

/// Parses a retention time: a whole number followed by `s`, `m`, `h` or `d`
/// (`"90m"`, `"12h"`, `"30d"`), at least one second and at most 100 years.
pub fn parse_retention(text: &str) -> std::result::Result<Duration, String> {
    let bad = || {
        format!(
            "'{text}' is not a retention time; expected a whole number followed by s, m, h or d (e.g. \"30d\", \"12h\", \"90m\")"
        )
    };
    let t = text.trim();
    let unit = t.chars().last().ok_or_else(bad)?;
    let secs_per = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3_600,
        'd' => 86_400,
        _ => return Err(bad()),
    };
    let digits = &t[..t.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    let d = n
        .checked_mul(secs_per)
        .map(Duration::from_secs)
        .ok_or_else(bad)?;
    if d.is_zero() {
        return Err(format!("'{text}': the retention time must be at least 1s"));
    }
    if d > MAX_RETENTION {
        return Err(format!(
            "'{text}': the retention time must be at most 100 years; omit it to keep ended workflows forever"
        ));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_times_parse_with_their_unit() {
        assert_eq!(parse_retention("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_retention("12h"), Ok(Duration::from_secs(12 * 3_600)));
        assert_eq!(parse_retention(" 90m "), Ok(Duration::from_secs(90 * 60)));
        assert_eq!(parse_retention("5s"), Ok(Duration::from_secs(5)));
        for bad in [
            "",
            "d",
            "30",
            "30x",
            "-1d",
            "1.5h",
            "0d",
            "1 d",
            "99999999999999d",
            "40000d",
        ] {
            assert!(parse_retention(bad).is_err(), "{bad} accepted");
        }
    }
}
