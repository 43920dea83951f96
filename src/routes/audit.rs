//! The `@audit` document adapter: the workflow events of a document in the shape of
//! Nuxeo's audit (`logEntries` of `logEntry`, category `Routing`).

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use flowgate_core::{DocLocator, Event, EventKind, EventQuery, PageRequest, ROUTING_CATEGORY};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{json_fanned, resource, Api, Seg};
use crate::error::{ApiError, ExceptionBody};
use crate::nuxeo::Pagination;

/// Default page size of `@audit`.
const DEFAULT_PAGE_SIZE: usize = 50;

/// Registers `/id/{doc}/@audit` and `/path/{doc}/@audit`; must come before the document
/// scopes, which would otherwise take these paths.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/id/{doc}/@audit").get(audit_by_id))
        .service(resource("/path/{doc:.*}/@audit").get(audit_by_path));
}

/// Nuxeo's routing event ids.
#[derive(Deserialize, ToSchema, Clone, Copy)]
pub enum AuditEventId {
    /// A workflow was started.
    #[serde(rename = "afterWorkflowStarted")]
    AfterWorkflowStarted,
    /// A workflow reached its end.
    #[serde(rename = "afterWorkflowFinish")]
    AfterWorkflowFinish,
    /// A workflow was canceled.
    #[serde(rename = "beforeWorkflowCanceled")]
    BeforeWorkflowCanceled,
    /// A task was created.
    #[serde(rename = "afterWorkflowTaskCreated")]
    AfterWorkflowTaskCreated,
    /// A task was completed.
    #[serde(rename = "afterWorkflowTaskEnded")]
    AfterWorkflowTaskEnded,
    /// A task was reassigned.
    #[serde(rename = "afterWorkflowTaskReassigned")]
    AfterWorkflowTaskReassigned,
    /// A task was delegated.
    #[serde(rename = "afterWorkflowTaskDelegated")]
    AfterWorkflowTaskDelegated,
}

impl From<AuditEventId> for EventKind {
    fn from(e: AuditEventId) -> Self {
        match e {
            AuditEventId::AfterWorkflowStarted => EventKind::WorkflowStarted,
            AuditEventId::AfterWorkflowFinish => EventKind::WorkflowFinished,
            AuditEventId::BeforeWorkflowCanceled => EventKind::WorkflowCanceled,
            AuditEventId::AfterWorkflowTaskCreated => EventKind::TaskCreated,
            AuditEventId::AfterWorkflowTaskEnded => EventKind::TaskEnded,
            AuditEventId::AfterWorkflowTaskReassigned => EventKind::TaskReassigned,
            AuditEventId::AfterWorkflowTaskDelegated => EventKind::TaskDelegated,
        }
    }
}

/// Filters and paging of `@audit`, as Nuxeo names them. Blank values count as absent.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AuditParams {
    /// Only entries with this event id.
    #[param(inline)]
    event_id: Option<AuditEventId>,
    /// Only entries caused by this user.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    principal_name: Option<String>,
    /// Only entries of this category (every entry here is `Routing`).
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    category: Option<String>,
    /// Only entries at or after this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    start_event_date: Option<DateTime<Utc>>,
    /// Only entries at or before this instant (RFC 3339).
    #[param(value_type = Option<String>, format = DateTime)]
    end_event_date: Option<DateTime<Utc>>,
    /// Page size (default 50, at most `limits.max_page_size`).
    #[param(minimum = 1, maximum = 2147483647)]
    page_size: Option<u32>,
    /// Zero-based page index.
    #[param(minimum = 0, maximum = 2147483647)]
    current_page_index: Option<u32>,
}

/// `{"entity-type":"logEntries", <pagination>, "entries":[…]}`
#[derive(Serialize, ToSchema)]
pub struct LogEntries {
    /// Always `logEntries`.
    #[serde(rename = "entity-type")]
    #[schema(rename = "entity-type", pattern = "^logEntries$")]
    entity_type: &'static str,
    #[serde(flatten)]
    #[schema(inline)]
    pagination: Pagination,
    /// Entries, oldest first.
    entries: Vec<LogEntry>,
}

/// One workflow event as a Nuxeo `logEntry`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LogEntry {
    /// Always `logEntry`.
    #[serde(rename = "entity-type")]
    #[schema(rename = "entity-type", pattern = "^logEntry$")]
    entity_type: &'static str,
    /// Stable id of the event: `<engine>:<sequence>`.
    id: String,
    /// Always `Routing`.
    category: &'static str,
    /// User whose request caused the event.
    principal_name: String,
    /// Path of the document, when known.
    doc_path: Option<String>,
    /// Document id.
    #[serde(rename = "docUUID")]
    #[schema(rename = "docUUID")]
    doc_uuid: String,
    /// Document type (unknown to the gateway).
    doc_type: Option<String>,
    /// Nuxeo's event id.
    event_id: &'static str,
    /// Repository name.
    repository_id: String,
    /// When the event happened.
    #[schema(value_type = String, format = DateTime)]
    event_date: DateTime<Utc>,
    /// When it was recorded (the same instant: events are written with the change).
    #[schema(value_type = String, format = DateTime)]
    log_date: DateTime<Utc>,
    /// Comment given with the step, if any.
    comment: Option<String>,
    /// Life-cycle state of the document (unknown to the gateway).
    doc_life_cycle: Option<String>,
    /// Nuxeo's extended info: modelName, modelId, workflowInitiator,
    /// workflowInstanceId, taskActor, action, timeSinceTaskStarted,
    /// timeSinceWfStarted, taskName, actors, delegatedActors, dueDate.
    #[schema(value_type = Object)]
    extended: serde_json::Map<String, serde_json::Value>,
}

