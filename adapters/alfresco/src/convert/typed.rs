//! Client values → the JSON type Alfresco expects for a variable, read from the
//! `dataType` of the form model element that declares it (start form or task form).
//!
//! Alfresco refuses a start or task variable whose JSON type does not match its model
//! type (`"priority":"1"` for a `d:int`), so values are converted before anything is
//! sent; one that cannot be converted is the client's error (400, naming the variable).

use flowgate_core::EngineError;
use serde_json::{Number, Value};

use super::{alf_group, alf_value, date, fmt_date, nuxeo_name, user_of};
use crate::wire;

/// Associations that hold several authorities although their form element, like a
/// single one's, only says `cm:person` / `cm:authorityContainer`.
const MULTI: &[&str] = &["bpm_assignees", "bpm_groupAssignees"];

/// The element of `form` declaring variable `alf_name`, if there is one.
pub(crate) fn form_element<'a>(
    form: &'a [wire::FormElement],
    alf_name: &str,
) -> Option<&'a wire::FormElement> {
    form.iter()
        .find(|e| !e.name.is_empty() && e.name == alf_name)
}

/// A client value for the variable `el` declares, as Alfresco takes it: typed by the
/// element's `dataType`, or, when the form does not say, with only the actor prefixes
/// mapped by the variable's name.
pub(crate) fn form_value(el: &wire::FormElement, value: &Value) -> Result<Value, EngineError> {
    match el.data_type.as_deref() {
        None | Some("") => Ok(alf_value(&el.name, value)),
        Some(_) => typed_value(el, value),
    }
}

/// `value` for variable `alf_name`, converted to the type `el` declares. `Null` stays
/// `Null` (the callers drop it). Lists are converted element by element; a single
/// value given for a multi-valued association becomes a one-element list, and a
/// one-element list given for a single-valued one becomes its element.
pub(crate) fn typed_value(el: &wire::FormElement, value: &Value) -> Result<Value, EngineError> {
    let name = el.name.as_str();
    let ty = el.data_type.as_deref().unwrap_or("d:any");
    let one = |v: &Value| scalar(name, ty, v);
    match value {
        Value::Null => Ok(Value::Null),
        Value::Array(items) if MULTI.contains(&name) || !is_authority(ty) => items
            .iter()
            .map(one)
            .collect::<Result<_, _>>()
            .map(Value::Array),
        Value::Array(items) => match items.as_slice() {
            [single] => one(single),
            [] => Ok(Value::Null),
            _ => Err(bad(name, ty, "takes a single value, not a list")),
        },
        v if MULTI.contains(&name) => Ok(Value::Array(vec![one(v)?])),
        v => one(v),
    }
}

fn is_authority(ty: &str) -> bool {
    matches!(ty, "cm:person" | "cm:authority" | "cm:authorityContainer")
}

fn bad(name: &str, ty: &str, why: &str) -> EngineError {
    EngineError::bad_request(format!("variable '{}' ({ty}) {why}", nuxeo_name(name)))
}

/// One value of type `ty`.
fn scalar(name: &str, ty: &str, v: &Value) -> Result<Value, EngineError> {
    let not = |what: &str| bad(name, ty, &format!("must be {what}, got {}", shown(v)));
    match ty {
        "d:int" | "d:long" => {
            let n = integer(v).ok_or_else(|| not("an integer"))?;
            if ty == "d:int" && i32::try_from(n).is_err() {
                return Err(not("a 32-bit integer"));
            }
            Ok(Value::from(n))
        }
        "d:float" | "d:double" => {
            let f = match v {
                Value::Number(n) => n.as_f64(),
                Value::String(s) => s.trim().parse::<f64>().ok(),
                _ => None,
            };
            f.and_then(Number::from_f64)
                .map(|n| match n.as_f64() {
                    // Whole numbers are sent as integers, as clients write them.
                    Some(x) if x.fract() == 0.0 && x.abs() < 9.0e15 => Value::from(x as i64),
                    _ => Value::Number(n),
                })
                .ok_or_else(|| not("a number"))
        }
        "d:boolean" => match v {
            Value::Bool(b) => Ok(Value::Bool(*b)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
            Value::String(s) if s.trim().eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
            _ => Err(not("true or false")),
        },
        "d:date" | "d:datetime" => {
            let d = match v {
                Value::String(s) => date(s),
                Value::Number(n) => n.as_i64().and_then(chrono::DateTime::from_timestamp_millis),
                _ => None,
            };
            d.map(|d| Value::String(fmt_date(d)))
                .ok_or_else(|| not("a date (ISO 8601 or epoch milliseconds)"))
        }
        "cm:person" => {
            let s = v.as_str().map(str::trim).filter(|s| !s.is_empty());
            match s {
                Some(s) if s.starts_with("group:") || s.starts_with("GROUP_") => {
                    Err(not("a user, not a group"))
                }
                Some(s) => Ok(Value::String(user_of(s).unwrap_or(s).to_owned())),
                None => Err(not("a user name")),
            }
        }
        "cm:authorityContainer" => match v.as_str().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) if s.starts_with("user:") => Err(not("a group, not a user")),
            Some(s) => Ok(Value::String(alf_group(s))),
            None => Err(not("a group name")),
        },
        "cm:authority" => match v.as_str().map(str::trim).filter(|s| !s.is_empty()) {
            Some(s) if s.starts_with("group:") => Ok(Value::String(alf_group(s))),
            Some(s) => Ok(Value::String(user_of(s).unwrap_or(s).to_owned())),
            None => Err(not("a user or group name")),
        },
        "d:text" | "d:mltext" => match v {
            Value::String(_) => Ok(v.clone()),
            Value::Number(_) | Value::Bool(_) => Ok(Value::String(v.to_string())),
            _ => Err(not("text")),
        },
        // d:any, d:noderef, d:qname, content-model types flowgate does not know: as given.
        _ => Ok(v.clone()),
    }
}

