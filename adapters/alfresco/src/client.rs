//! Requests to Alfresco: URL building, authentication (service Basic, service ticket
//! with renewal, or pass-through of the caller's Basic credentials or bearer token),
//! status mapping and list walking.

use base64::Engine as _;
use flowgate_core::{CallContext, Credentials, EngineError, Secret};
use flowgate_http::{Idempotency, Target, Upstream};
use parking_lot::Mutex;
use reqwest::header::{HeaderValue, ACCEPT, ACCEPT_LANGUAGE, AUTHORIZATION};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::AuthMode;
use crate::error::upstream_error;
use crate::wire;

const WF: &[&str] = &["api", "-default-", "public", "workflow", "versions", "1"];
const CORE: &[&str] = &["api", "-default-", "public", "alfresco", "versions", "1"];
const AUTH: &[&str] = &[
    "api",
    "-default-",
    "public",
    "authentication",
    "versions",
    "1",
];

/// How requests are authenticated.
#[derive(Debug)]
pub(crate) enum Auth {
    /// Service account, Basic on every call (the header is encoded once).
    Basic { user: String, header: HeaderValue },
    /// Service account, ticket obtained by login and renewed on 401.
    Ticket {
        user: String,
        password: Secret,
        ticket: Mutex<Option<Secret>>,
    },
    /// The caller's own Basic credentials.
    Passthrough,
    /// The caller's own bearer token (a gateway sign-in with `Authorization: Bearer`).
    BearerPassthrough,
}

/// The refusal for a caller who did not sign in with a bearer token. Sent before any
/// upstream request: the adapter never falls back to another identity.
pub(crate) fn needs_bearer_sign_in(engine: &str) -> EngineError {
    EngineError::forbidden(format!(
        "engine '{engine}' acts with the caller's identity-provider token: sign in to \
         the gateway with 'Authorization: Bearer <token>' to use it"
    ))
}

/// One Alfresco server.
#[derive(Debug)]
pub(crate) struct Client {
    pub up: Upstream,
    pub auth: Auth,
    pub page_size: u32,
    pub max_scan: usize,
    /// Pages read from one list before it counts as endless (`max_pages`).
    pub max_pages: usize,
}

/// Query parameters of one call.
pub(crate) type Query = Vec<(&'static str, String)>;

/// A Basic `Authorization` value of a ticket alone (no colon, unlike user and
/// password), marked sensitive.
fn ticket_header(ticket: &str) -> Result<HeaderValue, EngineError> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(ticket);
    let mut v = HeaderValue::from_str(&format!("Basic {encoded}"))
        .map_err(|_| EngineError::bad_request("credentials cannot be sent in a header"))?;
    v.set_sensitive(true);
    Ok(v)
}

impl Auth {
    pub fn basic(user: String, password: &Secret) -> Self {
        // Base64 output is always a valid header value.
        let header = flowgate_http::basic_auth_value(&user, Some(password.expose()))
            .unwrap_or_else(|| HeaderValue::from_static(""));
        Auth::Basic { user, header }
    }
}

impl Client {
    pub fn mode(&self) -> AuthMode {
        match self.auth {
            Auth::Basic { .. } => AuthMode::Basic,
            Auth::Ticket { .. } => AuthMode::Ticket,
            Auth::Passthrough => AuthMode::Passthrough,
            Auth::BearerPassthrough => AuthMode::BearerPassthrough,
        }
    }

    /// The service account, when there is one.
    pub fn service_user(&self) -> Option<&str> {
        match &self.auth {
            Auth::Basic { user, .. } | Auth::Ticket { user, .. } => Some(user),
            Auth::Passthrough | Auth::BearerPassthrough => None,
        }
    }

    /// A URL under the v1 workflow API; every segment is encoded as one segment.
    pub fn wf(&self, segs: &[&str]) -> Result<Target, EngineError> {
        let all: Vec<&str> = WF.iter().chain(segs.iter()).copied().collect();
        self.up.url(&all)
    }

    /// A URL under the v1 core API.
    pub fn core(&self, segs: &[&str]) -> Result<Target, EngineError> {
        let all: Vec<&str> = CORE.iter().chain(segs.iter()).copied().collect();
        self.up.url(&all)
    }

    /// The legacy "workflows of a node" web script.
    pub fn legacy_node_workflows(&self, uuid: &str) -> Result<Target, EngineError> {
        self.up.url(&[
            "service",
            "api",
            "node",
            "workspace",
            "SpacesStore",
            uuid,
            "workflow-instances",
        ])
    }

