//! HTTP front of the simulator: Sling-style URL decomposition, auth, CSRF, faults,
//! and the JSON / HTML renderings of every endpoint.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine as _;
use chrono::Utc;
use percent_encoding::percent_decode_str;
use serde_json::{json, Value};

use super::state::{InstState, World};
use super::{FaultAction, RecordedRequest, Shared};
use crate::html::escape;
use crate::profile::model_name_of;
use crate::Profile;

pub(crate) fn build(
    shared: Arc<Shared>,
    listener: std::net::TcpListener,
) -> std::io::Result<actix_web::dev::Server> {
    let data = web::Data::new(shared);
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(web::PayloadConfig::new(4 << 20))
            .default_service(web::to(dispatch))
    })
    .workers(1)
    .disable_signals()
    // Stopping is immediate (open connections are closed, not drained); see `CqSim::stop`.
    .shutdown_timeout(0)
    .listen(listener)?
    .run())
}

/// A response before it becomes an actix response, so faults can rewrite it.
pub(super) struct Resp {
    status: u16,
    content_type: &'static str,
    body: String,
    pub(super) headers: Vec<(&'static str, String)>,
}

const JSON: &str = "application/json;charset=utf-8";
const HTML: &str = "text/html;charset=utf-8";

impl Resp {
    fn json(v: &Value) -> Resp {
        Resp {
            status: 200,
            content_type: JSON,
            body: v.to_string(),
            headers: Vec::new(),
        }
    }

    pub(super) fn html(status: u16, body: String) -> Resp {
        Resp {
            status,
            content_type: HTML,
            body,
            headers: Vec::new(),
        }
    }
}

/// Parsed request facts the handlers need.
pub(super) struct Req {
    method: String,
    path: String,
    resource: String,
    selectors: Vec<String>,
    extension: Option<String>,
    query: Vec<(String, String)>,
    pub(super) form: Vec<(String, String)>,
    pub(super) user: Option<String>,
    prefers_json: bool,
}

impl Req {
    pub(super) fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn query(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Splits the last segment at its first dot: resource, selectors, extension.
fn decompose(path: &str) -> (String, Vec<String>, Option<String>) {
    let (dir, last) = match path.rfind('/') {
        Some(i) => (&path[..=i], &path[i + 1..]),
        None => ("", path),
    };
    let Some(dot) = last.find('.') else {
        return (path.to_owned(), Vec::new(), None);
    };
    let name = &last[..dot];
    let mut parts: Vec<String> = last[dot + 1..].split('.').map(str::to_owned).collect();
    let ext = parts.pop();
    (format!("{dir}{name}"), parts, ext)
}

/// Decodes an `x-www-form-urlencoded` body. Without `_charset_=utf-8` the bytes are
/// read as ISO-8859-1, as Sling does by default.
fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let raw = String::from_utf8_lossy(body);
    let utf8 = raw
        .split('&')
        .any(|kv| kv.eq_ignore_ascii_case("_charset_=utf-8"));
    let decode = |s: &str| -> String {
        let s = s.replace('+', " ");
        let bytes: Vec<u8> = percent_decode_str(&s).collect();
        if utf8 {
            String::from_utf8_lossy(&bytes).into_owned()
        } else {
            bytes.into_iter().map(char::from).collect()
        }
    };
    raw.split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(kv), String::new()),
        })
        .collect()
}

