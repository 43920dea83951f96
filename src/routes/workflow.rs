//! `/workflow`: list, start, read, cancel, graph and tasks of workflow instances.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use flowgate_core::{TaskQuery, WorkflowQuery};

use super::sort::WorkflowSortParams;
use super::{empty, json, read_body, resource, Api, Seg, TaskFetch, WorkflowFetch};
use crate::error::ApiError;
use crate::error::ExceptionBody;
use crate::nuxeo::schema::{TaskList, WorkflowList};
use crate::nuxeo::{parse_start, GraphEntity};
use serde::Deserialize;
use utoipa::IntoParams;

/// Registers the routes (under a static scope, like `/task`).
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/workflow").get(list).post(start))
        .service(
            web::scope("/workflow")
                .service(resource("/{id}").get(get).delete(cancel))
                .service(resource("/{id}/graph").get(graph))
                .service(resource("/{id}/task").get(tasks)),
        );
}

/// Query of `GET /workflow`. Blank values count as absent.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct WorkflowListParams {
    /// Only workflows of this model.
    #[serde(rename = "workflowModelName")]
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    workflow_model_name: Option<String>,
}

/// `GET /workflow`: running workflows started by the caller.
#[utoipa::path(
    get,
    path = "/api/v1/workflow",
    operation_id = "listWorkflows",
    tag = "workflow",
    summary = "Running workflows started by the caller",
    params(WorkflowListParams, WorkflowSortParams, WorkflowFetch),
    responses(
        (status = 200, description = "The caller's running workflows, by start time unless `sortBy`/`sortOrder` say otherwise", body = WorkflowList),
        (status = 400, description = "Unknown `sortBy` field or `sortOrder`", body = ExceptionBody),
        (status = 404, description = "No engine serves the model named by `workflowModelName`", body = ExceptionBody),
    )
)]
async fn list(api: Api) -> Result<HttpResponse, ApiError> {
    let p: WorkflowListParams = api.params.decode()?;
    let sort = api.params.decode::<WorkflowSortParams>()?.sort()?;
    let q = WorkflowQuery {
        initiator: Some(api.cx().user.clone()),
        model_name: p.workflow_model_name,
        sort,
        ..WorkflowQuery::default()
    };
    let fanned = api.router().workflows(api.cx(), q).await?;
    api.workflows_response_fanned(&fanned.value, &fanned.failures)
        .await
}

/// `POST /workflow`: starts a workflow.
#[utoipa::path(
    post,
    path = "/api/v1/workflow",
    operation_id = "startWorkflow",
    tag = "workflow",
    summary = "Start a workflow",
    params(WorkflowFetch),
    request_body = crate::nuxeo::WorkflowRequest,
    responses(
        (status = 201, description = "The started workflow", body = crate::nuxeo::WorkflowEntity,
            links(
                ("GetWorkflow" = (operation_id = "getWorkflow", parameters(("workflowInstanceId" = "$response.body#/id")))),
                ("CancelWorkflow" = (operation_id = "cancelWorkflow", parameters(("workflowInstanceId" = "$response.body#/id")))),
                ("GetWorkflowGraph" = (operation_id = "getWorkflowGraph", parameters(("workflowInstanceId" = "$response.body#/id")))),
                ("ListWorkflowTasks" = (operation_id = "listWorkflowTasks", parameters(("workflowInstanceId" = "$response.body#/id")))),
                ("ListTasksOfWorkflow" = (operation_id = "listTasks", parameters(("workflowInstanceId" = "$response.body#/id")))),
            )
        ),
        (status = 400, description = "Malformed body or unknown variables", body = ExceptionBody),
        (status = 404, description = "No such model", body = ExceptionBody),
    )
)]
async fn start(api: Api, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, api.body_limit()).await?;
    let req = parse_start(&body, None)?;
    let w = api.router().start(api.cx(), req).await?;
    api.workflow_response(StatusCode::CREATED, &w).await
}

