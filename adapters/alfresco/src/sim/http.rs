//! The simulator's HTTP surface: routing, authentication, envelopes, errors, faults.

use std::sync::Arc;
use std::time::Instant;

use actix_web::http::{header, StatusCode};
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine as _;
use serde_json::{json, Value};

use super::model;
use super::query::{self, Allowed, ApiError, Op, Paging, Pred};
use super::shape::{self, SimShape};
use super::state::{fmt_legacy_date, State, Ticket};
use super::{FaultKind, RecordedRequest, Shared};

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
    let mut resp = route(&shared, &r, auth.as_deref());
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

const WF_PREFIX: [&str; 7] = [
    "alfresco",
    "api",
    "-default-",
    "public",
    "workflow",
    "versions",
    "1",
];

/// A successful workflow answer in the simulator's shape (and, for the endless-list
/// fault, claiming more entries).
async fn reshaped(shared: &Shared, rest: &[String], resp: HttpResponse) -> HttpResponse {
    let status = resp.status();
    let Ok(bytes) = actix_web::body::to_bytes(resp.into_body()).await else {
        return HttpResponse::InternalServerError().finish();
    };
    let Ok(body) = serde_json::from_slice::<Value>(&bytes) else {
        return HttpResponse::build(status)
            .content_type("application/json")
            .body(bytes);
    };
    let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
    let mut body = shape::reshape(shared.shape, &rest, body);
    if shared.endless_lists {
        body = shape::endless(&rest, body);
    }
    HttpResponse::build(status).json(body)
}

fn dropped() -> HttpResponse {
    let s = futures::stream::once(async {
        Err::<web::Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionAborted,
            "injected connection drop",
        ))
    });
    HttpResponse::Ok()
        .content_type("application/json")
        .streaming(s)
}

fn take_fault(shared: &Shared, method: &str, path: &str) -> Option<FaultKind> {
    let mut faults = shared.faults.lock();
    let idx = faults.iter().position(|f| {
        f.method.as_deref().is_none_or(|m| m == method)
            && path.contains(&f.path_contains)
            && f.times != Some(0)
    })?;
    let f = &mut faults[idx];
    if let Some(n) = f.times.as_mut() {
        *n -= 1;
    }
    Some(f.kind.clone())
}

fn error_response(family: Family, e: &ApiError) -> HttpResponse {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match family {
        Family::V1 => HttpResponse::build(status).json(json!({"error": {
            "errorKey": e.key,
            "statusCode": e.status,
            "briefSummary": format!("{:08} {}", (uuid::Uuid::new_v4().as_u128() % 100_000_000), e.message),
            "stackTrace": "For security reasons the stack trace is no longer displayed, but the property is kept for previous versions",
            "descriptionURL": "https://api-explorer.alfresco.com",
            "logId": uuid::Uuid::new_v4().to_string(),
        }})),
        Family::Legacy => HttpResponse::build(status).json(json!({
            "status": {"code": e.status, "name": status.canonical_reason().unwrap_or(""), "description": e.message},
            "message": e.message,
        })),
    }
}

fn unauthorized(family: Family) -> HttpResponse {
    let realm = match family {
        Family::V1 => "Basic realm=\"Alfresco -default- tenant\"",
        Family::Legacy => "Basic realm=\"Alfresco\"",
    };
    let mut r = error_response(
        family,
        &ApiError::new(
            401,
            "framework.exception.NotAuthenticated",
            "Authentication failed",
        ),
    );
    if let Ok(v) = header::HeaderValue::from_str(realm) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// Who is calling, and whether with a ticket.
enum Principal {
    Password(String),
    Ticket(String, String),
}

impl Principal {
    fn user(&self) -> &str {
        match self {
            Principal::Password(u) | Principal::Ticket(u, _) => u,
        }
    }
}

fn authenticate(shared: &Shared, st: &mut State, auth: Option<&str>, r: &Req) -> Option<Principal> {
    let ticket_from = |st: &mut State, t: &str| -> Option<Principal> {
        let tk = st.tickets.get_mut(t)?;
        if tk.last_used.elapsed() > shared.ticket_idle {
            st.tickets.remove(t);
            return None;
        }
        tk.last_used = Instant::now();
        Some(Principal::Ticket(tk.user.clone(), t.to_owned()))
    };
    if let Some(t) = r.q("alf_ticket") {
        return ticket_from(st, t);
    }
    let b64 = auth?.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    match raw.split_once(':') {
        None => ticket_from(st, &raw),
        Some(("", t)) | Some(("ROLE_TICKET", t)) => ticket_from(st, t),
        Some((u, p)) => {
            let (name, pw) = st
                .passwords
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(u))?;
            (pw == p).then(|| Principal::Password(name.clone()))
        }
    }
}

