//! The embedded engine on PostgreSQL when the database goes away and comes back, with
//! the real binary and a PostgreSQL server of the test's own (Debian's `initdb` and
//! `pg_ctl` on a loopback port): while it is down, requests answer 503 within the
//! request deadline and `/health/ready` says not ready; once it is back, the same
//! process serves again without a restart, and nothing acknowledged is lost.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod private_pg;
mod process;
mod replica_support;

use private_pg::PrivatePg;
use replica_support::{client, open_tasks, send, start_review, write_config, Replica};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn database_down_then_up_is_503_then_served_again_without_restart() {
    let Some(pg) = PrivatePg::start() else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), "faults", "");
    // A short wait for a connection: the 503 comes after it.
    let text = std::fs::read_to_string(&cfg).expect("config");
    std::fs::write(
        &cfg,
        text.replace("acquire_timeout_ms = 10000", "acquire_timeout_ms = 1000"),
    )
    .expect("config");
    let replica = Replica::start(&cfg, &dir.path().join("flowgate.log"), &pg.url());
    let base = replica.base();
    let root = base.trim_end_matches("/api/v1").to_owned();
    let c = client();
    let wf = start_review(&c, &base, "doc-faults").await;
    let task = open_tasks(&c, &base, &wf).await[0]["id"]
        .as_str()
        .expect("task id")
        .to_owned();

    // Readers keep going through the outage: every answer is a 200 or a 503.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (c, url, stop) = (c.clone(), format!("{base}/task/{task}"), stop.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && seen.len() < 2000 {
                seen.push(send(c.get(&url)).await.0);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            seen
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    pg.down();
    // Down: a clear 503 well within the request deadline (15 s), for reads and writes.
    for _ in 0..3 {
        let t0 = Instant::now();
        let (status, body) = send(c.get(format!("{base}/task/{task}"))).await;
        assert_eq!(status, 503, "{body}");
        assert!(t0.elapsed() < Duration::from_secs(14), "{:?}", t0.elapsed());
        assert_eq!(body["entity-type"], "exception", "{body}");
        let msg = body["message"].as_str().unwrap_or_default();
        assert!(msg.contains("database"), "{msg}");
        assert!(!msg.contains("postgres://"), "{msg}");
    }
    let (status, body) = send(c.post(format!("{base}/id/doc-x/@workflow")).json(&json!({
        "entity-type": "workflow", "workflowModelName": "SerialDocumentReview"
    })))
    .await;
    assert_eq!(status, 503, "{body}");
    let ready = c
        .get(format!("{root}/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status().as_u16(), 503);

    pg.up();
    // Back: the same process serves again (bounded wait for the pool to reconnect).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = send(c.get(format!("{base}/task/{task}"))).await;
        if status == 200 {
            assert_eq!(body["state"], "opened", "{body}");
            break;
        }
        assert_eq!(status, 503, "{body}");
        assert!(Instant::now() < deadline, "not served again within 30 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready = c
        .get(format!("{root}/health/ready"))
        .send()
        .await
        .expect("ready");
    assert_eq!(ready.status().as_u16(), 200);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = load.await.expect("load");
    assert!(seen.contains(&200) && seen.contains(&503), "{seen:?}");
    assert!(seen.iter().all(|s| *s == 200 || *s == 503), "{seen:?}");
    let (status, body) = send(
        c.put(format!("{base}/task/{task}/start_review"))
            .json(&json!({
                "entity-type": "task", "variables": {"participants": ["user:jdoe"]}
            })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let next: Vec<Value> = open_tasks(&c, &base, &wf).await;
    assert_eq!(next.len(), 1, "{next:?}");
    drop(replica);
}
