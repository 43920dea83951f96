//! Alfresco wire data → the neutral model, and the name mappings between Nuxeo-style
//! variables and Alfresco ones. Fields the definition leaves optional have fallbacks
//! here; dates that cannot be read are left empty.

mod dates;
mod graph;
mod tasks;
mod typed;
mod vars;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use flowgate_core::{
    EngineError, VarType, VariableDef, WorkflowInstance, WorkflowModel, WorkflowState,
};
use serde_json::Value;

use crate::wire;

pub(crate) use dates::{date, fmt_date, opt_date};
pub(crate) use graph::{builtin_graph, graph_from_activities, mark_graph};
pub(crate) use tasks::{
    is_delegated, outcome, task, TaskForm, TaskParts, TaskVars, DEFAULT_ACTION,
};
pub(crate) use typed::{form_element, form_value};
pub(crate) use vars::{
    alf_name, alf_value, comment_log, comment_log_with, nuxeo_name, shown_variables,
};
use vars::{var_type, INTERNAL};

/// Shown for a date Alfresco did not send or sent unreadable where the neutral model
/// has no empty value (the creation date of a task or instance).
const UNKNOWN_DATE: DateTime<Utc> = DateTime::<Utc>::UNIX_EPOCH;

// ---------- ids ----------

const ENCODED: &str = "~";

/// A native Alfresco id as a path-safe flowgate id. Ids made of safe characters stay as
/// they are (Alfresco's are decimal); anything else is base64url-encoded behind `~`.
pub(crate) fn to_flowgate_id(native: &str) -> String {
    let safe = !native.is_empty()
        && !native.starts_with(ENCODED)
        && native
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && native != "."
        && native != "..";
    if safe {
        native.to_owned()
    } else {
        format!(
            "{ENCODED}{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(native)
        )
    }
}

/// The native id behind a flowgate id; refuses anything that could not be an Alfresco
/// id so that nothing odd ever reaches an upstream URL.
pub(crate) fn to_native_id(id: &str) -> Result<String, EngineError> {
    let bad = || EngineError::bad_request(format!("'{}' is not a valid Alfresco id", short(id)));
    let native = match id.strip_prefix(ENCODED) {
        Some(b64) => {
            let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(b64)
                .map_err(|_| bad())?;
            String::from_utf8(raw).map_err(|_| bad())?
        }
        None => id.to_owned(),
    };
    let native = native
        .strip_prefix("activiti$")
        .unwrap_or(&native)
        .to_owned();
    let ok = !native.is_empty()
        && native.len() <= 255
        && native != "."
        && native != ".."
        && native
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'));
    if ok {
        Ok(native)
    } else {
        Err(bad())
    }
}

/// A document id or node reference → bare node uuid (only the live store is accepted).
pub(crate) fn node_uuid(doc: &str) -> Result<String, EngineError> {
    let bare = match doc.strip_prefix("workspace://SpacesStore/") {
        Some(rest) => rest,
        None if doc.contains("://") => {
            return Err(EngineError::bad_request(
                "only documents of workspace://SpacesStore can be used",
            ))
        }
        None => doc,
    };
    let ok = !bare.is_empty()
        && bare.len() <= 64
        && bare.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(bare.to_owned())
    } else {
        Err(EngineError::bad_request(format!(
            "'{}' is not a valid Alfresco document id",
            short(doc)
        )))
    }
}

