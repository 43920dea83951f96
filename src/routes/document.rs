//! Document adapters: `/id/{docId}/@workflow|@task` and `/path/{docPath}/@workflow|@task`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use flowgate_core::{DocLocator, WorkflowQuery};

use super::sort::{TaskSortParams, WorkflowSortParams};
use super::task::{complete_task, task_query};
use super::{read_body, resource, Api, Seg, TaskFetch, WorkflowFetch};
use crate::error::ApiError;
use crate::error::ExceptionBody;
use crate::nuxeo::parse_start;
use crate::nuxeo::schema::{TaskList, WorkflowList};
use serde::Deserialize;
use utoipa::IntoParams;

/// Registers the routes for both addressing styles.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope("/id")
            .service(
                resource("/{doc}/@workflow")
                    .get(workflows_by_id)
                    .post(start_by_id),
            )
            .service(resource("/{doc}/@workflow/{wf}/task").get(wf_tasks_by_id))
            .service(resource("/{doc}/@task").get(tasks_by_id))
            .service(resource("/{doc}/@task/{task}/{action}").put(complete_by_id)),
    )
    .service(
        web::scope("/path")
            .service(
                resource("/{doc:.*}/@workflow")
                    .get(workflows_by_path)
                    .post(start_by_path),
            )
            .service(resource("/{doc:.*}/@workflow/{wf}/task").get(wf_tasks_by_path))
            .service(resource("/{doc:.*}/@task").get(tasks_by_path))
            .service(resource("/{doc:.*}/@task/{task}/{action}").put(complete_by_path)),
    );
}

/// The document id of a `/path/{docPath}` reference, resolved by the owning engine.
async fn doc_of_path(api: &Api, path: &str) -> Result<String, ApiError> {
    let abs = format!("/{}", path.trim_start_matches('/'));
    let d = api
        .router()
        .document(api.cx(), &DocLocator::Path(abs))
        .await?;
    Ok(d.id)
}

async fn workflows(api: Api, doc: String) -> Result<HttpResponse, ApiError> {
    let sort = api.params.decode::<WorkflowSortParams>()?.sort()?;
    let q = WorkflowQuery {
        document: Some(doc),
        sort,
        ..WorkflowQuery::default()
    };
    let page = api.router().workflows(api.cx(), q).await?.value;
    api.workflows_response(&page).await
}

async fn start(api: Api, doc: String, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, api.body_limit()).await?;
    let req = parse_start(&body, Some(doc))?;
    let w = api.router().start(api.cx(), req).await?;
    api.workflow_response(StatusCode::CREATED, &w).await
}

/// Filters of the document task lists (`…/@task`). Blank values count as absent.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DocTaskParams {
    /// Tasks whose actors include this user or one of their groups.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    user_id: Option<String>,
    /// Tasks of this workflow instance.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    workflow_instance_id: Option<String>,
    /// Tasks of workflows of this model.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    workflow_model_name: Option<String>,
}

async fn tasks(api: Api, doc: String, wf: Option<String>) -> Result<HttpResponse, ApiError> {
    let p: DocTaskParams = api.params.decode()?;
    let mut q = task_query(
        &api,
        p.user_id,
        p.workflow_instance_id,
        p.workflow_model_name,
    )?;
    q.document = Some(doc);
    if let Some(wf) = wf {
        // Tasks of one workflow on this document, whoever the actors are (the engine
        // still limits them to what the caller may see).
        q.actor = None;
        q.model_name = None;
        q.workflow_id = Some(wf);
    }
    let page = api.router().tasks(api.cx(), q).await?.value;
    api.tasks_response(&page).await
}

#[utoipa::path(
    get,
    path = "/api/v1/id/{docId}/@workflow",
    operation_id = "listDocumentWorkflowsById",
    tag = "document",
    summary = "Running workflows of a document",
    params(("docId" = String, Path, description = "Document id"), WorkflowSortParams, WorkflowFetch),
    responses(
        (status = 200, description = "Workflows the document is attached to", body = WorkflowList),
        (status = 400, description = "Unknown `sortBy` field or `sortOrder`", body = ExceptionBody),
        (status = 404, description = "No such document or path", body = ExceptionBody),
    )
)]
async fn workflows_by_id(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    workflows(api, seg.into_inner().doc).await
}

