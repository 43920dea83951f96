//! Signed webhooks: workflow events posted to configured HTTPS endpoints, at least
//! once, in order per endpoint.
//!
//! - [`crate::settings::webhooks`]: the `[[webhooks]]` tables, checked at start-up
//!   (URL, secret, spans).
//! - [`signing`]: Standard Webhooks headers (`webhook-id`, `webhook-timestamp`,
//!   `webhook-signature: v1,<HMAC-SHA256>`).
//! - [`dispatch`]: one dispatcher per endpoint, reading the engines' stored event logs
//!   after its durable cursors and recording outcomes in batches; `retry`: the
//!   attempts at one event, with capped jittered backoff until `max_age`, then a dead
//!   letter; [`delivery`]: the endpoint's HTTP client and the signed POST.
//! - [`store`]: the durable state behind [`store::WebhookStore`] (`webhooks.redb`, or
//!   memory).
//! - [`crate::routes::webhooks`]: `GET /api/v1/admin/webhooks`, `.../{name}/deliveries`
//!   and `POST .../{name}/deliveries/{id}/retry`, for administrators.
//!
//! [`Webhooks`] is built with the application state; [`start`] runs the dispatchers
//! (by `flowgate serve` and [`crate::spawn`]). docs/events.md ("Webhooks") is the
//! operator's view.

pub mod delivery;
pub mod dispatch;
mod outcomes;
mod retry;
pub mod signing;
pub mod store;
mod store_pg;

use std::sync::Arc;

use actix_web::web;

use crate::settings::{EngineSettings, Settings};
use crate::AppState;
use delivery::Runtime;
use store::{MemoryStore, RedbStore, WebhookStore};

/// Name of the state file in its directory.
pub const STATE_FILE: &str = "webhooks.redb";

/// The configured endpoints and their delivery state.
#[derive(Debug)]
pub struct Webhooks {
    endpoints: Vec<Arc<Runtime>>,
    store: Arc<dyn WebhookStore>,
    /// Set once when the gateway stops: dispatchers write what they settled and end.
    stop: tokio::sync::watch::Sender<bool>,
}

impl Default for Webhooks {
    fn default() -> Self {
        Self {
            endpoints: Vec::new(),
            store: Arc::new(MemoryStore::default()),
            stop: tokio::sync::watch::channel(false).0,
        }
    }
}

impl Webhooks {
    /// The endpoints of `settings` with their HTTP clients and state store; secrets
    /// named by `secret_env` are read from the process environment. Every problem is
    /// reported, each naming its key.
    pub fn build(settings: &Settings) -> Result<Self, String> {
        Self::build_with(settings, &[])
    }

    /// [`Webhooks::build`] with the embedded engines on PostgreSQL: when the default
    /// engine is one of them, the delivery state lives in its database.
    pub fn build_with(
        settings: &Settings,
        databases: &[(String, Arc<flowgate_memory::pg::PgEngine>)],
    ) -> Result<Self, String> {
        let w = &settings.webhooks;
        if w.endpoints.is_empty() {
            return Ok(Self::default());
        }
        let env = |name: &str| std::env::var(name).ok();
        let resolved = w
            .resolve(&settings.engine_names(), &env)
            .map_err(|e| format!("invalid settings:\n  {}", e.join("\n  ")))?;
        let mut endpoints = Vec::new();
        let mut errs = Vec::new();
        for (i, ep) in resolved.into_iter().enumerate() {
            let name = ep.name.clone();
            match Runtime::new(ep) {
                Ok(rt) => endpoints.push(Arc::new(rt)),
                Err(e) => errs.push(format!("{} ({name}): {e}", w.key(i))),
            }
        }
        if !errs.is_empty() {
            return Err(format!("invalid settings:\n  {}", errs.join("\n  ")));
        }
        let store = open_store(settings, databases)?;
        for rt in &endpoints {
            tracing::info!(
                webhook = %rt.ep.name,
                url = %crate::settings::webhooks::redact_url(rt.ep.url.as_str()),
                events = ?rt.ep.kinds,
                "webhook endpoint configured"
            );
            if rt.ep.url.scheme() == "http" {
                tracing::warn!(webhook = %rt.ep.name, "allow_plain_http: events to this endpoint travel unencrypted");
            }
        }
        Ok(Self {
            endpoints,
            store,
            stop: tokio::sync::watch::channel(false).0,
        })
    }

    /// Tells the dispatchers to write what they settled and end (see [`stop`]).
    pub fn request_stop(&self) {
        self.stop.send_replace(true);
    }

    /// Whether the dispatchers were told to stop, and a way to wait for it.
    pub(crate) fn stopping(&self) -> tokio::sync::watch::Receiver<bool> {
        self.stop.subscribe()
    }

    /// The endpoints, in the order configured.
    pub fn endpoints(&self) -> &[Arc<Runtime>] {
        &self.endpoints
    }

    /// The endpoint named `name`.
    pub fn find(&self, name: &str) -> Option<&Arc<Runtime>> {
        self.endpoints.iter().find(|e| e.ep.name == name)
    }

    /// The delivery state.
    pub fn store(&self) -> &Arc<dyn WebhookStore> {
        &self.store
    }
}

