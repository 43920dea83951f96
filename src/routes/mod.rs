//! HTTP routes, one module per Nuxeo resource. Handlers are thin: extract the caller
//! and parameters ([`Api`]), call the router, render with [`crate::nuxeo`].

pub mod admin;
pub mod audit;
pub mod bootstrap;
pub mod document;
pub mod events;
pub mod metrics;
pub mod ops;
pub(crate) mod sort;
pub mod task;
pub mod token;
pub mod webhooks;
pub mod workflow;
pub mod workflow_model;

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::{header, StatusCode};
use actix_web::{web, FromRequest, HttpMessage as _, HttpRequest, HttpResponse};
use flowgate_core::{CallContext, DocLocator, Document, Page, Task, WorkflowInstance};
use futures::StreamExt;
use serde::Serialize;

use crate::auth::{authenticate, Caller};
use crate::error::ApiError;
use crate::nuxeo::{Params, RenderCtx, Renderer};
use crate::router::Router;

/// Registers the `/api/v1` resource tree (mounted under several prefixes by `lib.rs`).
pub fn configure_api(cfg: &mut web::ServiceConfig) {
    workflow::configure(cfg);
    task::configure(cfg);
    workflow_model::configure(cfg);
    audit::configure(cfg);
    events::configure(cfg);
    document::configure(cfg);
    bootstrap::configure_api(cfg);
    token::configure(cfg);
    admin::configure(cfg);
    webhooks::configure(cfg);
    cfg.default_service(web::to(not_found));
}

/// Fetch flags of operations answering tasks (schema only: [`RenderCtx`] reads them).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct TaskFetch {
    /// Comma-separated: `actors` (user/group entities), `targetDocumentIds` (document
    /// entities), `workflowInitiator` (user entity). Also accepted as query parameter
    /// `fetch.task`.
    #[param(rename = "X-NXfetch.task")]
    fetch: Option<String>,
}

/// Fetch flags of operations answering workflows (schema only: [`RenderCtx`] reads them).
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct WorkflowFetch {
    /// Comma-separated: `initiator` (user entity), `attachedDocumentIds` (document
    /// entities). Also accepted as query parameter `fetch.workflow`.
    #[param(rename = "X-NXfetch.workflow")]
    fetch: Option<String>,
}

/// Named path segments. Handlers extract them by name (not by position) because the
/// `repo/{repo}` mounts add a segment of their own.
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Seg {
    /// `{id}`: workflow, task or user id.
    #[serde(default)]
    pub id: String,
    /// `{action}` of a task completion.
    #[serde(default)]
    pub action: String,
    /// `{name}` of a model.
    #[serde(default)]
    pub name: String,
    /// `{doc}`: document id or path.
    #[serde(default)]
    pub doc: String,
    /// `{wf}`: workflow id under a document.
    #[serde(default)]
    pub wf: String,
    /// `{task}`: task id under a document.
    #[serde(default)]
    pub task: String,
}

/// A resource answering the methods given to it, and 405 with an exception body and an
/// `Allow` header naming them for every other method:
/// `resource("/workflow").get(list).post(start)`.
pub(crate) fn resource(path: &str) -> ApiResource {
    ApiResource {
        path: path.to_owned(),
        routes: Vec::new(),
        names: Vec::new(),
    }
}

/// A resource under construction; see [`resource`].
pub(crate) struct ApiResource {
    path: String,
    routes: Vec<actix_web::Route>,
    names: Vec<&'static str>,
}

/// The methods a resource answers, as its 405 answers list them in `Allow`.
#[derive(Clone, Debug)]
pub(crate) struct AllowedMethods(header::HeaderValue);

macro_rules! method_adders {
    ($($fn:ident => $name:literal;)*) => {$(
        #[doc = concat!("Answers ", $name, " with `handler`.")]
        pub(crate) fn $fn<F, Args>(mut self, handler: F) -> Self
        where
            F: actix_web::Handler<Args>,
            Args: FromRequest + 'static,
            F::Output: actix_web::Responder + 'static,
        {
            self.routes.push(web::$fn().to(handler));
            self.names.push($name);
            self
        }
    )*};
}

impl ApiResource {
    method_adders! {
        get => "GET";
        post => "POST";
        put => "PUT";
        delete => "DELETE";
    }
}

impl actix_web::dev::HttpServiceFactory for ApiResource {
    fn register(self, config: &mut actix_web::dev::AppService) {
        // Method names are header-safe tokens; the fallback is never taken.
        let allow = header::HeaderValue::from_str(&self.names.join(", "))
            .unwrap_or_else(|_| header::HeaderValue::from_static(""));
        let mut r = web::resource(self.path.as_str())
            .app_data(AllowedMethods(allow))
            .default_service(web::to(method_not_allowed));
        for route in self.routes {
            r = r.route(route);
        }
        r.register(config)
    }
}