/// `GET /workflow/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/workflow/{workflowInstanceId}",
    operation_id = "getWorkflow",
    tag = "workflow",
    summary = "A workflow instance",
    params(("workflowInstanceId" = String, Path, description = "Workflow instance id"), WorkflowFetch),
    responses(
        (status = 200, description = "The workflow", body = crate::nuxeo::WorkflowEntity),
        (status = 403, description = "Not visible to the caller", body = ExceptionBody),
        (status = 404, description = "No such workflow", body = ExceptionBody),
    )
)]
async fn get(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let id = &seg.id;
    let w = api.router().workflow(api.cx(), id).await.map_err(|e| {
        e.context(format!(
            "Can not get workflow instance with id: {}",
            flowgate_core::shown(id)
        ))
    })?;
    api.workflow_response(StatusCode::OK, &w).await
}

/// `GET /workflow/{id}/graph`.
#[utoipa::path(
    get,
    path = "/api/v1/workflow/{workflowInstanceId}/graph",
    operation_id = "getWorkflowGraph",
    tag = "workflow",
    summary = "Graph of a workflow instance, with node progress",
    params(("workflowInstanceId" = String, Path, description = "Workflow instance id")),
    responses(
        (status = 200, description = "The graph", body = crate::nuxeo::GraphEntity),
        (status = 403, description = "Not visible to the caller", body = ExceptionBody),
        (status = 404, description = "No such workflow", body = ExceptionBody),
    )
)]
async fn graph(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let id = &seg.id;
    let g = api
        .router()
        .workflow_graph(api.cx(), id)
        .await
        .map_err(|e| {
            e.context(format!(
                "Can not get workflow instance graph with id: {}",
                flowgate_core::shown(id)
            ))
        })?;
    json(StatusCode::OK, &GraphEntity::from_graph(&g))
}

/// `DELETE /workflow/{id}`: cancels; 204 without body.
#[utoipa::path(
    delete,
    path = "/api/v1/workflow/{workflowInstanceId}",
    operation_id = "cancelWorkflow",
    tag = "workflow",
    summary = "Cancel a workflow",
    params(("workflowInstanceId" = String, Path, description = "Workflow instance id")),
    responses(
        (status = 204, description = "Canceled"),
        (status = 400, description = "The workflow is already canceled", body = ExceptionBody),
        (status = 403, description = "Only the initiator, power users and administrators may cancel", body = ExceptionBody),
        (status = 404, description = "No such workflow", body = ExceptionBody),
        (status = 409, description = "The workflow has already ended", body = ExceptionBody),
    )
)]
async fn cancel(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    api.router().cancel(api.cx(), &seg.id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /workflow/{id}/task`: open tasks of the instance the caller can see (alias of
/// `GET /task?workflowInstanceId={id}`).
#[utoipa::path(
    get,
    path = "/api/v1/workflow/{workflowInstanceId}/task",
    operation_id = "listWorkflowTasks",
    tag = "workflow",
    summary = "Open tasks of a workflow instance",
    params(("workflowInstanceId" = String, Path, description = "Workflow instance id"), TaskFetch),
    responses(
        (status = 200, description = "Open tasks the caller may see (empty for an unknown id)", body = TaskList,
            links(
                ("GetTask" = (operation_id = "getTask", parameters(("taskId" = "$response.body#/entries/0/id")))),
                ("CompleteTask" = (operation_id = "completeTask", parameters(("taskId" = "$response.body#/entries/0/id"), ("action" = "$response.body#/entries/0/taskInfo/taskActions/0/name")))),
                ("ReassignTask" = (operation_id = "reassignTask", parameters(("taskId" = "$response.body#/entries/0/id")))),
                ("DelegateTask" = (operation_id = "delegateTask", parameters(("taskId" = "$response.body#/entries/0/id")))),
            )
        ),
    )
)]
async fn tasks(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let q = TaskQuery::for_workflow(seg.into_inner().id);
    let page = api.router().tasks(api.cx(), q).await?.value;
    api.tasks_response(&page).await
}
