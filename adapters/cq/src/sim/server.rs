//! HTTP front of the simulator: the actix server, recording of requests, faults,
//! authentication, and the hand-over to the GET and POST handlers.

use std::sync::Arc;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use base64::Engine as _;
use percent_encoding::percent_decode_str;
use serde_json::Value;

use super::get::get;
use super::post::post;
use super::request::{
    decompose, error_page, parse_form, parse_query, reason, status_page, Req, Resp, JSON,
};
use super::state::World;
use super::{FaultAction, RecordedRequest, Shared};
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

fn authenticate(req: &HttpRequest, options: &super::SimOptions, world: &World) -> Option<String> {
    let profile = options.profile;
    let h = req.headers().get("authorization")?.to_str().ok()?;
    if let Some(token) = h.strip_prefix("Bearer ") {
        let configured = options.bearer_tokens.iter().find(|(t, _)| t == token);
        if let Some((_, user)) = configured {
            return world.users.contains_key(user).then(|| user.clone());
        }
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
    let options = shared.options.lock().clone();
    let user = authenticate(&req, &options, &shared.world.lock());
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
        user,
    });
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
    let user = authenticate(http, options, &world);
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
