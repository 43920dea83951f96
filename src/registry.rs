//! Builds the configured engines and the [`Router`] over them.
//!
//! Adding an engine kind is one arm in [`build_engine`] (and one variant in
//! `settings::EngineSettings`); nothing in `routes/` changes.

use std::sync::Arc;
use std::time::Duration;

use flowgate_core::WorkflowEngine;
use flowgate_memory::pg::PgEngine;
use flowgate_memory::{MemoryEngine, ModelSource};

use crate::router::{EngineEntry, EngineOptions, Router};
use crate::settings::{EngineSettings, Settings};

/// Name of the engine used when none is configured.
pub use crate::settings::BUILTIN_ENGINE;

/// An engine could not be built.
#[derive(Debug, thiserror::Error)]
#[error("engines.{engine}: {reason}")]
pub struct RegistryError {
    /// Engine name.
    pub engine: String,
    /// What went wrong.
    pub reason: String,
}

/// A periodic background duty of an engine (escalation rules and retention of the
/// embedded engine).
#[derive(Clone)]
pub struct Job {
    /// Engine name.
    pub engine: String,
    /// What it does, for logs (`escalation`, `retention`).
    pub what: &'static str,
    /// Time between runs.
    pub every: Duration,
    /// The duty; returns how many items it moved on.
    pub run: Arc<dyn Fn() -> usize + Send + Sync>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("engine", &self.engine)
            .field("what", &self.what)
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

/// One engine as built: the engine, its background jobs, and its database when it
/// is an embedded engine on PostgreSQL (other gateway state may live there too).
pub struct BuiltEngine {
    /// The engine.
    pub engine: Arc<dyn WorkflowEngine>,
    /// Its periodic duties (run by [`start_jobs`]).
    pub jobs: Vec<Job>,
    /// The engine on PostgreSQL, when it is one.
    pub database: Option<Arc<PgEngine>>,
}

/// Every engine as built, with the router over them.
pub struct Assembly {
    /// The router over the engines.
    pub router: Router,
    /// Background duties of the engines.
    pub jobs: Vec<Job>,
    /// The embedded engines on PostgreSQL, by name.
    pub databases: Vec<(String, Arc<PgEngine>)>,
}

/// Builds one engine from its settings, with its background jobs.
pub fn build_engine(
    name: &str,
    settings: &EngineSettings,
    limits: flowgate_core::Limits,
) -> Result<(Arc<dyn WorkflowEngine>, Vec<Job>), RegistryError> {
    build_one(name, settings, limits).map(|b| (b.engine, b.jobs))
}

fn build_one(
    name: &str,
    settings: &EngineSettings,
    limits: flowgate_core::Limits,
) -> Result<BuiltEngine, RegistryError> {
    let err = |reason: String| RegistryError {
        engine: name.to_owned(),
        reason,
    };
    Ok(match settings {
        EngineSettings::Memory(m) => {
            let models = match &m.models_dir {
                Some(dir) => ModelSource::Dir(dir.clone()),
                None => ModelSource::Builtin,
            };
            let retention = m.retention(name).map_err(|e| err(e.join("; ")))?;
            if let Some(pg) = m.postgres(name).map_err(|e| err(e.join("; ")))? {
                let engine = Arc::new(
                    PgEngine::open(name, models, &pg, limits).map_err(|e| err(e.to_string()))?,
                );
                let every = m.escalation_interval_secs;
                engine.start_jobs((every > 0).then(|| Duration::from_secs(every)), retention);
                crate::db_metrics::track(name, &engine);
                return Ok(BuiltEngine {
                    engine: engine.clone(),
                    jobs: Vec::new(),
                    database: Some(engine),
                });
            }
            let storage = m.storage(name).map_err(|e| err(e.join("; ")))?;
            let engine = Arc::new(
                MemoryEngine::open(name, models, storage)
                    .map_err(|e| err(e.to_string()))?
                    .with_limits(limits),
            );
            let mut jobs = memory_jobs(name, engine.clone(), m.escalation_interval_secs);
            if let Some(policy) = retention {
                tracing::info!(engine = %name, retention_secs = policy.keep.as_secs(), sweep_secs = policy.sweep_every.as_secs(), "ended workflows are deleted after the retention time");
                let swept = engine.clone();
                jobs.push(Job {
                    engine: name.to_owned(),
                    what: "retention",
                    every: policy.sweep_every,
                    run: Arc::new(move || swept.run_retention(&policy)),
                });
            }
            BuiltEngine {
                engine,
                jobs,
                database: None,
            }
        }
        EngineSettings::Alfresco(a) => {
            let engine = flowgate_alfresco::AlfrescoEngine::new(name, a.clone())
                .map_err(|e| err(e.message()))?;
            let polled = engine.clone();
            let jobs = events_job(
                name,
                engine.event_feed().map(|f| f.settings().every),
                move || polled.poll_events_blocking(),
            );
            BuiltEngine {
                engine: Arc::new(engine),
                jobs,
                database: None,
            }
        }
        EngineSettings::Cq(c) => {
            let engine = Arc::new(
                flowgate_cq::CqEngine::new(name, c.clone()).map_err(|e| err(e.message()))?,
            );
            let polled = engine.clone();
            let jobs = events_job(
                name,
                engine.event_feed().map(|f| f.settings().every),
                move || polled.poll_events_blocking(),
            );
            BuiltEngine {
                engine,
                jobs,
                database: None,
            }
        }
    })
}

/// The job polling a remote engine for its events (`events_poll_secs`), when on.
fn events_job(
    name: &str,
    every: Option<Duration>,
    poll: impl Fn() -> usize + Send + Sync + 'static,
) -> Vec<Job> {
    let Some(every) = every else {
        return Vec::new();
    };
    tracing::info!(engine = %name, poll_secs = every.as_secs(), "workflow events are derived by polling");
    vec![Job {
        engine: name.to_owned(),
        what: "events",
        every,
        run: Arc::new(poll),
    }]
}

fn memory_jobs(name: &str, engine: Arc<MemoryEngine>, every_secs: u64) -> Vec<Job> {
    // Every embedded engine passes here: make its counts visible to /metrics.
    crate::metrics::track_memory_engine(&engine);
    if every_secs == 0 {
        return Vec::new();
    }
    vec![Job {
        engine: name.to_owned(),
        what: "escalation",
        every: Duration::from_secs(every_secs),
        run: Arc::new(move || engine.run_escalations()),
    }]
}

/// Starts every job on the current runtime; aborting the handles stops them.
pub fn start_jobs(jobs: &[Job]) -> Vec<tokio::task::JoinHandle<()>> {
    jobs.iter()
        .cloned()
        .map(|job| {
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(job.every);
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                // The first tick completes at once; runs start one period later.
                tick.tick().await;
                loop {
                    tick.tick().await;
                    let run = job.run.clone();
                    match tokio::task::spawn_blocking(move || run()).await {
                        Ok(0) => {}
                        Ok(n) => {
                            tracing::info!(engine = %job.engine, job = job.what, items = n, "background job ran")
                        }
                        Err(e) => {
                            tracing::error!(engine = %job.engine, job = job.what, error = %e, "background job failed")
                        }
                    }
                }
            })
        })
        .collect()
}