/// 404 for paths no route knows.
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let path = match req.extensions().get::<crate::normalize::OriginalPath>() {
        Some(p) => p.0.clone(),
        None => req.path().to_owned(),
    };
    Err(ApiError::not_found(format!(
        "No resource at {}",
        flowgate_core::shown(&path)
    )))
}

/// 405 with the resource's [`AllowedMethods`] as `Allow` (RFC 9110, section 15.5.6).
async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    let mut e = ApiError::method_not_allowed(req.method().as_str());
    if let Some(AllowedMethods(allow)) = req.app_data::<AllowedMethods>() {
        e = e.with_allow(allow.clone());
    }
    Err(e)
}

/// What a handler gets: state, authenticated caller, rendering context, query params.
///
/// One pointer wide: an extractor's value is moved several times on its way into a
/// handler (extractor future, argument tuple, the handler's future twice), and every
/// handler future would otherwise carry the parts inline, twice.
pub struct Api(Box<ApiParts>);

/// The parts of an [`Api`], reached through it by `Deref`.
pub struct ApiParts {
    /// Application state.
    pub state: crate::WorkerState,
    /// The caller.
    pub caller: Caller,
    /// Rendering context of the request.
    pub render: RenderCtx,
    /// Query parameters.
    pub params: Params,
}

impl FromRequest for Api {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<crate::WorkerState>()
                .cloned()
                .ok_or_else(|| ApiError::internal("application state is missing"))?;
            let mut caller = authenticate(&state, &req).await?;
            if state.router.keeps_credentials() {
                // Kept for pass-through engines only; the router strips them for others.
                // A bearer token only when it is what signed the caller in (verified).
                let authorization = req
                    .headers()
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok());
                caller.cx.credentials = if caller.sign_in == crate::auth::SignIn::Bearer {
                    authorization.and_then(crate::router::bearer_credentials)
                } else {
                    authorization.and_then(crate::router::basic_credentials)
                };
            }
            let params = Params::of(&req);
            let render = RenderCtx::with_params(
                &req,
                &state.settings.server,
                &caller.cx.repository,
                &params,
            );
            Ok(Api(Box::new(ApiParts {
                params,
                state,
                caller,
                render,
            })))
        })
    }
}

/// 200 with a compact JSON body.
pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Result<HttpResponse, ApiError> {
    // Sized for one task entity (~1.5 KB) so that a single entity is written without
    // growing the buffer; lists grow it a few times.
    let mut bytes = Vec::with_capacity(2048);
    serde_json::to_writer(&mut bytes, body).map_err(ApiError::internal)?;
    Ok(json_bytes(status, bytes))
}

/// A response with an already written JSON body.
pub(crate) fn json_bytes(status: StatusCode, bytes: Vec<u8>) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        ))
        .body(bytes)
}

/// Response header naming the engines that failed during a fan-out, as
/// `<engine>=<code>` pairs separated by commas.
pub const ENGINE_FAILURES_HEADER: &str = "x-flowgate-engine-failures";

/// Body field listing the engines that failed during a fan-out (`engine`, `code`,
/// `message`); absent when every engine answered. Nuxeo clients ignore unknown fields.
pub const ENGINE_FAILURES_FIELD: &str = "engineFailures";

/// Like [`json`], adding the engines that failed during a fan-out (if any) as the
/// [`ENGINE_FAILURES_HEADER`] header and the [`ENGINE_FAILURES_FIELD`] body field.
pub(crate) fn json_fanned<T: Serialize>(
    status: StatusCode,
    body: &T,
    failures: &[crate::router::EngineFailure],
) -> Result<HttpResponse, ApiError> {
    if failures.is_empty() {
        return json(status, body);
    }
    let mut v = serde_json::to_value(body).map_err(ApiError::internal)?;
    if let Some(o) = v.as_object_mut() {
        o.insert(
            ENGINE_FAILURES_FIELD.to_owned(),
            serde_json::to_value(failures).map_err(ApiError::internal)?,
        );
    }
    let summary = failures
        .iter()
        .map(|f| format!("{}={}", f.engine, f.code))
        .collect::<Vec<_>>()
        .join(", ");
    let mut r = json(status, &v)?;
    if let Ok(h) = header::HeaderValue::from_str(&summary) {
        r.headers_mut()
            .insert(header::HeaderName::from_static(ENGINE_FAILURES_HEADER), h);
    }
    Ok(r)
}

/// A body-less answer without a content type (the JS client would try to parse it).
pub(crate) fn empty(status: StatusCode) -> HttpResponse {
    let mut r = HttpResponse::build(status).finish();
    r.headers_mut().remove(header::CONTENT_TYPE);
    r
}

/// Reads a request body up to the configured limit (chunked bodies included).
pub(crate) async fn read_body(
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut body = Vec::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::bad_request(format!("Cannot read body: {e}")))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::payload_too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

impl std::ops::Deref for Api {
    type Target = ApiParts;

    fn deref(&self) -> &ApiParts {
        &self.0
    }
}

impl Api {
    /// The engine router.
    pub fn router(&self) -> &Router {
        &self.state.router
    }

