//! Request bodies: workflow start and task completion, with Nuxeo's tolerance (clients
//! post back whole entities; unknown fields are ignored) and Nuxeo's entity-type checks.

use flowgate_core::{Completion, StartWorkflow, Variables};
use serde_json::{Map, Value};

use crate::error::ApiError;

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

fn variables(obj: &mut Map<String, Value>) -> Result<Variables, ApiError> {
    match obj.remove("variables") {
        None | Some(Value::Null) => Ok(Variables::new()),
        Some(Value::Object(m)) => Ok(m),
        Some(_) => Err(ApiError::bad_request(
            "Unable to deserialize property: variables must be a JSON object",
        )),
    }
}

fn doc_id(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
        Value::Object(o) => o
            .get("id")
            .or_else(|| o.get("uid"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    }
}

/// Parses a `POST /workflow` body. `document` (from `/id/{doc}/@workflow`) replaces any
/// attached documents in the body.
pub fn parse_start(body: &[u8], document: Option<String>) -> Result<StartWorkflow, ApiError> {
    let mut obj = entity_object(body, "workflow")?;
    let model = match obj.get("workflowModelName") {
        Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_owned(),
        None | Some(Value::Null) | Some(Value::String(_)) => {
            return Err(ApiError::bad_request(
                "workflowModelName is required to start a workflow",
            ))
        }
        Some(_) => {
            return Err(ApiError::bad_request(
                "Unable to deserialize property: workflowModelName must be a string",
            ))
        }
    };
    let documents = match document {
        Some(d) => vec![d],
        None => match obj.get("attachedDocumentIds") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => {
                let mut out = Vec::with_capacity(a.len());
                for item in a {
                    out.push(doc_id(item).ok_or_else(|| {
                        ApiError::bad_request(
                            "Unable to deserialize property: attachedDocumentIds entries must be ids or {\"id\":…} objects",
                        )
                    })?);
                }
                out
            }
            Some(v @ Value::String(_)) => doc_id(v).into_iter().collect(),
            Some(_) => {
                return Err(ApiError::bad_request(
                    "Unable to deserialize property: attachedDocumentIds must be a list",
                ))
            }
        },
    };
    let variables = variables(&mut obj)?;
    Ok(StartWorkflow {
        model,
        documents,
        variables,
    })
}

/// Parses a `PUT /task/{id}/{action}` body for task `path_id`.
pub fn parse_completion(body: &[u8], path_id: &str, action: &str) -> Result<Completion, ApiError> {
    let mut obj = entity_object(body, "task")?;
    if let Some(Value::String(id)) = obj.get("id") {
        if !id.is_empty() && id != path_id {
            return Err(ApiError::bad_request(format!(
                "Task id in the body ({id}) differs from the task id in the URL ({path_id})"
            )));
        }
    }
    let variables = variables(&mut obj)?;
    let top = match obj.get("comment") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return Err(ApiError::bad_request(
                "Unable to deserialize property: comment must be a string",
            ))
        }
    };
    let comment = top.filter(|c| !c.trim().is_empty()).or_else(|| {
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
