//! Webhook settings from the environment: `FLOWGATE__WEBHOOKS__<NAME>__<KEY>` reaches
//! the endpoint named `<NAME>` (or at position `<NAME>`) of the `[[webhooks]]` list,
//! which the config crate's own environment source cannot address.

use std::collections::HashMap;

use super::webhooks::ENV_PREFIX;

/// Splits the webhook variables (`FLOWGATE__WEBHOOKS__...`) from the others: the
/// config crate would read `FLOWGATE__WEBHOOKS__CRM__SECRET` as a table key `crm`,
/// which cannot address an entry of the `[[webhooks]]` list.
pub fn split_env(
    vars: HashMap<String, String>,
) -> (HashMap<String, String>, Vec<(String, String)>) {
    let mut rest = HashMap::new();
    let mut hooks = Vec::new();
    for (k, v) in vars {
        let upper = k.to_ascii_uppercase();
        match upper.strip_prefix(ENV_PREFIX) {
            Some(tail) if !tail.is_empty() => hooks.push((tail.to_owned(), v)),
            _ => {
                rest.insert(k, v);
            }
        }
    }
    hooks.sort();
    (rest, hooks)
}

/// Keys of an endpoint given as comma-separated lists in the environment.
const LIST_KEYS: &[&str] = &["events", "engines", "models"];

/// Applies webhook variables to the `webhooks` value of the loaded settings and
/// returns the new value (in the table form). `TAIL` is what follows
/// `FLOWGATE__WEBHOOKS__`: `<KEY>` (`STATE_DIR`, `NICENESS`) or `<NAME>__<KEY>`, where `NAME` is
/// an endpoint's name (case-insensitive, `_` matching `-`) or its position (from 0).
/// An endpoint must already be given by a file: the environment adds or replaces its
/// keys (typically the secret).
pub fn env_overrides(
    current: Option<config::Value>,
    vars: &[(String, String)],
) -> Result<config::Value, String> {
    use config::{Map, Value, ValueKind};
    let origin = Some("the environment".to_owned());
    let mut table: Map<String, Value> = Map::new();
    let mut endpoints: Vec<Value> = Vec::new();
    match current.map(|v| v.kind) {
        None | Some(ValueKind::Nil) => {}
        Some(ValueKind::Array(a)) => endpoints = a,
        Some(ValueKind::Table(mut t)) => {
            if let Some(v) = t.remove("endpoints") {
                endpoints = v
                    .into_array()
                    .map_err(|e| format!("invalid settings: webhooks.endpoints: {e}"))?;
            }
            table = t;
        }
        Some(_) => return Err("invalid settings: webhooks: must be [[webhooks]] tables".into()),
    }
    let name_of = |v: &Value| match &v.kind {
        ValueKind::Table(t) => t.get("name").and_then(|n| n.clone().into_string().ok()),
        _ => None,
    };
    let same = |a: &str, b: &str| {
        a.replace('-', "_")
            .eq_ignore_ascii_case(&b.replace('-', "_"))
    };
    for (tail, value) in vars {
        let var = format!("{ENV_PREFIX}{tail}");
        let parts: Vec<&str> = tail.split("__").collect();
        match parts.as_slice() {
            [key] => {
                table.insert(
                    key.to_ascii_lowercase(),
                    Value::new(origin.as_ref(), value.clone()),
                );
            }
            [who, key] => {
                let i = match who.parse::<usize>() {
                    Ok(i) if i < endpoints.len() => i,
                    _ => endpoints
                        .iter()
                        .position(|v| name_of(v).is_some_and(|n| same(&n, who)))
                        .ok_or_else(|| {
                            format!(
                                "invalid settings: {var}: no webhook endpoint named '{}' is configured \
                                 (give the endpoint with its name and url in the settings file)",
                                who.to_ascii_lowercase()
                            )
                        })?,
                };
                let key = key.to_ascii_lowercase();
                let v = if LIST_KEYS.contains(&key.as_str()) {
                    let items: Vec<Value> = value
                        .split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(|s| Value::new(origin.as_ref(), s.to_owned()))
                        .collect();
                    Value::new(origin.as_ref(), items)
                } else {
                    Value::new(origin.as_ref(), value.clone())
                };
                match &mut endpoints[i].kind {
                    ValueKind::Table(t) => {
                        t.insert(key, v);
                    }
                    _ => {
                        return Err(format!(
                            "invalid settings: {var}: webhook endpoint {i} is not a table"
                        ))
                    }
                }
            }
            _ => {
                return Err(format!(
                "invalid settings: {var}: expected {ENV_PREFIX}<KEY> or {ENV_PREFIX}<NAME>__<KEY>"
            ))
            }
        }
    }
    table.insert("endpoints".into(), Value::new(origin.as_ref(), endpoints));
    Ok(Value::new(origin.as_ref(), table))
}
