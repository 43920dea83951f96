//! What official clients call to connect: `json/cmis` (server version), `runningstatus`,
//! `authentication/token`, `automation/login`, `user/{id}` and `me`.

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use flowgate_core::shown;
use serde_json::json;

use super::{json, resource, Api, Seg};
use crate::auth::tokens::{blocking, TokenRequest};
use crate::auth::{Caller, SignIn};
use crate::error::ApiError;
use crate::error::ExceptionBody;
use crate::nuxeo::{base_url, user_entity, Params};
use crate::AppState;
use serde::Deserialize;
use utoipa::IntoParams;

/// Registers the endpoints that live outside `/api/v1`, under `ctx` (`/nuxeo` or "").
pub fn configure_root(cfg: &mut web::ServiceConfig, ctx: &str) {
    cfg.service(resource(&format!("{ctx}/json/cmis")).get(cmis))
        .service(resource(&format!("{ctx}/runningstatus")).get(running_status))
        .service(resource(&format!("{ctx}/authentication/token")).get(token));
}

/// Registers the bootstrap endpoints inside `/api/v1`.
pub fn configure_api(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/automation/login").post(login))
        .service(resource("/user/{id}").get(user))
        .service(resource("/me").get(me));
}

/// `GET json/cmis`: repository and version information (one key per repository).
#[utoipa::path(
    get,
    path = "/json/cmis",
    operation_id = "repositoryInfo",
    tag = "session",
    summary = "Repository and server version (clients read `productVersion`)",
    security(()),
    responses(
        (status = 200, description = "One entry per repository name", body = Object),
    )
)]
async fn cmis(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let base = base_url(&req, &state.settings.server);
    let mut out = serde_json::Map::new();
    for repo in &state.settings.nuxeo.repositories {
        out.insert(
            repo.clone(),
            json!({
                "repositoryId": repo,
                "repositoryName": format!("flowgate repository {repo}"),
                "repositoryDescription": format!("flowgate repository {repo}"),
                "vendorName": "flowgate",
                "productName": "flowgate Nuxeo workflow API",
                "productVersion": state.settings.nuxeo.product_version,
                "cmisVersionSupported": "1.1",
                "rootFolderId": "00000000-0000-0000-0000-000000000000",
                "repositoryUrl": format!("{base}json/cmis/{repo}/"),
                "rootFolderUrl": format!("{base}json/cmis/{repo}/root"),
                "thinClientURI": base,
            }),
        );
    }
    json(StatusCode::OK, &out)
}

/// Health of the engines (`GET /runningstatus`).
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // Schema only: `running_status` writes the body.
pub struct RunningStatus {
    /// `ok` or `unavailable`.
    #[schema(example = "ok")]
    status: String,
    /// Per engine: `{"status": "up"|"degraded"|"down", "message": …}`.
    #[schema(value_type = Object)]
    engines: (),
}

/// `GET runningstatus`: 200 when every engine is up, 503 otherwise.
#[utoipa::path(
    get,
    path = "/runningstatus",
    operation_id = "runningStatus",
    tag = "session",
    summary = "Whether every engine is up",
    security(()),
    responses(
        (status = 200, description = "Every engine is up", body = RunningStatus),
        (status = 503, description = "At least one engine is down", body = RunningStatus),
    )
)]
async fn running_status(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let mut engines = serde_json::Map::new();
    let mut all_up = true;
    for e in state.router.engines() {
        let h = tokio::time::timeout(std::time::Duration::from_secs(2), e.engine.health())
            .await
            .unwrap_or_else(|_| flowgate_core::Health::Down("health probe timed out".into()));
        all_up &= h.is_up();
        let v = match h {
            flowgate_core::Health::Up => json!({"status": "up"}),
            flowgate_core::Health::Degraded(m) => json!({"status": "degraded", "message": m}),
            flowgate_core::Health::Down(m) => json!({"status": "down", "message": m}),
        };
        engines.insert(e.name.clone(), v);
    }
    let status = if all_up {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    json(
        status,
        &json!({"status": if all_up { "ok" } else { "unavailable" }, "engines": engines}),
    )
}

/// Query of `GET authentication/token`. Blank values count as absent.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenParams {
    /// Application the token is for.
    #[param(min_length = 1, pattern = r"\S")]
    application_name: String,
    /// Device the token is for.
    #[param(min_length = 1, pattern = r"\S")]
    device_id: String,
    /// What the device is (shown in token listings).
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    device_description: Option<String>,
    /// `rw` (or any value containing `w`) for a token that may change things; any other
    /// value, or none, issues a read-only token.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    permission: Option<String>,
    /// `true` revokes the token of this application and device.
    revoke: Option<bool>,
}