fn short(s: &str) -> String {
    s.chars()
        .take(64)
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

// ---------- principals ----------

/// A flowgate group name as an Alfresco authority (`reviewers` → `GROUP_reviewers`).
pub(crate) fn alf_group(g: &str) -> String {
    let g = g.strip_prefix("group:").unwrap_or(g);
    if g.starts_with("GROUP_") {
        g.to_owned()
    } else {
        format!("GROUP_{g}")
    }
}

/// An Alfresco group authority as a flowgate actor (`GROUP_reviewers` → `group:reviewers`).
pub(crate) fn group_actor(g: &str) -> String {
    format!("group:{}", g.strip_prefix("GROUP_").unwrap_or(g))
}

/// A flowgate actor naming one user, bare.
pub(crate) fn user_of(actor: &str) -> Option<&str> {
    if actor.starts_with("group:") || actor.is_empty() {
        return None;
    }
    Some(actor.strip_prefix("user:").unwrap_or(actor))
}

// ---------- business key: who started a process through the gateway ----------

const BK_PREFIX: &str = "flowgate:";

/// `flowgate:<uuid>.<key>:<user>`: carries the gateway user who started a process,
/// because with a service account Alfresco records the service account as starter, and
/// the definition key, which a process answer need not carry (`processDefinitionId` is
/// optional in the definition). Older keys read `flowgate:<uuid>:<user>`.
pub(crate) fn business_key(key: &str, user: &str) -> String {
    let uuid = uuid::Uuid::new_v4().simple();
    if key.is_empty() || key.contains(':') {
        format!("{BK_PREFIX}{uuid}:{user}")
    } else {
        format!("{BK_PREFIX}{uuid}.{key}:{user}")
    }
}

/// The gateway user recorded in a business key.
pub(crate) fn initiator_of(business_key: Option<&str>) -> Option<String> {
    let rest = business_key?.strip_prefix(BK_PREFIX)?;
    let (_, user) = rest.split_once(':')?;
    (!user.is_empty()).then(|| user.to_owned())
}

/// The definition key recorded in a business key.
pub(crate) fn model_key_of(business_key: Option<&str>) -> Option<String> {
    let rest = business_key?.strip_prefix(BK_PREFIX)?;
    let (head, _) = rest.split_once(':')?;
    let (_, key) = head.split_once('.')?;
    (!key.is_empty()).then(|| key.to_owned())
}

// ---------- models ----------

/// A model from its latest definition and its start form.
pub(crate) fn model(d: &wire::ProcessDefinition, form: &[wire::FormElement]) -> WorkflowModel {
    let variables = form
        .iter()
        .filter(|e| !e.name.is_empty() && !INTERNAL.contains(&e.name.as_str()))
        .filter(|e| !matches!(e.name.as_str(), "bpm_status" | "bpm_comment"))
        .map(|e| {
            let ty = var_type(e.data_type.as_deref(), &e.name);
            let default = match (&e.default_value, ty) {
                (None, VarType::StringList) => Value::Array(Vec::new()),
                (None, _) => Value::Null,
                (Some(d), VarType::Integer) => {
                    d.parse::<i64>().map(Value::from).unwrap_or(Value::Null)
                }
                (Some(d), VarType::Boolean) => Value::Bool(d == "true"),
                (Some(d), _) => Value::String(d.clone()),
            };
            VariableDef {
                name: nuxeo_name(&e.name).to_owned(),
                ty,
                default,
            }
        })
        .collect();
    let key = d.key().to_owned();
    WorkflowModel {
        id: to_flowgate_id(&key),
        title: d
            .title
            .clone()
            .or_else(|| d.name.clone())
            .unwrap_or_else(|| key.clone()),
        name: key,
        variables,
    }
}

// ---------- instances ----------

/// What a task or instance conversion needs to know about a process.
#[derive(Clone, Debug)]
pub(crate) struct ProcessInfo {
    pub id: String,
    pub key: String,
    pub title: String,
    pub state: WorkflowState,
    pub initiator: Option<String>,
    pub created: DateTime<Utc>,
    pub ended: Option<DateTime<Utc>>,
}

impl ProcessInfo {
    /// Reads a process entity; `title` is the definition's title.
    pub(crate) fn new(p: &wire::Process, title: Option<String>) -> Result<Self, EngineError> {
        let key = p
            .process_definition_key
            .clone()
            .or_else(|| {
                p.process_definition_id
                    .as_deref()
                    .map(|d| wire::key_of_definition_id(d).to_owned())
            })
            .or_else(|| model_key_of(p.business_key.as_deref()))
            .unwrap_or_default();
        let state = match (&p.ended_at, &p.delete_reason) {
            (None, _) => WorkflowState::Running,
            (Some(_), Some(_)) => WorkflowState::Canceled,
            (Some(_), None) => WorkflowState::Done,
        };
        Ok(Self {
            id: to_flowgate_id(&p.id),
            title: title.unwrap_or_else(|| key.clone()),
            key,
            state,
            initiator: initiator_of(p.business_key.as_deref()).or_else(|| p.start_user_id.clone()),
            created: opt_date(p.started_at.as_deref()).unwrap_or(UNKNOWN_DATE),
            ended: opt_date(p.ended_at.as_deref()),
        })
    }
}

/// A workflow instance from its process, items and variables.
pub(crate) fn instance(
    p: &ProcessInfo,
    items: &[wire::Item],
    vars: &[wire::Variable],
) -> WorkflowInstance {
    WorkflowInstance {
        id: p.id.clone(),
        name: p.key.clone(),
        title: p.title.clone(),
        state: p.state,
        model_name: p.key.clone(),
        initiator: p.initiator.clone(),
        attached_documents: items.iter().filter_map(|i| i.id.clone()).collect(),
        variables: shown_variables(vars),
        created: p.created,
        ended: p.ended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_stay_path_safe() {
        for native in [
            "1021",
            "activitiReview:1:8",
            "a/b",
            "..",
            "~x",
            "weird id\r\n",
        ] {
            let fg = to_flowgate_id(native);
            assert!(
                fg.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.~".contains(&b)),
                "{fg}"
            );
            assert_ne!(fg, "..");
            let back = to_native_id(&fg);
            if native
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b":-_.".contains(&b))
                && native != ".."
            {
                assert_eq!(back.unwrap(), native);
            } else {
                assert!(back.is_err(), "{native} must not reach a URL");
            }
        }
        assert_eq!(to_native_id("activiti$1021").unwrap(), "1021");
        assert!(to_native_id("../../etc").is_err());
        assert!(to_native_id("1%2F2").is_err());
        assert!(to_native_id("http://evil/").is_err());
    }

    #[test]
    fn node_refs_are_reduced_to_uuids_and_other_stores_refused() {
        assert_eq!(node_uuid("workspace://SpacesStore/abc-1").unwrap(), "abc-1");
        assert!(node_uuid("archive://SpacesStore/abc").is_err());
        assert!(node_uuid("a/../b").is_err());
    }

    #[test]
    fn business_key_carries_the_initiator() {
        let bk = business_key("activitiReview", "jdoe");
        assert_eq!(initiator_of(Some(&bk)).as_deref(), Some("jdoe"));
        assert_eq!(model_key_of(Some(&bk)).as_deref(), Some("activitiReview"));
        let old = "flowgate:0123abcd:jdoe";
        assert_eq!(initiator_of(Some(old)).as_deref(), Some("jdoe"));
        assert_eq!(model_key_of(Some(old)), None);
        assert_eq!(initiator_of(Some("other")), None);
    }
}
