//! Changes made in the simulator directly, as a user of AEM's own console would make
//! them (not through the adapter): what tests of the polled events use.

use std::collections::BTreeMap;

use chrono::Utc;

use super::CqSim;

impl CqSim {
    /// Starts model `model` (`flowgate/review`) as `initiator` on the page `payload`;
    /// returns the instance path.
    pub fn start_directly(
        &self,
        model: &str,
        initiator: &str,
        payload: &str,
    ) -> Result<String, String> {
        let mut w = self.shared.world.lock();
        w.start(
            model,
            initiator,
            "JCR_PATH",
            payload,
            BTreeMap::new(),
            Utc::now(),
        )
        .map_err(|(status, msg)| format!("{status}: {msg}"))
    }

    /// Paths of the open work items of instance `instance`, oldest first.
    pub fn open_items(&self, instance: &str) -> Vec<String> {
        self.shared
            .world
            .lock()
            .instances
            .get(instance)
            .map(|i| i.items.clone())
            .unwrap_or_default()
    }

    /// Completes work item `item` as `user` along the route labelled `label` (the first
    /// route when `label` is empty).
    pub fn complete_directly(&self, user: &str, item: &str, label: &str) -> Result<(), String> {
        let mut w = self.shared.world.lock();
        let rid = {
            let wi = w.items.get(item).ok_or("no such work item")?;
            let inst = w.instances.get(&wi.instance).ok_or("no instance")?;
            let model = w.model(&inst.model).ok_or("no model")?;
            w.routes(model, &wi.node)
                .into_iter()
                .find(|r| label.is_empty() || r.label == label)
                .map(|r| r.rid)
                .ok_or_else(|| format!("no route '{label}'"))?
        };
        w.advance(user, item, &rid, false, "", Utc::now())
            .map_err(|(status, msg)| format!("{status}: {msg}"))
    }

    /// Terminates instance `instance` as `user` (state ABORTED).
    pub fn terminate_directly(&self, user: &str, instance: &str) -> Result<(), String> {
        self.shared
            .world
            .lock()
            .set_state(instance, "ABORTED", "", user, Utc::now())
            .map_err(|(status, msg)| format!("{status}: {msg}"))
    }
}
