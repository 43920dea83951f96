//! The OpenAPI 3.1 description of the facade, served as JSON at `GET /api/v1/openapi.json`
//! and as an interactive explorer (Swagger UI, compiled into the binary) at
//! `GET /api/v1/doc`; `flowgate openapi` prints it. Neither endpoint needs credentials.
//!
//! Operations are described by `#[utoipa::path]` on the handlers in [`crate::routes`],
//! entities by `ToSchema` on the wire types in [`crate::nuxeo`]. This module holds what
//! has no Rust type of its own (bodies built as JSON values, request bodies read by hand,
//! query parameter sets) and assembles the document. `tests/openapi.rs` checks that every
//! served route is described, nothing described is missing from the app, and Nuxeo's own
//! published workflow API is covered.

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};

use crate::error::ApiError;

/// Where the JSON description is served.
pub const SPEC_PATH: &str = "/api/v1/openapi.json";
/// Where the explorer is served.
pub const DOC_PATH: &str = "/api/v1/doc";

/// The whole facade.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "flowgate",
        description = "The Nuxeo workflow REST API (workflows, tasks, workflow models and their \
document adapters) served by flowgate over pluggable workflow engines.\n\n\
The API tree below `/api/v1` is also served under `<context_path>/api/v1`, \
`<context_path>/site/api/v1` (context path `/nuxeo` by default) and, for a named \
repository, under `.../api/v1/repo/{repo}/...`. `json/cmis`, `runningstatus` and \
`authentication/token` are also served under the context path.\n\n\
Authenticate with HTTP Basic or with a token from `authentication/token` sent as \
`X-Authentication-Token`. Errors are Nuxeo exception entities. Ids are opaque strings: \
ids of non-default engines look like `<prefix>~<native id>`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        crate::routes::workflow::list,
        crate::routes::workflow::start,
        crate::routes::workflow::get,
        crate::routes::workflow::cancel,
        crate::routes::workflow::graph,
        crate::routes::workflow::tasks,
        crate::routes::task::list,
        crate::routes::task::get,
        crate::routes::task::complete,
        crate::routes::task::reassign,
        crate::routes::task::delegate,
        crate::routes::workflow_model::list,
        crate::routes::workflow_model::get,
        crate::routes::workflow_model::graph,
        crate::routes::document::workflows_by_id,
        crate::routes::document::start_by_id,
        crate::routes::document::tasks_by_id,
        crate::routes::document::wf_tasks_by_id,
        crate::routes::document::complete_by_id,
        crate::routes::document::workflows_by_path,
        crate::routes::document::start_by_path,
        crate::routes::document::tasks_by_path,
        crate::routes::document::wf_tasks_by_path,
        crate::routes::document::complete_by_path,
        crate::routes::bootstrap::login,
        crate::routes::bootstrap::user,
        crate::routes::bootstrap::me,
        crate::routes::bootstrap::cmis,
        crate::routes::bootstrap::running_status,
        crate::routes::bootstrap::token,
        crate::routes::ops::live,
        crate::routes::ops::ready,
        openapi_json,
        explorer,
        metrics_doc,
    ),
    components(schemas(ExceptionEntity)),
    modifiers(&Security, &CommonErrors),
    security(("basicAuth" = []), ("token" = [])),
    tags(
        (name = "workflow", description = "Workflow instances"),
        (name = "task", description = "Tasks of running workflows"),
        (name = "workflowModel", description = "Models workflows are started from"),
        (name = "document", description = "Workflows and tasks of a document, by id or by path"),
        (name = "session", description = "What clients call to connect"),
        (name = "operations", description = "API description, explorer and metrics"),
    )
)]
pub struct ApiDoc;

/// The description as compact JSON, built once.
pub fn spec_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        // Serializing plain data cannot fail; an empty object keeps the endpoint valid JSON.
        ApiDoc::openapi()
            .to_json()
            .unwrap_or_else(|_| "{}".to_owned())
    })
}

