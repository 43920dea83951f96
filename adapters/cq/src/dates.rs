//! Dates as CQ / AEM renders them. The instance, work item and history renderings use
//! Java `Date.toString()` text (`Thu May 02 09:12:44 CEST 2024`), the inbox uses epoch
//! milliseconds, and other releases or proxies may send ISO 8601. Every reader here is
//! tolerant: a date it cannot read is `None`, never an error, so one odd field never
//! fails the entity it belongs to.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// A date field of a CQ rendering: `None` when absent, null or unreadable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct WireDate(pub Option<DateTime<Utc>>);

impl<'de> Deserialize<'de> for WireDate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<WireDate, D::Error> {
        let v = Value::deserialize(d)?;
        let parsed = parse_value(&v);
        if parsed.is_none() && !v.is_null() {
            tracing::debug!(value = %v, "unreadable CQ date left empty");
        }
        Ok(WireDate(parsed))
    }
}

impl WireDate {
    /// The date, if there was a readable one.
    pub fn get(self) -> Option<DateTime<Utc>> {
        self.0
    }
}

/// Any of the shapes: a JSON number (epoch milliseconds) or a string holding epoch
/// milliseconds, Java `Date.toString()` text or ISO 8601.
pub(crate) fn parse_value(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .and_then(from_millis),
        Value::String(s) => parse_text(s),
        _ => None,
    }
}

/// A date in text: epoch milliseconds, Java `Date.toString()` text or ISO 8601.
pub(crate) fn parse_text(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let digits = s.strip_prefix('-').unwrap_or(s);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().and_then(from_millis);
    }
    parse_java_date(s).or_else(|| parse_iso(s))
}

fn from_millis(ms: i64) -> Option<DateTime<Utc>> {
    Utc.timestamp_millis_opt(ms).single()
}

/// ISO 8601 as servers and JCR write it: with an offset (`Z`, `+02:00`, `+0200`) or
/// without one (read as UTC), with or without fractions, or a bare date.
fn parse_iso(s: &str) -> Option<DateTime<Utc>> {
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    for f in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z"] {
        if let Ok(d) = DateTime::parse_from_str(s, f) {
            return Some(d.with_timezone(&Utc));
        }
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(s, f) {
            return Some(Utc.from_utc_datetime(&n));
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| Utc.from_utc_datetime(&n))
}

/// The day an instance path names (`…/server0/2017-03-08/request_for_activation_1`),
/// at midnight UTC: CQ files instances by their start date, so this is the start day
/// when the instance itself carries no readable start time.
pub(crate) fn day_of_instance_path(path: &str) -> Option<DateTime<Utc>> {
    path.split('/')
        .rev()
        .skip(1)
        .find_map(|seg| {
            (seg.len() == 10)
                .then(|| NaiveDate::parse_from_str(seg, "%Y-%m-%d").ok())
                .flatten()
        })
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|n| Utc.from_utc_datetime(&n))
}

/// Parses Java `Date.toString()` text (`Thu May 02 09:12:44 CEST 2024`). Zone
/// abbreviations are ambiguous; a small table covers the common ones and anything else
/// is read as UTC.
pub(crate) fn parse_java_date(s: &str) -> Option<DateTime<Utc>> {
    let mut parts = s.split_whitespace();
    let (Some(_dow), Some(mon), Some(day), Some(time), Some(zone), Some(year), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return None;
    };
    let naive = java_date_time(mon, day, time, year).or_else(|| {
        NaiveDateTime::parse_from_str(&format!("{mon} {day} {time} {year}"), "%b %d %H:%M:%S %Y")
            .ok()
    })?;
    let offset_minutes = match zone {
        "UTC" | "GMT" | "Z" | "WET" => 0,
        "CET" | "WEST" | "BST" => 60,
        "CEST" | "EET" => 120,
        "EEST" | "MSK" => 180,
        "IST" => 330,
        "JST" | "KST" => 540,
        "EST" | "CDT" => -300,
        "EDT" => -240,
        "CST" | "MDT" => -360,
        "MST" | "PDT" => -420,
        "PST" => -480,
        other => other
            .strip_prefix("GMT")
            .and_then(parse_offset)
            .unwrap_or(0),
    };
    let utc = naive - chrono::Duration::minutes(offset_minutes);
    Some(Utc.from_utc_datetime(&utc))
}

/// The usual shape (`May 02 09:12:44 2024`) read directly; chrono's format parser is
/// the fallback for anything else.
fn java_date_time(mon: &str, day: &str, time: &str, year: &str) -> Option<NaiveDateTime> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let month = MONTHS.iter().position(|m| *m == mon)? as u32 + 1;
    let digits = |s: &str| {
        (!s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit()))
            .then(|| s.parse::<u32>().ok())
            .flatten()
    };
    let t = time.as_bytes();
    if t.len() != 8 || t[2] != b':' || t[5] != b':' {
        return None;
    }
    let date =
        chrono::NaiveDate::from_ymd_opt(i32::try_from(digits(year)?).ok()?, month, digits(day)?)?;
    date.and_hms_opt(
        digits(&time[0..2])?,
        digits(&time[3..5])?,
        digits(&time[6..8])?,
    )
}

