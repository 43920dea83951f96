//! In-process timing of the embedded engine's hot paths, without HTTP: workflow
//! starts, task reads and task completions of SerialDocumentReview, on one and on two
//! threads. Run with
//! `cargo bench -p flowgate-memory --bench complete` (release build).
//! `FG_BENCH_WORKFLOWS` sets the store size (default 100000, like `bench/run.sh`);
//! `FG_BENCH_ROUNDS` repeats the whole measurement (default 1).
//!
//! Each completion uses a task nobody completed before, as `bench/complete.lua` does:
//! `cancel` on the first task (the workflow ends), and `start_review` followed by
//! `validate` (one completion that creates a task, one that ends the workflow).

use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgate_core::{CallContext, Completion, StartWorkflow, TaskQuery, WorkflowEngine};
use flowgate_memory::MemoryEngine;
use serde_json::json;

const USERS: usize = 1_000;

fn cx_of(i: usize) -> CallContext {
    CallContext::user(format!("user{}", i % USERS), ["members"])
}

fn per_op(d: Duration, n: usize) -> f64 {
    d.as_nanos() as f64 / n.max(1) as f64
}

fn report(what: &str, d: Duration, n: usize) {
    println!(
        "{what:<44} {:>9.0} ns/op {:>10.0} op/s  ({n} ops)",
        per_op(d, n),
        n as f64 / d.as_secs_f64()
    );
}

/// Starts `n` workflows; returns (initiator index, first task id) per workflow.
async fn seed(engine: &MemoryEngine, n: usize, offset: usize) -> (Duration, Vec<(usize, String)>) {
    let t0 = Instant::now();
    let mut wfs = Vec::with_capacity(n);
    for i in offset..offset + n {
        let req = StartWorkflow {
            model: "SerialDocumentReview".into(),
            documents: vec![format!("doc-{i}")],
            variables: Default::default(),
        };
        let wf = engine.start(&cx_of(i), req).await.expect("start");
        wfs.push((i, wf.id));
    }
    let took = t0.elapsed();
    let mut tasks = Vec::with_capacity(n);
    for (i, wid) in wfs {
        tasks.push((i, first_open_task(engine, i, &wid).await));
    }
    (took, tasks)
}

async fn first_open_task(engine: &MemoryEngine, i: usize, wid: &str) -> String {
    let mut q = TaskQuery::for_workflow(wid);
    q.open_only = true;
    let page = engine.tasks(&cx_of(i), q).await.expect("tasks");
    page.items[0].id.clone()
}

fn completion(action: &str, variables: serde_json::Value) -> Completion {
    Completion {
        action: action.into(),
        comment: Some("bench".into()),
        variables: variables.as_object().cloned().unwrap_or_default(),
    }
}

/// Completes every task of `tasks` with `action` on `threads` workers; returns the time.
fn complete_all(
    rt: &tokio::runtime::Runtime,
    engine: &Arc<MemoryEngine>,
    tasks: Vec<(usize, String)>,
    threads: usize,
    action: &'static str,
    variables: fn(usize) -> serde_json::Value,
) -> Duration {
    let chunks: Vec<Vec<(usize, String)>> = (0..threads)
        .map(|k| tasks.iter().skip(k).step_by(threads).cloned().collect())
        .collect();
    let t0 = Instant::now();
    rt.block_on(async {
        let mut handles = Vec::new();
        for chunk in chunks {
            let engine = engine.clone();
            handles.push(tokio::spawn(async move {
                for (i, id) in chunk {
                    engine
                        .complete(&cx_of(i), &id, completion(action, variables(i)))
                        .await
                        .expect("complete");
                }
            }));
        }
        for h in handles {
            h.await.expect("worker");
        }
    });
    t0.elapsed()
}

fn no_vars(_: usize) -> serde_json::Value {
    json!({})
}

fn reviewer(i: usize) -> serde_json::Value {
    json!({ "participants": [format!("user{}", i % USERS)] })
}

fn round(n: usize) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .expect("runtime");
    let engine = Arc::new(MemoryEngine::builtin("local").expect("engine"));
    // The store holds `n` running workflows; each measurement uses a fresh slice of
    // them and ends those it touches.
    let (took, tasks) = rt.block_on(seed(&engine, n, 0));
    report("start (SerialDocumentReview), 1 thread", took, n);

    let t0 = Instant::now();
    rt.block_on(async {
        for (i, id) in tasks.iter().take(n / 2) {
            std::hint::black_box(engine.task(&cx_of(*i), id).await.expect("task"));
        }
    });
    report("get task, 1 thread", t0.elapsed(), n / 2);

    let q = n / 4;
    let mut slices = tasks.chunks(q.max(1)).map(|c| c.to_vec());
    let a = slices.next().unwrap_or_default();
    let b = slices.next().unwrap_or_default();
    let c = slices.next().unwrap_or_default();
    let d = slices.next().unwrap_or_default();
    let la = a.len();
    let d1 = complete_all(&rt, &engine, a, 1, "cancel", no_vars);
    report("complete cancel, 1 thread", d1, la);
    let lb = b.len();
    let d2 = complete_all(&rt, &engine, b, 2, "cancel", no_vars);
    report("complete cancel, 2 threads", d2, lb);

    // start_review creates the validation task; validate then ends the workflow.
    let lc = c.len();
    let d3 = complete_all(&rt, &engine, c.clone(), 1, "start_review", reviewer);
    report("complete start_review, 1 thread", d3, lc);
    let lcd = d.len();
    let d4 = complete_all(&rt, &engine, d.clone(), 2, "start_review", reviewer);
    report("complete start_review, 2 threads", d4, lcd);
    let second: Vec<(usize, String)> = rt.block_on(async {
        let mut out = Vec::new();
        for (i, t) in c.iter().chain(d.iter()) {
            let task = engine.task(&cx_of(*i), t).await.expect("task");
            let wid = task.workflow_id.clone().unwrap_or_default();
            out.push((*i, first_open_task(&engine, *i, &wid).await));
        }
        out
    });
    let (sc, sd) = second.split_at(lc);
    let d5 = complete_all(&rt, &engine, sc.to_vec(), 1, "validate", no_vars);
    report("complete validate (ends), 1 thread", d5, sc.len());
    let d6 = complete_all(&rt, &engine, sd.to_vec(), 2, "validate", no_vars);
    report("complete validate (ends), 2 threads", d6, sd.len());
    drop(engine);
    rt.shutdown_timeout(Duration::from_secs(5));
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else is understood.
    let n: usize = std::env::var("FG_BENCH_WORKFLOWS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let rounds: usize = std::env::var("FG_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    for r in 0..rounds {
        println!("round {} ({n} workflows over {USERS} users)", r + 1);
        round(n);
    }
}
