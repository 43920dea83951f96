//! The simulator's HTTP surface: the actix server, the entry point that records
//! requests and applies faults, and routing to the v1 and legacy API families.
//!
//! Each resource has a module of its own: `definitions`, `processes` and `tasks`
//! for the v1 workflow API, `legacy` for the web script; `auth` holds logins and
//! credentials, `respond` the envelopes and error bodies, `filter` the evaluation
//! of `where` predicates and `faults` the injected faults and reshaped answers.

mod auth;
mod definitions;
mod faults;
mod filter;
mod legacy;
mod processes;
mod respond;
mod tasks;

use std::sync::Arc;

use actix_web::http::{header, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::json;

use super::model;
use super::query::{self, ApiError, Paging, Pred};
use super::shape::SimShape;
use super::state::State;
use super::{FaultKind, RecordedRequest, Shared};

use auth::{authenticate, login, unauthorized, Principal};
use faults::{dropped, reshaped, take_fault, WF_PREFIX};
use respond::{entry_json, error_response, method_not_allowed};

pub(crate) fn server(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(shared);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(1 << 20))
            .default_service(web::to(entry))
    })
    .workers(2)
    .disable_signals()
    // Stopping is always immediate (open connections are closed, not drained), and
    // `SimHandle::stop` waits for the workers, so that nothing answers after it returns.
    .shutdown_timeout(0)
    .listen(listener)?
    .run())
}

/// Which API family a path belongs to (decides error body and auth realm).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Family {
    V1,
    Legacy,
}

struct Req {
    method: String,
    segs: Vec<String>,
    query: Vec<(String, String)>,
    body: web::Bytes,
    json_body: bool,
}

