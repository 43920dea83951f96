//! Measurements behind `docs/durability.md`, ignored by default (they take a while and
//! want a release build):
//!
//! `cargo test -p flowgate-memory --release --test durability_bench -- --ignored --nocapture --test-threads 1`
//!
//! - throughput of starts and completions, durable (`fsync`) against in-memory, in the
//!   same run, at several concurrency levels;
//! - start-up time with many stored workflows (`FLOWGATE_BENCH_WORKFLOWS`, default
//!   100000), from folded records and from a long unfolded log.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgate_core::{CallContext, Completion, StartWorkflow, TaskQuery, WorkflowEngine};
use flowgate_memory::{Durability, MemoryEngine, ModelSource, StorageOptions};
use serde_json::json;

fn admin() -> CallContext {
    CallContext::admin("Administrator")
}

fn opts(dir: &Path, durability: Durability, threshold: u64) -> StorageOptions {
    StorageOptions {
        data_dir: dir.to_owned(),
        durability,
        snapshot_threshold: threshold,
    }
}

/// One review step pair per call: start, then complete the first task.
async fn start_and_complete(e: &MemoryEngine, i: usize) {
    let wf = e
        .start(
            &admin(),
            StartWorkflow {
                model: "SerialDocumentReview".into(),
                documents: vec![format!("doc-{i}")],
                variables: Default::default(),
            },
        )
        .await
        .unwrap();
    let t = e
        .tasks(&admin(), TaskQuery::for_workflow(&wf.id))
        .await
        .unwrap()
        .items
        .remove(0);
    e.complete(
        &admin(),
        &t.id,
        Completion {
            action: "start_review".into(),
            comment: None,
            variables: json!({"participants": ["user:jdoe"]})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        },
    )
    .await
    .unwrap();
}

/// Runs `n` start+complete pairs with `concurrency` tasks; returns steps per second.
async fn drive(e: Arc<MemoryEngine>, n: usize, concurrency: usize) -> f64 {
    let t0 = Instant::now();
    let handles: Vec<_> = (0..concurrency)
        .map(|c| {
            let e = e.clone();
            tokio::spawn(async move {
                let mut i = c;
                while i < n {
                    start_and_complete(&e, i).await;
                    i += concurrency;
                }
            })
        })
        .collect();
    for h in handles {
        h.await.unwrap();
    }
    (2 * n) as f64 / t0.elapsed().as_secs_f64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run explicitly in release mode"]
async fn throughput_durable_against_memory() {
    let n = 4_000;
    println!("| concurrency | memory steps/s | fsync steps/s | fsync commits | steps per commit |");
    println!("|---|---|---|---|---|");
    for concurrency in [1, 16, 64] {
        let mem = Arc::new(
            MemoryEngine::open("local", ModelSource::Builtin, StorageOptions::memory()).unwrap(),
        );
        let mem_rate = drive(mem, n, concurrency).await;
        let dir = tempfile::tempdir().unwrap();
        let durable = Arc::new(
            MemoryEngine::open(
                "local",
                ModelSource::Builtin,
                opts(dir.path(), Durability::Fsync, 10_000),
            )
            .unwrap(),
        );
        let rate = drive(durable.clone(), n, concurrency).await;
        let s = durable.storage_stats();
        println!(
            "| {concurrency} | {mem_rate:.0} | {rate:.0} | {} | {:.1} |",
            s.commit_groups,
            s.batches as f64 / s.commit_groups.max(1) as f64
        );
    }
}

fn file_mib(dir: &Path) -> f64 {
    std::fs::metadata(dir.join(flowgate_memory::storage::DATA_FILE))
        .map(|m| m.len() as f64 / (1024.0 * 1024.0))
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run explicitly in release mode"]
async fn startup_time_with_many_stored_workflows() {
    let n: usize = std::env::var("FLOWGATE_BENCH_WORKFLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    for (label, threshold) in [
        ("folded (threshold 10000)", 10_000u64),
        ("unfolded log", u64::MAX),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        {
            let e = Arc::new(
                MemoryEngine::open(
                    "local",
                    ModelSource::Builtin,
                    opts(dir.path(), Durability::Fsync, threshold),
                )
                .unwrap(),
            );
            // Half the instances one step further, so tasks of both kinds are stored.
            drive(e.clone(), n / 2, 64).await;
            let handles: Vec<_> = (0..64)
                .map(|c| {
                    let e = e.clone();
                    tokio::spawn(async move {
                        let mut i = c;
                        while i < n - n / 2 {
                            e.start(
                                &admin(),
                                StartWorkflow {
                                    model: "ParallelDocumentReview".into(),
                                    documents: vec![format!("pdoc-{i}")],
                                    variables: Default::default(),
                                },
                            )
                            .await
                            .unwrap();
                            i += 64;
                        }
                    })
                })
                .collect();
            for h in handles {
                h.await.unwrap();
            }
            // Let the writer finish folding before the engine closes.
            while threshold != u64::MAX
                && e.storage_stats().folded_entries + threshold < e.storage_stats().batches
            {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let filled = t0.elapsed();
        let tl = Instant::now();
        {
            use flowgate_memory::storage::{RedbStorage, Storage};
            let s = RedbStorage::open(dir.path(), threshold).unwrap();
            let loaded = s.load().unwrap();
            println!(
                "{label}: storage read+decode alone {:.2} s ({} records, {} log entries)",
                tl.elapsed().as_secs_f64(),
                loaded.snapshot_records,
                loaded.log_entries
            );
        }
        let t1 = Instant::now();
        let e = MemoryEngine::open(
            "local",
            ModelSource::Builtin,
            opts(dir.path(), Durability::Fsync, threshold),
        )
        .unwrap();
        let load = t1.elapsed();
        let stats = e.stats();
        println!(
            "{label}: {n} workflows ({} running, {} open tasks) written in {:.1} s, file {:.0} MiB, start-up {:.2} s",
            stats.running_workflows,
            stats.open_tasks,
            filled.as_secs_f64(),
            file_mib(dir.path()),
            load.as_secs_f64()
        );
        assert_eq!(stats.running_workflows, n);
    }
}

/// Fills a store in a child process that then aborts (no destructor runs, as with
/// `kill -9`), and times the restart, which includes redb's repair pass.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "measurement; run explicitly in release mode"]
async fn startup_time_after_a_crash() {
    let n: usize = std::env::var("FLOWGATE_BENCH_WORKFLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    if let Ok(dir) = std::env::var("FLOWGATE_BENCH_CRASH_DIR") {
        let e = Arc::new(
            MemoryEngine::open(
                "local",
                ModelSource::Builtin,
                opts(Path::new(&dir), Durability::Fsync, 10_000),
            )
            .unwrap(),
        );
        drive(e, n, 64).await;
        std::process::abort();
    }
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "startup_time_after_a_crash",
            "--test-threads",
            "1",
        ])
        .env("FLOWGATE_BENCH_CRASH_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!status.success(), "the child must die, not finish");
    let t0 = Instant::now();
    let e = MemoryEngine::open(
        "local",
        ModelSource::Builtin,
        opts(dir.path(), Durability::Fsync, 10_000),
    )
    .unwrap();
    let load = t0.elapsed();
    let stats = e.stats();
    println!(
        "after a crash: {} running workflows, file {:.0} MiB, start-up (repair + load) {:.2} s",
        stats.running_workflows,
        file_mib(dir.path()),
        load.as_secs_f64()
    );
    assert_eq!(stats.running_workflows, n);
}