#[utoipa::path(
    get,
    path = "/api/v1/path/{docPath}/@workflow",
    operation_id = "listDocumentWorkflowsByPath",
    tag = "document",
    summary = "Running workflows of a document",
    params(("docPath" = String, Path, description = "Absolute document path; its slashes are sent as they are"), WorkflowSortParams, WorkflowFetch),
    responses(
        (status = 200, description = "Workflows the document is attached to", body = WorkflowList),
        (status = 400, description = "Unknown `sortBy` field or `sortOrder`", body = ExceptionBody),
        (status = 404, description = "No such document or path", body = ExceptionBody),
    )
)]
async fn workflows_by_path(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let id = doc_of_path(&api, &seg.doc).await?;
    workflows(api, id).await
}

#[utoipa::path(
    post,
    path = "/api/v1/id/{docId}/@workflow",
    operation_id = "startDocumentWorkflowById",
    tag = "document",
    summary = "Start a workflow on a document",
    params(("docId" = String, Path, description = "Document id"), WorkflowFetch),
    request_body = crate::nuxeo::WorkflowRequest,
    responses(
        (status = 201, description = "The started workflow", body = crate::nuxeo::WorkflowEntity),
        (status = 400, description = "Malformed body", body = ExceptionBody),
        (status = 404, description = "No such model or document", body = ExceptionBody),
    )
)]
async fn start_by_id(
    api: Api,
    seg: web::Path<Seg>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    start(api, seg.into_inner().doc, payload).await
}

#[utoipa::path(
    post,
    path = "/api/v1/path/{docPath}/@workflow",
    operation_id = "startDocumentWorkflowByPath",
    tag = "document",
    summary = "Start a workflow on a document",
    params(("docPath" = String, Path, description = "Absolute document path; its slashes are sent as they are"), WorkflowFetch),
    request_body = crate::nuxeo::WorkflowRequest,
    responses(
        (status = 201, description = "The started workflow", body = crate::nuxeo::WorkflowEntity),
        (status = 400, description = "Malformed body", body = ExceptionBody),
        (status = 404, description = "No such model or document", body = ExceptionBody),
    )
)]
async fn start_by_path(
    api: Api,
    seg: web::Path<Seg>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = doc_of_path(&api, &seg.doc).await?;
    start(api, id, payload).await
}

#[utoipa::path(
    get,
    path = "/api/v1/id/{docId}/@task",
    operation_id = "listDocumentTasksById",
    tag = "document",
    summary = "Open tasks on a document",
    params(("docId" = String, Path, description = "Document id"), DocTaskParams, TaskSortParams, TaskFetch),
    responses(
        (status = 200, description = "Open tasks targeting the document", body = TaskList),
        (status = 400, description = "Unknown `sortBy` field or `sortOrder`", body = ExceptionBody),
        (status = 404, description = "No such document or path", body = ExceptionBody),
    )
)]
async fn tasks_by_id(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    tasks(api, seg.into_inner().doc, None).await
}

#[utoipa::path(
    get,
    path = "/api/v1/path/{docPath}/@task",
    operation_id = "listDocumentTasksByPath",
    tag = "document",
    summary = "Open tasks on a document",
    params(("docPath" = String, Path, description = "Absolute document path; its slashes are sent as they are"), DocTaskParams, TaskSortParams, TaskFetch),
    responses(
        (status = 200, description = "Open tasks targeting the document", body = TaskList),
        (status = 400, description = "Unknown `sortBy` field or `sortOrder`", body = ExceptionBody),
        (status = 404, description = "No such document or path", body = ExceptionBody),
    )
)]
async fn tasks_by_path(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let id = doc_of_path(&api, &seg.doc).await?;
    tasks(api, id, None).await
}

