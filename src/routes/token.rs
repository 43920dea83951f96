//! Nuxeo's `token` resource: the caller's tokens (`GET /api/v1/token`), a new one
//! (`POST`) and revocation (`DELETE /api/v1/token/{tokenId}`). Tokens are the ones
//! `authentication/token` issues, kept by [`crate::auth::tokens`].

use actix_web::http::{header, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{json, resource, Api};
use crate::auth::tokens::{blocking, TokenInfo, TokenRequest};
use crate::auth::SignIn;
use crate::error::{ApiError, ExceptionBody};
use crate::nuxeo::{trimmed, w3c};

/// Registers the resource inside `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/token").get(list).post(create))
        .service(resource("/token/{tokenId}").delete(delete));
}

/// One token, as Nuxeo's `token` entity (the token itself is never shown again: `id`
/// names it by its hash, which `DELETE /api/v1/token/{tokenId}` accepts).
#[derive(Serialize, ToSchema)]
pub struct TokenEntity {
    /// Always `token`.
    #[serde(rename = "entity-type")]
    #[schema(example = "token")]
    entity_type: &'static str,
    /// Names the token (a hash of it).
    id: String,
    /// The user the token signs in.
    username: String,
    /// `applicationName` it was issued for.
    application: String,
    /// `deviceId` it was issued for.
    #[serde(rename = "deviceId")]
    device_id: String,
    /// `deviceDescription`, when given.
    #[serde(rename = "deviceDescription")]
    device_description: Option<String>,
    /// `permission` as asked; without `w` the token only reads.
    permission: String,
    /// When it was issued (W3C date).
    #[serde(rename = "creationDate")]
    creation_date: String,
}

/// The caller's tokens.
#[derive(Serialize, ToSchema)]
pub struct TokensEntity {
    /// Always `tokens`.
    #[serde(rename = "entity-type")]
    #[schema(example = "tokens")]
    entity_type: &'static str,
    /// The tokens, oldest first.
    entries: Vec<TokenEntity>,
}

fn entity(t: TokenInfo) -> TokenEntity {
    TokenEntity {
        entity_type: "token",
        id: t.id,
        creation_date: w3c(&t.grant.created),
        username: t.grant.user,
        application: t.grant.application,
        device_id: t.grant.device_id,
        device_description: t.grant.device_description,
        permission: t.grant.permission,
    }
}

/// Query of `GET /api/v1/token`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// Only the tokens of this application.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    application: Option<String>,
}

/// `GET /api/v1/token`: the caller's tokens that have not expired.
#[utoipa::path(
    get,
    path = "/api/v1/token",
    operation_id = "listTokens",
    tag = "session",
    summary = "The caller's tokens",
    params(ListParams),
    responses(
        (status = 200, description = "The caller's tokens", body = TokensEntity),
    )
)]
async fn list(api: Api) -> Result<HttpResponse, ApiError> {
    let p: ListParams = api.params.decode()?;
    let user = api.caller.cx.user.clone();
    let application = p.application.as_deref().map(|a| trimmed(a).to_owned());
    let tokens = blocking(api.state.directory.tokens(), move |t| {
        t.list(&user, application.as_deref())
    })
    .await?;
    json(
        StatusCode::OK,
        &TokensEntity {
            entity_type: "tokens",
            entries: tokens.into_iter().map(entity).collect(),
        },
    )
}

/// Query of `POST /api/v1/token`.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CreateParams {
    /// Application the token is for.
    #[param(min_length = 1, pattern = r"\S")]
    application: String,
    /// Device the token is for.
    #[param(min_length = 1, pattern = r"\S")]
    device_id: String,
    /// What the device is.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    device_description: Option<String>,
    /// `rw` (or any value containing `w`) for a token that may change things; any other
    /// value, or none, issues a read-only token.
    #[serde(default, deserialize_with = "crate::nuxeo::blank_as_none")]
    permission: Option<String>,
}

const CREATE_REQUIRED: &str = "Query parameters application and deviceId are required";

/// `POST /api/v1/token`: a new token for the caller, answered as plain text with 201.
#[utoipa::path(
    post,
    path = "/api/v1/token",
    operation_id = "createToken",
    tag = "session",
    summary = "Issue a token for X-Authentication-Token",
    params(CreateParams),
    responses(
        (status = 201, description = "The token as plain text", content_type = "text/plain", body = String),
        (status = 400, description = "application or deviceId missing", body = ExceptionBody),
        (status = 403, description = "Tokens are issued only to a password sign-in", body = ExceptionBody),
    )
)]
async fn create(req: HttpRequest, api: Api) -> Result<HttpResponse, ApiError> {
    let p: CreateParams = api.params.decode().map_err(|e| {
        if e.message().contains("missing field") {
            ApiError::bad_request(CREATE_REQUIRED)
        } else {
            e
        }
    })?;
    let (app, device) = (trimmed(&p.application), trimmed(&p.device_id));
    if app.is_empty() || device.is_empty() {
        return Err(ApiError::bad_request(CREATE_REQUIRED));
    }
    if api.caller.sign_in != SignIn::Password {
        // As for `authentication/token`: a token cannot mint tokens.
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "Tokens are issued only to a password sign-in",
        ));
    }
    let user = &api.caller.cx.user;
    let request = TokenRequest {
        user: user.clone(),
        application: app.to_owned(),
        device_id: device.to_owned(),
        device_description: p
            .device_description
            .as_deref()
            .map(|d| trimmed(d).to_owned()),
        permission: p.permission.as_deref().map_or("r", trimmed).to_owned(),
    };
    let token = blocking(api.state.directory.tokens(), move |t| t.issue(&request)).await?;
    let client = crate::auth::throttle::client_address(&req, &api.state.settings.server);
    crate::auth::audit::token_issued(user, app, device, client.as_deref());
    Ok(HttpResponse::Created()
        .insert_header((header::CONTENT_TYPE, "text/plain; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(token))
}

/// `DELETE /api/v1/token/{tokenId}`: revokes one of the caller's tokens, named by the
/// token itself or by its `id`.
#[utoipa::path(
    delete,
    path = "/api/v1/token/{tokenId}",
    operation_id = "deleteToken",
    tag = "session",
    summary = "Revoke one of the caller's tokens",
    params(("tokenId" = String, Path, description = "The token, or its id in listings")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 403, description = "The caller signed in with a read-only token", body = ExceptionBody),
        (status = 404, description = "The caller has no such token", body = ExceptionBody),
    )
)]
async fn delete(req: HttpRequest, api: Api) -> Result<HttpResponse, ApiError> {
    let id = req.match_info().get("tokenId").unwrap_or_default();
    let user = &api.caller.cx.user;
    let (u, id) = (user.clone(), id.to_owned());
    let Some(grant) =
        blocking(api.state.directory.tokens(), move |t| t.revoke_one(&u, &id)).await?
    else {
        // Never echo what was sent: it may be a token.
        return Err(ApiError::not_found("Token not found"));
    };
    let client = crate::auth::throttle::client_address(&req, &api.state.settings.server);
    crate::auth::audit::token_revoked(
        user,
        &grant.application,
        &grant.device_id,
        client.as_deref(),
    );
    Ok(HttpResponse::NoContent().finish())
}
