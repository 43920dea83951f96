//! `/task`: query, read, complete, reassign and delegate tasks.

use actix_web::http::StatusCode;
use actix_web::{web, HttpResponse};
use flowgate_core::{ActorFilter, EngineError, ErrorKind, PageRequest, TaskQuery};

use super::sort::TaskSortParams;
use super::{empty, json_fanned, read_body, resource, Api, Seg, TaskFetch};
use crate::error::ApiError;
use crate::error::ExceptionBody;
use crate::nuxeo::schema::TaskList;
use crate::nuxeo::{page_of, pagination_of, parse_completion, ListEntity};
use serde::Deserialize;
use utoipa::IntoParams;

/// Registers the routes. A scope keeps other resources' requests from trying these
/// patterns; `reassign` and `delegate` come before the generic action.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/task").get(list)).service(
        web::scope("/task")
            .service(resource("/{id}").get(get))
            .service(resource("/{id}/reassign").put(reassign))
            .service(resource("/{id}/delegate").put(delegate))
            .service(resource("/{id}/{action}").put(complete)),
    );
}

/// Filters and paging of `GET /task`. Blank values count as absent; unknown parameters
/// are ignored.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskQueryParams {
    /// Tasks whose actors or delegated actors include this user or one of their groups.
    /// Optional: without it, every open task the caller may see.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    user_id: Option<String>,
    /// Tasks of this workflow instance.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    workflow_instance_id: Option<String>,
    /// Tasks of workflows of this model (forces the non-paginated form).
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    workflow_model_name: Option<String>,
    /// `true` for the paginated form.
    is_paginated: Option<bool>,
    /// Page size (default 50, at most `limits.max_page_size`).
    page_size: Option<u32>,
    /// Zero-based page index.
    current_page_index: Option<u32>,
    /// Offset of the first task; wins over `currentPageIndex`.
    offset: Option<u32>,
    /// Accepted for compatibility and ignored.
    max_results: Option<u32>,
}

/// The filters and order shared by `GET /task` and `GET /{doc}/@task`.
pub(crate) fn task_query(
    api: &Api,
    user_id: Option<String>,
    workflow_id: Option<String>,
    model_name: Option<String>,
) -> Result<TaskQuery, ApiError> {
    let sort = api.params.decode::<TaskSortParams>()?.sort()?;
    let actor = user_id.map(|u| {
        // A known user matches through its groups too; an unknown one only by name.
        let groups = api
            .state
            .directory
            .user(&u)
            .map(|x| x.groups.clone())
            .unwrap_or_default();
        ActorFilter { user: u, groups }
    });
    Ok(TaskQuery {
        actor,
        workflow_id,
        model_name,
        sort,
        ..TaskQuery::default()
    })
}