/// The store `settings` call for: `webhooks.state_dir`, else the database of the
/// default engine when it is an embedded engine on PostgreSQL, else its `data_dir` when
/// it keeps its state on disk, else memory.
fn open_store(
    settings: &Settings,
    databases: &[(String, Arc<flowgate_memory::pg::PgEngine>)],
) -> Result<Arc<dyn WebhookStore>, String> {
    if settings.webhooks.state_dir.is_none() {
        let single = settings.engines.len() == 1;
        let default = settings
            .engines
            .iter()
            .find(|(_, e)| single || e.common().default)
            .map(|(n, _)| n.as_str());
        if let Some((_, db)) = databases.iter().find(|(n, _)| Some(n.as_str()) == default) {
            tracing::info!("webhook delivery state is kept in the default engine's PostgreSQL database, shared by its replicas (one delivers per endpoint)");
            return Ok(Arc::new(store_pg::PgStore::new(db.clone())));
        }
    }
    let dir = match &settings.webhooks.state_dir {
        Some(d) => Some(d.clone()),
        None => {
            let single = settings.engines.len() == 1;
            settings
                .engines
                .iter()
                .find(|(_, e)| single || e.common().default)
                .and_then(|(name, e)| match e {
                    EngineSettings::Memory(m) => m
                        .storage(name)
                        .ok()
                        .filter(|o| o.durability == flowgate_memory::storage::Durability::Fsync)
                        .map(|o| o.data_dir),
                    _ => None,
                })
        }
    };
    match dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| format!("webhooks.state_dir {}: {e}", dir.display()))?;
            let path = dir.join(STATE_FILE);
            let store = RedbStore::open(&path).map_err(|e| e.to_string())?;
            tracing::info!(path = %path.display(), "webhook delivery state is kept in a file and survives restarts");
            Ok(Arc::new(store))
        }
        None => {
            tracing::warn!(
                "webhook delivery state is kept in memory: after a restart every endpoint \
                 starts again as its `start` setting says; set webhooks.state_dir (or give the \
                 default embedded engine a data_dir) to resume where it stopped"
            );
            Ok(Arc::new(MemoryStore::default()))
        }
    }
}

/// Starts a dispatcher per endpoint and the task that wakes them on live events, on a
/// thread of their own (`webhooks`) at the niceness of `webhooks.niceness` (by default
/// the lowest CPU priority): delivery is background work that catches up from the
/// stored logs, so when the CPU is short it yields to the API instead of slowing it
/// down. Aborting the handles stops the tasks, and the thread ends with the last of
/// them.
pub fn start(data: &web::Data<AppState>) -> Vec<tokio::task::JoinHandle<()>> {
    let runtimes: Vec<Arc<Runtime>> = data.webhooks.endpoints().to_vec();
    let nice = data.settings.webhooks.delivery_niceness();
    if runtimes.is_empty() {
        return Vec::new();
    }
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::error!(error = %e, "webhook delivery not started: no runtime");
            return Vec::new();
        }
    };
    // Each task holds a sender; the thread runs until every task is done or aborted.
    let (alive, mut all_done) = tokio::sync::mpsc::channel::<()>(1);
    let spawn = |f: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>| {
        let alive = alive.clone();
        rt.spawn(async move {
            let _alive = alive;
            f.await;
        })
    };
    let mut handles: Vec<tokio::task::JoinHandle<()>> = runtimes
        .iter()
        .map(|r| spawn(Box::pin(dispatch::run(data.clone(), r.clone()))))
        .collect();
    handles.push(spawn(Box::pin(dispatch::wake_on_live(
        data.clone(),
        runtimes,
    ))));
    drop(alive);
    let started = std::thread::Builder::new()
        .name("webhooks".into())
        .spawn(move || {
            if nice > 0 {
                lower_priority(nice);
            }
            rt.block_on(async move {
                let _ = all_done.recv().await;
            });
        });
    if let Err(e) = started {
        tracing::error!(error = %e, "webhook delivery not started: no thread");
    }
    handles
}

/// Longest a stopping gateway waits for its dispatchers to write what they settled.
pub const STOP_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Stops the dispatchers started by [`start`]: each writes the outcomes it settled and
/// ends, so that a restart does not deliver those events again; after `grace` the
/// ones still busy (a receiver that does not answer) are cut off, their next restart
/// repeating at most what a crash would.
pub async fn stop(
    data: &web::Data<AppState>,
    handles: Vec<tokio::task::JoinHandle<()>>,
    grace: std::time::Duration,
) {
    data.webhooks.request_stop();
    let aborts: Vec<_> = handles.iter().map(|h| h.abort_handle()).collect();
    if tokio::time::timeout(grace, futures::future::join_all(handles))
        .await
        .is_err()
    {
        tracing::warn!(
            "webhook dispatchers still busy after {} s: stopped",
            grace.as_secs()
        );
        aborts.iter().for_each(tokio::task::AbortHandle::abort);
    }
}

/// Gives the calling thread (and the threads it starts) the niceness `nice`; a failure
/// is logged and changes nothing else.
fn lower_priority(nice: i32) {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid and setpriority take plain integers and touch no memory of ours;
        // with PRIO_PROCESS and a thread id, Linux changes that thread alone.
        let rc = unsafe {
            let tid = libc::gettid();
            libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice)
        };
        if rc != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "webhook thread priority unchanged");
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = nice;
}