fn entry_json(v: Value) -> HttpResponse {
    HttpResponse::Ok().json(json!({ "entry": v }))
}

fn created(v: Value) -> HttpResponse {
    HttpResponse::Created().json(json!({ "entry": v }))
}

/// A query-backed list: sliced, `totalItems` over the full set.
fn paged(items: Vec<Value>, p: Paging) -> HttpResponse {
    let total = items.len();
    let page: Vec<Value> = items
        .into_iter()
        .skip(p.skip)
        .take(p.max)
        .map(|e| json!({ "entry": e }))
        .collect();
    let count = page.len();
    HttpResponse::Ok().json(json!({"list": {
        "pagination": {"count": count, "hasMoreItems": p.skip + count < total, "totalItems": total,
                        "skipCount": p.skip, "maxItems": p.max},
        "entries": page,
    }}))
}

/// A sub-collection that ignores paging.
fn unpaged(items: Vec<Value>, p: Paging) -> HttpResponse {
    let count = items.len();
    HttpResponse::Ok().json(json!({"list": {
        "pagination": {"count": count, "hasMoreItems": false, "totalItems": count,
                        "skipCount": p.skip, "maxItems": p.max},
        "entries": items.into_iter().map(|e| json!({"entry": e})).collect::<Vec<_>>(),
    }}))
}

fn route(shared: &Shared, r: &Req, auth: Option<&str>) -> HttpResponse {
    let s: Vec<&str> = r.segs.iter().map(String::as_str).collect();
    let (family, rest): (Family, &[&str]) = match s.as_slice() {
        ["alfresco", "api", "-default-", "public", rest @ ..] => (Family::V1, rest),
        ["alfresco", "service" | "s", rest @ ..] => (Family::Legacy, rest),
        _ => {
            return error_response(
                Family::V1,
                &ApiError::new(404, "framework.exception.NotFound", "Unknown path"),
            )
        }
    };
    if matches!(r.method.as_str(), "POST" | "PUT") && !r.json_body {
        return error_response(
            family,
            &ApiError::new(
                415,
                "framework.exception.UnsupportedMediaType",
                "Content type must be application/json",
            ),
        );
    }
    let mut st = shared.state.lock();
    // Login needs no prior authentication.
    if family == Family::V1 && rest == ["authentication", "versions", "1", "tickets"] {
        if r.method != "POST" {
            return method_not_allowed();
        }
        return login(&mut st, r);
    }
    let Some(principal) = authenticate(shared, &mut st, auth, r) else {
        return unauthorized(family);
    };
    let res = match family {
        Family::V1 => v1(&mut st, r, &principal, rest),
        Family::Legacy => legacy(&st, r, principal.user(), rest),
    };
    match res {
        Ok(resp) => resp,
        Err(e) => error_response(family, &e),
    }
}

fn method_not_allowed() -> HttpResponse {
    error_response(
        Family::V1,
        &ApiError::new(
            405,
            "framework.exception.UnsupportedResourceOperation",
            "The operation is unsupported",
        ),
    )
}

