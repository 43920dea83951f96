//! JSON views of definitions, processes, tasks, task variables and nodes as the
//! v1 API shows them.

use serde_json::{json, Value};

use super::{fmt_date, Definition, Delegation, Process, State, TaskRec};
use crate::sim::model::Node;

impl State {
    // ---------- rendering ----------

    pub fn render_definition(d: &Definition) -> Value {
        json!({
            "id": d.id, "key": d.seed.key, "name": d.seed.name, "category": "http://alfresco.org",
            "version": d.version, "deploymentId": d.deployment_id, "title": d.seed.title,
            "description": d.seed.description, "startFormResourceKey": d.seed.start_form,
            "graphicNotationDefined": true,
        })
    }

    pub fn render_process(&self, p: &Process, with_vars: bool) -> Value {
        let mut v = json!({
            "id": p.id, "processDefinitionId": p.def_id, "processDefinitionKey": p.key,
            "startedAt": fmt_date(p.started), "startUserId": p.start_user,
            "startActivityId": "start", "completed": p.ended.is_some(),
        });
        if let Some(b) = &p.business_key {
            v["businessKey"] = json!(b);
        }
        if let Some(e) = p.ended {
            v["endedAt"] = json!(fmt_date(e));
            v["durationInMs"] = json!((e - p.started).num_milliseconds());
        }
        if let Some(a) = &p.end_activity {
            v["endActivityId"] = json!(a);
        }
        if let Some(r) = &p.delete_reason {
            v["deleteReason"] = json!(r);
        }
        if with_vars {
            v["processVariables"] = Value::Array(
                p.vars
                    .iter()
                    .map(|(n, var)| json!({"name": n, "type": var.ty, "value": var.value}))
                    .collect(),
            );
        }
        v
    }

    /// A task as the API shows it. `runtime` selects the runtime view (which knows
    /// `delegated`/`resolved`) over the history view of single GETs.
    pub fn render_task(&self, t: &TaskRec, runtime: bool, vars: bool) -> Value {
        let p = self.process(&t.process_id).ok();
        let state = if t.ended.is_some() {
            "completed"
        } else if runtime && t.delegation == Some(Delegation::Pending) {
            "delegated"
        } else if runtime && t.delegation == Some(Delegation::Resolved) {
            "resolved"
        } else if t.assignee.is_some() {
            "claimed"
        } else {
            "unclaimed"
        };
        let mut v = json!({
            "id": t.id, "processId": t.process_id,
            "processDefinitionId": p.map(|p| p.def_id.clone()).unwrap_or_default(),
            "activityDefinitionId": t.activity, "name": t.name,
            "startedAt": fmt_date(t.started), "priority": t.priority,
            "formResourceKey": t.form_key, "state": state,
        });
        let o = v.as_object_mut();
        if let Some(o) = o {
            if let Some(d) = t.description.as_ref().filter(|d| !d.is_empty()) {
                o.insert("description".into(), json!(d));
            }
            if let Some(d) = &t.due {
                o.insert("dueAt".into(), json!(d));
            }
            if let Some(a) = &t.assignee {
                o.insert("assignee".into(), json!(a));
            }
            if let Some(w) = &t.owner {
                o.insert("owner".into(), json!(w));
            }
            if let Some(e) = t.ended {
                o.insert("endedAt".into(), json!(fmt_date(e)));
                o.insert(
                    "durationInMs".into(),
                    json!((e - t.started).num_milliseconds()),
                );
            }
            if vars {
                o.insert(
                    "variables".into(),
                    Value::Array(self.task_variables(t, None)),
                );
            }
        }
        v
    }

    /// Local then global variables of a task, optionally restricted to one scope.
    pub fn task_variables(&self, t: &TaskRec, scope: Option<&str>) -> Vec<Value> {
        let mut out = Vec::new();
        if scope != Some("global") {
            for (n, var) in &t.local {
                out.push(json!({"scope": "local", "name": n, "type": var.ty, "value": var.value}));
            }
        }
        if scope != Some("local") {
            if let Ok(p) = self.process(&t.process_id) {
                for (n, var) in &p.vars {
                    out.push(
                        json!({"scope": "global", "name": n, "type": var.ty, "value": var.value}),
                    );
                }
            }
        }
        out
    }

    pub fn render_item(&self, id: &str) -> Option<Value> {
        let n = self.node(id)?;
        let mut v = json!({
            "id": n.id, "name": n.name,
            "createdAt": "2024-04-30T08:00:00.000+0000", "createdBy": "admin",
            "modifiedAt": "2024-05-01T12:00:00.000+0000", "modifiedBy": "admin",
        });
        if let Some(t) = n.title {
            v["title"] = json!(t);
        }
        if let Some(m) = n.mime {
            v["mimeType"] = json!(m);
        }
        if let Some(s) = n.size {
            v["size"] = json!(s);
        }
        Some(v)
    }

    pub fn render_node(&self, n: &Node) -> Value {
        let mut v = json!({
            "id": n.id, "name": n.name,
            "nodeType": if n.folder { "cm:folder" } else { "cm:content" },
            "isFile": !n.folder, "isFolder": n.folder,
            "createdAt": "2024-04-30T08:00:00.000+0000",
            "modifiedAt": "2024-05-01T12:00:00.000+0000",
            "path": {"name": self.node_path(n.id), "isComplete": true},
        });
        if let Some(p) = n.parent {
            v["parentId"] = json!(p);
        }
        if let Some(t) = n.title {
            v["properties"] = json!({"cm:title": t});
        }
        v
    }
}
