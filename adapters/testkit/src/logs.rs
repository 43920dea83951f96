//! A tracing subscriber that keeps every event and span field as text, for tests that
//! check what was logged (for example that a secret never was).

use std::sync::{Arc, Mutex};

/// Everything logged while it is the thread's default subscriber, at every level: event
/// and span fields formatted as text, so that a test can look for a secret in them.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<String>>);

struct Text<'a>(&'a mut String);

impl tracing::field::Visit for Text<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push_str(&format!(" {}={:?}", field.name(), value));
    }
}

impl tracing::Subscriber for Captured {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        if let Ok(mut out) = self.0.lock() {
            span.record(&mut Text(&mut out));
        }
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
        if let Ok(mut out) = self.0.lock() {
            values.record(&mut Text(&mut out));
        }
    }
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        if let Ok(mut out) = self.0.lock() {
            out.push('\n');
            event.record(&mut Text(&mut out));
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

impl Captured {
    /// Everything captured so far.
    pub fn text(&self) -> String {
        self.0.lock().map(|s| s.clone()).unwrap_or_default()
    }
}