/// The description as indented JSON (`flowgate openapi`).
pub fn spec_pretty() -> Result<String, String> {
    ApiDoc::openapi()
        .to_pretty_json()
        .map_err(|e| format!("cannot render the OpenAPI description: {e}"))
}

/// Registers the JSON description and the explorer inside the `/api/v1` scope.
pub fn configure(cfg: &mut web::ServiceConfig) {
    // Registered inside the `/api/v1` scope, so paths are relative to it.
    let spec = SPEC_PATH
        .strip_prefix(crate::normalize::API_ROOT)
        .unwrap_or(SPEC_PATH);
    let doc = DOC_PATH
        .strip_prefix(crate::normalize::API_ROOT)
        .unwrap_or(DOC_PATH);
    cfg.service(crate::routes::resource(spec).route(web::get().to(openapi_json)))
        .service(crate::routes::resource(doc).route(web::get().to(explorer)))
        // A static scope, so that API requests do not try the asset pattern.
        .service(
            web::scope(doc)
                .service(crate::routes::resource("/{file}").route(web::get().to(explorer_asset))),
        );
}

/// The OpenAPI 3.1 description of this API.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 description", content_type = "application/json", body = Object))
)]
async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "application/json"))
        .body(spec_json())
}

fn swagger_config() -> Arc<utoipa_swagger_ui::Config<'static>> {
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            Arc::new(
                utoipa_swagger_ui::Config::new([SPEC_PATH])
                    .doc_expansion("list")
                    .filter(true)
                    .display_request_duration(true),
            )
        })
        .clone()
}

fn asset(file: &str) -> Result<HttpResponse, ApiError> {
    match utoipa_swagger_ui::serve(file, swagger_config()) {
        Ok(Some(f)) => {
            let mut body = f.bytes.into_owned();
            if file == "index.html" {
                // The page links its assets relatively ("./swagger-ui.css"); trailing
                // slashes are trimmed before routing, so make the links absolute to work
                // from both /api/v1/doc and /api/v1/doc/.
                body = String::from_utf8_lossy(&body)
                    .replace("\"./", &format!("\"{DOC_PATH}/"))
                    .into_bytes();
            }
            let mut res = HttpResponse::Ok();
            res.insert_header((header::CONTENT_TYPE, f.content_type));
            if f.gzpipped {
                res.insert_header((header::CONTENT_ENCODING, "gzip"));
            }
            Ok(res.body(body))
        }
        Ok(None) => Err(ApiError::not_found(format!(
            "No explorer asset named {file}"
        ))),
        Err(e) => Err(ApiError::internal(e)),
    }
}

/// The interactive API explorer (Swagger UI, served from the binary).
#[utoipa::path(
    get,
    path = "/api/v1/doc",
    tag = "operations",
    security(()),
    responses((status = 200, description = "The explorer page", content_type = "text/html", body = String))
)]
async fn explorer() -> Result<HttpResponse, ApiError> {
    asset("index.html")
}

/// Scripts and style sheets of the explorer.
async fn explorer_asset(file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    asset(&file)
}

/// Prometheus metrics in the text exposition format. Served without authentication (put
/// it behind the network boundary or turn it off with `[metrics] enabled = false`).
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "operations",
    security(()),
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 503, description = "No recorder could be installed", body = ExceptionEntity),
    )
)]
#[allow(dead_code)] // Describes `crate::metrics::scrape`; never routed itself.
async fn metrics_doc() {}

/// Security schemes: Basic and the Nuxeo token header.
struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basicAuth",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Basic).build()),
        );
        components.add_security_scheme(
            "token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::with_description(
                "X-Authentication-Token",
                "A token issued by GET /authentication/token",
            ))),
        );
    }
}

/// Answers every authenticated operation can give, added to each once instead of being
/// repeated in every annotation: 401 without valid credentials, and the engine failures
/// for operations that reach an engine.
struct CommonErrors;

