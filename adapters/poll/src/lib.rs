//! # flowgate-poll
//!
//! Workflow events of remote engines (Alfresco, AEM), which push none: an
//! [`EventFeed`] polls the upstream at a fixed interval, compares what it sees (running
//! instances, open tasks) with the last snapshot ([`diff`]), and keeps the events this
//! derives, with the snapshot, in one redb transaction per poll ([`store`]), so a
//! restart neither loses nor repeats an event. The engine answers
//! `WorkflowEngine::{keeps_events, events, live_events}` from its feed.
//!
//! The first poll of a feed without a stored snapshot records a baseline and reports
//! nothing: what was already running then has no start event.

pub mod diff;
mod settings;
mod source;
mod store;

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use flowgate_core::{CallContext, EngineError, Event, EventLog, EventQuery, Page, WorkflowEngine};
use parking_lot::Mutex;
use tokio::sync::broadcast;

pub use diff::Snapshot;
pub use settings::{parse_duration, PollSettings, DEFAULT_MAX_ITEMS, DEFAULT_RETENTION};
pub use source::{Completions, TaskOnly};

use store::Store;

/// User name of the administrator context polls run under (the adapter sends its own
/// service account upstream).
pub const POLL_USER: &str = "flowgate-events";

/// Longest and shortest time one poll may take, whatever the interval.
const MAX_POLL_TIME: Duration = Duration::from_secs(300);
const MIN_POLL_TIME: Duration = Duration::from_secs(30);

/// How the polls of a feed went.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PollStatus {
    /// Polls that committed (baseline included).
    pub successes: u64,
    /// Polls that failed (nothing committed).
    pub failures: u64,
    /// Failures since the last success.
    pub consecutive_failures: u64,
    /// Start of the last successful poll: the upstream state the events reflect.
    pub last_success: Option<DateTime<Utc>>,
    /// Why the last poll failed, while it is the last one.
    pub last_error: Option<String>,
    /// Events derived since the feed opened.
    pub derived: u64,
}

/// The polled events of one remote engine.
#[derive(Debug)]
pub struct EventFeed {
    engine: String,
    settings: PollSettings,
    log: EventLog,
    store: Option<Store>,
    state: Mutex<State>,
    /// Held for the whole of a poll: one poll at a time.
    polling: tokio::sync::Mutex<()>,
    status: Mutex<PollStatus>,
}

#[derive(Debug, Default)]
struct State {
    /// The last snapshot; `None` until the baseline poll.
    snapshot: Option<Snapshot>,
    last_seq: u64,
    /// Sequence number and time of the events held, oldest first (retention).
    ages: VecDeque<(u64, DateTime<Utc>)>,
}

impl EventFeed {
    /// Opens the feed of engine `engine`: reads `events.redb` from the state directory
    /// when one is set (creating it when missing).
    pub fn open(engine: &str, settings: PollSettings) -> Result<Arc<Self>, String> {
        let log = EventLog::default();
        let mut state = State::default();
        let store = match &settings.state_dir {
            Some(dir) => {
                let (store, loaded) = Store::open(dir)?;
                state.snapshot = loaded.snapshot;
                state.last_seq = loaded.last_seq;
                for e in loaded.events {
                    state.last_seq = state.last_seq.max(e.seq);
                    state.ages.push_back((e.seq, e.at));
                    log.restore(e);
                }
                Some(store)
            }
            None => None,
        };
        Ok(Arc::new(Self {
            engine: engine.to_owned(),
            settings,
            log,
            store,
            state: Mutex::new(state),
            polling: tokio::sync::Mutex::new(()),
            status: Mutex::new(PollStatus::default()),
        }))
    }

    /// The feed of engine `engine` as its configuration (`settings`, read under the
    /// key prefix `engines.<engine>`) asks: `None` when polling is off; a bad setting
    /// or an unreadable state directory is a 400 naming the key.
    pub fn configured(
        engine: &str,
        settings: Result<PollSettings, Vec<String>>,
    ) -> Result<Option<Arc<Self>>, EngineError> {
        let settings = settings.map_err(|e| EngineError::bad_request(e.join("; ")))?;
        if !settings.enabled() {
            return Ok(None);
        }
        Self::open(engine, settings).map(Some).map_err(|e| {
            EngineError::bad_request(format!("engines.{engine}.events_state_dir: {e}"))
        })
    }

    /// The settings the feed was opened with.
    pub fn settings(&self) -> &PollSettings {
        &self.settings
    }

    /// How the polls went so far.
    pub fn status(&self) -> PollStatus {
        self.status.lock().clone()
    }

    /// `WorkflowEngine::events`: the stored events matching `q` that `cx` may see
    /// (the rules of reading a workflow, judged from the events themselves).
    pub fn events(&self, cx: &CallContext, q: &EventQuery) -> Result<Page<Event>, EngineError> {
        self.log.query_seen(&self.engine, cx, q)
    }