fn parse_query(q: &str) -> Vec<(String, String)> {
    url::form_urlencoded::parse(q.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// The Sling status page every successful (and some failed) POST answers with.
pub(super) fn status_page(
    status: u16,
    message: &str,
    title: &str,
    location: Option<&str>,
) -> String {
    let loc = location.unwrap_or("");
    let parent = loc.rsplit_once('/').map(|(p, _)| p).unwrap_or("");
    format!(
        "<html>\n<head><title>{t}</title></head>\n<body>\n<h1>{t}</h1>\n<table><tbody>\n\
<tr><td>Status</td><td><div id=\"Status\">{status}</div></td></tr>\n\
<tr><td>Message</td><td><div id=\"Message\">{m}</div></td></tr>\n\
<tr><td>Location</td><td><a href=\"{l}\" id=\"Location\">{l}</a></td></tr>\n\
<tr><td>Parent Location</td><td><a href=\"{p}\" id=\"ParentLocation\">{p}</a></td></tr>\n\
<tr><td>Path</td><td><div id=\"Path\">{l}</div></td></tr>\n\
<tr><td>Referer</td><td><a href=\"\" id=\"Referer\"></a></td></tr>\n\
<tr><td>ChangeLog</td><td><div id=\"ChangeLog\">&lt;pre&gt;&lt;/pre&gt;</div></td></tr>\n\
</tbody></table>\n</body></html>\n",
        t = escape(title),
        m = escape(message),
        l = escape(loc),
        p = escape(parent),
    )
}

fn reason(status: u16) -> &'static str {
    StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error")
}

/// The Sling default error page (or its JSON variant).
fn error_page(status: u16, uri: &str, detail: &str, json_variant: bool) -> Resp {
    if json_variant {
        let mut r = Resp::json(&json!({"status": status, "message": reason(status),
            "requestUri": uri, "servletName": "flowgate-sim", "requestProgress": detail}));
        r.status = status;
        return r;
    }
    let body = format!(
        "<!DOCTYPE HTML PUBLIC \"-//IETF//DTD HTML 2.0//EN\">\n<html>\n<head>\n<title>{status} {r}</title>\n</head>\n\
<body>\n<h1>{r} ({status})</h1>\n<p>The requested URL {u} resulted in an error in com.day.cq.workflow.impl.WorkflowServlet.</p>\n\
<h3>Request Progress:</h3>\n<pre>{d}</pre>\n<hr>\n<address>ApacheSling/2.7 (flowgate simulator)</address>\n</body>\n</html>\n",
        r = reason(status),
        u = escape(uri),
        d = escape(detail),
    );
    Resp::html(status, body)
}

fn matching_fault(shared: &Shared, method: &str, path: &str) -> Option<FaultAction> {
    let mut faults = shared.faults.lock();
    for f in faults.iter_mut() {
        if f.method.as_deref().is_some_and(|m| m != method) || !path.contains(&f.path_contains) {
            continue;
        }
        if f.times == Some(0) {
            continue;
        }
        if f.skip > 0 {
            f.skip -= 1;
            continue;
        }
        if let Some(t) = f.times.as_mut() {
            *t -= 1;
        }
        return Some(f.action.clone());
    }
    None
}

fn authenticate(req: &HttpRequest, profile: Profile, world: &World) -> Option<String> {
    let h = req.headers().get("authorization")?.to_str().ok()?;
    if let Some(token) = h.strip_prefix("Bearer ") {
        if profile != Profile::Cloud {
            return None;
        }
        let user = token.strip_prefix("token-")?;
        return world.users.contains_key(user).then(|| user.to_owned());
    }
    let b64 = h.strip_prefix("Basic ")?;
    if profile == Profile::Cloud {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    let raw = String::from_utf8(raw).ok()?;
    let (user, pass) = raw.split_once(':')?;
    (world.users.contains_key(user) && pass == user).then(|| user.to_owned())
}

async fn dispatch(
    req: HttpRequest,
    body: web::Bytes,
    shared: web::Data<Arc<Shared>>,
) -> HttpResponse {
    let raw_path = req.uri().path().to_owned();
    let path = percent_decode_str(&raw_path)
        .decode_utf8_lossy()
        .into_owned();
    let method = req.method().as_str().to_owned();
    let form = if method == "POST" {
        parse_form(&body)
    } else {
        Vec::new()
    };
    shared.requests.lock().push(RecordedRequest {
        method: method.clone(),
        raw_path: raw_path.clone(),
        path: path.clone(),
        query: req.uri().query().unwrap_or("").to_owned(),
        headers: req
            .headers()
            .iter()
            .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
            .collect(),
        form: form.clone(),
    });
    let options = shared.options.lock().clone();
    let fault = matching_fault(&shared, &method, &path);
    let accept = req
        .headers()
        .get("accept")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let prefers_json = options.json_errors && accept.starts_with("application/json");
    match &fault {
        Some(FaultAction::Delay(d)) => tokio::time::sleep(*d).await,
        Some(FaultAction::Status(code)) => {
            return finish(error_page(*code, &path, "injected failure", prefers_json))
        }
        Some(FaultAction::HtmlInsteadOfJson) => {
            return finish(Resp::html(
                200,
                "<html><head><title>AEM Sign In</title></head><body><form id=\"login\"></form></body></html>".into(),
            ))
        }
        Some(FaultAction::MalformedJson) => {
            let mut r = Resp::json(&Value::Null);
            r.body = "[{\"uri\":\"/var/wor".into();
            return finish(r);
        }
        Some(FaultAction::EmptyBody(code)) => {
            let mut r = Resp::html(*code, String::new());
            r.content_type = JSON;
            return finish(r);
        }
        Some(FaultAction::Unauthorized) => return finish(unauthorized(options.profile)),
        Some(FaultAction::JunkCreated) => {
            let junk = format!("{}/server0/junk_{}", options.profile.instance_root(), uuid::Uuid::new_v4().simple());
            let mut r = Resp::html(201, status_page(201, "Created", &format!("Content created {junk}"), Some(&junk)));
            r.headers.push(("location", junk));
            return finish(r);
        }
        Some(FaultAction::DropBeforeResponse { apply_effects: false }) => return dropped(None),
        _ => {}
    }
    let resp = handle(&req, &shared, &options, method, path, form, prefers_json);
    match fault {
        Some(FaultAction::DropBeforeResponse { .. }) => dropped(None),
        Some(FaultAction::DropMidBody) => {
            let half = resp.body.len() / 2;
            let cut = (0..=half)
                .rev()
                .find(|i| resp.body.is_char_boundary(*i))
                .unwrap_or(0);
            dropped(Some((resp.content_type, resp.body[..cut].to_owned())))
        }
        Some(FaultAction::MissingLocation) => {
            let mut resp = resp;
            resp.headers.retain(|(k, _)| *k != "location");
            finish(resp)
        }
        Some(FaultAction::StatusPage(code)) => finish(Resp::html(
            200,
            status_page(
                code,
                reason(code),
                &format!("Error while processing {}", req.path()),
                None,
            ),
        )),
        _ => finish(resp),
    }
}

fn unauthorized(profile: Profile) -> Resp {
    let mut r = error_page(401, "", "authentication required", false);
    if profile != Profile::Cloud {
        r.headers.push((
            "www-authenticate",
            "Basic realm=\"Sling (Development)\"".into(),
        ));
    }
    r
}

fn finish(r: Resp) -> HttpResponse {
    let mut b = HttpResponse::build(
        StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    );
    b.content_type(r.content_type);
    for (k, v) in r.headers {
        b.insert_header((k, v));
    }
    b.body(r.body)
}

/// A response whose body stream fails, which makes the server close the connection:
/// right away, or after the headers and a first chunk.
fn dropped(partial: Option<(&'static str, String)>) -> HttpResponse {
    let failing = futures::stream::once(async {
        // A short pause lets the first chunk reach the client before the reset.
        tokio::time::sleep(Duration::from_millis(20)).await;
        Err::<web::Bytes, std::io::Error>(std::io::Error::other("connection dropped by fault"))
    });
    match partial {
        Some((ct, body)) => {
            let first =
                futures::stream::once(
                    async move { Ok::<_, std::io::Error>(web::Bytes::from(body)) },
                );
            HttpResponse::Ok()
                .content_type(ct)
                .streaming(futures::StreamExt::chain(first, failing))
        }
        None => {
            let now = futures::stream::once(async {
                Err::<web::Bytes, std::io::Error>(std::io::Error::other(
                    "connection dropped by fault",
                ))
            });
            HttpResponse::Ok().streaming(now)
        }
    }
}

fn handle(
    http: &HttpRequest,
    shared: &Shared,
    options: &super::SimOptions,
    method: String,
    path: String,
    form: Vec<(String, String)>,
    prefers_json: bool,
) -> Resp {
    let mut world = shared.world.lock();
    let user = authenticate(http, options.profile, &world);
    let Some(user) = user else {
        return unauthorized(options.profile);
    };
    let (resource, selectors, extension) = decompose(&path);
    let req = Req {
        method,
        path,
        resource,
        selectors,
        extension,
        query: parse_query(http.uri().query().unwrap_or("")),
        form,
        user: Some(user),
        prefers_json,
    };
    let result = match req.method.as_str() {
        "GET" => get(&req, &mut world, options),
        "POST" => post(http, &req, &mut world, options, shared),
        _ => Err((405, "method not allowed".to_owned())),
    };
    match result {
        Ok(r) => r,
        Err((status, detail)) => error_page(status, &req.path, &detail, req.prefers_json),
    }
}

pub(super) type Handled = Result<Resp, (u16, String)>;

fn not_found(path: &str) -> (u16, String) {
    (404, format!("No resource found at {path}"))
}

/// Adds `<key>_xss` twins (HTML-escaped copies) of string fields, as 6.x inboxes do.
fn with_xss(mut v: Value, on: bool) -> Value {
    if !on {
        return v;
    }
    if let Value::Object(m) = &mut v {
        let twins: Vec<(String, Value)> = m
            .iter()
            .filter_map(|(k, v)| v.as_str().map(|s| (format!("{k}_xss"), json!(escape(s)))))
            .collect();
        m.extend(twins);
    }
    v
}

fn get(req: &Req, world: &mut World, options: &super::SimOptions) -> Handled {
    let user = req.user.clone().unwrap_or_default();
    if req.extension.as_deref() != Some("json") {
        return Err(not_found(&req.path));
    }
    let profile = options.profile;
    let res = req.resource.as_str();
    let no_sel = req.selectors.is_empty();
    match res {
        "/libs/granite/csrf/token" if no_sel => {
            if !options.csrf {
                return Err(not_found(&req.path));
            }
            let token = uuid::Uuid::new_v4().simple().to_string();
            world.csrf_tokens.insert(token.clone(), user);
            return Ok(Resp::json(&json!({ "token": token })));
        }
        "/etc/workflow" if no_sel => {
            let state = if world.engine_active {
                "ACTIVE"
            } else {
                "DISABLED"
            };
            return Ok(Resp::json(&json!({"state": state,
                "cq.workflow.models": "/etc/workflow/models",
                "cq.workflow.instances": profile.instance_root(),
                "cq.workflow.group": "workflow-users", "cq.workflow.inbox": "workflow-inbox"})));
        }
        "/etc/workflow/models" if no_sel => {
            let by_id = req.query("format") == Some("id");
            let list: Vec<Value> = world
                .models
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let uri = match profile {
                        Profile::Cq5 if i % 2 == 1 => profile.model_id(&m.name),
                        Profile::Cq5 => format!("/etc/workflow/models/{}", m.name),
                        _ => profile.model_id(&m.name),
                    };
                    if by_id {
                        json!({ "value": profile.model_id(&m.name) })
                    } else {
                        json!({ "uri": uri })
                    }
                })
                .collect();
            return Ok(Resp::json(&Value::Array(list)));
        }
        "/etc/workflow/instances" => {
            let want = match req.selectors.as_slice() {
                [] => None,
                [s] => Some(
                    [
                        InstState::Running,
                        InstState::Suspended,
                        InstState::Aborted,
                        InstState::Completed,
                    ]
                    .into_iter()
                    .find(|st| st.as_str() == s)
                    .ok_or_else(|| not_found(&req.path))?,
                ),
                _ => return Err(not_found(&req.path)),
            };
            let list: Vec<Value> = world
                .instances
                .values()
                .filter(|i| want.is_none_or(|w| i.state == w))
                .map(|i| json!({ "uri": i.path }))
                .collect();
            return Ok(Resp::json(&Value::Array(list)));
        }
        "/bin/workflow/inbox" if no_sel => {
            let mut rows: Vec<Value> = world
                .items
                .values()
                .filter(|w| world.is_member(&user, &w.assignee))
                .map(|w| {
                    let inst = world.instances.get(&w.instance);
                    with_xss(
                        json!({"uri": w.path, "currentAssignee": w.assignee,
                            "startTime": w.start.timestamp_millis(),
                            "payloadType": inst.map(|i| i.payload_type.clone()),
                            "payload": inst.map(|i| i.payload.clone()),
                            "comment": w.comment, "type": "WorkItem"}),
                        profile.has_xss_twins(),
                    )
                })
                .collect();
            if user == "admin" {
                for uri in [
                    "configuration/securitychecklist",
                    "configuration/replication",
                ] {
                    rows.push(with_xss(
                        json!({"uri": uri, "currentAssignee": "administrators",
                               "startTime": 1_700_000_000_000_i64, "type": "Task"}),
                        profile.has_xss_twins(),
                    ));
                }
            }
            return Ok(Resp::json(&Value::Array(rows)));
        }
        "/libs/cq/workflow/content/console/history" if no_sel => {
            let wf = req.query("workflow").unwrap_or("");
            let inst = world.instances.get(wf).ok_or_else(|| not_found(wf))?;
            return Ok(Resp::json(&world.history_json(inst, options.fields)));
        }
        _ => {}
    }
    if let Some(v) = model_json(req, world, profile) {
        return v;
    }
    if let Some(inst) = world.instances.get(res) {
        if !no_sel {
            return Err(not_found(&req.path));
        }
        return Ok(Resp::json(&world.instance_json(inst, options.fields)));
    }
    if let Some(item) = world.items.get(res) {
        let inst = world
            .instances
            .get(&item.instance)
            .ok_or_else(|| not_found(res))?;
        let model = world.model(&inst.model).ok_or_else(|| not_found(res))?;
        let entry = |rid: &str, label: &str| {
            with_xss(json!({"rid": rid, "label": label}), profile.has_xss_twins())
        };
        return match req.selectors.as_slice() {
            [] => Ok(Resp::json(&world.item_json(item, options.fields))),
            [s] if s == "routes" => {
                let r: Vec<Value> = world
                    .routes(model, &item.node)
                    .iter()
                    .map(|r| entry(&r.rid, &r.label))
                    .collect();
                Ok(Resp::json(&json!({"results": r.len(), "routes": r})))
            }
            [s] if s == "backroutes" => {
                let r: Vec<Value> = world
                    .backroutes(model, inst, &item.node)
                    .iter()
                    .map(|r| entry(&r.rid, &r.label))
                    .collect();
                Ok(Resp::json(&json!({"results": r.len(), "backroutes": r})))
            }
            [s] if s == "delegatees" => {
                let r: Vec<Value> = world
                    .delegatees(item)
                    .iter()
                    .map(|d| entry(d, &world.display_name(d)))
                    .collect();
                Ok(Resp::json(&json!({"results": r.len(), "delegatees": r})))
            }
            _ => Err(not_found(&req.path)),
        };
    }
    if let Some(title) = res
        .strip_suffix("/jcr:content")
        .and_then(|p| world.pages.get(p))
    {
        let ty = if res.contains("/dam/") {
            "dam:AssetContent"
        } else {
            "cq:PageContent"
        };
        return Ok(Resp::json(
            &json!({"jcr:primaryType": ty, "jcr:title": title,
                                     "sling:resourceType": "flowgate/components/page"}),
        ));
    }
    if let Some(title) = world.pages.get(res) {
        let mut v = json!({"jcr:primaryType": "cq:Page", "jcr:createdBy": "admin"});
        if req.selectors.first().is_some_and(|s| s != "0") {
            v["jcr:content"] = json!({"jcr:primaryType": "cq:PageContent", "jcr:title": title,
                                      "sling:resourceType": "flowgate/components/page"});
        }
        return Ok(Resp::json(&v));
    }
    Err(not_found(&req.path))
}

/// Model resources of each profile: serialized form at the runtime id (optionally with a
/// `.<major>.<minor>` version), JCR dump under `.tidy.-1` before 6.4.
fn model_json(req: &Req, world: &World, profile: Profile) -> Option<Handled> {
    let res = req.resource.as_str();
    let name = model_name_of(res)?;
    let model = world.model(&name)?;
    let sel: Vec<&str> = req.selectors.iter().map(String::as_str).collect();
    let runtime = profile.model_id(&name);
    if res == runtime {
        return Some(match sel.as_slice() {
            [] | ["1", "0"] => Ok(Resp::json(&model.serialized(&runtime))),
            ["tidy", "-1"] if !profile.uses_var() => Ok(Resp::json(&model.jcr_dump())),
            _ => Err(not_found(&req.path)),
        });
    }
    if !profile.uses_var() && res == format!("/etc/workflow/models/{name}") && sel == ["tidy", "-1"]
    {
        return Some(Ok(Resp::json(&model.jcr_dump())));
    }
    None
}

fn post(
    http: &HttpRequest,
    req: &Req,
    world: &mut World,
    options: &super::SimOptions,
    shared: &Shared,
) -> Handled {
    let user = req.user.clone().unwrap_or_default();
    let ua = http
        .headers()
        .get("user-agent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if (ua.contains("Mozilla") || ua.contains("Opera")) && http.headers().get("referer").is_none() {
        return Err((403, "referrer check failed".to_owned()));
    }
    if options.csrf {
        let token = http
            .headers()
            .get("csrf-token")
            .and_then(|v| v.to_str().ok())
            .or_else(|| req.field(":cq_csrf_token"));
        if token.and_then(|t| world.csrf_tokens.get(t)) != Some(&user) {
            return Err((403, "empty or invalid CSRF token - rejecting".to_owned()));
        }
    }
    let browser = req.field(":status") == Some("browser");
    let now = Utc::now();
    let result = match req.path.as_str() {
        "/etc/workflow/instances" => super::starts::start(req, world, options, shared, now),
        "/bin/workflow/inbox" => inbox_post(req, world, &user, now),
        "/etc/workflow" => {
            let want = req.field("state").unwrap_or("");
            let active = match want {
                "ACTIVE" => true,
                "DISABLED" => false,
                _ => return Err((500, format!("invalid state {want}"))),
            };
            if world.engine_active == active {
                Err((409, format!("engine already {want}")))
            } else {
                world.engine_active = active;
                Ok(Resp::html(
                    200,
                    status_page(
                        200,
                        "OK",
                        "Content modified /etc/workflow",
                        Some("/etc/workflow"),
                    ),
                ))
            }
        }
        p if world.instances.contains_key(p) => instance_post(req, world, &user, now),
        p if options.sling_post_on_missing => {
            let mut r = Resp::html(
                201,
                status_page(201, "Created", &format!("Content created {p}"), Some(p)),
            );
            r.headers.push(("location", p.to_owned()));
            Ok(r)
        }
        p => Err(not_found(p)),
    };
    if browser {
        // `:status=browser`: always HTTP 200, the real outcome only inside the page.
        let (status, msg) = match &result {
            Ok(r) => (r.status, "OK".to_owned()),
            Err((s, m)) => (*s, m.clone()),
        };
        return Ok(Resp::html(
            200,
            status_page(status, &msg, &format!("Processed {}", req.path), None),
        ));
    }
    result
}

fn instance_post(req: &Req, world: &mut World, user: &str, now: chrono::DateTime<Utc>) -> Handled {
    let path = req.path.as_str();
    if req.field("action") == Some("UPDATE") {
        let inst = world
            .instances
            .get_mut(path)
            .ok_or_else(|| not_found(path))?;
        for key in ["workflowTitle", "startComment"] {
            if let Some(v) = req.field(key) {
                inst.meta.insert(key.to_owned(), v.to_owned());
            }
        }
    } else {
        let target = req.field("state").unwrap_or("");
        let comment = req.field("terminateComment").unwrap_or("");
        world.set_state(path, target, comment, user, now)?;
    }
    Ok(Resp::html(
        200,
        status_page(200, "OK", &format!("Content modified {path}"), Some(path)),
    ))
}

fn inbox_post(req: &Req, world: &mut World, user: &str, now: chrono::DateTime<Utc>) -> Handled {
    let item = req.field("item").unwrap_or("").to_owned();
    let scoped = |k: &str| req.field(&format!("{k}-{item}"));
    let (route, back, delegatee) = match req.field("cmd") {
        Some("advance") => (scoped("route"), None, None),
        Some("advanceBack") => (None, scoped("backroute"), None),
        Some("delegate") => (None, None, scoped("delegatee")),
        Some(other) => return Err((500, format!("unknown command {other}"))),
        None => (
            req.field("route"),
            req.field("backroute"),
            req.field("delegatee"),
        ),
    };
    let comment = scoped("comment")
        .or_else(|| req.field("comment"))
        .unwrap_or("");
    let result = match (route, back, delegatee) {
        (Some(r), None, None) => world.advance(user, &item, r, false, comment, now),
        (None, Some(r), None) => world.advance(user, &item, r, true, comment, now),
        (None, None, Some(d)) => world.delegate(user, &item, d, comment, now),
        _ => Err((
            500,
            "exactly one of route, backroute or delegatee is required".to_owned(),
        )),
    };
    result.map(|()| {
        Resp::html(
            200,
            status_page(200, "OK", &format!("Content modified {item}"), Some(&item)),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sling_decomposition_splits_at_the_first_dot_of_the_last_segment() {
        assert_eq!(
            decompose("/etc/workflow/instances.RUNNING.json"),
            (
                "/etc/workflow/instances".into(),
                vec!["RUNNING".into()],
                Some("json".into())
            )
        );
        assert_eq!(
            decompose("/var/workflow/models/a.1.0.json"),
            (
                "/var/workflow/models/a".into(),
                vec!["1".into(), "0".into()],
                Some("json".into())
            )
        );
        assert_eq!(
            decompose("/etc/workflow/instances"),
            ("/etc/workflow/instances".into(), vec![], None)
        );
    }

    #[test]
    fn form_without_charset_is_read_as_latin1() {
        let utf8 = parse_form("_charset_=utf-8&c=%C3%BC".as_bytes());
        assert_eq!(utf8[1].1, "ü");
        let latin = parse_form("c=%C3%BC".as_bytes());
        assert_eq!(latin[0].1, "Ã¼");
    }
}