fn login(st: &mut State, r: &Req) -> HttpResponse {
    let body: Value = match serde_json::from_slice(&r.body) {
        Ok(v) => v,
        Err(_) => {
            return error_response(
                Family::V1,
                &ApiError::bad("Could not read content from HTTP request body"),
            )
        }
    };
    let (Some(user), Some(pw)) = (
        body.get("userId").and_then(Value::as_str),
        body.get("password").and_then(Value::as_str),
    ) else {
        return error_response(Family::V1, &ApiError::bad("Invalid login details."));
    };
    let Some((name, _)) = st
        .passwords
        .iter()
        .find(|(k, p)| k.eq_ignore_ascii_case(user) && *p == pw)
        .map(|(k, p)| (k.clone(), p.clone()))
    else {
        return error_response(
            Family::V1,
            &ApiError::new(403, "framework.exception.PermissionDenied", "Login failed"),
        );
    };
    // One ticket per user: logging in twice gives the same ticket.
    let existing = st
        .tickets
        .values()
        .find(|t| t.user == name)
        .map(|t| t.id.clone());
    let id = existing.unwrap_or_else(|| format!("TICKET_{}", uuid::Uuid::new_v4().simple()));
    st.tickets.insert(
        id.clone(),
        Ticket {
            id: id.clone(),
            user: name.clone(),
            last_used: Instant::now(),
        },
    );
    created(json!({"id": id, "userId": name}))
}

