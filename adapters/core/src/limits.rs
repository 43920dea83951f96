//! Bounds on what one request may ask of an engine.

use serde::Deserialize;
use serde_json::Value;

use crate::{EngineError, Result, Variables};

/// Size limits, from the `[limits]` settings. Each bound is checked before anything
/// changes; going past one is a 400 (or 413 for sizes) naming the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Limits {
    /// Actors plus delegated actors of one task (after a reassignment or delegation).
    pub max_actors_per_task: usize,
    /// Actors named by one reassign or delegate request, and entries of one list
    /// variable (such as `participants`) in a start or completion.
    pub max_actors_per_request: usize,
    /// Variables in one start or completion body.
    pub max_variables_per_request: usize,
    /// Size of one variable value, as JSON text, in bytes.
    pub max_variable_bytes: usize,
    /// Tasks one engine step (a start or a completion) may create.
    pub max_tasks_per_step: usize,
    /// Entries of one list answer; longer results are paged.
    pub max_page_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_actors_per_task: 100,
            max_actors_per_request: 100,
            max_variables_per_request: 100,
            max_variable_bytes: 64 * 1024,
            max_tasks_per_step: 100,
            max_page_size: 1000,
        }
    }
}

/// At most `max` characters of a client-supplied value, for error messages: long input
/// is cut and marked with `…` so that an answer never echoes a whole request.
pub fn shown(value: &str) -> String {
    const MAX: usize = 64;
    match value.char_indices().nth(MAX) {
        None => value.to_owned(),
        Some((cut, _)) => format!("{}…", &value[..cut]),
    }
}

impl Limits {
    /// Checks the variables of a start or completion.
    pub fn check_variables(&self, vars: &Variables) -> Result<()> {
        if vars.len() > self.max_variables_per_request {
            return Err(EngineError::bad_request(format!(
                "Too many variables: {} given, at most {} allowed (limits.max_variables_per_request)",
                vars.len(),
                self.max_variables_per_request
            )));
        }
        for (name, value) in vars {
            let size = serde_json::to_string(value).map_or(usize::MAX, |s| s.len());
            if size > self.max_variable_bytes {
                return Err(EngineError::bad_request(format!(
                    "Variable '{}' is {size} bytes long; at most {} allowed (limits.max_variable_bytes)",
                    shown(name),
                    self.max_variable_bytes
                )));
            }
            let entries = list_entries(value);
            if entries > self.max_actors_per_request {
                return Err(EngineError::bad_request(format!(
                    "Variable '{}' lists {entries} entries; at most {} allowed (limits.max_actors_per_request)",
                    shown(name),
                    self.max_actors_per_request
                )));
            }
        }
        Ok(())
    }

    /// Checks the actors named by one reassign or delegate request.
    pub fn check_request_actors(&self, actors: &[String]) -> Result<()> {
        if actors.len() > self.max_actors_per_request {
            return Err(EngineError::bad_request(format!(
                "Too many actors: {} given, at most {} allowed (limits.max_actors_per_request)",
                actors.len(),
                self.max_actors_per_request
            )));
        }
        Ok(())
    }

    /// Checks the actors and delegates one task would hold.
    pub fn check_task_actors(&self, count: usize) -> Result<()> {
        if count > self.max_actors_per_task {
            return Err(EngineError::bad_request(format!(
                "A task may have at most {} actors and delegates; this one would have {count} (limits.max_actors_per_task)",
                self.max_actors_per_task
            )));
        }
        Ok(())
    }

    /// Checks the number of tasks one step would create.
    pub fn check_new_tasks(&self, count: usize) -> Result<()> {
        if count > self.max_tasks_per_step {
            return Err(EngineError::bad_request(format!(
                "This step would create {count} tasks; at most {} allowed (limits.max_tasks_per_step)",
                self.max_tasks_per_step
            )));
        }
        Ok(())
    }
}

/// Entries of a list value: a JSON array, or a string holding one (the Nuxeo clients
/// send `participants` both ways).
fn list_entries(value: &Value) -> usize {
    match value {
        Value::Array(a) => a.len(),
        Value::String(s) if s.trim_start().starts_with('[') => {
            serde_json::from_str::<Vec<Value>>(s).map_or(0, |a| a.len())
        }
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars(v: Value) -> Variables {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn lists_are_counted_in_both_spellings_at_the_bound_and_past_it() {
        let l = Limits {
            max_actors_per_request: 2,
            ..Limits::default()
        };
        assert!(l
            .check_variables(&vars(json!({"participants": ["a", "b"]})))
            .is_ok());
        assert!(l
            .check_variables(&vars(json!({"participants": ["a", "b", "c"]})))
            .is_err());
        assert!(l
            .check_variables(&vars(json!({"participants": "[\"a\",\"b\"]"})))
            .is_ok());
        let e = l
            .check_variables(&vars(json!({"participants": "[\"a\",\"b\",\"c\"]"})))
            .unwrap_err();
        assert!(e.to_string().contains("max_actors_per_request"), "{e}");
    }

    #[test]
    fn variable_count_and_size_are_bounded() {
        let l = Limits {
            max_variables_per_request: 1,
            max_variable_bytes: 10,
            ..Limits::default()
        };
        assert!(l.check_variables(&vars(json!({"a": "12345678"}))).is_ok());
        assert!(l.check_variables(&vars(json!({"a": "123456789"}))).is_err());
        assert!(l.check_variables(&vars(json!({"a": 1, "b": 2}))).is_err());
    }

    #[test]
    fn shown_cuts_long_values() {
        assert_eq!(shown("abc"), "abc");
        let long = "x".repeat(10_000);
        let s = shown(&long);
        assert!(s.len() < 80 && s.ends_with('…'));
        assert_eq!(shown(&"é".repeat(64)), "é".repeat(64));
    }
}