/// `GET /task`: open tasks the caller can see, filtered, optionally paginated.
#[utoipa::path(
    get,
    path = "/api/v1/task",
    operation_id = "listTasks",
    tag = "task",
    summary = "Open tasks the caller may see",
    params(TaskQueryParams, TaskSortParams, TaskFetch),
    responses(
        (status = 200, description = "Open tasks, by due date unless `sortBy`/`sortOrder` say otherwise; the paginated form with `isPaginated=true`", body = TaskList),
        (status = 400, description = "Malformed parameter, unknown `sortBy` field or `sortOrder`", body = ExceptionBody),
    )
)]
async fn list(api: Api) -> Result<HttpResponse, ApiError> {
    let p: TaskQueryParams = api.params.decode()?;
    // The description declares 32-bit integers.
    for (name, v) in [
        ("pageSize", p.page_size),
        ("currentPageIndex", p.current_page_index),
        ("offset", p.offset),
        ("maxResults", p.max_results),
    ] {
        if v.is_some_and(|v| v > i32::MAX as u32) {
            return Err(ApiError::bad_request(format!(
                "Query parameter '{name}' must be at most {}",
                i32::MAX
            )));
        }
    }
    let mut q = task_query(
        &api,
        p.user_id,
        p.workflow_instance_id,
        p.workflow_model_name,
    )?;
    let paginated = p.is_paginated == Some(true) && q.model_name.is_none();
    if !paginated {
        let fanned = api.router().tasks(api.cx(), q).await?;
        return api
            .tasks_response_fanned(&fanned.value, &fanned.failures)
            .await;
    }
    let max = api.router().limits().max_page_size;
    let int = |v: Option<u32>| v.map(|v| v as usize);
    let (_, asked) = page_of(int(p.page_size), None, None);
    let (offset, size) = page_of(
        Some(asked.min(max)),
        int(p.current_page_index),
        int(p.offset),
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
    params(("taskId" = String, Path, description = "Task id"), TaskFetch),
    responses(
        (status = 200, description = "The task", body = crate::nuxeo::TaskEntity),
        (status = 403, description = "Not visible to the caller", body = ExceptionBody),
        (status = 404, description = "No such task", body = ExceptionBody),
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
    params(("taskId" = String, Path, description = "Task id"), ("action" = String, Path, description = "Name of a button of the task (`taskInfo.taskActions[].name`)"), TaskFetch),
    request_body = crate::nuxeo::TaskCompletionRequest,
    responses(
        (status = 200, description = "The task after completion", body = crate::nuxeo::TaskEntity),
        (status = 400, description = "Malformed body, unknown button or missing required variables", body = ExceptionBody),
        (status = 403, description = "The caller is not an actor of the task", body = ExceptionBody),
        (status = 404, description = "No such task", body = ExceptionBody),
        (status = 409, description = "The task is no longer open (completed concurrently)", body = ExceptionBody),
    )
)]
async fn complete(
    api: Api,
    seg: web::Path<Seg>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    complete_task(&api, &seg.id, &seg.action, payload).await
}

/// Query of `PUT /task/{id}/reassign`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ReassignParams {
    /// New actors (repeated, or comma-separated).
    #[serde(deserialize_with = "principal_list")]
    #[param(value_type = Vec<PrincipalName>, inline, min_items = 1, style = Form, explode)]
    actors: Vec<String>,
    /// Comment recorded with the change.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    comment: Option<String>,
}

/// Query of `PUT /task/{id}/delegate`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct DelegateParams {
    /// Delegated actors (repeated, or comma-separated); `actors` is accepted too.
    #[serde(
        rename = "delegatedActors",
        alias = "actors",
        deserialize_with = "principal_list"
    )]
    #[param(value_type = Vec<PrincipalName>, inline, min_items = 1, style = Form, explode)]
    delegated_actors: Vec<String>,
    /// Comment recorded with the change.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    comment: Option<String>,
}

/// A user name or `group:<name>` in an actor list (schema only): not blank, no comma.
pub(crate) struct PrincipalName;

impl utoipa::PartialSchema for PrincipalName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some("A user name or `group:<name>`"))
            .min_length(Some(1))
            .pattern(Some(r"^[^,]*[^\s,][^,]*$"))
            .into()
    }
}

impl utoipa::ToSchema for PrincipalName {}

/// A comma-separated list of principal names (repeated parameters arrive joined); none
/// may be blank.
fn principal_list<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let joined = String::deserialize(d)?;
    let list: Vec<String> = joined
        .split(',')
        .map(crate::nuxeo::trimmed)
        .map(str::to_owned)
        .collect();
    if list.iter().any(String::is_empty) {
        return Err(serde::de::Error::custom("actor names must not be blank"));
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
    params(("taskId" = String, Path, description = "Task id"), ReassignParams),
    responses(
        (status = 200, description = "Reassigned (empty body)"),
        (status = 400, description = "No actors given", body = ExceptionBody),
        (status = 403, description = "Reassignment not allowed for this task or caller", body = ExceptionBody),
        (status = 404, description = "No such task", body = ExceptionBody),
        (status = 409, description = "The task is no longer open", body = ExceptionBody),
    )
)]
async fn reassign(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let p: ReassignParams = api.params.decode()?;
    api.router()
        .reassign(api.cx(), &seg.id, p.actors, p.comment)
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
    params(("taskId" = String, Path, description = "Task id"), DelegateParams),
    responses(
        (status = 200, description = "Delegated (empty body)"),
        (status = 400, description = "No actors given", body = ExceptionBody),
        (status = 403, description = "The caller may not delegate this task", body = ExceptionBody),
        (status = 404, description = "No such task", body = ExceptionBody),
        (status = 409, description = "The task is no longer open", body = ExceptionBody),
    )
)]
async fn delegate(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let p: DelegateParams = api.params.decode()?;
    api.router()
        .delegate(api.cx(), &seg.id, p.delegated_actors, p.comment)
        .await
        .map_err(unknown_task(&seg.id))?;
    Ok(empty(StatusCode::OK))
}
