//! Requests to CQ / AEM: authentication, the CSRF token, JSON GETs and form POSTs
//! answered by Sling status pages. Every path goes through [`ids::check_path`] and
//! `Upstream::url_with_path`, so nothing a client sends can leave the workflow API.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use flowgate_core::{CallContext, Credentials, EngineError};
use flowgate_http::{snippet, Idempotency, RequestBuilder, Target, Upstream};
use parking_lot::Mutex;
use reqwest::header::{HeaderValue, ACCEPT, CONTENT_TYPE, USER_AGENT};
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use crate::config::Auth;
use crate::error::upstream_error;
use crate::html::SlingPage;
use crate::ids;
use crate::wire::CsrfToken;
use crate::Profile;

/// A plain client User-Agent: a browser-like one would switch on Sling's referrer filter.
const UA: &str = concat!("flowgate-cq/", env!("CARGO_PKG_VERSION"));
const CSRF_PATH: &str = "/libs/granite/csrf/token";

/// The outcome of a successful POST.
#[derive(Debug)]
pub(crate) struct Posted {
    /// HTTP status.
    pub status: u16,
    /// `Location` header, if any.
    pub location: Option<String>,
    /// The status page.
    pub page: SlingPage,
}

#[derive(Debug)]
pub(crate) struct Client {
    up: Upstream,
    auth: Auth,
    /// The service account's `Authorization` value, encoded once.
    service_authorization: Option<HeaderValue>,
    csrf_ttl: Duration,
    /// CSRF tokens per credential (tokens are bound to the authenticated user).
    tokens: Mutex<HashMap<String, (String, Instant)>>,
    /// Set once the token endpoint answered 404: this server has no CSRF filter.
    no_csrf: AtomicBool,
}

impl Client {
    pub fn new(up: Upstream, profile: Profile, auth: Auth, csrf_ttl: Duration) -> Client {
        let service_authorization = match &auth {
            Auth::Basic { user, password } => {
                flowgate_http::basic_auth_value(user, Some(password.expose()))
            }
            Auth::Bearer(token) => flowgate_http::bearer_auth_value(token.expose()),
            Auth::Passthrough | Auth::BearerPassthrough => None,
        };
        Client {
            up,
            auth,
            service_authorization,
            csrf_ttl,
            tokens: Mutex::new(HashMap::new()),
            no_csrf: AtomicBool::new(!profile.may_have_csrf()),
        }
    }

    pub fn engine(&self) -> &str {
        self.up.engine()
    }

    /// Whether the adapter acts with a service account (and must enforce visibility).
    pub fn is_service_account(&self) -> bool {
        !matches!(self.auth, Auth::Passthrough | Auth::BearerPassthrough)
    }

    /// Whether this engine acts with the caller's bearer token but `cx` carries none
    /// (such a caller is refused before any request).
    pub fn lacks_bearer(&self, cx: &CallContext) -> bool {
        matches!(self.auth, Auth::BearerPassthrough)
            && !matches!(cx.credentials, Some(Credentials::Bearer(_)))
    }

    /// The key CSRF tokens are cached under.
    fn credential_key(&self, cx: &CallContext) -> String {
        match self.auth {
            Auth::Passthrough => format!("caller:{}", cx.user),
            // Tokens are bound to the upstream user, who is the bearer token's user.
            Auth::BearerPassthrough => format!("bearer:{}", cx.user),
            _ => "service".to_owned(),
        }
    }

    fn authorize(
        &self,
        cx: &CallContext,
        rb: RequestBuilder,
    ) -> Result<RequestBuilder, EngineError> {
        Ok(match &self.auth {
            Auth::Basic { .. } | Auth::Bearer(_) => {
                rb.authorization(self.service_authorization.clone())
            }
            Auth::Passthrough => match &cx.credentials {
                Some(Credentials::Basic { user, password }) => {
                    rb.basic_auth(user, Some(password.expose()))
                }
                Some(Credentials::Bearer(token)) => rb.bearer_auth(token.expose()),
                None => {
                    return Err(EngineError::forbidden(format!(
                        "engine '{}' needs the caller's credentials, which were not kept",
                        self.engine()
                    )))
                }
            },
            // Never another identity: without a bearer sign-in there is no request.
            Auth::BearerPassthrough => match &cx.credentials {
                Some(Credentials::Bearer(token)) => rb.bearer_auth(token.expose()),
                _ => {
                    return Err(EngineError::forbidden(format!(
                        "engine '{}' acts with the caller's identity-provider token: sign \
                         in to the gateway with 'Authorization: Bearer <token>' to use it",
                        self.engine()
                    )))
                }
            },
        })
    }

