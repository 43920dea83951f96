//! Alfresco dates, read leniently: ISO 8601 with or without offset and fraction, and
//! epoch milliseconds. A date that cannot be read is absent, never an error.

use chrono::{DateTime, NaiveDateTime, Utc};

/// Reads an Alfresco date: `2024-05-02T09:14:03.120+0000` as the server writes them,
/// other ISO 8601 / RFC 3339 forms (with or without fraction, `Z`, `±HH:MM` or no
/// offset at all, which is read as UTC, and a space instead of `T`), or epoch
/// milliseconds. `None` when it is none of these.
pub(crate) fn date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Some(d) = iso_date(s.as_bytes()) {
        return Some(d);
    }
    if !s.is_empty()
        && s.len() <= 16
        && s.bytes()
            .enumerate()
            .all(|(i, b)| b.is_ascii_digit() || (i == 0 && b == b'-'))
    {
        return s
            .parse::<i64>()
            .ok()
            .and_then(DateTime::from_timestamp_millis);
    }
    let with_offset = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
        .or_else(|_| DateTime::parse_from_rfc3339(s))
        .or_else(|_| DateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S%.f%z"))
        .map(|d| d.with_timezone(&Utc));
    if let Ok(d) = with_offset {
        return Some(d);
    }
    [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(s, f).ok())
    .or_else(|| {
        chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .and_then(|d| d.and_hms_opt(0, 0, 0))
    })
    .map(|n| n.and_utc())
}

/// Reads an optional date field: absent or unreadable → `None`.
pub(crate) fn opt_date(s: Option<&str>) -> Option<DateTime<Utc>> {
    s.and_then(date)
}

/// The common shape, read directly: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HHMM|±HH:MM)`.
/// Every date of a task passes here, and chrono's format-driven parser costs several
/// times more; anything else is left to it.
fn iso_date(b: &[u8]) -> Option<DateTime<Utc>> {
    fn num(b: &[u8]) -> Option<u32> {
        b.iter().try_fold(0u32, |n, &c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let year = i32::try_from(num(&b[0..4])?).ok()?;
    let date = chrono::NaiveDate::from_ymd_opt(year, num(&b[5..7])?, num(&b[8..10])?)?;
    let (h, m, sec) = (num(&b[11..13])?, num(&b[14..16])?, num(&b[17..19])?);
    let mut i = 19;
    let mut nanos = 0u32;
    if b[i] == b'.' {
        i += 1;
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            if i - start < 9 {
                nanos = nanos * 10 + u32::from(b[i] - b'0');
            }
            i += 1;
        }
        let digits = i - start;
        if digits == 0 {
            return None;
        }
        nanos *= 10u32.pow(9 - digits.min(9) as u32);
    }
    let offset_secs = match &b[i..] {
        [b'Z'] => 0,
        [sign @ (b'+' | b'-'), rest @ ..] => {
            let (oh, om) = match rest {
                [h1, h2, b':', m1, m2] | [h1, h2, m1, m2] => (num(&[*h1, *h2])?, num(&[*m1, *m2])?),
                _ => return None,
            };
            let secs = i64::from(oh * 3600 + om * 60);
            if *sign == b'-' {
                -secs
            } else {
                secs
            }
        }
        _ => return None,
    };
    let local = date.and_hms_nano_opt(h, m, sec, nanos)?;
    let utc = local.checked_sub_signed(chrono::TimeDelta::seconds(offset_secs))?;
    Some(DateTime::from_naive_utc_and_offset(utc, Utc))
}

/// Formats a date for Alfresco requests.
pub(crate) fn fmt_date(d: DateTime<Utc>) -> String {
    d.format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alfresco_dates_parse() {
        let d = date("2024-05-02T09:14:03.120+0000").unwrap();
        assert_eq!(fmt_date(d), "2024-05-02T09:14:03.120+0000");
        assert!(date("2024-05-02T09:14:03.120Z").is_some());
        assert_eq!(date("garbage"), None);
        assert_eq!(date(""), None);
        assert_eq!(date("2024-13-45T00:00:00Z"), None);
    }

    #[test]
    fn dates_without_offset_or_millis_and_epoch_millis_parse() {
        let want = date("2024-05-02T09:14:03.000Z").unwrap();
        for s in [
            "2024-05-02T09:14:03Z",
            "2024-05-02T09:14:03",
            "2024-05-02T09:14:03.000",
            "2024-05-02 09:14:03",
            "2024-05-02T11:14:03+02:00",
            "2024-05-02T11:14:03.000+0200",
            "1714641243000",
        ] {
            assert_eq!(date(s), Some(want), "{s}");
        }
        assert_eq!(
            date("2024-05-02"),
            Some(date("2024-05-02T00:00:00Z").unwrap())
        );
        assert_eq!(opt_date(None), None);
        assert_eq!(opt_date(Some("soon")), None);
    }

    /// The direct reader agrees with chrono's on every shape it takes, and leaves
    /// everything else (invalid dates included) to chrono.
    #[test]
    fn the_direct_date_reader_agrees_with_chrono() {
        let chrono_read = |s: &str| {
            DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M:%S%.f%z")
                .or_else(|_| DateTime::parse_from_rfc3339(s))
                .map(|d| d.with_timezone(&Utc))
                .ok()
        };
        for s in [
            "2024-05-02T09:14:03.120+0000",
            "2024-05-02T09:14:03+0000",
            "2024-05-02T09:14:03.1Z",
            "2024-05-02T09:14:03.123456789Z",
            "2024-05-02T09:14:03.1234567891Z",
            "2024-02-29T23:59:59.999-0530",
            "2024-12-31T23:30:00.000+01:00",
            "2024-01-01T00:10:00-02:00",
            "1999-07-04T12:00:00.5+1400",
        ] {
            let direct = iso_date(s.as_bytes());
            assert!(direct.is_some(), "{s}");
            assert_eq!(direct, chrono_read(s), "{s}");
        }
        for s in [
            "2023-02-29T10:00:00Z",
            "2024-13-01T10:00:00Z",
            "2024-05-02T25:00:00Z",
            "2024-05-02T09:14:03.+0000",
            "2024-05-02T09:14:03.120+00",
            "2024-05-02T09:14:03.120 +0000",
            "2024-05-02 09:14:03Z",
            "2024-05-02T09:14:03",
            "２０２４-05-02T09:14:03Z",
        ] {
            assert_eq!(iso_date(s.as_bytes()), None, "{s}");
        }
    }
}
