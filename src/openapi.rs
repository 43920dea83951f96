//! The OpenAPI 3.1 description of the facade, served as JSON at `GET /api/v1/openapi.json`
//! and as an interactive explorer (Swagger UI, compiled into the binary) at
//! `GET /api/v1/doc`; `flowgate openapi` prints it. Neither endpoint needs credentials.
//!
//! Operations are described by `#[utoipa::path]` on the handlers in [`crate::routes`],
//! entities by `ToSchema` on the wire types in [`crate::nuxeo`] (request bodies on the
//! very types the handlers read, query parameters by `IntoParams` on the query types the
//! handlers decode, the exception body on [`crate::error::ExceptionBody`]). This module
//! only assembles the document; nothing outside `lib.rs` and `main.rs` imports it. `tests/openapi.rs` checks that every
//! served route is described, nothing described is missing from the app, and Nuxeo's own
//! published workflow API is covered.

use std::sync::{Arc, OnceLock};

use actix_web::http::header;
use actix_web::{web, HttpResponse};
use utoipa::openapi::path::Operation;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::error::{ApiError, ExceptionBody};

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
        crate::routes::audit::audit_by_id,
        crate::routes::audit::audit_by_path,
        crate::routes::events::stream,
        crate::routes::bootstrap::login,
        crate::routes::bootstrap::user,
        crate::routes::bootstrap::me,
        crate::routes::bootstrap::cmis,
        crate::routes::bootstrap::running_status,
        crate::routes::bootstrap::token,
        crate::routes::token::list,
        crate::routes::token::create,
        crate::routes::token::delete,
        crate::routes::admin::purge,
        crate::routes::webhooks::list,
        crate::routes::webhooks::deliveries,
        crate::routes::webhooks::retry,
        crate::routes::ops::live,
        crate::routes::ops::ready,
        openapi_json,
        explorer,
        crate::routes::metrics::scrape,
    ),
    components(schemas(ExceptionBody, crate::nuxeo::Pagination)),
    modifiers(&Security, &CommonErrors),
    security(("basicAuth" = []), ("token" = [])),
    tags(
        (name = "workflow", description = "Workflow instances"),
        (name = "task", description = "Tasks of running workflows"),
        (name = "workflowModel", description = "Models workflows are started from"),
        (name = "document", description = "Workflows and tasks of a document, by id or by path"),
        (name = "events", description = "Live workflow events (Server-Sent Events)"),
        (name = "session", description = "What clients call to connect"),
        (name = "operations", description = "API description, explorer and metrics"),
        (name = "admin", description = "Maintenance for administrators"),
    )
)]
pub struct ApiDoc;

/// The description as a JSON value.
///
/// utoipa 5 writes the fields of a response's link objects in snake case
/// (`operation_id`); OpenAPI spells them `operationId`, `operationRef` and
/// `requestBody`, which is what tools following links read.
fn document() -> serde_json::Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    let operations = doc
        .get_mut("paths")
        .and_then(serde_json::Value::as_object_mut)
        .into_iter()
        .flat_map(|paths| paths.values_mut())
        .filter_map(serde_json::Value::as_object_mut)
        .flat_map(|item| item.values_mut());
    for op in operations {
        let responses = op
            .get_mut("responses")
            .and_then(serde_json::Value::as_object_mut)
            .into_iter()
            .flat_map(|r| r.values_mut());
        for response in responses {
            let links = response
                .get_mut("links")
                .and_then(serde_json::Value::as_object_mut)
                .into_iter()
                .flat_map(|l| l.values_mut())
                .filter_map(serde_json::Value::as_object_mut);
            for link in links {
                for (from, to) in [
                    ("operation_id", "operationId"),
                    ("operation_ref", "operationRef"),
                    ("request_body", "requestBody"),
                ] {
                    if let Some(v) = link.remove(from) {
                        link.insert(to.to_owned(), v);
                    }
                }
            }
        }
    }
    doc
}

/// The description as compact JSON, built once.
pub fn spec_json() -> &'static str {
    static JSON: OnceLock<String> = OnceLock::new();
    JSON.get_or_init(|| {
        // Serializing plain data cannot fail; an empty object keeps the endpoint valid JSON.
        serde_json::to_string(&document()).unwrap_or_else(|_| "{}".to_owned())
    })
}

/// The description as indented JSON (`flowgate openapi`).
pub fn spec_pretty() -> Result<String, String> {
    serde_json::to_string_pretty(&document())
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
    cfg.service(crate::routes::resource(spec).get(openapi_json))
        .service(crate::routes::resource(doc).get(explorer))
        // A static scope, so that API requests do not try the asset pattern.
        .service(web::scope(doc).service(crate::routes::resource("/{file}").get(explorer_asset)));
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
                .schema(Some(Ref::from_schema_name(
                    <ExceptionBody as utoipa::ToSchema>::name(),
                )))
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
                    "/api/v1/token",
                    "/api/v1/token/{tokenId}",
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
                let has_query = op.parameters.as_ref().is_some_and(|ps| {
                    ps.iter()
                        .any(|p| p.parameter_in == utoipa::openapi::path::ParameterIn::Query)
                });
                if has_query {
                    add_response(op, "400", "A query parameter is missing or malformed");
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