    /// A 401 means the gateway's own credentials were refused (502 for the client), or,
    /// with pass-through, the caller's (403).
    fn unauthorized(&self) -> EngineError {
        match self.auth {
            Auth::Passthrough => EngineError::forbidden(format!(
                "engine '{}' refused the caller's credentials",
                self.engine()
            )),
            Auth::BearerPassthrough => EngineError::forbidden(format!(
                "engine '{}' refused the caller's bearer token",
                self.engine()
            )),
            _ => EngineError::upstream(
                Some(401),
                format!(
                    "engine '{}' refused the gateway's credentials",
                    self.engine()
                ),
            ),
        }
    }

    fn error(&self, status: u16, body: &str, op: &str) -> EngineError {
        if status == 401 {
            return self.unauthorized();
        }
        if status >= 500 {
            tracing::warn!(engine = %self.engine(), op, status, body = %snippet(body), "CQ error answer");
        }
        upstream_error(status, body)
    }

    /// URL of `path` + `suffix` (e.g. `.json`, `.routes.json`) after checking the path.
    fn url(&self, path: &str, suffix: &str) -> Result<Target, EngineError> {
        ids::check_path(path)?;
        self.up.url_with_path(&[], &[path, suffix].concat())
    }

    /// `GET <path><suffix>?query` and parse JSON. A 2xx that is not JSON (a login or
    /// dispatcher page) is an upstream error, as is malformed JSON.
    pub async fn get_json<T: DeserializeOwned>(
        &self,
        cx: &CallContext,
        op: &'static str,
        path: &str,
        suffix: &str,
        query: &[(&str, &str)],
    ) -> Result<T, EngineError> {
        let mut url = self.url(path, suffix)?;
        if !query.is_empty() {
            url.append_query(query);
        }
        let rb = self
            .up
            .request(Method::GET, url)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, UA);
        let rb = self.authorize(cx, rb)?;
        let resp = self.up.send(cx, op, Idempotency::Idempotent, rb).await?;
        let status = resp.status().as_u16();
        let html = resp
            .header("content-type")
            .is_some_and(|ct| ct.starts_with("text/html"));
        let bytes = resp.body();
        let trimmed = bytes
            .strip_prefix("\u{feff}".as_bytes())
            .unwrap_or(bytes)
            .trim_ascii_start();
        let json = matches!(trimmed.first(), Some(b'{' | b'['));
        if (200..300).contains(&status) && !html && json {
            // The common case: parsed straight from the bytes received.
            if let Ok(v) = serde_json::from_slice(trimmed) {
                return Ok(v);
            }
        }
        let body = self.up.read_text(resp);
        if !(200..300).contains(&status) {
            return Err(self.error(status, &body, op));
        }
        let trimmed = body.trim_start_matches('\u{feff}').trim_start();
        if html || !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
            let page = SlingPage::parse(&body);
            if page.status.is_some_and(|s| s >= 400) {
                return Err(self.error(status, &body, op));
            }
            tracing::warn!(engine = %self.engine(), op, body = %snippet(&body), "CQ answered a JSON GET with something else");
            return Err(EngineError::upstream(
                Some(status),
                format!(
                    "engine '{}' answered {op} with a page instead of JSON (login or dispatcher page?)",
                    self.engine()
                ),
            ));
        }
        serde_json::from_str(trimmed).map_err(|e| {
            tracing::warn!(engine = %self.engine(), op, error = %e, body = %snippet(&body), "malformed CQ JSON");
            EngineError::upstream(
                Some(status),
                format!("engine '{}' returned malformed JSON for {op}", self.engine()),
            )
        })
    }

    /// The CSRF token for this caller's credential, fetched when missing or stale.
    /// `None` when the server has no CSRF filter.
    async fn csrf_token(
        &self,
        cx: &CallContext,
        force: bool,
    ) -> Result<Option<String>, EngineError> {
        if self.no_csrf.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let key = self.credential_key(cx);
        if !force {
            if let Some((t, at)) = self.tokens.lock().get(&key) {
                if at.elapsed() < self.csrf_ttl {
                    return Ok(Some(t.clone()));
                }
            }
        }
        match self
            .get_json::<CsrfToken>(cx, "csrf_token", CSRF_PATH, ".json", &[])
            .await
        {
            Ok(t) => {
                self.tokens
                    .lock()
                    .insert(key, (t.token.clone(), Instant::now()));
                Ok(Some(t.token))
            }
            Err(EngineError::NotFound(_)) => {
                // CQ 5 and AEM 6.0 have no token endpoint and no CSRF filter.
                self.no_csrf.store(true, Ordering::Relaxed);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn post_once(
        &self,
        cx: &CallContext,
        op: &'static str,
        url: &Target,
        body: &str,
        token: Option<&str>,
    ) -> Result<(u16, Option<String>, String), EngineError> {
        let mut rb = self
            .up
            .request(Method::POST, url.clone())
            .header(ACCEPT, "text/html")
            .header(USER_AGENT, UA)
            .header(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .body(body.to_owned());
        if let Some(t) = token {
            let v = HeaderValue::from_str(t).map_err(|_| {
                EngineError::upstream(
                    None,
                    format!("engine '{}' issued an unusable CSRF token", self.engine()),
                )
            })?;
            rb = rb.header("CSRF-Token", v);
        }
        let rb = self.authorize(cx, rb)?;
        let resp = self.up.send(cx, op, Idempotency::NonIdempotent, rb).await?;
        let status = resp.status().as_u16();
        let location = resp.header("location").map(str::to_owned);
        let text = self.up.read_text(resp);
        Ok((status, location, text))
    }

    /// POSTs a form (plus `_charset_=utf-8`) with the CSRF token; on 403 fetches a new
    /// token and repeats the POST once (a refused POST had no effect). Error pages, and
    /// 2xx status pages reporting an error, become errors.
    pub async fn post_form(
        &self,
        cx: &CallContext,
        op: &'static str,
        path: &str,
        fields: &[(String, String)],
    ) -> Result<Posted, EngineError> {
        let url = self.url(path, "")?;
        let body = {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("_charset_", "utf-8");
            for (k, v) in fields {
                form.append_pair(k, v);
            }
            form.finish()
        };
        let token = self.csrf_token(cx, false).await?;
        let (mut status, mut location, mut text) = self
            .post_once(cx, op, &url, &body, token.as_deref())
            .await?;
        if status == StatusCode::FORBIDDEN.as_u16() && token.is_some() {
            tracing::info!(engine = %self.engine(), op, "POST refused with 403; refreshing the CSRF token once");
            let fresh = self.csrf_token(cx, true).await?;
            (status, location, text) = self
                .post_once(cx, op, &url, &body, fresh.as_deref())
                .await?;
        }
        let page = SlingPage::parse(&text);
        let failed_inside = page.status.is_some_and(|s| s >= 400);
        if !(200..300).contains(&status) || failed_inside {
            return Err(self.error(status, &text, op));
        }
        Ok(Posted {
            status,
            location,
            page,
        })
    }

    /// Strips scheme, host and the base path from an absolute `Location`.
    pub fn location_path(&self, location: &str) -> Option<String> {
        let base = self.up.base_url().path().trim_end_matches('/');
        let p = if location.starts_with('/') {
            location.to_owned()
        } else {
            let u = url::Url::parse(location).ok()?;
            percent_encoding::percent_decode_str(u.path())
                .decode_utf8()
                .ok()?
                .into_owned()
        };
        let rest = match p.strip_prefix(base) {
            Some(r) if !base.is_empty() && r.starts_with('/') => r,
            _ => p.as_str(),
        };
        rest.starts_with('/').then(|| rest.to_owned())
    }

    /// An unauthenticated probe of the engine status page (health with pass-through
    /// auth, where the gateway has no credentials of its own): any HTTP answer counts.
    pub async fn probe(&self, cx: &CallContext) -> Result<u16, EngineError> {
        let url = self.url("/etc/workflow", ".json")?;
        let rb = self
            .up
            .request(Method::GET, url)
            .header(ACCEPT, "application/json")
            .header(USER_AGENT, UA);
        let resp = self
            .up
            .send(cx, "health", Idempotency::Idempotent, rb)
            .await?;
        Ok(resp.status().as_u16())
    }
}
