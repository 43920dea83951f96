//! The embedded engine's PostgreSQL storage over TLS, with the real binary and a
//! PostgreSQL server of the test's own that refuses unencrypted connections and
//! presents a certificate from a private CA:
//! - `sslmode=verify-full` with that CA as `sslrootcert`: a review runs, and every
//!   connection the gateway holds is encrypted (`pg_stat_ssl`);
//! - the same URL with another CA: start-up stops with an error naming the certificate
//!   problem, and neither the password nor the URL appear in what it prints;
//! - `sslmode=disable`: the server's refusal is reported the same way.

use std::io::Read as _;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use flowgate_testkit::tls::{pem_file, Ca};
use serde_json::json;

mod private_pg;
mod process;
mod replica_support;

use private_pg::{PrivatePg, PASSWORD};
use replica_support::{client, open_tasks, send, start_review, write_config, Replica};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_private_ca_runs_a_review_over_tls() {
    let ca = Ca::new("flowgate test database CA").expect("CA");
    let Some(pg) = PrivatePg::start_tls(&ca) else {
        return;
    };
    let ca_file = pem_file(&ca.pem()).expect("CA file");
    let url = pg.tls_url(
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            ca_file.path().display()
        ),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), "tls", "");
    let replica = Replica::start(&cfg, &dir.path().join("flowgate.log"), &url);
    let base = replica.base();
    let c = client();

    let wf = start_review(&c, &base, "doc-tls").await;
    let tasks = open_tasks(&c, &base, &wf).await;
    let task = tasks[0]["id"].as_str().expect("task id").to_owned();
    let (status, body) = send(
        c.put(format!("{base}/task/{task}/start_review"))
            .json(&json!({"entity-type": "task", "variables": {"participants": ["user:jdoe"]}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let next = open_tasks(&c, &base, &wf).await;
    assert_eq!(next.len(), 1, "{next:?}");
    assert_ne!(next[0]["id"], task);

    // Every connection of the gateway to the server is encrypted (the server refuses
    // the others anyway; this shows the gateway's own are there and use TLS).
    let seen = pg.psql(
        "SELECT count(*) FILTER (WHERE s.ssl) || '/' || count(*) \
         FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
         WHERE a.application_name = 'flowgate'",
    );
    let (encrypted, all) = seen.split_once('/').expect("two counts");
    assert!(all.parse::<u32>().expect("count") > 0, "{seen}");
    assert_eq!(encrypted, all, "{seen}");
    drop(replica);
}

/// Runs `flowgate serve` on `url` until it exits (bounded); its exit status and what
/// it printed.
fn start_up_failure(cfg: &std::path::Path, url: &str) -> (Option<i32>, String) {
    let mut child = Command::new(process::BIN)
        .args(["serve", "--config"])
        .arg(cfg)
        .args(["--bind", "127.0.0.1:0"])
        .env_remove("FLOWGATE_CONFIG")
        .env("FLOWGATE__ENGINES__LOCAL__DATABASE_URL", url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn flowgate");
    let deadline = Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("flowgate did not stop within 60 s on a database it cannot trust");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    if let Some(mut s) = child.stderr.take() {
        let _ = s.read_to_string(&mut out);
    }
    (status.code(), out)
}

#[test]
fn an_untrusted_certificate_or_no_tls_stops_start_up_with_a_clear_error() {
    let ca = Ca::new("flowgate test database CA").expect("CA");
    let Some(pg) = PrivatePg::start_tls(&ca) else {
        return;
    };
    let other = Ca::new("some other CA").expect("CA");
    let other_file = pem_file(&other.pem()).expect("CA file");
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), "tls", "");

    let untrusted = pg.tls_url(
        "localhost",
        &format!(
            "sslmode=verify-full&sslrootcert={}",
            other_file.path().display()
        ),
    );
    let plain = pg.tls_url("127.0.0.1", "sslmode=disable");
    for (url, reason) in [(untrusted, "certificate"), (plain, "no encryption")] {
        let (code, out) = start_up_failure(&cfg, &url);
        assert_ne!(code, Some(0), "{out}");
        assert!(out.contains(reason), "{out}");
        assert!(
            !out.contains(PASSWORD) && !out.contains("postgres://"),
            "{out}"
        );
    }
}
