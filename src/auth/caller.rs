//! The [`Caller`] extractor: a request's credentials (Basic, a lasting token, a bearer
//! JWT) checked against the [`Directory`] and turned into a [`CallContext`], with the
//! repository the request names.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::{header, Method, StatusCode};
use actix_web::{web, FromRequest, HttpMessage, HttpRequest};
use flowgate_core::CallContext;

use super::directory::decode_basic;
use super::throttle::client_address;
use super::{audit, Directory, SignIn, User};
use crate::error::ApiError;
use crate::AppState;

/// The authenticated caller of a request.
#[derive(Clone, Debug)]
pub struct Caller {
    /// What engines get (user name, groups, admin flag, ...).
    pub cx: CallContext,
    /// How the caller signed in.
    pub sign_in: SignIn,
    /// The user described by a bearer token (such users need not be configured).
    external: Option<Arc<User>>,
}

impl Caller {
    /// The caller's user record.
    pub fn user<'a>(&'a self, dir: &'a Directory) -> Result<&'a Arc<User>, ApiError> {
        if let Some(u) = &self.external {
            return Ok(u);
        }
        dir.user(&self.cx.user)
            .ok_or_else(|| ApiError::internal("the authenticated user is not in the directory"))
    }
}

/// Request id assigned by the logging middleware.
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// Name of the authenticated user, put in request extensions for the access log.
#[derive(Clone, Debug)]
pub struct AuthenticatedUser(pub String);

/// `X-NXRepository`, as a ready header name (looking a header up by a `&str` parses
/// the name on every request).
const X_NXREPOSITORY: header::HeaderName = header::HeaderName::from_static("x-nxrepository");
/// `X-Authentication-Token`.
const X_AUTHENTICATION_TOKEN: header::HeaderName =
    header::HeaderName::from_static("x-authentication-token");

/// The credentials of an `Authorization` header with this scheme (`basic`, `bearer`).
fn authorization<'r>(req: &'r HttpRequest, wanted: &str) -> Option<&'r str> {
    // UTF-8 is enough here (a word at a time, where `to_str` checks byte by byte):
    // anything but base64 fails the decode or misses the cache.
    let v = std::str::from_utf8(req.headers().get(header::AUTHORIZATION)?.as_bytes()).ok()?;
    let (scheme, rest) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case(wanted).then(|| rest.trim())
}

/// The repository a request addresses: `repo/{name}` in the path wins over the
/// `X-NXRepository` header; `default` otherwise.
pub fn repository_of(req: &HttpRequest) -> String {
    if let Some(r) = req.extensions().get::<crate::normalize::RepoSegment>() {
        return r.0.clone();
    }
    req.headers()
        .get(X_NXREPOSITORY)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .unwrap_or("default")
        .to_owned()
}

/// Authenticates a request and builds its [`CallContext`].
pub async fn authenticate(state: &AppState, req: &HttpRequest) -> Result<Caller, ApiError> {
    let dir = &state.directory;
    let mut external = None;
    let found = if let Some(token) = req
        .headers()
        .get(X_AUTHENTICATION_TOKEN)
        .and_then(|v| v.to_str().ok())
    {
        let found = dir.user_of_token(token.trim()).await?;
        if found.is_none() {
            let client = client_address(req, &state.settings.server);
            audit::sign_in_failed("token", None, client.as_deref(), "unknown token");
        }
        found.map(|(u, read_only)| (u, SignIn::Token { read_only }))
    } else if let Some(encoded) = authorization(req, "basic") {
        verify_basic(state, req, encoded)
            .await?
            .map(|u| (u, SignIn::Password))
    } else if let Some(token) = authorization(req, "bearer") {
        let Some(bearer) = &dir.bearer else {
            return Err(ApiError::unauthorized(dir.realm()).with_message(
                "Bearer tokens are not configured on this server ([auth.jwt]); \
                 send HTTP Basic credentials or X-Authentication-Token",
            ));
        };
        let verified = bearer.verify(token).await.inspect_err(|e| {
            let client = client_address(req, &state.settings.server);
            audit::sign_in_failed("bearer", None, client.as_deref(), e.message());
        })?;
        external = Some(Arc::new(verified));
        external.as_ref().map(|u| (u, SignIn::Bearer))
    } else {
        None
    };
    let Some((user, sign_in)) = found else {
        return Err(ApiError::unauthorized(dir.realm()));
    };
    if sign_in == (SignIn::Token { read_only: true })
        && !matches!(*req.method(), Method::GET | Method::HEAD)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            "This token was issued for reading only",
        ));
    }
    let repository = repository_of(req);
    if !state.settings.nuxeo.repositories.contains(&repository) {
        return Err(ApiError::not_found(format!(
            "Repository '{repository}' does not exist"
        )));
    }
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    if tracing::enabled!(tracing::Level::INFO) {
        // Only the request log line reads it.
        req.extensions_mut()
            .insert(AuthenticatedUser(user.name.clone()));
    }
    let cx = CallContext {
        user: user.name.clone(),
        groups: user.groups.clone(),
        admin: user.admin,
        poweruser: user.poweruser,
        request_id,
        traceparent: req
            .headers()
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|v| flowgate_core::valid_traceparent(v))
            .map(str::to_owned),
        deadline: Some(
            std::time::Instant::now()
                + Duration::from_millis(state.settings.server.request_timeout_ms),
        ),
        repository,
        credentials: None,
    };
    Ok(Caller {
        cx,
        sign_in,
        external,
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let state = req
                .app_data::<web::Data<AppState>>()
                .cloned()
                .ok_or_else(|| ApiError::internal("application state is missing"))?;
            authenticate(&state, &req).await
        })
    }
}

/// Checks `Basic` credentials (their base64 part) under the failure budgets, auditing
/// every refusal: the user, `None` when they are wrong, 429 when throttled.
async fn verify_basic<'d>(
    state: &'d AppState,
    req: &HttpRequest,
    encoded: &str,
) -> Result<Option<&'d Arc<User>>, ApiError> {
    let dir: &Directory = &state.directory;
    let wait = Duration::from_millis(state.settings.server.request_timeout_ms);
    if dir.verified_before(encoded) {
        // Verified before: right credentials, nothing to throttle.
        return dir.verify_basic(encoded, wait).await;
    }
    let client = client_address(req, &state.settings.server);
    let client_key = client.as_deref().unwrap_or("-");
    let Some((user, _)) = decode_basic(encoded) else {
        audit::sign_in_failed("basic", None, client.as_deref(), "malformed credentials");
        return Ok(None);
    };
    if let Some(left) = dir.throttle.blocked(&user, client_key) {
        audit::sign_in_failed("basic", Some(&user), client.as_deref(), "throttled");
        return Err(too_many(left));
    }
    let found = dir.verify_basic(encoded, wait).await?;
    if found.is_some() {
        return Ok(found);
    }
    let reason = if dir.user(&user).is_some() {
        "wrong password"
    } else {
        "unknown user"
    };
    audit::sign_in_failed("basic", Some(&user), client.as_deref(), reason);
    match dir.throttle.failed(&user, client_key) {
        Some(left) => Err(too_many(left)),
        None => Ok(None),
    }
}

fn too_many(wait: Duration) -> ApiError {
    ApiError::too_many_requests(
        "Too many failed sign-ins; retry later",
        wait.as_secs() + u64::from(wait.subsec_nanos() > 0),
    )
}