    async fn login(
        &self,
        cx: &CallContext,
        user: &str,
        password: &Secret,
    ) -> Result<Secret, EngineError> {
        let all: Vec<&str> = AUTH.iter().copied().chain(["tickets"]).collect();
        let url = self.up.url(&all)?;
        let body = serde_json::json!({"userId": user, "password": password.expose()});
        let req = self
            .up
            .request(Method::POST, url)
            .header(ACCEPT, "application/json")
            .json(&body);
        // Logging in has no side effect beyond (re)issuing the same ticket: retryable.
        let resp = self
            .up
            .send(cx, "login", Idempotency::Idempotent, req)
            .await?;
        let status = resp.status().as_u16();
        if status == 403 || status == 401 {
            return Err(EngineError::upstream(
                Some(status),
                "Alfresco rejected the gateway's service credentials",
            ));
        }
        if !resp.status().is_success() {
            let text = self.up.read_text(resp);
            return Err(upstream_error(status, &text));
        }
        let t: wire::Entry<wire::Ticket> = self.read("login", resp)?;
        Ok(Secret::new(t.entry.id))
    }

    async fn auth_header(&self, cx: &CallContext, renew: bool) -> Result<HeaderValue, EngineError> {
        match &self.auth {
            Auth::Basic { header, .. } => Ok(header.clone()),
            Auth::Ticket {
                user,
                password,
                ticket,
            } => {
                let cached = if renew { None } else { ticket.lock().clone() };
                let t = match cached {
                    Some(t) => t,
                    None => {
                        // Boxed: a login is rare, and every call's future would carry it.
                        let t = Box::pin(self.login(cx, user, password)).await?;
                        *ticket.lock() = Some(t.clone());
                        t
                    }
                };
                // The ticket alone, no colon: `basic_auth(ticket, None)` would add one.
                ticket_header(t.expose())
            }
            Auth::Passthrough => match &cx.credentials {
                Some(Credentials::Basic { user, password }) => {
                    flowgate_http::basic_auth_value(user, Some(password.expose())).ok_or_else(
                        || EngineError::bad_request("credentials cannot be sent in a header"),
                    )
                }
                _ => Err(EngineError::forbidden(
                    "this Alfresco engine needs the caller's Basic credentials",
                )),
            },
            Auth::BearerPassthrough => match &cx.credentials {
                Some(Credentials::Bearer(token)) => {
                    flowgate_http::bearer_auth_value(token.expose()).ok_or_else(|| {
                        EngineError::bad_request("credentials cannot be sent in a header")
                    })
                }
                _ => Err(needs_bearer_sign_in(self.up.engine())),
            },
        }
    }

    /// Sends one request and returns the successful response; any other status is
    /// mapped to an error. A 401 with a service ticket renews it once and resends.
    // One flat signature mirrors the request line; a builder would only add ceremony.
    #[allow(clippy::too_many_arguments)]
    pub async fn call(
        &self,
        cx: &CallContext,
        op: &'static str,
        idem: Idempotency,
        method: Method,
        url: Target,
        query: &Query,
        body: Option<&Value>,
    ) -> Result<flowgate_http::Response, EngineError> {
        // Boxed: the engine joins many calls at once, and a future holding each of them
        // inline is large enough for moving it to cost more than the allocation.
        Box::pin(async move {
            let mut renewed = false;
            loop {
                let auth = self.auth_header(cx, renewed).await?;
                let mut req = self
                    .up
                    .request(method.clone(), url.clone())
                    .header(ACCEPT, "application/json")
                    .header(ACCEPT_LANGUAGE, "en")
                    .header(AUTHORIZATION, auth);
                if !query.is_empty() {
                    req = req.query(query);
                }
                if let Some(b) = body {
                    req = req.json(b);
                }
                let resp = self.up.send(cx, op, idem, req).await?;
                let status = resp.status().as_u16();
                if resp.status().is_success() {
                    return Ok(resp);
                }
                if status == 401 {
                    match &self.auth {
                        // The authenticator rejected the request before it ran, so sending it
                        // again with a fresh ticket cannot repeat a side effect.
                        Auth::Ticket { ticket, .. } if !renewed => {
                            *ticket.lock() = None;
                            renewed = true;
                            continue;
                        }
                        Auth::Passthrough => {
                            return Err(EngineError::forbidden(
                                "Alfresco rejected the caller's credentials",
                            ))
                        }
                        Auth::BearerPassthrough => {
                            return Err(EngineError::forbidden(
                                "Alfresco rejected the caller's bearer token",
                            ))
                        }
                        _ => {}
                    }
                }
                let text = self.up.read_text(resp);
                tracing::debug!(engine = self.up.engine(), op, status, body = %flowgate_http::snippet(&text), "alfresco error");
                return Err(upstream_error(status, &text));
            }
        })
        .await
    }

