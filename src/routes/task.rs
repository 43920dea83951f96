//! `/task`: query, read, complete, reassign and delegate tasks.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use flowgate_core::{ActorFilter, EngineError, ErrorKind, PageRequest, TaskQuery};

use super::{empty, json_fanned, read_body, resource, Api, Seg};
use crate::error::ApiError;
use crate::nuxeo::{page_of, pagination_of, parse_completion, ListEntity, Params};

/// Registers the routes. A scope keeps other resources' requests from trying these
/// patterns; `reassign` and `delegate` come before the generic action.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/task").route(web::get().to(list)))
        .service(
            web::scope("/task")
                .service(resource("/{id}").route(web::get().to(get)))
                .service(resource("/{id}/reassign").route(web::put().to(reassign)))
                .service(resource("/{id}/delegate").route(web::put().to(delegate)))
                .service(resource("/{id}/{action}").route(web::put().to(complete))),
        );
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
#[utoipa::path(
    get,
    path = "/api/v1/task",
    operation_id = "listTasks",
    tag = "task",
    summary = "Open tasks the caller may see",
    params(crate::openapi::TaskQueryParams, crate::openapi::TaskFetch),
    responses(
        (status = 200, description = "Open tasks ordered by due date; the paginated form with `isPaginated=true`", body = crate::openapi::TaskListAnswer),
    )
)]
async fn list(api: Api) -> Result<HttpResponse, ApiError> {
    let p = &api.params;
    let mut q = task_query(&api, p);
    let paginated = p.flag("isPaginated") && q.model_name.is_none();
    if !paginated {
        let fanned = api.router().tasks(api.cx(), q).await?;
        return api
            .tasks_response_fanned(&fanned.value, &fanned.failures)
            .await;
    }
    let max = api.router().limits().max_page_size;
    let (_, asked) = page_of(p.usize("pageSize"), None, None);
    let (offset, size) = page_of(
        Some(asked.min(max)),
        p.usize("currentPageIndex"),
        p.usize("offset"),
    );
    q.page = PageRequest::new(offset, size);
    let fanned = api.router().tasks(api.cx(), q).await?;
    let page = &fanned.value;
    let docs = api.task_docs(&page.items).await;
    let r = api.renderer(&docs);
    let body = ListEntity::paginated_tasks(
        r.tasks(&page.items),
        pagination_of(page, offset, size).with_max_page_size(max),
    );
    json_fanned(StatusCode::OK, &body, &fanned.failures)
}

/// `GET /task/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/task/{taskId}",
    operation_id = "getTask",
    tag = "task",
    summary = "A task, in any state",
    params(("taskId" = String, Path, description = "Task id"), crate::openapi::TaskFetch),
    responses(
        (status = 200, description = "The task", body = crate::nuxeo::TaskEntity),
        (status = 403, description = "Not visible to the caller", body = crate::openapi::ExceptionEntity),
        (status = 404, description = "No such task", body = crate::openapi::ExceptionEntity),
    )
)]
async fn get(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let t = api
        .router()
        .task(api.cx(), &seg.id)
        .await
        .map_err(unknown_task(&seg.id))?;
    api.task_response(StatusCode::OK, &t).await
}

/// Names the task in "not found" answers, Nuxeo style (`<context>, <message>`); other
/// errors already say what went wrong.
fn unknown_task(id: &str) -> impl FnOnce(EngineError) -> EngineError + '_ {
    move |e| match e.kind() {
        ErrorKind::NotFound => e.context(format!(
            "Can not get task with id: {}",
            flowgate_core::shown(id)
        )),
        _ => e,
    }
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
    let t = api
        .router()
        .complete(api.cx(), id, c)
        .await
        .map_err(unknown_task(id))?;
    api.task_response(StatusCode::OK, &t).await
}

#[utoipa::path(
    put,
    path = "/api/v1/task/{taskId}/{action}",
    operation_id = "completeTask",
    tag = "task",
    summary = "Complete a task by pressing one of its buttons",
    params(("taskId" = String, Path, description = "Task id"), ("action" = String, Path, description = "Name of a button of the task (`taskInfo.taskActions[].name`)"), crate::openapi::TaskFetch),
    request_body = crate::openapi::TaskCompletionRequest,
    responses(
        (status = 200, description = "The task after completion", body = crate::nuxeo::TaskEntity),
        (status = 400, description = "Malformed body, unknown button or missing required variables", body = crate::openapi::ExceptionEntity),
        (status = 403, description = "The caller is not an actor of the task", body = crate::openapi::ExceptionEntity),
        (status = 404, description = "No such task", body = crate::openapi::ExceptionEntity),
        (status = 409, description = "The task is no longer open (completed concurrently)", body = crate::openapi::ExceptionEntity),
    )
)]
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
#[utoipa::path(
    put,
    path = "/api/v1/task/{taskId}/reassign",
    operation_id = "reassignTask",
    tag = "task",
    summary = "Replace the actors of a task",
    params(("taskId" = String, Path, description = "Task id"), ("actors" = Vec<String>, Query, description = "New actors (repeated, or comma-separated)"), ("comment" = Option<String>, Query, description = "Comment recorded with the change")),
    responses(
        (status = 200, description = "Reassigned (empty body)"),
        (status = 400, description = "No actors given", body = crate::openapi::ExceptionEntity),
        (status = 403, description = "Reassignment not allowed for this task or caller", body = crate::openapi::ExceptionEntity),
        (status = 404, description = "No such task", body = crate::openapi::ExceptionEntity),
        (status = 409, description = "The task is no longer open", body = crate::openapi::ExceptionEntity),
    )
)]
async fn reassign(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let list = actors(&api.params, &["actors"])?;
    let comment = api.params.get("comment").map(str::to_owned);
    api.router()
        .reassign(api.cx(), &seg.id, list, comment)
        .await
        .map_err(unknown_task(&seg.id))?;
    Ok(empty(StatusCode::OK))
}

/// `PUT /task/{id}/delegate?delegatedActors=…&comment=…` (`actors` accepted too).
#[utoipa::path(
    put,
    path = "/api/v1/task/{taskId}/delegate",
    operation_id = "delegateTask",
    tag = "task",
    summary = "Add delegated actors to a task",
    params(("taskId" = String, Path, description = "Task id"), ("delegatedActors" = Vec<String>, Query, description = "Delegated actors (repeated, or comma-separated); `actors` is accepted too"), ("comment" = Option<String>, Query, description = "Comment recorded with the change")),
    responses(
        (status = 200, description = "Delegated (empty body)"),
        (status = 400, description = "No actors given", body = crate::openapi::ExceptionEntity),
        (status = 403, description = "The caller may not delegate this task", body = crate::openapi::ExceptionEntity),
        (status = 404, description = "No such task", body = crate::openapi::ExceptionEntity),
        (status = 409, description = "The task is no longer open", body = crate::openapi::ExceptionEntity),
    )
)]
async fn delegate(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let list = actors(&api.params, &["delegatedActors", "actors"])?;
    let comment = api.params.get("comment").map(str::to_owned);
    api.router()
        .delegate(api.cx(), &seg.id, list, comment)
        .await
        .map_err(unknown_task(&seg.id))?;
    Ok(empty(StatusCode::OK))
}
