//! `POST /etc/workflow/instances`: starting an instance (and the answers of servers
//! that accept junk or run transient models).

use std::collections::BTreeMap;

use chrono::Utc;

use super::request::{status_page, Handled, Req, Resp};
use super::state::World;
use super::Shared;

pub(super) fn start(
    req: &Req,
    world: &mut World,
    options: &super::SimOptions,
    shared: &Shared,
    now: chrono::DateTime<Utc>,
) -> Handled {
    let user = req.user.clone().unwrap_or_default();
    let model_id = req.field("model").unwrap_or("");
    let payload_type = req.field("payloadType").unwrap_or("");
    let payload = req.field("payload").unwrap_or("");
    if !matches!(payload_type, "JCR_PATH" | "URL") {
        return Err((500, format!("invalid payload type '{payload_type}'")));
    }
    if payload.is_empty() {
        return Err((500, "payload missing".to_owned()));
    }
    let Some(name) = world.model_for_runtime_id(model_id) else {
        if options.junk_start_on_bad_model {
            let junk = format!(
                "{}/server0/junk_{}",
                options.profile.instance_root(),
                uuid::Uuid::new_v4().simple()
            );
            let mut r = Resp::html(
                201,
                status_page(
                    201,
                    "Created",
                    &format!("Content created {junk}"),
                    Some(&junk),
                ),
            );
            r.headers.push(("location", junk));
            return Ok(r);
        }
        return Err((500, format!("unknown model '{model_id}'")));
    };
    let meta: BTreeMap<String, String> = req
        .form
        .iter()
        .filter(|(k, _)| {
            !matches!(
                k.as_str(),
                "model" | "payloadType" | "payload" | "_charset_"
            ) && !k.starts_with(':')
        })
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let path = world.start(&name, &user, payload_type, payload, meta, now)?;
    if options.transient_models.contains(&name) {
        // A transient model runs without its instance being stored: the 201 names a
        // location that reads as 404 from then on.
        world.forget_instance(&path);
    }
    let location = if options.absolute_location {
        let origin = shared.origin.lock().clone().unwrap_or_default();
        format!("{origin}{path}")
    } else {
        path.clone()
    };
    let mut r = Resp::html(
        201,
        status_page(
            201,
            "Created",
            &format!("Content created {path}"),
            Some(&path),
        ),
    );
    r.headers.push(("location", location));
    Ok(r)
}
