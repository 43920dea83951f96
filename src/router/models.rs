//! Models across engines: the merged list, one model by plain or qualified name, and
//! its graph.

use flowgate_core::{CallContext, EngineError, ErrorKind, Graph, Result, WorkflowModel};
use futures::future::join_all;

use super::fanout::merge;
use super::{call, fanout_cx, scoped, EngineEntry, Fanned, Router};

impl Router {
    /// Every model of every engine, sorted by name; a name shadowed by a higher-priority
    /// engine is qualified with the engine prefix.
    pub async fn models(&self, cx: &CallContext) -> Result<Fanned<Vec<WorkflowModel>>> {
        let order: Vec<&EngineEntry> = self.by_priority().collect();
        let results = join_all(order.iter().map(|e| async move {
            let cx = fanout_cx(e, cx);
            call(e, "models", &cx, e.engine.models(&cx)).await
        }))
        .await;
        let Fanned { value, failures } = merge(&order, results)?;
        let mut seen = std::collections::HashSet::new();
        let mut all = Vec::new();
        for (e, models) in value {
            for mut m in models {
                if !seen.insert(m.name.clone()) {
                    m.name = Self::outward(e, &m.name);
                }
                all.push(m);
            }
        }
        all.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Fanned {
            value: all,
            failures,
        })
    }

    /// The engine that has model `name`, and the model (named as the client addressed
    /// it). A qualified name asks only its engine; a plain one asks the engines in
    /// priority order.
    pub async fn model(
        &self,
        cx: &CallContext,
        name: &str,
    ) -> Result<(&EngineEntry, WorkflowModel)> {
        self.model_on(cx, name, None).await
    }

    pub(super) async fn model_on(
        &self,
        cx: &CallContext,
        name: &str,
        preferred: Option<&EngineEntry>,
    ) -> Result<(&EngineEntry, WorkflowModel)> {
        let (target, native) = self.model_target(name)?;
        let candidates: Vec<&EngineEntry> = match target.or(preferred) {
            Some(e) => vec![self.entry(e)],
            None => self.by_priority().collect(),
        };
        let mut not_found = None;
        let mut other = None;
        for e in candidates {
            let ecx = fanout_cx(e, cx);
            match call(e, "model", &ecx, e.engine.model(&ecx, native)).await {
                Ok(mut m) => {
                    if target.is_some() {
                        m.name = name.to_owned();
                    }
                    return Ok((e, m));
                }
                Err(err) if err.kind() == ErrorKind::NotFound => {
                    not_found.get_or_insert(err);
                }
                Err(err) => {
                    tracing::warn!(engine = %e.name, error_code = err.kind().code(), error = %err, "model lookup failed on one engine");
                    other.get_or_insert(err);
                }
            }
        }
        Err(other
            .or(not_found)
            .unwrap_or_else(|| EngineError::not_found(name)))
    }

    /// The entry of this router that `e` points to (identity, for borrowing).
    pub(super) fn entry(&self, e: &EngineEntry) -> &EngineEntry {
        self.engines
            .iter()
            .find(|x| x.name == e.name)
            .unwrap_or(self.default_entry())
    }

    /// The graph of model `name`.
    pub async fn model_graph(&self, cx: &CallContext, name: &str) -> Result<Graph> {
        let (_, native) = self.model_target(name)?;
        let (e, _) = self.model(cx, name).await?;
        if !e.engine.info().capabilities.model_graph {
            return Err(EngineError::unsupported("model_graph", &e.name));
        }
        let cx = scoped(e, cx);
        call(e, "model_graph", &cx, e.engine.model_graph(&cx, native)).await
    }
}