impl Req {
    fn q(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn entry(req: HttpRequest, body: web::Bytes, data: web::Data<Arc<Shared>>) -> HttpResponse {
    let shared = data.get_ref().clone();
    let method = req.method().as_str().to_owned();
    let path = req.path().to_owned();
    let query: Vec<(String, String)> = url::form_urlencoded::parse(req.query_string().as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let fault = take_fault(&shared, &method, &path);
    // Recorded on arrival, so that a request still being handled is already counted.
    let idx = {
        let mut log = shared.log.lock();
        log.push(RecordedRequest {
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            status: 0,
            user: None,
        });
        log.len() - 1
    };
    let record = |status: u16| {
        if let Some(r) = shared.log.lock().get_mut(idx) {
            r.status = status;
        }
    };
    match &fault {
        Some(FaultKind::Delay(d)) => actix_web::rt::time::sleep(*d).await,
        Some(FaultKind::Status(code)) => {
            record(*code);
            let code = StatusCode::from_u16(*code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            return error_response(
                Family::V1,
                &ApiError::new(
                    code.as_u16(),
                    "framework.exception.ApiDefault",
                    "Injected failure",
                ),
            );
        }
        Some(FaultKind::RateLimit) => {
            record(503);
            let mut r = error_response(
                Family::V1,
                &ApiError::new(503, "framework.exception.ApiDefault", "Service unavailable"),
            );
            r.headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("1"));
            return r;
        }
        Some(FaultKind::MalformedJson) => {
            record(200);
            return HttpResponse::Ok()
                .content_type("application/json")
                .body("{\"entry\":{\"id\":\"10");
        }
        Some(FaultKind::WrongShape) => {
            record(200);
            return HttpResponse::Ok().json(json!({"unexpected": true}));
        }
        Some(FaultKind::HtmlOk) => {
            record(200);
            return HttpResponse::Ok()
                .content_type("text/html")
                .body("<html><body><form action=\"/login\">Sign in</form></body></html>");
        }
        Some(FaultKind::DropConnection) => {
            record(0);
            return dropped();
        }
        _ => {}
    }
    let segs: Vec<String> = path
        .split('/')
        .skip(1)
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let json_body = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    // The v1 workflow path after `workflow/versions/1`, whose answers may be reshaped.
    let wf_rest: Option<Vec<String>> = match segs.get(..7) {
        Some(head) if head == WF_PREFIX => Some(segs[7..].to_vec()),
        _ => None,
    };
    let mut handled_query = query.clone();
    if shared.endless_lists && wf_rest.is_some() {
        // The misbehaving server: every page is the first one, and more always follow.
        for (k, v) in &mut handled_query {
            if k == "skipCount" {
                *v = "0".to_owned();
            }
        }
    }
    let r = Req {
        method: method.clone(),
        segs,
        query: handled_query,
        body,
        json_body,
    };
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let (mut resp, user) = route(&shared, &r, auth.as_deref());
    if let Some(entry) = shared.log.lock().get_mut(idx) {
        entry.user = user;
    }
    if let Some(rest) = wf_rest.filter(|_| {
        resp.status().is_success() && (shared.shape != SimShape::Default || shared.endless_lists)
    }) {
        resp = reshaped(&shared, &rest, resp).await;
    }
    if fault == Some(FaultKind::DropAfterCommit) {
        record(0);
        return dropped();
    }
    record(resp.status().as_u16());
    resp
}

/// Answers one request; also returns the user it was authenticated as.
fn route(shared: &Shared, r: &Req, auth: Option<&str>) -> (HttpResponse, Option<String>) {
    let s: Vec<&str> = r.segs.iter().map(String::as_str).collect();
    let (family, rest): (Family, &[&str]) = match s.as_slice() {
        ["alfresco", "api", "-default-", "public", rest @ ..] => (Family::V1, rest),
        ["alfresco", "service" | "s", rest @ ..] => (Family::Legacy, rest),
        _ => {
            let e = ApiError::new(404, "framework.exception.NotFound", "Unknown path");
            return (error_response(Family::V1, &e), None);
        }
    };
    if matches!(r.method.as_str(), "POST" | "PUT") && !r.json_body {
        let e = ApiError::new(
            415,
            "framework.exception.UnsupportedMediaType",
            "Content type must be application/json",
        );
        return (error_response(family, &e), None);
    }
    let mut st = shared.state.lock();
    // Login needs no prior authentication.
    if family == Family::V1 && rest == ["authentication", "versions", "1", "tickets"] {
        if r.method != "POST" {
            return (method_not_allowed(), None);
        }
        return (login(&mut st, r), None);
    }
    let Some(principal) = authenticate(shared, &mut st, auth, r) else {
        return (unauthorized(family), None);
    };
    let res = match family {
        Family::V1 => v1(&mut st, r, &principal, rest),
        Family::Legacy => legacy::legacy(&st, r, principal.user(), rest),
    };
    let user = Some(principal.user().to_owned());
    match res {
        Ok(resp) => (resp, user),
        Err(e) => (error_response(family, &e), user),
    }
}

fn v1(st: &mut State, r: &Req, who: &Principal, rest: &[&str]) -> Result<HttpResponse, ApiError> {
    let user = who.user().to_owned();
    let user = user.as_str();
    let paging = query::paging(r.q("skipCount"), r.q("maxItems"))?;
    let m = r.method.as_str();
    // Any unparsable where/orderBy is rejected whatever the resource.
    let preds = match r.q("where") {
        Some(w) => query::parse_where(w)?,
        None => Vec::new(),
    };
    match (m, rest) {
        (_, ["authentication", "versions", "1", "tickets", "-me-"]) => {
            let Principal::Ticket(_, t) = who else {
                return Err(ApiError::bad("Invalid ticket: a ticket is required"));
            };
            match m {
                "GET" => Ok(entry_json(json!({"id": t}))),
                "DELETE" => {
                    st.tickets.remove(t);
                    Ok(HttpResponse::NoContent().finish())
                }
                _ => Ok(method_not_allowed()),
            }
        }
        ("GET", ["alfresco", "versions", "1", "nodes", id]) => {
            let node = if *id == "-root-" {
                match r.q("relativePath") {
                    Some(rel) => st.resolve_path(model::nodes::ROOT, rel),
                    None => st.node(model::nodes::ROOT),
                }
            } else {
                st.node(id)
            };
            let node = node.ok_or_else(|| ApiError::not_found(id))?;
            Ok(entry_json(st.render_node(node)))
        }
        (_, ["workflow", "versions", "1", wf @ ..]) => workflow(st, r, user, wf, paging, &preds),
        _ => Err(ApiError::new(
            404,
            "framework.exception.NotFound",
            "Unknown API path",
        )),
    }
}

/// Hands a v1 workflow request to the module of its resource.
fn workflow(
    st: &mut State,
    r: &Req,
    user: &str,
    wf: &[&str],
    paging: Paging,
    preds: &[Pred],
) -> Result<HttpResponse, ApiError> {
    let m = r.method.as_str();
    match (m, wf) {
        ("GET", ["process-definitions"]) => definitions::list(st, r, paging, preds),
        ("GET", ["process-definitions", id, rest @ ..]) => definitions::one(st, id, rest, paging),
        ("GET", ["processes"]) => processes::list(st, r, user, paging, preds),
        ("POST", ["processes"]) => processes::start(st, r, user),
        (_, ["processes", id, rest @ ..]) => processes::one(st, r, user, id, rest, paging),
        ("GET", ["tasks"]) => tasks::list(st, r, user, paging, preds),
        (_, ["tasks", id, rest @ ..]) => tasks::one(st, r, user, id, rest, paging, preds),
        _ => Err(ApiError::new(
            404,
            "framework.exception.NotFound",
            "Unknown workflow API path",
        )),
    }
}
