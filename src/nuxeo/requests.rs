//! Request bodies: workflow start and task completion, with Nuxeo's tolerance (clients
//! post back whole entities; unknown fields are ignored) and Nuxeo's entity-type checks.

use flowgate_core::{Completion, StartWorkflow, Variables};
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::ApiError;

/// Whether `c` is white space as JSON Schema patterns (ECMAScript's `\s`) see it, so
/// that a value the description's `\S` pattern accepts is never blank here.
pub fn is_space(c: char) -> bool {
    matches!(
        c,
        '\t' | '\n' | '\u{b}' | '\u{c}' | '\r' | ' ' | '\u{a0}' | '\u{1680}' | '\u{2000}'
            ..='\u{200a}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202f}'
                | '\u{205f}'
                | '\u{3000}'
                | '\u{feff}'
    )
}

/// `s` without leading and trailing [`is_space`] characters.
pub fn trimmed(s: &str) -> &str {
    s.trim_matches(is_space)
}

/// Parses a JSON object and checks its `entity-type`.
fn entity_object(body: &[u8], expected: &str) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(format!(
            "Request body is empty: a JSON object with entity-type '{expected}' is required"
        )));
    }
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("Malformed JSON body: {e}")))?;
    let Value::Object(obj) = v else {
        return Err(ApiError::bad_request(
            "Json object does not contain an entity-type field as expected",
        ));
    };
    match obj.get("entity-type") {
        None | Some(Value::Null) => Err(ApiError::bad_request(
            "Json object does not contain an entity-type field as expected",
        )),
        Some(Value::String(t)) if t == expected => Ok(obj),
        Some(other) => {
            let shown = other
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| other.to_string());
            Err(ApiError::bad_request(format!(
                "Json object entity-type is wrong. Expected is {expected} but was {shown}"
            )))
        }
    }
}

/// Body of `POST /workflow` and `POST …/@workflow`. Unknown fields are ignored, so a
/// whole `workflow` entity (a model, as the Java client sends) is accepted too.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "entity-type": "workflow",
    "workflowModelName": "SerialDocumentReview",
    "attachedDocumentIds": ["doc-1"]
}))]
pub struct WorkflowRequest {
    /// Must be `workflow` (checked before the rest is read, with Nuxeo's messages).
    #[allow(dead_code)]
    #[serde(rename = "entity-type")]
    #[schema(value_type = super::schema::WorkflowType, inline)]
    entity_type: String,
    /// Model to start.
    #[serde(rename = "workflowModelName")]
    #[schema(min_length = 1, pattern = r"\S", example = "SerialDocumentReview")]
    workflow_model_name: String,
    /// Documents to attach (replaced by the document of the URL on `…/@workflow`).
    #[serde(rename = "attachedDocumentIds", default)]
    attached_document_ids: Option<DocumentIds>,
    /// Initial workflow variables.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    variables: Option<Variables>,
}

/// Attached documents: a list of ids or `{"id": …}` objects, or a single id.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DocumentIds {
    /// Several documents.
    Many(Vec<DocumentId>),
    /// One document id (none when blank).
    One(String),
}

/// A document: its id, or an object carrying it (a whole `document` entity will do).
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DocumentId {
    /// The id (skipped when blank).
    Id(String),
    /// `{"id": …}`.
    Object(DocumentObject),
}

/// `{"id": …}` (`uid` is read when `id` is absent).
#[derive(Deserialize, ToSchema)]
pub struct DocumentObject {
    /// Document id.
    #[schema(value_type = String, required = true, min_length = 1, pattern = r"\S")]
    id: Option<String>,
    /// Document id, when `id` is absent.
    #[schema(ignore)]
    uid: Option<String>,
}

impl DocumentId {
    /// The id; `Ok(None)` for a blank string, an error for an object without one.
    fn into_id(self) -> Result<Option<String>, ApiError> {
        let id = match self {
            Self::Id(s) => return Ok(Some(trimmed(&s).to_owned()).filter(|s| !s.is_empty())),
            Self::Object(o) => o.id.or(o.uid).unwrap_or_default(),
        };
        let id = trimmed(&id);
        if id.is_empty() {
            return Err(ApiError::bad_request(
                "Unable to deserialize property: attachedDocumentIds entries must be ids or {\"id\":…} objects",
            ));
        }
        Ok(Some(id.to_owned()))
    }
}

/// Body of a task completion. Unknown fields are ignored, so the whole `task` entity as
/// received may be sent back.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({
    "entity-type": "task",
    "comment": "Looks good",
    "variables": {"comment": "Looks good"}
}))]
pub struct TaskCompletionRequest {
    /// Must be `task` (checked before the rest is read, with Nuxeo's messages).
    #[allow(dead_code)]
    #[serde(rename = "entity-type")]
    #[schema(value_type = super::schema::TaskType, inline)]
    entity_type: String,
    /// When present and not empty, must equal the task id of the URL.
    #[serde(default)]
    id: Option<String>,
    /// Comment recorded with the completion (`variables.comment` is used when blank).
    #[serde(default)]
    comment: Option<String>,
    /// Task and workflow variables to set (`participants`, `validationOrReview`, …).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    variables: Option<Variables>,
}