    /// GET returning JSON.
    pub async fn get<T: DeserializeOwned>(
        &self,
        cx: &CallContext,
        op: &'static str,
        url: Target,
        query: &Query,
    ) -> Result<T, EngineError> {
        let resp = self
            .call(
                cx,
                op,
                Idempotency::Idempotent,
                Method::GET,
                url,
                query,
                None,
            )
            .await?;
        self.read(op, resp)
    }

    /// Reads a successful answer. An answer that is JSON but lacks something flowgate
    /// needs (or has it with another type) is a 502 naming the field and the call.
    pub fn read<T: DeserializeOwned>(
        &self,
        op: &'static str,
        resp: flowgate_http::Response,
    ) -> Result<T, EngineError> {
        let status = resp.status().as_u16();
        serde_json::from_slice(resp.body()).map_err(|e| {
            tracing::warn!(engine = self.up.engine(), op, status, error = %e,
                body = %flowgate_http::snippet(&String::from_utf8_lossy(resp.body())),
                "unusable Alfresco answer");
            let msg = match e.classify() {
                serde_json::error::Category::Data => {
                    let text = e.to_string();
                    let text = text.split(" at line ").next().unwrap_or(&text).to_owned();
                    format!("Alfresco's answer to '{op}' cannot be used: {text}")
                }
                _ => format!("Alfresco's answer to '{op}' is not valid JSON"),
            };
            EngineError::upstream(Some(status), msg)
        })
    }

    /// GET of a single entity.
    pub async fn entry<T: DeserializeOwned>(
        &self,
        cx: &CallContext,
        op: &'static str,
        url: Target,
        query: &Query,
    ) -> Result<T, EngineError> {
        Ok(self.get::<wire::Entry<T>>(cx, op, url, query).await?.entry)
    }

    /// Every entry of a list, page after page, bounded by `max_pages` requests and
    /// `max_scan` entries. Without `pagination.hasMoreItems` (it is optional in the
    /// definition) a full page means more may follow; an empty page always ends.
    pub async fn list_all<T: DeserializeOwned>(
        &self,
        cx: &CallContext,
        op: &'static str,
        url: Target,
        query: &Query,
    ) -> Result<Vec<T>, EngineError> {
        let mut out = Vec::new();
        let mut skip = 0usize;
        let page_size = self.page_size as usize;
        for _ in 0..self.max_pages.max(1) {
            let mut q = query.clone();
            q.push(("skipCount", skip.to_string()));
            q.push(("maxItems", page_size.to_string()));
            let page: wire::List<T> = self.get(cx, op, url.clone(), &q).await?;
            let n = page.list.entries.len();
            let more = page.list.has_more(skip + n);
            let entries = page.list.into_entries();
            out.extend(entries);
            skip += n;
            if n == 0 || !more.unwrap_or(n >= page_size) {
                return Ok(out);
            }
            if out.len() >= self.max_scan {
                return Err(EngineError::upstream(
                    None,
                    format!(
                        "Alfresco list is longer than the configured max_scan ({})",
                        self.max_scan
                    ),
                ));
            }
        }
        Err(endless(op, self.max_pages))
    }

    /// One unpaged sub-collection (items, variables, candidates, form models).
    pub async fn sub_list<T: DeserializeOwned>(
        &self,
        cx: &CallContext,
        op: &'static str,
        url: Target,
    ) -> Result<Vec<T>, EngineError> {
        let page: wire::List<T> = self.get(cx, op, url, &Vec::new()).await?;
        Ok(page.list.into_entries())
    }
}

/// The error for a list that still said it had more after `max_pages` pages.
pub(crate) fn endless(op: &str, max_pages: usize) -> EngineError {
    EngineError::upstream(
        None,
        format!(
            "Alfresco's list for '{op}' did not end: it still had more entries after \
             {max_pages} pages (the engine's max_pages setting)"
        ),
    )
}
