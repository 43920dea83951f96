//! Processes: listing with filters and ordering, starting (one or several at a
//! time), and one process with its sub-resources (variables, tasks, activities,
//! items, image) and its cancellation.

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::filter::{eval, flag, status_of};
use super::respond::{created, entry_json, method_not_allowed, paged, parse_body, unpaged};
use super::Req;
use crate::sim::model;
use crate::sim::query::{self, Allowed, ApiError, Paging, Pred};
use crate::sim::state::State;

pub(super) fn list(
    st: &State,
    r: &Req,
    user: &str,
    paging: Paging,
    preds: &[Pred],
) -> Result<HttpResponse, ApiError> {
    let admin = st.is_admin(user);
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

pub(super) fn start(st: &mut State, r: &Req, user: &str) -> Result<HttpResponse, ApiError> {
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

pub(super) fn one(
    st: &mut State,
    r: &Req,
    user: &str,
    id: &str,
    rest: &[&str],
    paging: Paging,
) -> Result<HttpResponse, ApiError> {
    let m = r.method.as_str();
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
                        "startedAt": crate::sim::state::fmt_date(a.started)});
                    if let Some(e) = a.ended {
                        v["endedAt"] = json!(crate::sim::state::fmt_date(e));
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