fn exception(description: &str) -> utoipa::openapi::Response {
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            ContentBuilder::new()
                .schema(Some(Ref::from_schema_name("ExceptionEntity")))
                .build(),
        )
        .build()
}

fn add_response(op: &mut Operation, status: &str, description: &str) {
    op.responses
        .responses
        .entry(status.to_owned())
        .or_insert_with(|| exception(description).into());
}

impl Modify for CommonErrors {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let reaches_engine = path.starts_with("/api/v1/")
                && ![
                    "/api/v1/me",
                    "/api/v1/user/{userId}",
                    "/api/v1/automation/login",
                    "/health/live",
                    "/health/ready",
                    SPEC_PATH,
                    DOC_PATH,
                ]
                .contains(&path.as_str());
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                // `security(())` marks the operations that need no credentials.
                let open = op
                    .security
                    .as_ref()
                    .is_some_and(|s| s.iter().all(|r| r == &Default::default()));
                if !open {
                    add_response(
                        op,
                        "401",
                        "No or wrong credentials (with a WWW-Authenticate: Basic challenge)",
                    );
                }
                if reaches_engine {
                    add_response(op, "502", "The engine answered with an error or the gateway's own credentials were refused upstream");
                    add_response(
                        op,
                        "503",
                        "The engine is unavailable (circuit breaker open)",
                    );
                    add_response(
                        op,
                        "504",
                        "The engine did not answer before the request deadline",
                    );
                }
            }
        }
    }
}

/// `{"entity-type":"exception",...}`: every error answer.
#[derive(ToSchema)]
#[allow(dead_code)] // Documentation only: `crate::error` writes this body.
pub struct ExceptionEntity {
    /// Always `exception`.
    #[schema(rename = "entity-type", example = "exception")]
    entity_type: String,
    /// The HTTP status, repeated.
    #[schema(example = 404)]
    status: u16,
    /// What went wrong, safe to show.
    #[schema(example = "Can not get workflow instance with id: 42")]
    message: String,
}

/// A reference to a document (`{"id": …}`), or a whole `document` entity when fetched
/// with `fetch.workflow=attachedDocumentIds` / `fetch.task=targetDocumentIds`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DocumentRef {
    /// Document id.
    id: String,
}

/// An actor (`{"id": "jdoe"}`, `{"id": "group:members"}`), or a `user`/`group` entity
/// when fetched with `fetch.task=actors`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PrincipalRef {
    /// User name or `group:<name>`.
    id: String,
}

/// One point of a transition's polyline in a graph.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GraphPoint {
    /// Horizontal canvas coordinate.
    x: f64,
    /// Vertical canvas coordinate.
    y: f64,
}

/// `{"entity-type":"workflows","entries":[…]}`
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkflowList {
    /// Always `workflows`.
    #[schema(rename = "entity-type", example = "workflows")]
    entity_type: String,
    /// Workflow instances (or models, which are rendered as `workflow` entities).
    #[schema(value_type = Vec<crate::nuxeo::WorkflowEntity>)]
    entries: Vec<()>,
    /// Engines that failed while the list was gathered from several engines; absent
    /// when every engine answered.
    #[schema(rename = "engineFailures")]
    engine_failures: Option<Vec<EngineFailure>>,
}

/// `{"entity-type":"tasks","entries":[…]}`; with `isPaginated=true` the pagination fields
/// come between `entity-type` and `entries`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TaskList {
    /// Always `tasks`.
    #[schema(rename = "entity-type", example = "tasks")]
    entity_type: String,
    /// Tasks.
    #[schema(value_type = Vec<crate::nuxeo::TaskEntity>)]
    entries: Vec<()>,
    /// Engines that failed while the list was gathered from several engines; absent
    /// when every engine answered.
    #[schema(rename = "engineFailures")]
    engine_failures: Option<Vec<EngineFailure>>,
}

