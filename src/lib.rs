//! # flowgate
//!
//! One HTTP gateway that speaks the Nuxeo workflow REST API (`/api/v1/workflow`, `/task`,
//! `/workflowModel`, `/id|path/{doc}/@workflow|@task`) and answers it from pluggable
//! workflow engines behind [`flowgate_core::WorkflowEngine`].
//!
//! Reading order: [`settings`] (what can be configured) → [`registry`] (engines from
//! settings) → [`router`] (which engine answers) → [`routes`] (one module per Nuxeo
//! resource) → [`nuxeo`] (wire entities) → [`error`] (status mapping).
//!
//! [`app`] builds the actix application; `main.rs` and the tests both use it:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use flowgate::{settings::{Settings, Sources}, AppState};
//! let settings = Settings::load(&Sources::from_toml("[server]\nbind = \"127.0.0.1:0\"\n"))?;
//! let running = flowgate::spawn(AppState::new(settings)?).await?;
//! println!("listening on http://{}", running.addr);
//! running.stop().await;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod body;
pub mod cors;
pub mod db_metrics;
pub mod error;
pub mod live;
pub mod logging;
pub mod metrics;
pub mod normalize;
pub mod nuxeo;
pub mod openapi;
pub mod registry;
pub mod router;
pub mod routes;
pub mod settings;
pub mod webhooks;

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{Server, ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Condition, Next};
use actix_web::{web, App, HttpMessage, HttpServer};

use crate::auth::{Directory, RequestId};
use crate::error::{ApiError, ErrorDetail};
use crate::router::Router;
use crate::settings::Settings;

/// Shared state of the application: settings, engines, users.
#[derive(Debug)]
pub struct AppState {
    /// The validated settings.
    pub settings: Settings,
    /// Engine selection.
    pub router: Router,
    /// Users, groups and tokens.
    pub directory: Directory,
    /// Background duties of the engines, started by [`spawn`] and `flowgate serve`.
    pub jobs: Vec<registry::Job>,
    /// Live events and open event streams.
    pub events: live::Hub,
    /// Webhook endpoints and their delivery state.
    pub webhooks: webhooks::Webhooks,
}

