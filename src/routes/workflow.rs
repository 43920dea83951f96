//! `/workflow`: list, start, read, cancel, graph and tasks of workflow instances.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use flowgate_core::{TaskQuery, WorkflowQuery};

use super::{empty, json, read_body, resource, Api, Seg};
use crate::error::ApiError;
use crate::nuxeo::{parse_start, GraphEntity};

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/workflow")
            .route(web::get().to(list))
            .route(web::post().to(start)),
    )
    .service(resource("/workflow/{id}/graph").route(web::get().to(graph)))
    .service(resource("/workflow/{id}/task").route(web::get().to(tasks)))
    .service(
        resource("/workflow/{id}")
            .route(web::get().to(get))
            .route(web::delete().to(cancel)),
    );
}

/// `GET /workflow`: running workflows started by the caller.
async fn list(api: Api) -> Result<HttpResponse, ApiError> {
    let q = WorkflowQuery {
        initiator: Some(api.cx().user.clone()),
        model_name: api.params.get("workflowModelName").map(str::to_owned),
        ..WorkflowQuery::default()
    };
    let fanned = api.router().workflows(api.cx(), q).await?;
    api.workflows_response_fanned(&fanned.value.items, &fanned.failures)
        .await
}

/// `POST /workflow`: starts a workflow.
async fn start(api: Api, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, api.body_limit()).await?;
    let req = parse_start(&body, None)?;
    let w = api.router().start(api.cx(), req).await?;
    api.workflow_response(StatusCode::CREATED, &w).await
}

/// `GET /workflow/{id}`.
async fn get(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let id = &seg.id;
    let w = api
        .router()
        .workflow(api.cx(), id)
        .await
        .map_err(|e| e.context(format!("Can not get workflow instance with id: {id}")))?;
    api.workflow_response(StatusCode::OK, &w).await
}

/// `GET /workflow/{id}/graph`.
async fn graph(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let id = &seg.id;
    let g = api
        .router()
        .workflow_graph(api.cx(), id)
        .await
        .map_err(|e| e.context(format!("Can not get workflow instance graph with id: {id}")))?;
    json(StatusCode::OK, &GraphEntity::from_graph(&g))
}

/// `DELETE /workflow/{id}`: cancels; 204 without body.
async fn cancel(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    api.router().cancel(api.cx(), &seg.id).await?;
    Ok(empty(StatusCode::NO_CONTENT))
}

/// `GET /workflow/{id}/task`: open tasks of the instance the caller can see (alias of
/// `GET /task?workflowInstanceId={id}`).
async fn tasks(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let q = TaskQuery::for_workflow(seg.into_inner().id);
    let page = api.router().tasks(api.cx(), q).await?.value;
    api.tasks_response(&page.items).await
}
