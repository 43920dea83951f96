//! Document adapters: `/id/{docId}/@workflow|@task` and `/path/{docPath}/@workflow|@task`.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use flowgate_core::{DocLocator, WorkflowQuery};

use super::task::{complete_task, task_query};
use super::{read_body, resource, Api, Seg};
use crate::error::ApiError;
use crate::nuxeo::parse_start;

/// Registers the routes for both addressing styles.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        resource("/id/{doc}/@workflow")
            .route(web::get().to(workflows_by_id))
            .route(web::post().to(start_by_id)),
    )
    .service(resource("/id/{doc}/@workflow/{wf}/task").route(web::get().to(wf_tasks_by_id)))
    .service(resource("/id/{doc}/@task").route(web::get().to(tasks_by_id)))
    .service(resource("/id/{doc}/@task/{task}/{action}").route(web::put().to(complete_by_id)))
    .service(
        resource("/path/{doc:.*}/@workflow")
            .route(web::get().to(workflows_by_path))
            .route(web::post().to(start_by_path)),
    )
    .service(resource("/path/{doc:.*}/@workflow/{wf}/task").route(web::get().to(wf_tasks_by_path)))
    .service(resource("/path/{doc:.*}/@task").route(web::get().to(tasks_by_path)))
    .service(
        resource("/path/{doc:.*}/@task/{task}/{action}").route(web::put().to(complete_by_path)),
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
    let q = WorkflowQuery {
        document: Some(doc),
        ..WorkflowQuery::default()
    };
    let page = api.router().workflows(api.cx(), q).await?.value;
    api.workflows_response(&page.items).await
}

async fn start(api: Api, doc: String, payload: web::Payload) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, api.body_limit()).await?;
    let req = parse_start(&body, Some(doc))?;
    let w = api.router().start(api.cx(), req).await?;
    api.workflow_response(StatusCode::CREATED, &w).await
}

async fn tasks(api: Api, doc: String, wf: Option<String>) -> Result<HttpResponse, ApiError> {
    let mut q = task_query(&api, &api.params);
    q.document = Some(doc);
    if let Some(wf) = wf {
        // Tasks of one workflow on this document, whoever the actors are (the engine
        // still limits them to what the caller may see).
        q.actor = None;
        q.model_name = None;
        q.workflow_id = Some(wf);
    }
    let page = api.router().tasks(api.cx(), q).await?.value;
    api.tasks_response(&page.items).await
}

async fn workflows_by_id(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    workflows(api, seg.into_inner().doc).await
}

async fn workflows_by_path(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let id = doc_of_path(&api, &seg.doc).await?;
    workflows(api, id).await
}

async fn start_by_id(
    api: Api,
    seg: web::Path<Seg>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    start(api, seg.into_inner().doc, payload).await
}

async fn start_by_path(
    api: Api,
    seg: web::Path<Seg>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let id = doc_of_path(&api, &seg.doc).await?;
    start(api, id, payload).await
}

async fn tasks_by_id(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    tasks(api, seg.into_inner().doc, None).await
}

async fn tasks_by_path(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let id = doc_of_path(&api, &seg.doc).await?;
    tasks(api, id, None).await
}

async fn wf_tasks_by_id(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let Seg { doc, wf, .. } = seg.into_inner();
    tasks(api, doc, Some(wf)).await
}

async fn wf_tasks_by_path(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let Seg { doc, wf, .. } = seg.into_inner();
    let id = doc_of_path(&api, &doc).await?;
    tasks(api, id, Some(wf)).await
}

async fn complete_by_id(
    api: Api,
    seg: web::Path<Seg>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    complete_task(&api, &seg.task, &seg.action, payload).await
}

async fn complete_by_path(
    api: Api,
    seg: web::Path<Seg>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    complete_task(&api, &seg.task, &seg.action, payload).await
}
