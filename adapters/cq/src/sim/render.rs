//! JSON renderings of instances, work items and history, in the two shapes the
//! simulator can answer with (see [`SimFields`]).
//!
//! What [`SimFields::Minimal`] keeps is what Adobe's published material shows of a
//! real server: the classes `WorkflowInstance`, `WorkItem` and `HistoryItem` of
//! Adobe's `aem-testing-clients` name the fields they read, and the AEM 6.5 page
//! "Interacting with Workflows Programmatically" shows the list, inbox and routes
//! renderings. Nothing else is sent in that mode.

use serde_json::{json, Value};

use super::state::{java_date, Instance, WorkItem, World};
use super::SimFields;

impl World {
    /// `GET {instance}.json`. Minimal: `id`, `state`, `model`, `initiator`,
    /// `payloadType`, `payload`, `startTime`, `endTime`, `workItems[].{id,node}`.
    /// Full adds `modelVersion` and the instance metadata (`metaData`).
    pub fn instance_json(&self, inst: &Instance, fields: SimFields) -> Value {
        let items: Vec<Value> = inst
            .items
            .iter()
            .filter_map(|p| self.items.get(p))
            .map(|w| json!({"id": w.path, "node": w.node}))
            .collect();
        let mut v = json!({
            "id": inst.path, "state": inst.state.as_str(),
            "model": self.profile.model_id(&inst.model),
            "initiator": inst.initiator, "payloadType": inst.payload_type, "payload": inst.payload,
            "startTime": java_date(inst.start), "workItems": items,
        });
        if let Some(end) = inst.end {
            v["endTime"] = json!(java_date(end));
        }
        if fields == SimFields::Full {
            v["modelVersion"] = json!("1.0");
            v["metaData"] = json!(inst.meta);
        }
        v
    }

    /// `GET {workitem}.json`. Minimal: `id`, `instance`, `model`, `node`, `startTime`,
    /// `payloadType`, `payload`, `properties`. Full adds `currentAssignee`.
    pub fn item_json(&self, w: &WorkItem, fields: SimFields) -> Value {
        let inst = self.instances.get(&w.instance);
        let mut v = json!({
            "id": w.path, "instance": w.instance,
            "model": inst.map(|i| self.profile.model_id(&i.model)),
            "node": w.node,
            "startTime": java_date(w.start),
            "payloadType": inst.map(|i| i.payload_type.clone()),
            "payload": inst.map(|i| i.payload.clone()),
            "properties": [{"key": "comment", "value": w.comment}],
        });
        if fields == SimFields::Full {
            v["currentAssignee"] = json!(w.assignee);
        }
        v
    }

    /// `GET /libs/cq/workflow/content/console/history.json?workflow={instance}`.
    /// Minimal rows: `status`, `process` (the step title), `user`, `action`,
    /// `comment`, `startTime`, `endTime`. Full adds `node` and `workItem`.
    pub fn history_json(&self, inst: &Instance, fields: SimFields) -> Value {
        let items: Vec<Value> = inst
            .history
            .iter()
            .map(|h| {
                let mut v = json!({"status": h.status, "process": h.title,
                    "user": h.user, "action": h.action, "comment": h.comment,
                    "startTime": java_date(h.start)});
                if let Some(e) = h.end {
                    v["endTime"] = json!(java_date(e));
                }
                if fields == SimFields::Full {
                    v["node"] = json!(h.node);
                    v["workItem"] = json!(h.item);
                }
                v
            })
            .collect();
        json!({ "historyItems": items })
    }

    /// Drops an instance and its open items, as if it had never been stored.
    pub fn forget_instance(&mut self, path: &str) {
        if let Some(inst) = self.instances.remove(path) {
            for it in inst.items {
                self.items.remove(&it);
            }
        }
    }
}
