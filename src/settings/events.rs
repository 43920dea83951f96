//! `[events]`: the live event stream of `GET /api/v1/events`.

use serde::Deserialize;

/// `[events]`: the live event stream.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsSettings {
    /// Seconds between two heartbeats (SSE comments) of an idle stream.
    pub heartbeat_secs: u64,
    /// Seconds after which a stream ends cleanly; clients reconnect with
    /// `Last-Event-ID`.
    pub max_stream_secs: u64,
    /// Open streams per gateway; one more is answered 503.
    pub max_streams: usize,
    /// Events waiting in one stream's inbox (and on the gateway channel for its
    /// consumer) before that stream (or consumer) is dropped.
    pub buffer: usize,
    /// Stored events read per engine call while a stream replays after
    /// `Last-Event-ID`.
    pub replay_batch: usize,
    /// Milliseconds over which live events are gathered before they go out together
    /// (0: each at once). An event that follows a quiet spell goes out at once; under
    /// load, streams wake and write once per this interval instead of once per event.
    pub batch_ms: u64,
}

impl Default for EventsSettings {
    fn default() -> Self {
        Self {
            heartbeat_secs: 15,
            max_stream_secs: 3600,
            max_streams: 1000,
            buffer: 1024,
            replay_batch: 500,
            batch_ms: 5,
        }
    }
}

impl EventsSettings {
    /// Problems with the values, each naming its key.
    pub fn problems(&self) -> Vec<String> {
        [
            ("heartbeat_secs", self.heartbeat_secs as usize),
            ("max_stream_secs", self.max_stream_secs as usize),
            ("max_streams", self.max_streams),
            ("buffer", self.buffer),
            ("replay_batch", self.replay_batch),
        ]
        .into_iter()
        .filter(|(_, v)| *v == 0)
        .map(|(k, _)| format!("events.{k}: must be greater than 0"))
        .chain((self.batch_ms > 1000).then(|| "events.batch_ms: must be at most 1000".to_owned()))
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_refused_except_for_the_batch_window_which_has_a_ceiling() {
        assert!(EventsSettings::default().problems().is_empty());
        let s = EventsSettings {
            batch_ms: 0,
            ..EventsSettings::default()
        };
        assert!(s.problems().is_empty(), "0 sends each event at once");
        let s = EventsSettings {
            batch_ms: 1001,
            buffer: 0,
            ..EventsSettings::default()
        };
        assert_eq!(
            s.problems(),
            [
                "events.buffer: must be greater than 0",
                "events.batch_ms: must be at most 1000"
            ]
        );
    }
}
