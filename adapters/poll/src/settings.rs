//! The event polling settings every remote adapter carries (`events_*` keys of
//! `[engines.<name>]`).

use std::path::PathBuf;
use std::time::Duration;

/// Default `events_retention`: derived events are kept 30 days.
pub const DEFAULT_RETENTION: &str = "30d";

/// Default `events_max_items`: most running instances, and most open tasks, one poll
/// reads.
pub const DEFAULT_MAX_ITEMS: usize = 5000;

/// Longest retention accepted: 100 years.
const MAX_RETENTION: Duration = Duration::from_secs(100 * 366 * 86_400);

/// Longest poll interval accepted: one day.
const MAX_POLL_SECS: u64 = 86_400;

/// How an engine's events are derived and kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PollSettings {
    /// Time between two polls; zero turns polling (and the engine's events) off.
    pub every: Duration,
    /// Directory of the `events.redb` file; `None` keeps state and events in memory
    /// only (a restart starts from a fresh baseline).
    pub state_dir: Option<PathBuf>,
    /// How long derived events are kept.
    pub retention: Duration,
    /// Most running instances, and most open tasks, one poll reads; an upstream holding
    /// more makes the poll fail rather than report what it could not see as ended.
    pub max_items: usize,
}

impl PollSettings {
    /// The settings read from the `events_*` keys; `problems` lists what is wrong with
    /// them, each naming its key under `prefix` (`engines.alfresco`).
    pub fn from_keys(
        prefix: &str,
        poll_secs: u64,
        state_dir: Option<&PathBuf>,
        retention: &str,
        max_items: usize,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        if poll_secs > MAX_POLL_SECS {
            problems.push(format!(
                "{prefix}.events_poll_secs: must be between 0 (off) and {MAX_POLL_SECS}"
            ));
        }
        let retention = parse_duration(retention).unwrap_or_else(|e| {
            problems.push(format!("{prefix}.events_retention: {e}"));
            Duration::ZERO
        });
        if max_items == 0 {
            problems.push(format!("{prefix}.events_max_items: must be greater than 0"));
        }
        if state_dir.is_some_and(|d| d.as_os_str().is_empty()) {
            problems.push(format!(
                "{prefix}.events_state_dir: must be a directory path (omit it to keep events in memory)"
            ));
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            every: Duration::from_secs(poll_secs),
            state_dir: state_dir.cloned(),
            retention,
            max_items,
        })
    }

    /// Whether polling is on.
    pub fn enabled(&self) -> bool {
        !self.every.is_zero()
    }
}

/// Parses a time: a whole number followed by `s`, `m`, `h` or `d` (`"90m"`, `"12h"`,
/// `"30d"`), at least one second and at most 100 years.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let bad = || format!("'{text}' is not a time like \"30d\", \"12h\", \"90m\" or \"3600s\"");
    let split = t.len().checked_sub(1).ok_or_else(bad)?;
    let (n, unit) = t.split_at(split);
    let n: u64 = n.parse().map_err(|_| bad())?;
    let secs = match unit {
        "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => return Err(bad()),
    }
    .ok_or_else(bad)?;
    let d = Duration::from_secs(secs);
    if d.is_zero() || d > MAX_RETENTION {
        return Err(format!("'{text}' must be between 1s and 100 years"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_parse_and_bad_keys_are_named() {
        assert_eq!(parse_duration("90m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("12").is_err());
        assert!(parse_duration("").is_err());
        let errs = PollSettings::from_keys("engines.alf", 100_000, None, "soon", 0).unwrap_err();
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(errs.iter().all(|e| e.starts_with("engines.alf.events_")));
        let ok = PollSettings::from_keys("engines.alf", 0, None, DEFAULT_RETENTION, 10).unwrap();
        assert!(!ok.enabled());
    }
}
