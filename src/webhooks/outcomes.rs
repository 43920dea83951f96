//! Outcomes of deliveries, written to the endpoint's durable state: gathered in
//! memory ([`Unwritten`]) and written together, at the latest every
//! [`UNWRITTEN_EVENTS`] events or [`UNWRITTEN_FOR`]; every write is retried until it
//! succeeds ([`persist`]), so a dispatcher makes no progress it could not record.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::store::{blocking, Attempt, StoreError, Update, WebhookStore};

/// Events settled (delivered or passed over) and not yet written, at most.
const UNWRITTEN_EVENTS: usize = 256;
/// Age of the oldest settled event not yet written, at most.
const UNWRITTEN_FOR: Duration = Duration::from_millis(250);

/// Outcomes settled in memory and not written yet: the cursors of events delivered or
/// passed over, and the attempts that delivered them.
#[derive(Debug, Default)]
pub(super) struct Unwritten {
    cursors: BTreeMap<String, u64>,
    attempts: Vec<Attempt>,
    events: usize,
    since: Option<Instant>,
}

impl Unwritten {
    /// Event `seq` of `engine` is settled, delivered by `attempt` if any.
    pub(super) fn settle(&mut self, engine: &str, seq: u64, attempt: Option<Attempt>) {
        match self.cursors.get_mut(engine) {
            Some(s) => *s = seq,
            None => {
                self.cursors.insert(engine.to_owned(), seq);
            }
        }
        self.attempts.extend(attempt);
        self.events += 1;
        self.since.get_or_insert_with(Instant::now);
    }

    /// Whether it is time to write them.
    pub(super) fn due(&self) -> bool {
        self.events >= UNWRITTEN_EVENTS || self.since.is_some_and(|t| t.elapsed() >= UNWRITTEN_FOR)
    }

    /// How long until it is time to write them (zero when it is); `None` when there is
    /// nothing to write.
    pub(super) fn due_in(&self) -> Option<Duration> {
        self.since
            .map(|t| UNWRITTEN_FOR.saturating_sub(t.elapsed()))
    }

    /// `u` preceded by these outcomes (its own cursors and attempts come after them);
    /// leaves this empty.
    pub(super) fn before(&mut self, mut u: Update) -> Update {
        let mut cursors = std::mem::take(&mut self.cursors);
        cursors.extend(u.cursors);
        u.cursors = cursors.into_iter().collect();
        let mut attempts = std::mem::take(&mut self.attempts);
        attempts.append(&mut u.attempts);
        u.attempts = attempts;
        self.events = 0;
        self.since = None;
        u
    }

    /// Writes them, if any.
    pub(super) async fn flush(&mut self, store: &Arc<dyn WebhookStore>, endpoint: &str) {
        if self.since.is_some() {
            let u = self.before(Update::default());
            write(store, endpoint, u).await;
        }
    }
}

/// Runs `f` on the store until it succeeds: the dispatcher makes no progress it could
/// not record.
pub(super) async fn persist<R: Send + 'static>(
    store: &Arc<dyn WebhookStore>,
    endpoint: &str,
    f: impl Fn(&dyn WebhookStore) -> Result<R, StoreError> + Send + Sync + Clone + 'static,
) -> R {
    let mut pause = Duration::from_millis(200);
    loop {
        match blocking(store, f.clone()).await {
            Ok(r) => return r,
            Err(e) => {
                tracing::error!(webhook = endpoint, error = %e, "webhook state not written; retrying");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(30));
            }
        }
    }
}

/// Applies `u` to `endpoint`'s state, retrying until it is written.
pub(super) async fn write(store: &Arc<dyn WebhookStore>, endpoint: &str, u: Update) {
    let name = endpoint.to_owned();
    let u = Arc::new(u);
    persist(store, endpoint, move |s| s.apply(&name, &u)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::webhooks::store::Outcome;

    fn delivered(n: u64) -> Attempt {
        Attempt {
            id: format!("msg_{n}"),
            event_id: format!("local:{n}"),
            kind: "afterWorkflowStarted".into(),
            at: chrono::Utc::now(),
            attempt: 1,
            outcome: Outcome::Delivered,
            status: Some(204),
            error: None,
            duration_ms: 1,
        }
    }

    #[test]
    fn settled_outcomes_come_before_the_update_they_join() {
        let mut u = Unwritten::default();
        assert!(!u.due());
        u.settle("local", 1, Some(delivered(1)));
        u.settle("local", 2, None);
        u.settle("other", 7, Some(delivered(7)));
        assert!(!u.due(), "three events, just now");
        let merged = u.before(Update {
            cursors: vec![("local".into(), 3)],
            attempts: vec![delivered(3)],
            ..Update::default()
        });
        assert_eq!(
            merged.cursors,
            vec![("local".to_owned(), 3), ("other".to_owned(), 7)],
            "the update's own cursor wins over the older settled one"
        );
        let ids: Vec<_> = merged.attempts.iter().map(|a| a.id.as_str()).collect();
        assert_eq!(ids, ["msg_1", "msg_7", "msg_3"], "oldest first");
        assert!(u.before(Update::default()).cursors.is_empty(), "left empty");
    }

    #[test]
    fn outcomes_are_due_after_enough_events_or_time() {
        let mut u = Unwritten::default();
        for n in 0..UNWRITTEN_EVENTS as u64 - 1 {
            u.settle("local", n, None);
        }
        assert!(!u.due());
        u.settle("local", 999, None);
        assert!(u.due(), "{UNWRITTEN_EVENTS} events");
        let mut u = Unwritten::default();
        u.settle("local", 1, None);
        u.since = Some(Instant::now() - UNWRITTEN_FOR);
        assert!(u.due(), "older than {UNWRITTEN_FOR:?}");
    }
}
