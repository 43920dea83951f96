//! The JSON renderings of every GET endpoint: instances, work items, inboxes,
//! models, users and the engine status.

use serde_json::{json, Value};

use super::request::{not_found, Handled, Req, Resp};
use super::state::{InstState, World};
use crate::html::escape;
use crate::profile::model_name_of;
use crate::Profile;

/// Adds `<key>_xss` twins (HTML-escaped copies) of string fields, as 6.x inboxes do.
pub(super) fn with_xss(mut v: Value, on: bool) -> Value {
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

pub(super) fn get(req: &Req, world: &mut World, options: &super::SimOptions) -> Handled {
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
pub(super) fn model_json(req: &Req, world: &World, profile: Profile) -> Option<Handled> {
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
