//! `/workflowModel`: the models instances can be started from.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};

use super::{json, resource, Api, Seg};
use crate::error::ApiError;
use crate::error::ExceptionBody;
use crate::nuxeo::schema::WorkflowList;
use crate::nuxeo::{GraphEntity, ListEntity};

/// Registers the routes.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/workflowModel").get(list)).service(
        web::scope("/workflowModel")
            .service(resource("/{name}").get(get))
            .service(resource("/{name}/graph").get(graph)),
    );
}

/// `GET /workflowModel`: every model, sorted by name.
#[utoipa::path(
    get,
    path = "/api/v1/workflowModel",
    operation_id = "listWorkflowModels",
    tag = "workflowModel",
    summary = "Every model, sorted by name",
    responses(
        (status = 200, description = "Models, rendered as `workflow` entities in state `validated`", body = WorkflowList),
    )
)]
async fn list(api: Api) -> Result<HttpResponse, ApiError> {
    let fanned = api.router().models(api.cx()).await?;
    let docs = Default::default();
    let r = api.renderer(&docs);
    let entries: Vec<_> = fanned.value.iter().map(|m| r.model(m)).collect();
    super::json_fanned(
        StatusCode::OK,
        &ListEntity::workflows(entries),
        &fanned.failures,
    )
}

/// `GET /workflowModel/{name}`.
#[utoipa::path(
    get,
    path = "/api/v1/workflowModel/{modelName}",
    operation_id = "getWorkflowModel",
    tag = "workflowModel",
    summary = "A model",
    params(("modelName" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "The model as a `workflow` entity with default variables", body = crate::nuxeo::WorkflowEntity),
        (status = 404, description = "No such model", body = ExceptionBody),
    )
)]
async fn get(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let name = &seg.name;
    let (_, m) = api.router().model(api.cx(), name).await.map_err(|e| {
        e.context(format!(
            "Can not get workflow model with name: {}",
            flowgate_core::shown(name)
        ))
    })?;
    let docs = Default::default();
    json(StatusCode::OK, &api.renderer(&docs).model(&m))
}

/// `GET /workflowModel/{name}/graph`.
#[utoipa::path(
    get,
    path = "/api/v1/workflowModel/{modelName}/graph",
    operation_id = "getWorkflowModelGraph",
    tag = "workflowModel",
    summary = "Graph of a model",
    params(("modelName" = String, Path, description = "Model name")),
    responses(
        (status = 200, description = "The graph (every node `validated`)", body = crate::nuxeo::GraphEntity),
        (status = 404, description = "No such model", body = ExceptionBody),
    )
)]
async fn graph(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let name = &seg.name;
    let g = api
        .router()
        .model_graph(api.cx(), name)
        .await
        .map_err(|e| {
            e.context(format!(
                "Can not get workflow model graph with name: {name}"
            ))
        })?;
    json(StatusCode::OK, &GraphEntity::from_graph(&g))
}