/// The paginated form of a task list (`GET /task?isPaginated=true`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PaginatedTaskList {
    /// Always `tasks`.
    #[schema(rename = "entity-type", example = "tasks")]
    entity_type: String,
    /// Pagination fields.
    #[serde(flatten)]
    pagination: crate::nuxeo::Pagination,
    /// Tasks of the page.
    #[schema(value_type = Vec<crate::nuxeo::TaskEntity>)]
    entries: Vec<()>,
    /// Engines that failed while the page was gathered from several engines.
    #[schema(rename = "engineFailures")]
    engine_failures: Option<Vec<EngineFailure>>,
}

/// The answer of `GET /task`: the plain list, or the paginated form with `isPaginated=true`.
#[derive(ToSchema)]
#[serde(untagged)]
#[allow(dead_code)]
pub enum TaskListAnswer {
    /// Without `isPaginated=true` (what every client uses).
    Plain(TaskList),
    /// With `isPaginated=true` and no `workflowModelName`.
    Paginated(PaginatedTaskList),
}

/// Body of `POST /workflow` and `POST …/@workflow`. Unknown fields are ignored, so a
/// whole `workflow` entity (a model, as the Java client sends) is accepted too.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkflowRequest {
    /// Must be `workflow`.
    #[schema(rename = "entity-type", example = "workflow")]
    entity_type: String,
    /// Model to start.
    #[schema(example = "SerialDocumentReview")]
    workflow_model_name: String,
    /// Documents to attach: ids or `{"id": …}` objects (replaced by the document of the
    /// URL on `…/@workflow`).
    #[schema(value_type = Option<Vec<String>>)]
    attached_document_ids: Option<Vec<String>>,
    /// Initial workflow variables.
    #[schema(value_type = Option<Object>)]
    variables: Option<()>,
}

/// Body of a task completion. Unknown fields are ignored, so the whole `task` entity as
/// received may be sent back.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TaskCompletionRequest {
    /// Must be `task`.
    #[schema(rename = "entity-type", example = "task")]
    entity_type: String,
    /// When present, must equal the task id of the URL.
    id: Option<String>,
    /// Comment recorded with the completion (`variables.comment` is used when blank).
    comment: Option<String>,
    /// Task and workflow variables to set (`participants`, `validationOrReview`, …).
    #[schema(value_type = Option<Object>)]
    variables: Option<()>,
}

/// `{"entity-type":"user",…}` (never with a password).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserEntity {
    /// Always `user`.
    #[schema(rename = "entity-type", example = "user")]
    entity_type: String,
    /// User name.
    id: String,
    /// Profile fields.
    properties: UserProperties,
    /// Groups with their labels.
    #[schema(rename = "extendedGroups")]
    extended_groups: Vec<ExtendedGroup>,
    /// Member of the administrators group.
    #[schema(rename = "isAdministrator")]
    is_administrator: bool,
    /// Always false.
    #[schema(rename = "isAnonymous")]
    is_anonymous: bool,
}

/// Profile fields of a user.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserProperties {
    /// First name.
    #[schema(rename = "firstName")]
    first_name: String,
    /// Last name.
    #[schema(rename = "lastName")]
    last_name: String,
    /// User name.
    username: String,
    /// E-mail address.
    email: String,
    /// Always empty.
    company: String,
    /// Group names.
    groups: Vec<String>,
    /// Always null.
    #[schema(rename = "tenantId")]
    tenant_id: Option<String>,
}

/// A group of a user, with its label.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ExtendedGroup {
    /// Group name.
    name: String,
    /// Group label.
    label: String,
    /// URL of the group resource.
    url: String,
}

/// `{"entity-type":"login",…}`
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LoginEntity {
    /// Always `login`.
    #[schema(rename = "entity-type", example = "login")]
    entity_type: String,
    /// User name.
    username: String,
    /// Member of the administrators group.
    #[schema(rename = "isAdministrator")]
    is_administrator: bool,
    /// Group names.
    groups: Vec<String>,
}

