//! The POST endpoints: starting instances (through `starts`), changing an
//! instance, and advancing or delegating work items from the inbox.

use actix_web::HttpRequest;
use chrono::Utc;

use super::request::{not_found, status_page, Handled, Req, Resp};
use super::state::World;
use super::Shared;

pub(super) fn post(
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

pub(super) fn instance_post(
    req: &Req,
    world: &mut World,
    user: &str,
    now: chrono::DateTime<Utc>,
) -> Handled {
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

pub(super) fn inbox_post(
    req: &Req,
    world: &mut World,
    user: &str,
    now: chrono::DateTime<Utc>,
) -> Handled {
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
