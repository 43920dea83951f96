//! `/task`: query, read, complete, reassign and delegate tasks.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use flowgate_core::{ActorFilter, PageRequest, TaskQuery};

use super::{empty, json_fanned, read_body, resource, Api, Seg};
use crate::error::ApiError;
use crate::nuxeo::{page_of, pagination_of, parse_completion, ListEntity, Params};

/// Registers the routes. `reassign` and `delegate` come before the generic action.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/task").route(web::get().to(list)))
        .service(resource("/task/{id}/reassign").route(web::put().to(reassign)))
        .service(resource("/task/{id}/delegate").route(web::put().to(delegate)))
        .service(resource("/task/{id}/{action}").route(web::put().to(complete)))
        .service(resource("/task/{id}").route(web::get().to(get)));
}

/// The filters shared by `GET /task` and `GET /{doc}/@task`.
pub(crate) fn task_query(api: &Api, params: &Params) -> TaskQuery {
    let actor = params.get("userId").map(|u| {
        // A known user matches through its groups too; an unknown one only by name.
        let groups = api
            .state
            .directory
            .user(u)
            .map(|x| x.groups.clone())
            .unwrap_or_default();
        ActorFilter {
            user: u.to_owned(),
            groups,
        }
    });
    TaskQuery {
        actor,
        workflow_id: params.get("workflowInstanceId").map(str::to_owned),
        model_name: params.get("workflowModelName").map(str::to_owned),
        ..TaskQuery::default()
    }
}

/// `GET /task`: open tasks the caller can see, filtered, optionally paginated.
async fn list(api: Api) -> Result<HttpResponse, ApiError> {
    let p = &api.params;
    let mut q = task_query(&api, p);
    let paginated = p.flag("isPaginated") && q.model_name.is_none();
    if !paginated {
        let fanned = api.router().tasks(api.cx(), q).await?;
        return api
            .tasks_response_fanned(&fanned.value.items, &fanned.failures)
            .await;
    }
    let (offset, size) = page_of(
        p.usize("pageSize"),
        p.usize("currentPageIndex"),
        p.usize("offset"),
    );
    q.page = PageRequest::new(offset, size);
    let fanned = api.router().tasks(api.cx(), q).await?;
    let page = &fanned.value;
    let docs = api.task_docs(&page.items).await;
    let r = api.renderer(&docs);
    let body =
        ListEntity::paginated_tasks(r.tasks(&page.items), pagination_of(page, offset, size));
    json_fanned(StatusCode::OK, &body, &fanned.failures)
}

/// `GET /task/{id}`.
async fn get(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let t = api.router().task(api.cx(), &seg.id).await?;
    api.task_response(StatusCode::OK, &t).await
}

/// `PUT /task/{id}/{action}`: completes the task; answers the task after the step.
pub(crate) async fn complete_task(
    api: &Api,
    id: &str,
    action: &str,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(payload, api.body_limit()).await?;
    let c = parse_completion(&body, id, action)?;
    let t = api.router().complete(api.cx(), id, c).await?;
    api.task_response(StatusCode::OK, &t).await
}

async fn complete(
    api: Api,
    seg: web::Path<Seg>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    complete_task(&api, &seg.id, &seg.action, payload).await
}

fn actors(p: &Params, names: &[&str]) -> Result<Vec<String>, ApiError> {
    let list = names
        .iter()
        .map(|n| p.list(n))
        .find(|l| !l.is_empty())
        .unwrap_or_default();
    if list.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Query parameter '{}' is required",
            names[0]
        )));
    }
    Ok(list)
}

/// `PUT /task/{id}/reassign?actors=…&comment=…`: 200 with an empty body.
async fn reassign(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let list = actors(&api.params, &["actors"])?;
    let comment = api.params.get("comment").map(str::to_owned);
    api.router()
        .reassign(api.cx(), &seg.id, list, comment)
        .await?;
    Ok(empty(StatusCode::OK))
}

/// `PUT /task/{id}/delegate?delegatedActors=…&comment=…` (`actors` accepted too).
async fn delegate(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let list = actors(&api.params, &["delegatedActors", "actors"])?;
    let comment = api.params.get("comment").map(str::to_owned);
    api.router()
        .delegate(api.cx(), &seg.id, list, comment)
        .await?;
    Ok(empty(StatusCode::OK))
}