/// The gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Settings are invalid.
    #[error(transparent)]
    Settings(#[from] settings::SettingsError),
    /// An engine could not be built.
    #[error(transparent)]
    Registry(#[from] registry::RegistryError),
    /// The bearer token settings could not be put to use (key set, HTTP client).
    #[error("{0}")]
    Auth(String),
    /// The webhook settings could not be put to use (secret, HTTP client, state file).
    #[error("{0}")]
    Webhooks(String),
    /// The listening socket could not be opened.
    #[error("cannot listen: {0}")]
    Io(#[from] std::io::Error),
}

impl AppState {
    /// Builds engines and the user directory from settings.
    pub fn new(settings: Settings) -> Result<Self, StartError> {
        if settings.metrics.enabled {
            // Before the engines exist: remote engines keep their metric handles from
            // their first call, which must already reach this recorder.
            metrics::recorder();
        }
        let registry::Assembly {
            router,
            jobs,
            databases,
        } = registry::assemble(&settings)?;
        let tokens = auth::tokens::for_settings(&settings, &databases).map_err(StartError::Auth)?;
        let directory = Directory::build(&settings.auth)
            .map_err(StartError::Auth)?
            .with_token_store(tokens);
        let webhooks =
            webhooks::Webhooks::build_with(&settings, &databases).map_err(StartError::Webhooks)?;
        Ok(Self {
            settings,
            router,
            directory,
            jobs,
            events: live::Hub::default(),
            webhooks,
        })
    }

    /// The same state with engines given directly (tests, embedding).
    pub fn with_router(settings: Settings, router: Router) -> Self {
        let directory = Directory::build(&settings.auth).unwrap_or_else(|e| {
            tracing::error!(error = %e, "bearer tokens are refused");
            Directory::new(&settings.auth)
        });
        let router = router.with_limits(settings.limits);
        let webhooks = webhooks::Webhooks::build(&settings).unwrap_or_else(|e| {
            tracing::error!(error = %e, "webhooks are off");
            webhooks::Webhooks::default()
        });
        Self {
            settings,
            router,
            directory,
            jobs: Vec::new(),
            events: live::Hub::default(),
            webhooks,
        }
    }
}

/// The application state as one worker holds it.
///
/// Handlers used to clone the shared `web::Data` (an `Arc`) for every request, so the
/// workers, each on its own core, kept writing one reference count and passing its
/// cache line back and forth. Each worker's application keeps one clone in an `Rc`
/// instead; a request clones that, which stays on the worker's core.
#[derive(Clone)]
pub struct WorkerState(std::rc::Rc<web::Data<AppState>>);

impl std::ops::Deref for WorkerState {
    type Target = AppState;

    fn deref(&self) -> &AppState {
        &self.0
    }
}

/// Builds the actix application over `state`.
pub fn app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let s = &state.settings.server;
    let cors = cors::middleware(&state.settings.cors);
    let enable_cors = cors.is_some();
    let cors = cors.unwrap_or_default();
    let metrics_on = state.settings.metrics.enabled;
    if metrics_on {
        // Installed before the first request so that nothing recorded is lost.
        metrics::recorder();
    }
    let limit = s.max_body_bytes;
    let dev_errors = state.settings.errors.stacktrace;
    let mounts = std::rc::Rc::new(normalize::Mounts::new(api_prefixes(&s.context_path)));
    let body_rules = std::rc::Rc::new(body::BodyRules {
        timeout: Duration::from_millis(s.body_timeout_ms),
        limit,
    });
    let contexts = context_roots(&s.context_path);
    let mut app = App::new()
        .app_data(state.clone())
        .app_data(WorkerState(std::rc::Rc::new(state.clone())))
        .app_data(web::QueryConfig::default().error_handler(|e, _| {
            ApiError::bad_request(format!("Invalid query parameters: {e}")).into()
        }))
        .app_data(
            web::PathConfig::default()
                .error_handler(|e, _| ApiError::not_found(format!("Invalid path: {e}")).into()),
        )
        .app_data(
            web::JsonConfig::default()
                .limit(limit)
                .error_handler(|e, _| match e {
                    actix_web::error::JsonPayloadError::Overflow { limit }
                    | actix_web::error::JsonPayloadError::OverflowKnownLength { limit, .. } => {
                        ApiError::payload_too_large(limit).into()
                    }
                    other => ApiError::bad_request(format!("Malformed JSON body: {other}")).into(),
                }),
        )
        .wrap(from_fn(move |req, next| {
            body::guard(body_rules.clone(), req, next)
        }))
        .wrap(Condition::new(dev_errors, from_fn(dev_error_fields)))
        .wrap(Condition::new(enable_cors, cors))
        .wrap(Condition::new(
            enable_cors,
            from_fn(cors::credentials_only_with_origin),
        ))
        .wrap(Condition::new(metrics_on, from_fn(metrics::middleware)))
        .wrap(logging::tracing_logger())
        .wrap(from_fn(logging::request_id))
        .wrap(from_fn(move |req, next| {
            normalize::middleware(mounts.clone(), req, next)
        }));
    // Every API mount (`/nuxeo/site/api/v1`, `.../repo/{name}`, ...) reaches this one
    // scope: the normalize middleware rewrites them before routing. The API explorer
    // lives inside it.
    app = app.service(
        web::scope(normalize::API_ROOT)
            .configure(routes::configure_api)
            .configure(openapi::configure),
    );
    app = app.configure(|cfg| routes::metrics::configure(cfg, &state.settings.metrics));
    for ctx in contexts {
        // Plain resources, not a scope: a scope on the context path would swallow the
        // API mounted below it.
        app = app.configure(|cfg| routes::bootstrap::configure_root(cfg, &ctx));
        app = app.configure(|cfg| routes::ops::configure(cfg, &ctx));
    }
    app.default_service(web::to(routes::not_found))
}

/// Where the API tree is mounted: `/api/v1`, `<ctx>/api/v1`, `<ctx>/site/api/v1`.
fn api_prefixes(context_path: &str) -> Vec<String> {
    let mut v = Vec::new();
    if !context_path.is_empty() {
        v.push(format!("{context_path}/site/api/v1"));
        v.push(format!("{context_path}/api/v1"));
    }
    v.push("/api/v1".to_owned());
    v
}

/// Roots of the non-API endpoints (`json/cmis`, `runningstatus`, `authentication/token`).
fn context_roots(context_path: &str) -> Vec<String> {
    let mut v = Vec::new();
    if !context_path.is_empty() {
        v.push(context_path.to_owned());
    }
    v.push(String::new());
    v
}

/// Development mode: rewrites exception bodies with `stacktrace` and `exception`.
async fn dev_error_fields(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let detail = res.response().extensions().get::<ErrorDetail>().cloned();
    let Some(detail) = detail else {
        return Ok(res.map_into_boxed_body());
    };
    let status = res.status();
    let method = res.request().method().to_string();
    let route = res
        .request()
        .match_pattern()
        .unwrap_or_else(|| res.request().path().to_owned());
    let rid = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let body = error::exception_json_dev(status, &detail, &method, &route, &rid);
    Ok(res.map_body(|_, _| actix_web::body::BoxBody::new(body)))
}

/// A server started on a background task.
pub struct Running {
    /// The bound address (with the real port when port 0 was asked for).
    pub addr: SocketAddr,
    handle: ServerHandle,
    join: tokio::task::JoinHandle<std::io::Result<()>>,
    background: Background,
    data: web::Data<AppState>,
}

impl Running {
    /// The base URL clients use, with the context path (`http://127.0.0.1:PORT/nuxeo/`).
    pub fn base_url(&self, context_path: &str) -> String {
        format!("http://{}{context_path}/", self.addr)
    }

    /// Stops the server gracefully and waits for it; open event streams end at once,
    /// each with a final `dropped` event.
    pub async fn stop(self) {
        self.data.events.close();
        self.handle.stop(true).await;
        let _ = self.join.await;
        self.background.stop(&self.data).await;
    }
}

/// Builds actix-web's `HttpServer` on an already bound listener, with the `[server]`
/// settings: workers, keep-alive, the time a client has to send a request head, and
/// the grace period of a graceful stop. It does not listen to signals: `flowgate
/// serve` stops on SIGTERM and SIGINT itself, other users with the server's handle.
pub fn server(state: AppState, listener: TcpListener) -> std::io::Result<Server> {
    server_with_data(web::Data::new(state), listener)
}

/// [`server`] over state already shared (with the `/metrics` server of `[metrics] bind`).
pub fn server_with_data(
    data: web::Data<AppState>,
    listener: TcpListener,
) -> std::io::Result<Server> {
    let s = &data.settings.server;
    let keep_alive = match s.keep_alive_secs {
        0 => actix_web::http::KeepAlive::Disabled,
        n => actix_web::http::KeepAlive::Timeout(Duration::from_secs(n)),
    };
    let client_request_timeout = Duration::from_millis(s.client_request_timeout_ms);
    let shutdown_timeout = s.shutdown_timeout_secs;
    let workers = s.workers;
    let mut server = HttpServer::new(move || app(data.clone()))
        .keep_alive(keep_alive)
        .client_request_timeout(client_request_timeout)
        .shutdown_timeout(shutdown_timeout)
        .disable_signals();
    if workers > 0 {
        server = server.workers(workers);
    }
    Ok(server.listen(listener)?.run())
}

/// What runs beside the HTTP server: the engines' jobs and the webhook dispatchers.
#[derive(Debug)]
pub struct Background {
    jobs: Vec<tokio::task::JoinHandle<()>>,
    webhooks: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Stops the jobs, and the webhook dispatchers once they have written what they
    /// settled (at most [`webhooks::STOP_GRACE`]).
    pub async fn stop(self, data: &web::Data<AppState>) {
        for j in &self.jobs {
            j.abort();
        }
        webhooks::stop(data, self.webhooks, webhooks::STOP_GRACE).await;
    }
}

/// Starts what runs beside the HTTP server: the engines' jobs, the relays of live
/// events (so that every event is counted in `/metrics` from the start) and the
/// webhook dispatchers. Must run inside a Tokio runtime; [`Background::stop`] ends
/// them (the relays end with their engines).
pub fn start_background(data: &web::Data<AppState>) -> Background {
    let jobs = registry::start_jobs(&data.jobs);
    // The receiver is dropped at once: the relays run for the streams and
    // dispatchers to come, and nobody listening is not an error.
    drop(data.events.subscribe(&data.router, &data.settings.events));
    Background {
        jobs,
        webhooks: webhooks::start(data),
    }
}

/// Binds `server.bind` (port 0 picks a free port), starts serving on a background task
/// and returns the bound address. Used by tests and by client test harnesses.
pub async fn spawn(state: AppState) -> Result<Running, StartError> {
    let addr = state.settings.bind_addr()?;
    let listener = TcpListener::bind(addr)?;
    let addr = listener.local_addr()?;
    let mut state = state;
    if state.settings.server.workers == 0 {
        // In-process servers share the machine with the tests driving them.
        state.settings.server.workers = 2;
    }
    let data = web::Data::new(state);
    let background = start_background(&data);
    let server = server_with_data(data.clone(), listener)?;
    let handle = server.handle();
    let join = tokio::spawn(server);
    Ok(Running {
        addr,
        handle,
        join,
        background,
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_is_mounted_under_every_context() {
        assert_eq!(
            api_prefixes("/nuxeo"),
            vec!["/nuxeo/site/api/v1", "/nuxeo/api/v1", "/api/v1"]
        );
        assert_eq!(api_prefixes(""), vec!["/api/v1"]);
        assert_eq!(context_roots("/nuxeo"), vec!["/nuxeo", ""]);
    }
}