fn entry(ev: Event, doc: &str, path: Option<&str>, repo: &str) -> LogEntry {
    let mut extended: serde_json::Map<_, _> = ev.extended.into_iter().collect();
    if let Some(t) = &ev.task_id {
        extended.insert("taskId".into(), serde_json::Value::String(t.clone()));
    }
    LogEntry {
        entity_type: "logEntry",
        id: format!("{}:{}", ev.engine, ev.seq),
        category: ROUTING_CATEGORY,
        principal_name: ev.principal,
        doc_path: path.map(str::to_owned),
        doc_uuid: doc.to_owned(),
        doc_type: None,
        event_id: ev.kind.as_str(),
        repository_id: repo.to_owned(),
        event_date: ev.at,
        log_date: ev.at,
        comment: ev.comment,
        doc_life_cycle: None,
        extended,
    }
}

async fn audit(api: Api, doc: String, path: Option<String>) -> Result<HttpResponse, ApiError> {
    let p: AuditParams = api.params.decode()?;
    // The description declares 32-bit integers, and a page of at least one entry.
    if p.page_size == Some(0) {
        return Err(ApiError::bad_request(
            "Query parameter 'pageSize' must be at least 1",
        ));
    }
    for (name, v) in [
        ("pageSize", p.page_size),
        ("currentPageIndex", p.current_page_index),
    ] {
        if v.is_some_and(|v| v > i32::MAX as u32) {
            return Err(ApiError::bad_request(format!(
                "Query parameter '{name}' must be at most {}",
                i32::MAX
            )));
        }
    }
    let max = api.router().limits().max_page_size;
    let size = p
        .page_size
        .map_or(DEFAULT_PAGE_SIZE, |s| s as usize)
        .clamp(1, max.max(1));
    let index = p.current_page_index.unwrap_or(0) as usize;
    let offset = index.saturating_mul(size);
    let routing = p.category.as_deref().is_none_or(|c| c == ROUTING_CATEGORY);
    let path = match path {
        Some(p) => Some(p),
        None => api
            .router()
            .document(api.cx(), &DocLocator::Id(doc.clone()))
            .await
            .ok()
            .and_then(|d| d.path),
    };
    let q = EventQuery {
        document: Some(doc.clone()),
        kinds: p.event_id.map(EventKind::from).into_iter().collect(),
        principal: p.principal_name,
        start: p.start_event_date,
        end: p.end_event_date,
        page: PageRequest::new(offset, size),
        ..EventQuery::default()
    };
    let fanned = if routing {
        api.router().events(api.cx(), q).await?
    } else {
        // Only routing events are kept: another category has none (the rights are
        // still checked).
        let mut check = q.clone();
        check.page = PageRequest::new(0, 0);
        let mut f = api.router().events(api.cx(), check).await?;
        f.value = flowgate_core::Page::empty();
        f
    };
    let page = fanned.value;
    let repo = api.cx().repository.clone();
    let body = LogEntries {
        entity_type: "logEntries",
        pagination: Pagination::new(page.total, size, offset, page.items.len())
            .with_max_page_size(max),
        entries: page
            .items
            .into_iter()
            .map(|ev| entry(ev, &doc, path.as_deref(), &repo))
            .collect(),
    };
    json_fanned(StatusCode::OK, &body, &fanned.failures)
}

#[utoipa::path(
    get,
    path = "/api/v1/id/{docId}/@audit",
    operation_id = "getDocumentAuditById",
    tag = "document",
    summary = "Workflow audit of a document",
    params(("docId" = String, Path, description = "Document id"), AuditParams),
    responses(
        (status = 200, description = "Routing events of the document's workflows, oldest first", body = LogEntries),
        (status = 400, description = "Malformed filter or paging parameter", body = ExceptionBody),
        (status = 403, description = "The caller may not see the document's workflows", body = ExceptionBody),
        (status = 404, description = "No such document", body = ExceptionBody),
    )
)]
async fn audit_by_id(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    audit(api, seg.into_inner().doc, None).await
}

#[utoipa::path(
    get,
    path = "/api/v1/path/{docPath}/@audit",
    operation_id = "getDocumentAuditByPath",
    tag = "document",
    summary = "Workflow audit of a document",
    params(("docPath" = String, Path, description = "Absolute document path; its slashes are sent as they are"), AuditParams),
    responses(
        (status = 200, description = "Routing events of the document's workflows, oldest first", body = LogEntries),
        (status = 400, description = "Malformed filter or paging parameter", body = ExceptionBody),
        (status = 403, description = "The caller may not see the document's workflows", body = ExceptionBody),
        (status = 404, description = "No such document or path", body = ExceptionBody),
    )
)]
async fn audit_by_path(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let abs = format!("/{}", seg.doc.trim_start_matches('/'));
    let d = api
        .router()
        .document(api.cx(), &DocLocator::Path(abs.clone()))
        .await?;
    audit(api, d.id, Some(d.path.unwrap_or(abs))).await
}