/// Builds every configured engine (or the built-in one), the router over them and
/// their background jobs.
pub fn build(settings: &Settings) -> Result<(Router, Vec<Job>), RegistryError> {
    assemble(settings).map(|a| (a.router, a.jobs))
}

/// [`build`], also handing out the engines on PostgreSQL.
pub fn assemble(settings: &Settings) -> Result<Assembly, RegistryError> {
    let mut databases = Vec::new();
    if settings.engines.is_empty() {
        let engine = Arc::new(
            MemoryEngine::builtin(BUILTIN_ENGINE)
                .map_err(|e| RegistryError {
                    engine: BUILTIN_ENGINE.into(),
                    reason: e.to_string(),
                })?
                .with_limits(settings.limits),
        );
        let jobs = memory_jobs(BUILTIN_ENGINE, engine.clone(), 60);
        let entry = EngineEntry {
            name: BUILTIN_ENGINE.to_owned(),
            prefix: None,
            mounts: vec!["/".to_owned()],
            engine,
            options: EngineOptions {
                fanout_timeout: settings.routing.fanout_timeout(BUILTIN_ENGINE),
                ..EngineOptions::default()
            },
        };
        let router = Router::new(vec![entry], 0)
            .map_err(|reason| RegistryError {
                engine: BUILTIN_ENGINE.into(),
                reason,
            })?
            .with_limits(settings.limits);
        return Ok(Assembly {
            router,
            jobs,
            databases,
        });
    }
    let mut jobs = Vec::new();
    let single = settings.engines.len() == 1;
    let mut entries = Vec::with_capacity(settings.engines.len());
    let mut default = 0;
    for (i, (name, es)) in settings.engines.iter().enumerate() {
        let common = es.common();
        let is_default = single || common.default;
        if is_default {
            default = i;
        }
        let mut mounts = common.mounts.clone();
        if is_default && !mounts.iter().any(|m| m == "/") {
            mounts.push("/".to_owned());
        }
        entries.push(EngineEntry {
            name: name.clone(),
            prefix: if is_default {
                None
            } else {
                Some(common.id_prefix.clone().unwrap_or_else(|| name.clone()))
            },
            mounts,
            engine: {
                let built = build_one(name, es, settings.limits)?;
                jobs.extend(built.jobs);
                if let Some(db) = built.database {
                    databases.push((name.clone(), db));
                }
                built.engine
            },
            options: EngineOptions {
                remote: es.is_remote(),
                strip_mount: es.strips_mount(),
                passthrough: es.passthrough(),
                fanout_timeout: settings.routing.fanout_timeout(name),
                base_url: es.base_url().cloned(),
            },
        });
        tracing::info!(engine = %name, kind = es.kind(), default = is_default, "engine ready");
    }
    let router = Router::new(entries, default)
        .map_err(|reason| RegistryError {
            engine: "*".into(),
            reason,
        })?
        .with_limits(settings.limits);
    Ok(Assembly {
        router,
        jobs,
        databases,
    })
}

/// Checks every model directory; returns one line per loaded model or the first problem.
pub fn check_models(settings: &Settings) -> Result<Vec<String>, RegistryError> {
    let mut out = Vec::new();
    for (name, dir) in settings.model_dirs() {
        let models = flowgate_memory::validate_dir(dir).map_err(|e| RegistryError {
            engine: name.clone(),
            reason: e.to_string(),
        })?;
        for m in models {
            out.push(format!("engines.{name}: model {m} ({})", dir.display()));
        }
    }
    Ok(out)
}