fn parse_body(r: &Req) -> Result<Value, ApiError> {
    serde_json::from_slice(&r.body)
        .map_err(|_| ApiError::bad("Could not read content from HTTP request body"))
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

fn flag(preds: &[Pred], name: &str) -> bool {
    preds
        .iter()
        .any(|p| p.prop == name && p.value == Value::Bool(true))
}

fn status_of(preds: &[Pred], default: &str) -> String {
    preds
        .iter()
        .find(|p| p.prop == "status")
        .and_then(|p| p.value.as_str())
        .unwrap_or(default)
        .to_owned()
}

/// Evaluates predicates against an entity's JSON view; flags and `status` are skipped.
fn eval(preds: &[Pred], view: &Value, vars: &[Value], skip: &[&str]) -> bool {
    preds.iter().all(|p| {
        if skip.contains(&p.prop.as_str()) {
            return true;
        }
        if let Some(rest) = p.prop.strip_prefix("variables/") {
            let (scope, name) = match rest.split_once('/') {
                Some(("local", n)) => (Some("local"), n),
                Some(("global", n)) => (Some("global"), n),
                _ => (None, rest),
            };
            let target = p
                .value
                .as_str()
                .map(|s| s.split_once(' ').map_or(s, |(_, v)| v))
                .map(|s| Value::String(s.to_owned()))
                .unwrap_or_else(|| p.value.clone());
            return vars.iter().any(|v| {
                v.get("name").and_then(Value::as_str) == Some(name)
                    && scope.is_none_or(|sc| {
                        v.get("scope")
                            .and_then(Value::as_str)
                            .is_none_or(|x| x == sc)
                    })
                    && query::compare(v.get("value"), p.op, &target)
            });
        }
        query::compare(view.get(&p.prop), p.op, &p.value)
    })
}

fn workflow(
    st: &mut State,
    r: &Req,
    user: &str,
    wf: &[&str],
    paging: Paging,
    preds: &[Pred],
) -> Result<HttpResponse, ApiError> {
    let m = r.method.as_str();
    let admin = st.is_admin(user);
    match (m, wf) {
        ("GET", ["process-definitions"]) => {
            query::check(
                preds,
                &Allowed {
                    eq: &["category", "key", "name", "deploymentId", "version"],
                    matches: &["category", "key", "name"],
                    range: &[],
                    range_eq: &[],
                    variables: false,
                },
            )?;
            let (col, asc) = query::parse_order(
                r.q("orderBy"),
                &["id", "key", "name", "category", "version", "deploymentId"],
                ("name", true),
            )?;
            let mut items: Vec<Value> = st
                .definitions
                .iter()
                .map(State::render_definition)
                .filter(|v| eval(preds, v, &[], &[]))
                .collect();
            query::sort_by_field(&mut items, &col, asc);
            Ok(paged(items, paging))
        }
        ("GET", ["process-definitions", id, rest @ ..]) => {
            let d = st.definition(id).ok_or_else(|| ApiError::not_found(id))?;
            match rest {
                [] => Ok(entry_json(State::render_definition(d))),
                ["start-form-model"] => Ok(unpaged(
                    model::start_form(d.seed.start_form).unwrap_or_default(),
                    paging,
                )),
                ["image"] => Ok(HttpResponse::Ok()
                    .content_type("image/png")
                    .body(model::TINY_PNG)),
                _ => Err(ApiError::not_found(id)),
            }
        }
        ("GET", ["processes"]) => {
            query::check(
                preds,
                &Allowed {
                    eq: &[
                        "processDefinitionId",
                        "businessKey",
                        "processDefinitionKey",
                        "startUserId",
                        "status",
                        "includeVariables",
                    ],
                    matches: &[],
                    range: &["startedAt", "endedAt"],
                    range_eq: &[],
                    variables: true,
                },
            )?;
            let status = status_of(preds, "active");
            if !matches!(status.as_str(), "active" | "completed" | "deleted" | "any") {
                return Err(ApiError::bad(format!("Invalid status parameter: {status}")));
            }
            let (col, asc) = query::parse_order(
                r.q("orderBy"),
                &[
                    "processDefinitionId",
                    "businessKey",
                    "id",
                    "startedAt",
                    "endedAt",
                    "durationInMillis",
                ],
                ("startedAt", false),
            )?;
            let col = if col == "durationInMillis" {
                "durationInMs".to_owned()
            } else {
                col
            };
            let with_vars = flag(preds, "includeVariables");
            let mut items: Vec<Value> = st
                .processes
                .values()
                .filter(|p| match status.as_str() {
                    "active" => p.ended.is_none(),
                    "completed" => p.ended.is_some() && p.delete_reason.is_none(),
                    "deleted" => p.delete_reason.is_some(),
                    _ => true,
                })
                .filter(|p| admin || st.involved_in_process(user, p))
                .filter_map(|p| {
                    let view = st.render_process(p, true);
                    let vars = view["processVariables"]
                        .as_array()
                        .cloned()
                        .unwrap_or_default();
                    eval(preds, &view, &vars, &["status", "includeVariables"])
                        .then(|| st.render_process(p, with_vars))
                })
                .collect();
            query::sort_by_field(&mut items, &col, asc);
            Ok(paged(items, paging))
        }
        ("POST", ["processes"]) => {
            let body = parse_body(r)?;
            match body {
                Value::Object(o) => Ok(created(st.start(user, &o)?)),
                Value::Array(a) => {
                    let mut out = Vec::new();
                    for b in a {
                        let o = b
                            .as_object()
                            .cloned()
                            .ok_or_else(|| ApiError::bad("Invalid process body"))?;
                        out.push(st.start(user, &o)?);
                    }
                    if out.len() == 1 {
                        Ok(created(out.remove(0)))
                    } else {
                        let n = out.len();
                        Ok(HttpResponse::Created().json(json!({"list": {
                            "pagination": {"count": n, "hasMoreItems": false, "totalItems": n, "skipCount": 0, "maxItems": 100},
                            "entries": out.into_iter().map(|e| json!({"entry": e})).collect::<Vec<_>>()}})))
                    }
                }
                _ => Err(ApiError::bad("Invalid process body")),
            }
        }
        (_, ["processes", id, rest @ ..]) => {
            let p = st.process(id)?;
            if !(m == "DELETE" && rest.is_empty() && p.ended.is_some()) {
                st.check_process_access(user, p)?;
            }
            match (m, rest) {
                ("GET", []) => Ok(entry_json(st.render_process(p, false))),
                ("DELETE", []) => {
                    st.cancel(user, id)?;
                    Ok(HttpResponse::NoContent().finish())
                }
                ("GET", ["items"]) => {
                    let items = p.items.iter().filter_map(|i| st.render_item(i)).collect();
                    Ok(unpaged(items, paging))
                }
                ("GET", ["items", item]) => {
                    if !p.items.iter().any(|i| i == item) {
                        return Err(ApiError::not_found(item));
                    }
                    Ok(entry_json(
                        st.render_item(item)
                            .ok_or_else(|| ApiError::not_found(item))?,
                    ))
                }
                ("POST", ["items"]) => {
                    if p.ended.is_some() {
                        return Err(ApiError::not_found(id));
                    }
                    let body = parse_body(r)?;
                    let item = body
                        .get("id")
                        .and_then(Value::as_str)
                        .ok_or_else(|| ApiError::bad("Item id is required"))?;
                    let item = item.rsplit('/').next().unwrap_or(item).to_owned();
                    let rendered = st
                        .render_item(&item)
                        .ok_or_else(|| ApiError::not_found(&item))?;
                    let pid: u64 = id.parse().map_err(|_| ApiError::not_found(id))?;
                    if let Some(pm) = st.processes.get_mut(&pid) {
                        if !pm.items.contains(&item) {
                            pm.items.push(item);
                        }
                    }
                    Ok(created(rendered))
                }
                ("DELETE", ["items", item]) => {
                    if p.ended.is_some() || !p.items.iter().any(|i| i == item) {
                        return Err(ApiError::not_found(item));
                    }
                    let pid: u64 = id.parse().map_err(|_| ApiError::not_found(id))?;
                    if let Some(pm) = st.processes.get_mut(&pid) {
                        pm.items.retain(|i| i != item);
                    }
                    Ok(HttpResponse::NoContent().finish())
                }
                ("GET", ["variables"]) => {
                    let vars = p
                        .vars
                        .iter()
                        .map(|(n, v)| json!({"name": n, "type": v.ty, "value": v.value}))
                        .collect();
                    Ok(unpaged(vars, paging))
                }
                ("GET", ["tasks"]) => {
                    let status = r.q("status").unwrap_or("active");
                    if !matches!(status, "active" | "completed" | "any") {
                        return Err(ApiError::bad(format!("Invalid status parameter: {status}")));
                    }
                    let (col, asc) = query::parse_order(
                        r.q("orderBy"),
                        &[
                            "id",
                            "name",
                            "description",
                            "priority",
                            "processId",
                            "assignee",
                            "startedAt",
                            "dueAt",
                            "endedAt",
                            "owner",
                            "processDefinitionId",
                            "durationInMs",
                        ],
                        ("dueAt", true),
                    )?;
                    let runtime = status == "active";
                    let mut items: Vec<Value> = st
                        .process_tasks(id)
                        .filter(|t| match status {
                            "active" => t.ended.is_none(),
                            "completed" => t.ended.is_some(),
                            _ => true,
                        })
                        .map(|t| st.render_task(t, runtime, false))
                        .collect();
                    query::sort_by_field(&mut items, &col, asc);
                    Ok(paged(items, paging))
                }
                ("GET", ["activities"]) => {
                    let status = r.q("status");
                    let items: Vec<Value> = p
                        .activities
                        .iter()
                        .filter(|a| match status {
                            Some("active") => a.ended.is_none(),
                            Some("completed") => a.ended.is_some(),
                            _ => true,
                        })
                        .map(|a| {
                            let (name, ty) = model::activity_name(&p.key, &a.def_id);
                            let mut v = json!({"id": a.id, "activityDefinitionId": a.def_id,
                                "activityDefinitionName": name, "activityDefinitionType": ty,
                                "startedAt": super::state::fmt_date(a.started)});
                            if let Some(e) = a.ended {
                                v["endedAt"] = json!(super::state::fmt_date(e));
                                v["durationInMs"] = json!((e - a.started).num_milliseconds());
                            }
                            v
                        })
                        .skip(paging.skip)
                        .take(paging.max)
                        .collect();
                    // The real server slices but reports the page as complete.
                    Ok(unpaged(items, paging))
                }
                ("GET", ["image"]) => {
                    if p.ended.is_some() {
                        return Err(ApiError::not_found(id));
                    }
                    Ok(HttpResponse::Ok()
                        .content_type("image/png")
                        .body(model::TINY_PNG))
                }
                _ => Ok(method_not_allowed()),
            }
        }
        ("GET", ["tasks"]) => {
            query::check(
                preds,
                &Allowed {
                    eq: &[
                        "status",
                        "assignee",
                        "owner",
                        "candidateUser",
                        "candidateGroup",
                        "name",
                        "description",
                        "priority",
                        "processId",
                        "processBusinessKey",
                        "activityDefinitionId",
                        "processDefinitionId",
                        "processDefinitionKey",
                        "processDefinitionName",
                        "startedAt",
                        "endedAt",
                        "dueAt",
                        "includeTaskVariables",
                        "includeProcessVariables",
                    ],
                    matches: &[
                        "assignee",
                        "owner",
                        "name",
                        "description",
                        "processBusinessKey",
                        "activityDefinitionId",
                        "processDefinitionKey",
                        "processDefinitionName",
                    ],
                    range: &["startedAt", "endedAt", "dueAt"],
                    range_eq: &["priority"],
                    variables: true,
                },
            )?;
            let status = status_of(preds, "active");
            if !matches!(status.as_str(), "active" | "completed" | "any") {
                return Err(ApiError::bad(format!("Invalid status parameter: {status}")));
            }
            let cand_user = preds
                .iter()
                .find(|p| p.prop == "candidateUser")
                .and_then(|p| p.value.as_str())
                .map(str::to_owned);
            let cand_group = preds
                .iter()
                .find(|p| p.prop == "candidateGroup")
                .and_then(|p| p.value.as_str())
                .map(str::to_owned);
            if (cand_user.is_some() || cand_group.is_some()) && status != "active" {
                return Err(ApiError::bad(
                    "Filtering on candidateUser or candidateGroup is only allowed for active tasks",
                ));
            }
            let by_process = preds
                .iter()
                .any(|p| p.prop == "processId" && p.op == Op::Eq);
            let mut order_cols = vec![
                "id",
                "name",
                "description",
                "priority",
                "processId",
                "assignee",
                "startedAt",
                "dueAt",
            ];
            if status != "active" {
                order_cols.extend(["processDefinitionId", "owner", "endedAt", "durationInMs"]);
            }
            let (col, asc) = query::parse_order(r.q("orderBy"), &order_cols, ("dueAt", true))?;
            let runtime = status == "active";
            let with_vars =
                flag(preds, "includeTaskVariables") || flag(preds, "includeProcessVariables");
            let skip = [
                "status",
                "candidateUser",
                "candidateGroup",
                "includeTaskVariables",
                "includeProcessVariables",
            ];
            let mut items = Vec::new();
            for t in st.tasks.values() {
                let open = t.ended.is_none();
                let keep = match status.as_str() {
                    "active" => open,
                    "completed" => !open,
                    _ => true,
                };
                if !keep {
                    continue;
                }
                if let Some(u) = &cand_user {
                    let gs = st.groups_of(u);
                    let ok = t.assignee.is_none()
                        && if gs.is_empty() {
                            t.candidate_users.iter().any(|c| c == u)
                        } else {
                            t.candidate_groups.iter().any(|g| gs.contains(g))
                        };
                    if !ok {
                        continue;
                    }
                }
                if let Some(g) = &cand_group {
                    if t.assignee.is_some() || !t.candidate_groups.contains(g) {
                        continue;
                    }
                }
                if !admin
                    && cand_user.is_none()
                    && cand_group.is_none()
                    && !by_process
                    && !t.involved.contains(user)
                {
                    continue;
                }
                let mut view = st.render_task(t, runtime, false);
                if let Ok(p) = st.process(&t.process_id) {
                    view["processDefinitionKey"] = json!(p.key);
                    if let Some(b) = &p.business_key {
                        view["processBusinessKey"] = json!(b);
                    }
                    if let Some(d) = st.definition(&p.def_id) {
                        view["processDefinitionName"] = json!(d.seed.name);
                    }
                }
                let vars = st.task_variables(t, None);
                if !eval(preds, &view, &vars, &skip) {
                    continue;
                }
                items.push(st.render_task(t, runtime, with_vars));
            }
            query::sort_by_field(&mut items, &col, asc);
            Ok(paged(items, paging))
        }
        (_, ["tasks", id, rest @ ..]) => {
            let t = st.task(id)?.clone();
            if m == "PUT" && rest.is_empty() {
                let body = parse_body(r)?;
                let body = body
                    .as_object()
                    .cloned()
                    .ok_or_else(|| ApiError::bad("Invalid task body"))?;
                let select: Vec<String> = r
                    .q("select")
                    .unwrap_or_default()
                    .split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect();
                return Ok(entry_json(st.update_task(user, id, &select, &body)?));
            }
            st.check_task_read(user, &t)?;
            match (m, rest) {
                ("GET", []) => Ok(entry_json(st.render_task(&t, false, false))),
                ("GET", ["task-form-model"]) => Ok(unpaged(
                    model::task_form(&t.form_key).unwrap_or_default(),
                    paging,
                )),
                ("GET", ["variables"]) => {
                    let scope = preds
                        .iter()
                        .find(|p| p.prop == "scope")
                        .and_then(|p| p.value.as_str());
                    if preds.iter().any(|p| p.prop != "scope") {
                        return Err(ApiError::bad(
                            "An invalid WHERE query was received. Only scope is supported",
                        ));
                    }
                    Ok(unpaged(st.task_variables(&t, scope), paging))
                }
                ("GET", ["candidates"]) => {
                    let mut c: Vec<Value> = t
                        .candidate_users
                        .iter()
                        .map(|u| json!({"candidateId": u, "candidateType": "user"}))
                        .collect();
                    c.extend(
                        t.candidate_groups
                            .iter()
                            .map(|g| json!({"candidateId": g, "candidateType": "group"})),
                    );
                    Ok(unpaged(c, paging))
                }
                ("GET", ["items"]) => {
                    let p = st.process(&t.process_id)?;
                    Ok(unpaged(
                        p.items.iter().filter_map(|i| st.render_item(i)).collect(),
                        paging,
                    ))
                }
                _ => Ok(method_not_allowed()),
            }
        }
        _ => Err(ApiError::new(
            404,
            "framework.exception.NotFound",
            "Unknown workflow API path",
        )),
    }
}

fn legacy(st: &State, r: &Req, user: &str, rest: &[&str]) -> Result<HttpResponse, ApiError> {
    match (r.method.as_str(), rest) {
        ("GET", ["api", "node", store_type, store_id, id, "workflow-instances"]) => {
            if *store_type != "workspace" || *store_id != "SpacesStore" {
                return Ok(HttpResponse::Ok().json(json!({"data": []})));
            }
            let admin = st.is_admin(user);
            let data: Vec<Value> = st
                .processes
                .values()
                .filter(|p| p.ended.is_none() && p.items.iter().any(|i| i == id))
                .filter(|p| admin || st.involved_in_process(user, p))
                .map(|p| {
                    let d = st.definition(&p.def_id);
                    let var = |n: &str| p.vars.get(n).map(|v| v.value.clone()).unwrap_or(Value::Null);
                    json!({
                        "id": format!("activiti${}", p.id),
                        "url": format!("api/workflow-instances/activiti${}", p.id),
                        "name": format!("activiti${}", p.key),
                        "title": d.map(|d| d.seed.title).unwrap_or_default(),
                        "description": d.map(|d| d.seed.description).unwrap_or_default(),
                        "isActive": true,
                        "startDate": fmt_legacy_date(p.started),
                        "priority": var("bpm_workflowPriority"),
                        "message": var("bpm_workflowDescription"),
                        "endDate": null,
                        "dueDate": var("bpm_workflowDueDate").as_str().and_then(query::parse_date).map(fmt_legacy_date),
                        "context": null,
                        "package": p.package,
                        "initiator": {"userName": p.start_user, "firstName": p.start_user, "lastName": ""},
                        "definitionUrl": format!("api/workflow-definitions/activiti${}", p.def_id),
                    })
                })
                .collect();
            Ok(HttpResponse::Ok().json(json!({ "data": data })))
        }
        _ => Err(ApiError::new(404, "NotFound", "Web Script not found")),
    }
}