#[utoipa::path(
    get,
    path = "/api/v1/id/{docId}/@workflow/{workflowInstanceId}/task",
    operation_id = "listDocumentWorkflowTasksById",
    tag = "document",
    summary = "Open tasks of one workflow on a document",
    params(("docId" = String, Path, description = "Document id"), ("workflowInstanceId" = String, Path, description = "Workflow instance id"), TaskSortParams, TaskFetch),
    responses(
        (status = 200, description = "Open tasks of the workflow targeting the document, for any actor", body = TaskList),
        (status = 400, description = "Unknown `sortBy` field or `sortOrder`", body = ExceptionBody),
        (status = 404, description = "No such document or path", body = ExceptionBody),
    )
)]
async fn wf_tasks_by_id(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let Seg { doc, wf, .. } = seg.into_inner();
    tasks(api, doc, Some(wf)).await
}

#[utoipa::path(
    get,
    path = "/api/v1/path/{docPath}/@workflow/{workflowInstanceId}/task",
    operation_id = "listDocumentWorkflowTasksByPath",
    tag = "document",
    summary = "Open tasks of one workflow on a document",
    params(("docPath" = String, Path, description = "Absolute document path; its slashes are sent as they are"), ("workflowInstanceId" = String, Path, description = "Workflow instance id"), TaskSortParams, TaskFetch),
    responses(
        (status = 200, description = "Open tasks of the workflow targeting the document, for any actor", body = TaskList),
        (status = 400, description = "Unknown `sortBy` field or `sortOrder`", body = ExceptionBody),
        (status = 404, description = "No such document or path", body = ExceptionBody),
    )
)]
async fn wf_tasks_by_path(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let Seg { doc, wf, .. } = seg.into_inner();
    let id = doc_of_path(&api, &doc).await?;
    tasks(api, id, Some(wf)).await
}

#[utoipa::path(
    put,
    path = "/api/v1/id/{docId}/@task/{taskId}/{action}",
    operation_id = "completeDocumentTaskById",
    tag = "document",
    summary = "Complete a task of a document",
    params(("docId" = String, Path, description = "Document id"), ("taskId" = String, Path, description = "Task id"), ("action" = String, Path, description = "Name of a button of the task (`taskInfo.taskActions[].name`)"), TaskFetch),
    request_body = crate::nuxeo::TaskCompletionRequest,
    responses(
        (status = 200, description = "The task after completion", body = crate::nuxeo::TaskEntity),
        (status = 400, description = "Malformed body, unknown button or missing required variables", body = ExceptionBody),
        (status = 403, description = "The caller is not an actor of the task", body = ExceptionBody),
        (status = 404, description = "No such task", body = ExceptionBody),
        (status = 409, description = "The task is no longer open", body = ExceptionBody),
    )
)]
async fn complete_by_id(
    api: Api,
    seg: web::Path<Seg>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    complete_task(&api, &seg.task, &seg.action, payload).await
}

#[utoipa::path(
    put,
    path = "/api/v1/path/{docPath}/@task/{taskId}/{action}",
    operation_id = "completeDocumentTaskByPath",
    tag = "document",
    summary = "Complete a task of a document",
    params(("docPath" = String, Path, description = "Absolute document path; its slashes are sent as they are"), ("taskId" = String, Path, description = "Task id"), ("action" = String, Path, description = "Name of a button of the task (`taskInfo.taskActions[].name`)"), TaskFetch),
    request_body = crate::nuxeo::TaskCompletionRequest,
    responses(
        (status = 200, description = "The task after completion", body = crate::nuxeo::TaskEntity),
        (status = 400, description = "Malformed body, unknown button or missing required variables", body = ExceptionBody),
        (status = 403, description = "The caller is not an actor of the task", body = ExceptionBody),
        (status = 404, description = "No such task", body = ExceptionBody),
        (status = 409, description = "The task is no longer open", body = ExceptionBody),
    )
)]
async fn complete_by_path(
    api: Api,
    seg: web::Path<Seg>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    complete_task(&api, &seg.task, &seg.action, payload).await
}
