//! Heap bytes per running workflow, counted by a global allocator that adds up what is
//! allocated and freed: workflows started as users start them (on a document, with a
//! participants variable and a comment, by several users), in memory and with durable
//! storage. Allocations are counted, not timed, so the figures barely move between
//! runs. Resident memory per workflow, measured on the release binary, is in
//! docs/performance.md ("Memory per workflow").

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

use flowgate_core::{CallContext, StartWorkflow, WorkflowEngine};
use flowgate_memory::{MemoryEngine, ModelSource, StorageOptions};
use serde_json::json;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        System.alloc(layout)
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        System.dealloc(ptr, layout)
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        System.realloc(ptr, layout, new_size)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Most heap bytes one running workflow may hold (records, indexes, events, caches),
/// counted as allocated: spare capacity of vectors and maps included, which resident
/// memory does not always pay. Before records were shrunk and events packed: 6,350
/// (memory) and about 8,700 (redb); docs/performance.md has the figures.
const BUDGET: isize = 3_000;

/// Only one measure at a time: the counter is process-wide.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const USERS: [&str; 5] = ["Administrator", "jdoe", "asmith", "bob", "eve"];

async fn start(engine: &MemoryEngine, n: usize) {
    let user = USERS[n % USERS.len()];
    let cx = if n.is_multiple_of(USERS.len()) {
        CallContext::admin(user)
    } else {
        CallContext::user(user, ["members"])
    };
    let req = StartWorkflow {
        model: "SerialDocumentReview".into(),
        documents: vec![format!("0c5e3b7a-1c2d-4e5f-8a9b-{n:012x}")],
        variables: json!({
            "participants": [format!("user:{}", USERS[(n + 1) % USERS.len()])],
            "initiatorComment": "Please review this version before Friday",
        })
        .as_object()
        .cloned()
        .unwrap_or_default(),
    };
    engine.start(&cx, req).await.expect("start");
}

/// Starts workflows `from..to`, 64 at a time (with durable storage they share commits).
async fn start_range(engine: &MemoryEngine, from: usize, to: usize) {
    let mut n = from;
    while n < to {
        let end = (n + 64).min(to);
        futures::future::join_all((n..end).map(|i| start(engine, i))).await;
        n = end;
    }
}

/// Heap bytes per workflow over `n` starts, after `warm` starts that fill the maps'
/// first allocations (and redb's page cache).
async fn per_workflow(engine: &MemoryEngine, warm: usize, n: usize) -> isize {
    start_range(engine, 0, warm).await;
    let before = LIVE.load(Ordering::Relaxed);
    start_range(engine, warm, warm + n).await;
    let after = LIVE.load(Ordering::Relaxed);
    (after - before) / n as isize
}

#[tokio::test(flavor = "current_thread")]
async fn a_running_workflow_in_memory_stays_within_budget() {
    let _one = ONE_AT_A_TIME.lock().await;
    let engine = MemoryEngine::builtin("local").expect("engine");
    let bytes = per_workflow(&engine, 2_000, 8_000).await;
    println!("memory: {bytes} heap bytes per running workflow");
    assert!(
        bytes <= BUDGET,
        "{bytes} heap bytes per workflow, budget {BUDGET}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_running_workflow_with_durable_storage_stays_within_budget() {
    let _one = ONE_AT_A_TIME.lock().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = MemoryEngine::open(
        "local",
        ModelSource::Builtin,
        StorageOptions::durable(dir.path()),
    )
    .expect("engine");
    // Enough first starts to fill redb's page cache, which is bounded.
    let bytes = per_workflow(&engine, 3_000, 8_000).await;
    println!("redb: {bytes} heap bytes per running workflow");
    assert!(
        bytes <= BUDGET,
        "{bytes} heap bytes per workflow, budget {BUDGET}"
    );
}