    /// `WorkflowEngine::live_events`: events committed from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.log.subscribe()
    }

    /// One poll of `engine` (whose feed this is): reads the upstream, derives the
    /// events, commits them with the new snapshot, then publishes them. Returns how
    /// many events it derived. A failed poll commits nothing; the next one compares
    /// with the same snapshot, so nothing is lost.
    pub async fn poll(&self, engine: &dyn WorkflowEngine) -> Result<usize, String> {
        self.poll_with(engine, &TaskOnly).await
    }

    /// [`EventFeed::poll`], asking `more` how ended tasks were completed.
    pub async fn poll_with(
        &self,
        engine: &dyn WorkflowEngine,
        more: &dyn Completions,
    ) -> Result<usize, String> {
        let _one = self.polling.lock().await;
        let started = Instant::now();
        let at = Utc::now();
        let out = self.poll_inner(engine, more, at).await;
        self.record(&out, at, started.elapsed());
        out
    }

    async fn poll_inner(
        &self,
        engine: &dyn WorkflowEngine,
        more: &dyn Completions,
        at: DateTime<Utc>,
    ) -> Result<usize, String> {
        let budget = self.settings.every.clamp(MIN_POLL_TIME, MAX_POLL_TIME);
        let cx = CallContext::admin(POLL_USER).with_timeout(budget);
        let now = source::observe(engine, &cx, self.settings.max_items).await?;
        let before = self.state.lock().snapshot.clone();
        let Some(before) = before else {
            self.commit(Vec::new(), now, at)?;
            tracing::info!(engine = %self.engine, "event polling: baseline recorded");
            return Ok(0);
        };
        let mut task_ends = HashMap::new();
        for t in before.gone_tasks(&now) {
            task_ends.insert(t.id.clone(), source::task_end(engine, more, &cx, t).await?);
        }
        let mut workflow_ends = HashMap::new();
        for w in before.gone_workflows(&now) {
            workflow_ends.insert(w.id.clone(), source::workflow_end(engine, &cx, w).await?);
        }
        let (events, keep) = diff::derive(&before, &now, &task_ends, &workflow_ends, at);
        let n = events.len();
        self.commit(events, keep, at)?;
        Ok(n)
    }

    /// Numbers `events`, writes them with `snapshot` and the retention cut (one
    /// transaction when durable), then adds them to the log and publishes them.
    fn commit(
        &self,
        mut events: Vec<Event>,
        snapshot: Snapshot,
        at: DateTime<Utc>,
    ) -> Result<(), String> {
        let mut state = self.state.lock();
        let mut seq = state.last_seq;
        for e in &mut events {
            seq += 1;
            e.seq = seq;
        }
        let cutoff = chrono::Duration::from_std(self.settings.retention)
            .ok()
            .and_then(|r| at.checked_sub_signed(r));
        let drop_through = cutoff.and_then(|cutoff| {
            state
                .ages
                .iter()
                .take_while(|(_, t)| *t < cutoff)
                .last()
                .map(|(s, _)| *s)
        });
        if let Some(store) = &self.store {
            store.commit(&events, &snapshot, seq, drop_through)?;
        }
        state.snapshot = Some(snapshot);
        state.last_seq = seq;
        if let Some(upto) = drop_through {
            while state.ages.front().is_some_and(|(s, _)| *s <= upto) {
                state.ages.pop_front();
            }
            self.log.drop_through(upto);
        }
        for e in events {
            state.ages.push_back((e.seq, e.at));
            self.log.push(e);
        }
        Ok(())
    }

    fn record(&self, out: &Result<usize, String>, at: DateTime<Utc>, took: Duration) {
        let engine = self.engine.clone();
        metrics::histogram!("flowgate_events_poll_duration_seconds", "engine" => engine.clone())
            .record(took.as_secs_f64());
        let mut s = self.status.lock();
        match out {
            Ok(n) => {
                s.successes += 1;
                s.consecutive_failures = 0;
                s.last_success = Some(at);
                s.last_error = None;
                s.derived += *n as u64;
                metrics::counter!("flowgate_events_polls_total", "engine" => engine.clone(), "outcome" => "ok").increment(1);
                metrics::counter!("flowgate_events_derived_total", "engine" => engine.clone())
                    .increment(*n as u64);
                metrics::gauge!("flowgate_events_poll_last_success_timestamp_seconds", "engine" => engine.clone())
                    .set(at.timestamp_millis() as f64 / 1000.0);
            }
            Err(e) => {
                s.failures += 1;
                s.consecutive_failures += 1;
                s.last_error = Some(e.clone());
                metrics::counter!("flowgate_events_polls_total", "engine" => engine.clone(), "outcome" => "error").increment(1);
                tracing::warn!(engine = %self.engine, error = %e, failures = s.consecutive_failures, "event poll failed; the next poll retries");
            }
        }
        metrics::gauge!("flowgate_events_poll_failures_consecutive", "engine" => engine.clone())
            .set(s.consecutive_failures as f64);
        // Lag: how old the upstream state the events reflect is, as of now.
        let lag = s.last_success.map_or(f64::NAN, |t| {
            (Utc::now() - t).num_milliseconds().max(0) as f64 / 1000.0
        });
        metrics::gauge!("flowgate_events_poll_lag_seconds", "engine" => engine).set(lag);
    }
}

/// Polls `engine` through `feed` every interval (asking `more` how ended tasks were
/// completed), one poll at a time, until the handle is aborted. The first poll runs at
/// once.
pub fn spawn(
    feed: Arc<EventFeed>,
    engine: Arc<dyn WorkflowEngine>,
    more: Arc<dyn Completions>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(feed.settings.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            // Failures are counted and logged by the poll; the next tick retries.
            let _ = feed.poll_with(engine.as_ref(), more.as_ref()).await;
        }
    })
}

/// One poll as a blocking call, for a periodic job run on a blocking thread of the
/// current tokio runtime. Returns how many events it derived (0 on failure, which the
/// poll logs and counts).
pub fn poll_blocking(
    feed: &EventFeed,
    engine: &dyn WorkflowEngine,
    more: &dyn Completions,
) -> usize {
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => rt.block_on(feed.poll_with(engine, more)).unwrap_or(0),
        Err(e) => {
            tracing::error!(engine = %feed.engine, error = %e, "event poll run outside a tokio runtime");
            0
        }
    }
}

#[cfg(test)]
mod tests;