/// Health of the engines (`GET /runningstatus`).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RunningStatus {
    /// `ok` or `unavailable`.
    #[schema(example = "ok")]
    status: String,
    /// Per engine: `{"status": "up"|"degraded"|"down", "message": …}`.
    #[schema(value_type = Object)]
    engines: (),
}

/// `GET /health/live`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Liveness {
    /// Always `live`.
    #[schema(example = "live")]
    status: String,
}

/// `GET /health/ready`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct Readiness {
    /// `ready` or `not_ready`.
    #[schema(example = "ready")]
    status: String,
    /// Every configured engine.
    engines: Vec<EngineStatus>,
}

/// Readiness of one engine.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EngineStatus {
    /// Engine name.
    engine: String,
    /// `memory`, `alfresco` or `cq`.
    kind: String,
    /// Whether this is the default engine.
    default: bool,
    /// `up`, `degraded` or `down`.
    status: String,
    /// Upstream circuit breaker (`closed`, `open`, `half_open`); remote engines only.
    breaker: Option<String>,
    /// Why the engine is not up.
    message: Option<String>,
    /// How long the check took, in milliseconds.
    duration_ms: f64,
}

/// An engine that did not answer its part of a query spanning engines. The same engines
/// are listed in the `X-Flowgate-Engine-Failures` response header.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct EngineFailure {
    /// Engine name.
    engine: String,
    /// Stable error code (`unavailable`, `timeout`, `upstream`, ...).
    code: String,
    /// Client-safe message.
    message: String,
}

/// Filters and paging of `GET /task`. Blank values count as absent; unknown parameters
/// are ignored.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TaskQueryParams {
    /// Tasks whose actors or delegated actors include this user or one of their groups.
    /// Optional: without it, every open task the caller may see.
    #[param(rename = "userId")]
    user_id: Option<String>,
    /// Tasks of this workflow instance.
    #[param(rename = "workflowInstanceId")]
    workflow_instance_id: Option<String>,
    /// Tasks of workflows of this model (forces the non-paginated form).
    #[param(rename = "workflowModelName")]
    workflow_model_name: Option<String>,
    /// `true` for the paginated form.
    #[param(rename = "isPaginated")]
    is_paginated: Option<bool>,
    /// Page size (default 50, at most 1000).
    #[param(rename = "pageSize")]
    page_size: Option<u32>,
    /// Zero-based page index.
    #[param(rename = "currentPageIndex")]
    current_page_index: Option<u32>,
    /// Offset of the first task; wins over `currentPageIndex`.
    offset: Option<u32>,
    /// Accepted for compatibility and ignored.
    #[param(rename = "maxResults")]
    max_results: Option<u32>,
    /// Accepted for compatibility and ignored: tasks are ordered by due date.
    #[param(rename = "sortBy")]
    sort_by: Option<String>,
    /// Accepted for compatibility and ignored.
    #[param(rename = "sortOrder")]
    sort_order: Option<String>,
}

/// Filters of the document task lists (`…/@task`).
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct DocTaskParams {
    /// Tasks whose actors include this user or one of their groups.
    #[param(rename = "userId")]
    user_id: Option<String>,
    /// Tasks of this workflow instance.
    #[param(rename = "workflowInstanceId")]
    workflow_instance_id: Option<String>,
    /// Tasks of workflows of this model.
    #[param(rename = "workflowModelName")]
    workflow_model_name: Option<String>,
}

/// Fetch flags of operations answering tasks.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct TaskFetch {
    /// Comma-separated: `actors` (user/group entities), `targetDocumentIds` (document
    /// entities), `workflowInitiator` (user entity). Also accepted as query parameter
    /// `fetch.task`.
    #[param(rename = "X-NXfetch.task")]
    fetch: Option<String>,
}

/// Fetch flags of operations answering workflows.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct WorkflowFetch {
    /// Comma-separated: `initiator` (user entity), `attachedDocumentIds` (document
    /// entities). Also accepted as query parameter `fetch.workflow`.
    #[param(rename = "X-NXfetch.workflow")]
    fetch: Option<String>,
}
