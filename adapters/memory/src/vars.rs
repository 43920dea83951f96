//! Typing of variable values (facade spec §8.1) and Nuxeo date formats (§2.3).

use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use flowgate_core::VarType;
use serde_json::Value;

/// Formats a date the way Nuxeo writes it: UTC, three fraction digits, literal `Z`.
pub fn format_date(d: DateTime<Utc>) -> String {
    d.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a date as clients send it: RFC 3339 with 0–9 fraction digits and `Z` or an
/// offset, or a bare `YYYY-MM-DD` (midnight UTC).
pub fn parse_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    if let Ok(d) = DateTime::parse_from_rfc3339(s) {
        return Some(d.with_timezone(&Utc));
    }
    // RFC 3339 requires seconds; accept `YYYY-MM-DDThh:mmZ` too.
    if let Ok(d) = DateTime::parse_from_str(s, "%Y-%m-%dT%H:%M%#z") {
        return Some(d.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// The value a variable has before anyone sets it.
pub(crate) fn default_value(ty: VarType, declared: &Value) -> Result<Value, String> {
    if declared.is_null() {
        return Ok(match ty {
            VarType::StringList => Value::Array(Vec::new()),
            _ => Value::Null,
        });
    }
    coerce(ty, declared).map_err(|()| format!("default value {declared} is not a valid {ty:?}"))
}

/// Checks and normalises an incoming value against a declared type. `Err(())` means the
/// value has the wrong type; the caller turns it into
/// `Unable to deserialize property: <schema>:<name>`.
pub(crate) fn coerce(ty: VarType, v: &Value) -> Result<Value, ()> {
    match (ty, v) {
        (VarType::StringList, Value::Null) => Ok(Value::Array(Vec::new())),
        (_, Value::Null) => Ok(Value::Null),
        (VarType::String, Value::String(_)) => Ok(v.clone()),
        (VarType::String, Value::Number(n)) => Ok(Value::String(n.to_string())),
        (VarType::String, Value::Bool(b)) => Ok(Value::String(b.to_string())),
        (VarType::Integer, Value::Number(n)) => n.as_i64().map(Value::from).ok_or(()),
        (VarType::Integer, Value::String(s)) => {
            let s = s.trim();
            if s.is_empty() {
                return Ok(Value::Null);
            }
            s.parse::<i64>().map(Value::from).map_err(|_| ())
        }
        (VarType::Boolean, Value::Bool(_)) => Ok(v.clone()),
        (VarType::Boolean, Value::String(s)) => match s.trim() {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            "" => Ok(Value::Null),
            _ => Err(()),
        },
        (VarType::Date, Value::String(s)) => {
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            parse_date(s)
                .map(|d| Value::String(format_date(d)))
                .ok_or(())
        }
        (VarType::StringList, Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(Value::String(s.clone())),
                _ => Err(()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        (VarType::StringList, Value::String(s)) => {
            let t = s.trim();
            if t.is_empty() {
                Ok(Value::Array(Vec::new()))
            } else if t.starts_with('[') {
                // Legacy form: a string holding a JSON array (seed 002).
                let parsed: Value = serde_json::from_str(t).map_err(|_| ())?;
                match parsed {
                    Value::Array(_) => coerce(VarType::StringList, &parsed),
                    _ => Err(()),
                }
            } else {
                Ok(Value::Array(vec![Value::String(s.clone())]))
            }
        }
        _ => Err(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dates_accept_nuxeo_input_forms_and_write_millis_utc() {
        for (input, out) in [
            ("2011-10-23T12:00:00.00Z", "2011-10-23T12:00:00.000Z"),
            ("2011-10-23T12:00:00Z", "2011-10-23T12:00:00.000Z"),
            ("2011-10-23T12:00:00.123Z", "2011-10-23T12:00:00.123Z"),
            ("2011-10-23T14:00:00+02:00", "2011-10-23T12:00:00.000Z"),
            ("2011-10-23", "2011-10-23T00:00:00.000Z"),
        ] {
            let d = parse_date(input).unwrap_or_else(|| panic!("{input}"));
            assert_eq!(format_date(d), out);
        }
        assert!(parse_date("yesterday").is_none());
    }

    #[test]
    fn string_lists_accept_arrays_and_legacy_strings() {
        let want = json!(["user:John"]);
        assert_eq!(
            coerce(VarType::StringList, &json!(["user:John"])),
            Ok(want.clone())
        );
        assert_eq!(
            coerce(VarType::StringList, &json!("[\"user:John\"]")),
            Ok(want.clone())
        );
        assert_eq!(coerce(VarType::StringList, &json!("user:John")), Ok(want));
        assert_eq!(coerce(VarType::StringList, &Value::Null), Ok(json!([])));
        assert!(coerce(VarType::StringList, &json!({"a": 1})).is_err());
        assert!(coerce(VarType::StringList, &json!([1])).is_err());
        assert!(coerce(VarType::StringList, &json!(5)).is_err());
    }

    #[test]
    fn scalars_are_typed_per_declaration() {
        assert_eq!(coerce(VarType::String, &json!(5)), Ok(json!("5")));
        assert!(coerce(VarType::String, &json!({"x": 1})).is_err());
        assert!(coerce(VarType::String, &json!(["a"])).is_err());
        assert_eq!(coerce(VarType::Integer, &json!("7")), Ok(json!(7)));
        assert!(coerce(VarType::Integer, &json!("seven")).is_err());
        assert!(coerce(VarType::Integer, &json!(1.5)).is_err());
        assert!(coerce(VarType::Date, &json!("not a date")).is_err());
        assert!(coerce(VarType::Blob, &json!("data")).is_err());
        assert_eq!(coerce(VarType::Blob, &Value::Null), Ok(Value::Null));
    }
}