    /// The caller's context for engine calls.
    pub fn cx(&self) -> &CallContext {
        &self.caller.cx
    }

    /// The body size limit.
    pub fn body_limit(&self) -> usize {
        self.state.settings.server.max_body_bytes
    }

    /// Resolves the documents needed by fetch flags (failures leave stubs).
    async fn documents(&self, ids: HashSet<&str>) -> HashMap<String, Document> {
        let mut out = HashMap::new();
        for id in ids {
            let loc = DocLocator::Id(id.to_owned());
            match self.router().document(self.cx(), &loc).await {
                Ok(d) => {
                    out.insert(id.to_owned(), d);
                }
                Err(e) => tracing::debug!(error = %e, "document not resolved for fetch"),
            }
        }
        out
    }

    /// Renders tasks, resolving documents when `fetch.task=targetDocumentIds` asks for it.
    pub async fn task_docs(&self, tasks: &[Task]) -> HashMap<String, Document> {
        if !self.render.fetches("task", "targetDocumentIds") {
            return HashMap::new();
        }
        // Boxed: only fetch requests take this path, and every task response's future
        // would otherwise carry its state inline.
        Box::pin(
            self.documents(
                tasks
                    .iter()
                    .flat_map(|t| t.target_documents.iter().map(String::as_str))
                    .collect(),
            ),
        )
        .await
    }

    /// Documents for `fetch.workflow=attachedDocumentIds`.
    pub async fn workflow_docs(&self, wfs: &[WorkflowInstance]) -> HashMap<String, Document> {
        if !self.render.fetches("workflow", "attachedDocumentIds") {
            return HashMap::new();
        }
        Box::pin(
            self.documents(
                wfs.iter()
                    .flat_map(|w| w.attached_documents.iter().map(String::as_str))
                    .collect(),
            ),
        )
        .await
    }

    /// A renderer over resolved documents.
    pub fn renderer<'a>(&'a self, documents: &'a HashMap<String, Document>) -> Renderer<'a> {
        Renderer {
            ctx: &self.render,
            directory: &self.state.directory,
            documents,
        }
    }

    /// One task as a response.
    pub async fn task_response(
        &self,
        status: StatusCode,
        t: &Task,
    ) -> Result<HttpResponse, ApiError> {
        let docs = self.task_docs(std::slice::from_ref(t)).await;
        json(status, &self.renderer(&docs).task(t))
    }

    /// A task list as a response: plain, or paginated (first page) when the result
    /// was longer than `limits.max_page_size`.
    pub async fn tasks_response(&self, page: &Page<Task>) -> Result<HttpResponse, ApiError> {
        self.tasks_response_fanned(page, &[]).await
    }

    /// A task list gathered from several engines, some of which failed.
    pub async fn tasks_response_fanned(
        &self,
        page: &Page<Task>,
        failures: &[crate::router::EngineFailure],
    ) -> Result<HttpResponse, ApiError> {
        let docs = self.task_docs(&page.items).await;
        let r = self.renderer(&docs);
        let entries = r.tasks(&page.items);
        let body = match self.cut_pagination(page) {
            None => crate::nuxeo::ListEntity::tasks(entries),
            Some(p) => crate::nuxeo::ListEntity::paginated_tasks(entries, p),
        };
        json_fanned(StatusCode::OK, &body, failures)
    }

    /// The pagination to announce when `page` holds only the first `max_page_size`
    /// entries of an unpaginated answer.
    fn cut_pagination<T>(&self, page: &Page<T>) -> Option<crate::nuxeo::Pagination> {
        let max = self.router().limits().max_page_size;
        (page.total > page.items.len())
            .then(|| crate::nuxeo::pagination_of(page, 0, max).with_max_page_size(max))
    }

    /// One workflow as a response.
    pub async fn workflow_response(
        &self,
        status: StatusCode,
        w: &WorkflowInstance,
    ) -> Result<HttpResponse, ApiError> {
        let docs = self.workflow_docs(std::slice::from_ref(w)).await;
        json(status, &self.renderer(&docs).workflow(w))
    }

    /// A workflow list as a response (paginated when cut, as for tasks).
    pub async fn workflows_response(
        &self,
        page: &Page<WorkflowInstance>,
    ) -> Result<HttpResponse, ApiError> {
        self.workflows_response_fanned(page, &[]).await
    }

    /// A workflow list gathered from several engines, some of which failed.
    pub async fn workflows_response_fanned(
        &self,
        page: &Page<WorkflowInstance>,
        failures: &[crate::router::EngineFailure],
    ) -> Result<HttpResponse, ApiError> {
        let docs = self.workflow_docs(&page.items).await;
        let r = self.renderer(&docs);
        let entries: Vec<_> = page.items.iter().map(|w| r.workflow(w)).collect();
        let body = match self.cut_pagination(page) {
            None => crate::nuxeo::ListEntity::workflows(entries),
            Some(p) => crate::nuxeo::ListEntity::paginated_workflows(entries, p),
        };
        json_fanned(StatusCode::OK, &body, failures)
    }
}
