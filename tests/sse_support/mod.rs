//! Server-Sent Events messages as the tests read them from `GET /api/v1/events`.

use serde_json::Value;

/// One SSE message; `comment` for `: …` lines alone.
#[derive(Debug, Default)]
pub struct Msg {
    pub comment: Option<String>,
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

impl Msg {
    /// Takes the first whole message (ended by a blank line) off the front of `text`.
    pub fn take(text: &mut String) -> Option<Msg> {
        let end = text.find("\n\n")?;
        let block: String = text.drain(..end + 2).collect();
        let mut m = Msg::default();
        for line in block.lines() {
            if let Some(c) = line.strip_prefix(':') {
                m.comment = Some(c.trim().to_owned());
            } else if let Some((k, v)) = line.split_once(": ") {
                match k {
                    "id" => m.id = Some(v.to_owned()),
                    "event" => m.event = Some(v.to_owned()),
                    "data" => m.data.push_str(v),
                    _ => {}
                }
            }
        }
        Some(m)
    }

    /// The `data:` line as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.data).expect("data is JSON")
    }
}