/// An integer from a JSON integer, a whole float or decimal text.
fn integer(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.fract() == 0.0 && f.abs() < 9.0e15)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse::<i64>().ok(),
        _ => None,
    }
}

/// A short rendering of a client value for an error message.
fn shown(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 40 {
        format!("{}…", s.chars().take(40).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowgate_core::ErrorKind;
    use serde_json::json;

    fn el(name: &str, ty: &str) -> wire::FormElement {
        wire::FormElement {
            name: name.into(),
            data_type: Some(ty.into()),
            ..Default::default()
        }
    }

    fn ok(name: &str, ty: &str, v: Value) -> Value {
        typed_value(&el(name, ty), &v).unwrap_or_else(|e| panic!("{name} {ty} {v}: {e:?}"))
    }

    fn refused(name: &str, ty: &str, v: Value) -> String {
        let e = typed_value(&el(name, ty), &v).expect_err("refused");
        assert_eq!(e.kind(), ErrorKind::BadRequest);
        e.message()
    }

    #[test]
    fn numbers_and_flags_given_as_text_get_their_model_type() {
        assert_eq!(ok("bpm_workflowPriority", "d:int", json!("1")), json!(1));
        assert_eq!(ok("bpm_workflowPriority", "d:int", json!(2)), json!(2));
        assert_eq!(ok("bpm_workflowPriority", "d:int", json!(3.0)), json!(3));
        assert_eq!(
            ok("x", "d:long", json!(" 9000000000 ")),
            json!(9_000_000_000i64)
        );
        assert_eq!(ok("x", "d:double", json!("2.5")), json!(2.5));
        assert_eq!(ok("x", "d:float", json!(4)), json!(4));
        assert_eq!(
            ok("bpm_sendEMailNotifications", "d:boolean", json!("true")),
            json!(true)
        );
        assert_eq!(ok("wf_notifyMe", "d:boolean", json!("False")), json!(false));
        assert_eq!(ok("x", "d:text", json!(12)), json!("12"));
        assert_eq!(ok("x", "d:noderef", json!({"a": 1})), json!({"a": 1}));
    }

    #[test]
    fn dates_are_sent_in_alfresco_form() {
        let want = json!("2024-05-02T09:14:03.000+0000");
        assert_eq!(ok("d", "d:date", json!("2024-05-02T09:14:03Z")), want);
        assert_eq!(
            ok("d", "d:datetime", json!("2024-05-02T11:14:03+02:00")),
            want
        );
        assert_eq!(ok("d", "d:datetime", json!(1_714_641_243_000i64)), want);
        assert_eq!(
            ok("d", "d:date", json!("2024-05-02")),
            json!("2024-05-02T00:00:00.000+0000")
        );
    }

    #[test]
    fn authorities_lose_or_gain_their_prefixes_and_lists_follow_the_association() {
        assert_eq!(
            ok("bpm_assignee", "cm:person", json!("user:jdoe")),
            json!("jdoe")
        );
        assert_eq!(
            ok("bpm_assignee", "cm:person", json!(["jdoe"])),
            json!("jdoe")
        );
        assert_eq!(
            ok("bpm_assignees", "cm:person", json!(["user:a", "b"])),
            json!(["a", "b"])
        );
        assert_eq!(ok("bpm_assignees", "cm:person", json!("a")), json!(["a"]));
        assert_eq!(
            ok(
                "bpm_groupAssignee",
                "cm:authorityContainer",
                json!("group:rev")
            ),
            json!("GROUP_rev")
        );
        assert_eq!(
            ok("x", "cm:authority", json!("group:rev")),
            json!("GROUP_rev")
        );
        assert_eq!(ok("x", "cm:authority", json!("user:bob")), json!("bob"));
        assert_eq!(ok("x", "d:int", json!(["1", 2])), json!([1, 2]));
        assert_eq!(ok("x", "d:int", Value::Null), Value::Null);
    }

    #[test]
    fn values_that_cannot_be_converted_are_refused_naming_the_variable() {
        let m = refused("bpm_workflowPriority", "d:int", json!("high"));
        assert!(m.contains("'priority'") && m.contains("d:int"), "{m}");
        assert!(refused("x", "d:int", json!(1.5)).contains("'x'"));
        assert!(refused("x", "d:int", json!(3_000_000_000i64)).contains("32-bit"));
        assert!(refused("x", "d:int", json!(true)).contains("integer"));
        let m = refused("bpm_sendEMailNotifications", "d:boolean", json!("yes"));
        assert!(m.contains("'sendEmailNotifications'"), "{m}");
        assert!(refused("x", "d:double", json!("NaN-ish")).contains("number"));
        assert!(refused("d", "d:date", json!("next week")).contains("date"));
        assert!(refused("bpm_assignee", "cm:person", json!("group:x")).contains("'assignee'"));
        assert!(refused("bpm_assignee", "cm:person", json!(["a", "b"])).contains("single"));
        assert!(refused("bpm_groupAssignee", "cm:authorityContainer", json!(7)).contains("group"));
        assert!(refused("x", "d:text", json!({"a": 1})).contains("text"));
    }
}
