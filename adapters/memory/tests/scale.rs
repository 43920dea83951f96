//! Scale check: many running workflows stay small in memory and a user's task query
//! costs in proportion to that user's tasks. Ignored by default (it takes a while in
//! debug builds); run with
//! `cargo test -p flowgate-memory --release --test scale -- --ignored --nocapture`.
//! `FLOWGATE_SCALE_WORKFLOWS` overrides the number of workflows (default 100000).

use std::time::{Duration, Instant};

use flowgate_core::{CallContext, StartWorkflow, TaskQuery, WorkflowEngine};
use flowgate_memory::MemoryEngine;

fn rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[tokio::test]
#[ignore = "scale check; run explicitly in release mode"]
async fn hundred_thousand_running_workflows_fit_and_queries_stay_proportional() {
    let n: usize = std::env::var("FLOWGATE_SCALE_WORKFLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let users = 1_000;
    let engine = MemoryEngine::builtin("local").unwrap();
    let before = rss_bytes().unwrap_or(0);
    let t0 = Instant::now();
    for i in 0..n {
        let cx = CallContext::user(format!("user{}", i % users), ["members"]);
        let req = StartWorkflow {
            model: "SerialDocumentReview".into(),
            documents: vec![format!("doc-{i}")],
            variables: Default::default(),
        };
        engine.start(&cx, req).await.unwrap();
    }
    let started = t0.elapsed();
    let after = rss_bytes().unwrap_or(0);
    let stats = engine.stats();
    assert_eq!((stats.running_workflows, stats.open_tasks), (n, n));
    let grown = after.saturating_sub(before);
    println!(
        "{n} workflows started in {started:?}; RSS {} MiB (grew {} MiB, {} bytes per workflow)",
        after / (1 << 20),
        grown / (1 << 20),
        grown / n as u64
    );
    if n == 100_000 {
        assert!(
            after < 300 * (1 << 20),
            "RSS {} MiB exceeds 300 MiB",
            after / (1 << 20)
        );
    }

    let cx = CallContext::user("user7", ["members"]);
    let t1 = Instant::now();
    let mine = engine
        .tasks(&cx, TaskQuery::for_actor("user7", ["members"]))
        .await
        .unwrap();
    let q = t1.elapsed();
    assert_eq!(mine.total, n / users);
    println!("tasks(actor=user7): {} tasks in {q:?}", mine.total);
    assert!(
        q < Duration::from_millis(200),
        "an indexed query took {q:?}"
    );
}
