//! Starting an instance and running it through its nodes to the next wait state.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};

use super::{HistoryItem, InstState, Instance, SimError, WorkItem, World};
use crate::sim::models::SimModel;
use crate::Profile;

impl World {
    pub(super) fn instance_folder(&self, now: DateTime<Utc>) -> String {
        let day = now.format("%Y-%m-%d");
        if self.profile == Profile::Cq5 {
            format!("{}/{day}", self.profile.instance_root())
        } else {
            format!("{}/server0/{day}", self.profile.instance_root())
        }
    }

    /// Starts an instance and runs it to its first wait state; returns its path.
    pub fn start(
        &mut self,
        model: &str,
        initiator: &str,
        payload_type: &str,
        payload: &str,
        meta: BTreeMap<String, String>,
        now: DateTime<Utc>,
    ) -> Result<String, SimError> {
        let m = self
            .model(model)
            .cloned()
            .ok_or((500, format!("unknown model {model}")))?;
        let folder = self.instance_folder(now);
        let short = model.rsplit('/').next().unwrap_or(model);
        let counter = self
            .counters
            .entry(format!("{folder}/{short}"))
            .or_insert(0);
        *counter += 1;
        let path = format!("{folder}/{short}_{counter}");
        let inst = Instance {
            path: path.clone(),
            model: model.to_owned(),
            state: InstState::Running,
            initiator: initiator.to_owned(),
            payload_type: payload_type.to_owned(),
            payload: payload.to_owned(),
            meta,
            start: now,
            end: None,
            items: Vec::new(),
            joins: HashMap::new(),
            visits: HashMap::new(),
            done_participants: Vec::new(),
            stuck: false,
            history: Vec::new(),
        };
        self.instances.insert(path.clone(), inst);
        let start = m
            .nodes
            .iter()
            .find(|n| n.ty == "START")
            .map(|n| n.id.clone())
            .ok_or((500, "model has no start node".to_owned()))?;
        let comment = self
            .instances
            .get(&path)
            .and_then(|i| i.meta.get("startComment").cloned())
            .unwrap_or_default();
        self.run(&path, &m, vec![(start, None)], &comment, now);
        Ok(path)
    }

    /// Runs the engine from the given nodes until every token waits or ends.
    pub(super) fn run(
        &mut self,
        path: &str,
        m: &SimModel,
        mut work: Vec<(String, Option<String>)>,
        comment: &str,
        now: DateTime<Utc>,
    ) {
        let mut guard = 0;
        while let Some((node_id, branch)) = work.pop() {
            guard += 1;
            if guard > 1000 {
                break;
            }
            let Some(node) = m.find(&node_id) else {
                continue;
            };
            let Some(inst) = self.instances.get_mut(path) else {
                return;
            };
            let next_all = |m: &SimModel| -> Vec<(String, Option<String>)> {
                m.outgoing(&node_id).map(|t| (t.to.clone(), None)).collect()
            };
            match node.ty.as_str() {
                "START" | "OR_JOIN" => work.extend(next_all(m).into_iter().take(1)),
                "END" => {}
                "AND_SPLIT" => work.extend(next_all(m).into_iter().rev()),
                "AND_JOIN" => {
                    let need = m.incoming_count(&node_id);
                    let got = inst.joins.entry(node_id.clone()).or_insert(0);
                    *got += 1;
                    if *got >= need {
                        inst.joins.remove(&node_id);
                        work.extend(next_all(m).into_iter().take(1));
                    }
                }
                "OR_SPLIT" => {
                    let chosen = branch.or_else(|| {
                        m.outgoing(&node_id)
                            .find(|t| match t.rule.as_deref() {
                                None | Some("") | Some("true") => true,
                                Some(key) => inst.meta.get(key).is_some_and(|v| v == "true"),
                            })
                            .or_else(|| m.outgoing(&node_id).next())
                            .map(|t| t.to.clone())
                    });
                    if let Some(to) = chosen {
                        work.push((to, None));
                    }
                }
                "PROCESS" => {
                    let failed = node.meta_value("SIM_FAIL") == Some("true");
                    inst.history.push(HistoryItem {
                        status: if failed { "Failed" } else { "Completed" },
                        node: node.id.clone(),
                        title: node.title.clone(),
                        user: "workflow-process-service".to_owned(),
                        action: String::new(),
                        comment: String::new(),
                        item: String::new(),
                        start: now,
                        end: Some(now),
                    });
                    if failed {
                        inst.stuck = true;
                    } else {
                        work.extend(next_all(m).into_iter().take(1));
                    }
                }
                _ => {
                    // PARTICIPANT and anything human: one work item.
                    let visits = inst.visits.entry(node_id.clone()).or_insert(0);
                    *visits += 1;
                    let base = format!(
                        "{path}/workItems/{node_id}_{}",
                        path.trim_start_matches('/').replace('/', "_")
                    );
                    let item_path = if *visits > 1 {
                        format!("{base}_{}", *visits - 1)
                    } else {
                        base
                    };
                    let assignee = node
                        .meta_value("PARTICIPANT")
                        .unwrap_or(inst.initiator.as_str())
                        .to_owned();
                    inst.items.push(item_path.clone());
                    inst.history.push(HistoryItem {
                        status: "Active",
                        node: node.id.clone(),
                        title: node.title.clone(),
                        user: String::new(),
                        action: String::new(),
                        comment: String::new(),
                        item: item_path.clone(),
                        start: now,
                        end: None,
                    });
                    self.items.insert(
                        item_path.clone(),
                        WorkItem {
                            path: item_path,
                            instance: path.to_owned(),
                            node: node_id.clone(),
                            assignee,
                            start: now,
                            comment: comment.to_owned(),
                        },
                    );
                }
            }
        }
        if let Some(inst) = self.instances.get_mut(path) {
            if inst.items.is_empty()
                && inst.joins.is_empty()
                && !inst.stuck
                && inst.state == InstState::Running
            {
                inst.state = InstState::Completed;
                inst.end = Some(now);
            }
        }
    }
}