/// `GET authentication/token`: issues (or revokes) a token for the Basic-authenticated
/// caller; the answer is the bare token as `text/plain`. Asking again for the same
/// application and device issues a new token that replaces the earlier one (tokens are
/// kept hashed, so the earlier one cannot be given back).
#[utoipa::path(
    get,
    path = "/authentication/token",
    operation_id = "acquireToken",
    tag = "session",
    summary = "Issue (or revoke) a token for X-Authentication-Token",
    params(TokenParams),
    responses(
        (status = 200, description = "The token (or a revocation message) as plain text", content_type = "text/plain", body = String),
        (status = 400, description = "applicationName or deviceId missing", body = ExceptionBody),
        (status = 403, description = "Tokens are issued only to a password sign-in", body = ExceptionBody),
    )
)]
async fn token(req: HttpRequest, caller: Caller) -> Result<HttpResponse, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or_else(|| ApiError::internal("application state is missing"))?;
    let p: TokenParams = Params::of(&req).decode().map_err(|e| {
        if e.message().contains("missing field") {
            ApiError::bad_request("Query parameters applicationName and deviceId are required")
        } else {
            e
        }
    })?;
    let (app, device) = (
        crate::nuxeo::trimmed(&p.application_name),
        crate::nuxeo::trimmed(&p.device_id),
    );
    if app.is_empty() || device.is_empty() {
        return Err(ApiError::bad_request(
            "Query parameters applicationName and deviceId are required",
        ));
    }
    let user = &caller.cx.user;
    let (app_shown, device_shown) = (shown(app), shown(device));
    let text = if p.revoke == Some(true) {
        let (u, a, d) = (user.clone(), app.to_owned(), device.to_owned());
        let existed = blocking(state.directory.tokens(), move |t| t.revoke(&u, &a, &d)).await?;
        if existed {
            let client = crate::auth::throttle::client_address(&req, &state.settings.server);
            crate::auth::audit::token_revoked(user, app, device, client.as_deref());
            format!(
                "Token revoked for userName {user}, applicationName {app_shown} and deviceId {device_shown}"
            )
        } else {
            format!(
                "No token found for userName {user}, applicationName {app_shown} and deviceId {device_shown}"
            )
        }
    } else {
        if caller.sign_in != SignIn::Password {
            // A token cannot mint tokens: a stolen (or read-only) one would otherwise
            // turn into lasting, wider access.
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "Tokens are issued only to a password sign-in",
            ));
        }
        let permission = p.permission.as_deref().map_or("r", crate::nuxeo::trimmed);
        let request = TokenRequest {
            user: user.clone(),
            application: app.to_owned(),
            device_id: device.to_owned(),
            device_description: p
                .device_description
                .as_deref()
                .map(|d| crate::nuxeo::trimmed(d).to_owned()),
            permission: permission.to_owned(),
        };
        let token = blocking(state.directory.tokens(), move |t| t.issue(&request)).await?;
        let client = crate::auth::throttle::client_address(&req, &state.settings.server);
        crate::auth::audit::token_issued(user, app, device, client.as_deref());
        token
    };
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(text))
}

/// `POST automation/login`: who am I.
#[utoipa::path(
    post,
    path = "/api/v1/automation/login",
    operation_id = "login",
    tag = "session",
    summary = "Who the caller is",
    responses(
        (status = 200, description = "The caller", body = crate::nuxeo::schema::LoginEntity),
    )
)]
async fn login(api: Api) -> Result<HttpResponse, ApiError> {
    let u = api.caller.user(&api.state.directory)?;
    json(
        StatusCode::OK,
        &json!({
            "entity-type": "login",
            "username": u.name,
            "isAdministrator": u.admin,
            "groups": u.groups,
        }),
    )
}

/// `GET user/{id}`.
#[utoipa::path(
    get,
    path = "/api/v1/user/{userId}",
    operation_id = "getUser",
    tag = "session",
    summary = "A user",
    params(("userId" = String, Path, description = "User name")),
    responses(
        (status = 200, description = "The user", body = crate::nuxeo::schema::UserEntity),
        (status = 404, description = "No such user", body = ExceptionBody),
    )
)]
async fn user(api: Api, seg: web::Path<Seg>) -> Result<HttpResponse, ApiError> {
    let id = &seg.id;
    let dir = &api.state.directory;
    let u = match dir.user(id) {
        Some(u) => u,
        // A bearer token's user is known only to its own requests.
        None if api.caller.cx.user == *id => api.caller.user(dir)?,
        None => {
            return Err(ApiError::not_found(format!(
                "User '{}' not found",
                shown(id)
            )))
        }
    };
    json(StatusCode::OK, &user_entity(u, dir, &api.render))
}

/// `GET me`.
#[utoipa::path(
    get,
    path = "/api/v1/me",
    operation_id = "getCurrentUser",
    tag = "session",
    summary = "The caller as a user entity",
    responses(
        (status = 200, description = "The caller", body = crate::nuxeo::schema::UserEntity),
    )
)]
async fn me(api: Api) -> Result<HttpResponse, ApiError> {
    json(
        StatusCode::OK,
        &user_entity(
            api.caller.user(&api.state.directory)?,
            &api.state.directory,
            &api.render,
        ),
    )
}