/// Reads the checked object into its typed form.
fn typed<T: DeserializeOwned>(obj: Map<String, Value>) -> Result<T, ApiError> {
    serde_json::from_value(Value::Object(obj)).map_err(|e| {
        ApiError::bad_request(format!(
            "Unable to deserialize property: {}",
            flowgate_core::shown(&e.to_string())
        ))
    })
}

/// Parses a `POST /workflow` body. `document` (from `/id/{doc}/@workflow`) replaces any
/// attached documents in the body.
pub fn parse_start(body: &[u8], document: Option<String>) -> Result<StartWorkflow, ApiError> {
    let obj = entity_object(body, "workflow")?;
    if matches!(obj.get("workflowModelName"), None | Some(Value::Null)) {
        return Err(ApiError::bad_request(
            "workflowModelName is required to start a workflow",
        ));
    }
    let req: WorkflowRequest = typed(obj)?;
    let model = trimmed(&req.workflow_model_name);
    if model.is_empty() {
        return Err(ApiError::bad_request(
            "workflowModelName is required to start a workflow",
        ));
    }
    // The body's documents are checked even when the URL's document replaces them.
    let attached = match req.attached_document_ids {
        None => Vec::new(),
        Some(DocumentIds::One(id)) => {
            let id = trimmed(&id);
            if id.is_empty() {
                Vec::new()
            } else {
                vec![id.to_owned()]
            }
        }
        Some(DocumentIds::Many(list)) => {
            let mut ids = Vec::with_capacity(list.len());
            for d in list {
                ids.extend(d.into_id()?);
            }
            ids
        }
    };
    let documents = match document {
        Some(d) => vec![d],
        None => attached,
    };
    Ok(StartWorkflow {
        model: model.to_owned(),
        documents,
        variables: req.variables.unwrap_or_default(),
    })
}

/// Parses a `PUT /task/{id}/{action}` body for task `path_id`.
pub fn parse_completion(body: &[u8], path_id: &str, action: &str) -> Result<Completion, ApiError> {
    let req: TaskCompletionRequest = typed(entity_object(body, "task")?)?;
    if let Some(id) = &req.id {
        if !id.is_empty() && id != path_id {
            return Err(ApiError::bad_request(format!(
                "Task id in the body ({}) differs from the task id in the URL ({})",
                flowgate_core::shown(id),
                flowgate_core::shown(path_id)
            )));
        }
    }
    let variables = req.variables.unwrap_or_default();
    let comment = req.comment.filter(|c| !c.trim().is_empty()).or_else(|| {
        variables
            .get("comment")
            .and_then(Value::as_str)
            .filter(|c| !c.trim().is_empty())
            .map(str::to_owned)
    });
    Ok(Completion {
        action: action.to_owned(),
        comment,
        variables,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_accepts_every_document_spelling() {
        let s = parse_start(
            br#"{"entity-type":"workflow","workflowModelName":"M","attachedDocumentIds":["a",{"id":"b"},{"uid":"c"}],"state":"validated"}"#,
            None,
        )
        .unwrap();
        assert_eq!(s.documents, vec!["a", "b", "c"]);
        let s = parse_start(
            br#"{"entity-type":"workflow","workflowModelName":"M","attachedDocumentIds":"a"}"#,
            None,
        )
        .unwrap();
        assert_eq!(s.documents, vec!["a"]);
        let s = parse_start(
            br#"{"entity-type":"workflow","workflowModelName":"M","attachedDocumentIds":["a"]}"#,
            Some("url".into()),
        )
        .unwrap();
        assert_eq!(s.documents, vec!["url"]);
    }

    #[test]
    fn entity_type_is_required_and_checked() {
        let e = parse_start(br#"{"workflowModelName":"M"}"#, None).unwrap_err();
        assert!(e.message().contains("does not contain an entity-type"));
        let e =
            parse_start(br#"{"entity-type":"task","workflowModelName":"M"}"#, None).unwrap_err();
        assert_eq!(
            e.message(),
            "Json object entity-type is wrong. Expected is workflow but was task"
        );
        assert!(parse_start(b"[1]", None).is_err());
        assert!(parse_start(b"{", None).is_err());
        assert!(parse_start(b"", None).is_err());
        assert!(parse_start(br#"{"entity-type":"workflow"}"#, None).is_err());
    }

    #[test]
    fn completion_takes_comment_from_variables_when_blank() {
        let c = parse_completion(
            br#"{"entity-type":"task","id":"t","comment":"","variables":{"comment":"hi","x":1},"taskInfo":{}}"#,
            "t",
            "approve",
        )
        .unwrap();
        assert_eq!(c.comment.as_deref(), Some("hi"));
        assert_eq!(c.variables.len(), 2);
        let c = parse_completion(br#"{"entity-type":"task"}"#, "t", "a").unwrap();
        assert!(c.comment.is_none());
        assert!(parse_completion(br#"{"entity-type":"task","id":"other"}"#, "t", "a").is_err());
        assert!(parse_completion(br#"{"entity-type":"task","variables":[]}"#, "t", "a").is_err());
    }
}