/// `+02:00` / `-0500` → minutes.
fn parse_offset(s: &str) -> Option<i64> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    let (h, m) = match digits.len() {
        1 | 2 => (digits.parse::<i64>().ok()?, 0),
        4 => (digits[..2].parse().ok()?, digits[2..].parse().ok()?),
        _ => return None,
    };
    Some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_direct_java_date_reader_agrees_with_chrono() {
        for (mon, day, time, year) in [
            ("May", "02", "09:12:44", "2024"),
            ("Feb", "29", "23:59:59", "2024"),
            ("Dec", "31", "00:00:00", "1999"),
            ("Jan", "1", "10:00:00", "2025"),
        ] {
            let chrono_read = NaiveDateTime::parse_from_str(
                &format!("{mon} {day} {time} {year}"),
                "%b %d %H:%M:%S %Y",
            )
            .ok();
            assert!(chrono_read.is_some());
            assert_eq!(
                java_date_time(mon, day, time, year),
                chrono_read,
                "{mon} {day}"
            );
        }
        for (mon, day, time, year) in [
            ("Feb", "29", "10:00:00", "2023"),
            ("Foo", "01", "10:00:00", "2024"),
            ("May", "02", "25:00:00", "2024"),
            ("May", "02", "9:12:44", "2024"),
            ("May", "x", "09:12:44", "2024"),
        ] {
            assert_eq!(
                java_date_time(mon, day, time, year),
                None,
                "{mon} {day} {time}"
            );
        }
        // Shapes the direct reader leaves to chrono still parse.
        assert!(parse_java_date("Thu May 02 9:12:44 CEST 2024").is_some());
        assert!(parse_java_date("Thu May 02 09:12:44 CEST 2024 extra").is_none());
    }

    #[test]
    fn java_dates_are_read_with_their_zone() {
        let d = parse_java_date("Thu May 02 09:12:44 CEST 2024").unwrap();
        assert_eq!(d.to_rfc3339(), "2024-05-02T07:12:44+00:00");
        let d = parse_java_date("Wed Mar 08 10:15:30 EST 2017").unwrap();
        assert_eq!(d.to_rfc3339(), "2017-03-08T15:15:30+00:00");
        let d = parse_java_date("Wed Mar 08 10:15:30 XYZ 2017").unwrap();
        assert_eq!(d.to_rfc3339(), "2017-03-08T10:15:30+00:00");
        assert!(parse_java_date("2017-03-08").is_none());
    }

    #[test]
    fn every_known_shape_is_read() {
        let want = "2024-05-02T07:12:44+00:00";
        for v in [
            json!("Thu May 02 09:12:44 CEST 2024"),
            json!(1_714_633_964_000_i64),
            json!("1714633964000"),
            json!(1_714_633_964_000.0),
            json!("2024-05-02T07:12:44Z"),
            json!("2024-05-02T09:12:44+02:00"),
            json!("2024-05-02T09:12:44.000+0200"),
            json!("2024-05-02T07:12:44"),
            json!(" 2024-05-02T07:12:44.000Z "),
        ] {
            let d = parse_value(&v).unwrap_or_else(|| panic!("{v} unread"));
            assert_eq!(d.to_rfc3339(), want, "{v}");
        }
        assert_eq!(
            parse_text("2024-05-02").map(|d| d.to_rfc3339()).as_deref(),
            Some("2024-05-02T00:00:00+00:00")
        );
    }

    #[test]
    fn unreadable_dates_are_empty_not_errors() {
        for v in [
            json!("yesterday"),
            json!(""),
            json!(true),
            json!({"time": 1}),
            json!([1]),
            json!("99999999999999999999999"),
            json!(i64::MAX),
            json!("Thu Foo 02 09:12:44 CEST 2024"),
        ] {
            assert_eq!(parse_value(&v), None, "{v}");
            let w: WireDate = serde_json::from_value(v.clone()).expect("never fails");
            assert_eq!(w.get(), None, "{v}");
        }
        let w: WireDate = serde_json::from_value(json!(null)).expect("null");
        assert_eq!(w.get(), None);
    }

    #[test]
    fn instance_paths_name_their_start_day() {
        let d = day_of_instance_path("/var/workflow/instances/server0/2017-03-08/request_1");
        assert_eq!(
            d.map(|d| d.to_rfc3339()).as_deref(),
            Some("2017-03-08T00:00:00+00:00")
        );
        assert_eq!(day_of_instance_path("/var/workflow/instances/x/y_1"), None);
        assert_eq!(day_of_instance_path("2017-03-08"), None);
    }
}
