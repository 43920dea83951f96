//! An open event stream across a stop and restart of the real binary: SIGTERM ends
//! the stream at once with a final `dropped` event naming the position to resume from
//! (the graceful stop does not wait the whole `shutdown_timeout_secs` for it), and after
//! the restart the client resumes from that position with `Last-Event-ID`: nothing
//! committed in between is missed, nothing is repeated.

mod common;
mod process;
mod sse_support;
mod webhook_support;

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use sse_support::Msg;
use tokio::time::timeout;
use webhook_support::Api;

const LIMIT: Duration = Duration::from_secs(20);

fn write_config(dir: &Path) -> std::path::PathBuf {
    // A grace period far longer than `process::Server::terminate` waits: the stop ends
    // in time only if it does not wait for the open stream.
    process::redb_config(dir, "[server]\nshutdown_timeout_secs = 120\n")
}

/// `GET /api/v1/events` read through reqwest.
struct Stream {
    resp: reqwest::Response,
    text: String,
}

impl Stream {
    async fn open(api: &Api, last: Option<&str>) -> Stream {
        let mut b = api
            .http
            .get(format!("{}/events", api.base))
            .basic_auth(api.user, Some(api.password));
        if let Some(id) = last {
            b = b.header("Last-Event-ID", id);
        }
        let resp = b.send().await.expect("open the stream");
        assert_eq!(resp.status().as_u16(), 200);
        Stream {
            resp,
            text: String::new(),
        }
    }

    /// The next message with an `event:` line, `None` at the end of the stream.
    async fn next(&mut self) -> Option<Msg> {
        loop {
            while let Some(m) = Msg::take(&mut self.text) {
                if m.event.is_some() {
                    return Some(m);
                }
            }
            let chunk = self.resp.chunk().await.ok()??;
            self.text.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    async fn events(&mut self, n: usize) -> Vec<Msg> {
        let mut out = Vec::new();
        while out.len() < n {
            out.push(self.next().await.expect("stream ended early"));
        }
        out
    }
}

fn types(msgs: &[Msg]) -> Vec<&str> {
    msgs.iter().filter_map(|m| m.event.as_deref()).collect()
}

#[tokio::test]
async fn sigterm_ends_open_streams_at_once_and_a_restart_resumes_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path());
    let log = dir.path().join("flowgate.log");

    let s = process::Server::start(&cfg, &log);
    let admin = Api::new(&s.addr, "Administrator", "Administrator");
    let mut sse = Stream::open(&admin, None).await;
    let wf = admin.start("doc-stop").await;
    let before = timeout(LIMIT, sse.events(2)).await.expect("in time");
    assert_eq!(
        types(&before),
        ["afterWorkflowStarted", "afterWorkflowTaskCreated"]
    );

    // `terminate` waits 20 s at most, far less than the 120 s grace period.
    let stopped = tokio::task::spawn_blocking(move || s.terminate());
    let last = timeout(LIMIT, sse.next())
        .await
        .expect("the stream ends before the grace period")
        .expect("a final message");
    assert!(
        timeout(LIMIT, sse.next()).await.expect("ended").is_none(),
        "nothing after the final message"
    );
    assert!(
        stopped.await.expect("join"),
        "SIGTERM ends the gateway cleanly and in time"
    );
    assert_eq!(last.event.as_deref(), Some("dropped"), "{last:?}");
    let d = last.json();
    assert_eq!(d["reason"], "the gateway is stopping", "{d}");
    let resume = d["lastEventId"].as_str().expect("a position").to_owned();
    assert_eq!(Some(resume.as_str()), before[1].id.as_deref());

    // The review goes on after the restart; the client resumes from the position.
    let s = process::Server::start(&cfg, &log);
    let admin = Api::new(&s.addr, "Administrator", "Administrator");
    let vars = json!({"participants": ["user:Administrator"], "comment": "please"});
    admin.complete_only_task(&wf, "start_review", vars).await;
    let mut sse = Stream::open(&admin, Some(&resume)).await;
    admin.complete_only_task(&wf, "validate", json!({})).await;
    let after = timeout(LIMIT, sse.events(4)).await.expect("in time");
    assert_eq!(
        types(&after),
        [
            "afterWorkflowTaskEnded",
            "afterWorkflowTaskCreated",
            "afterWorkflowTaskEnded",
            "afterWorkflowFinish"
        ]
    );
    let ids: Vec<&str> = after.iter().filter_map(|m| m.id.as_deref()).collect();
    assert_eq!(ids, ["local:3", "local:4", "local:5", "local:6"]);
    for m in &after {
        let d = m.json();
        assert_eq!(d["workflowId"], wf.as_str(), "{d}");
    }
    drop(sse);
    assert!(s.terminate(), "SIGTERM ends the gateway cleanly");
}
