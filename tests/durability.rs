//! Crash safety of the embedded engine's durable mode, end to end: the real `flowgate`
//! binary serves concurrent starts and completions over HTTP and is killed with
//! SIGKILL at random moments, then restarted on the same data directory.
//!
//! After every restart: each request that was answered 2xx is there with (at least)
//! the state it reported, nothing half-applied is visible (a running review has
//! exactly one open task), and no workflow id is handed out twice.

use std::collections::{HashMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

mod process;
use process::{Server, ADMIN_HASH, BIN};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const ROUNDS: usize = 5;
const WORKERS: usize = 6;

fn write_config(dir: &Path) -> std::path::PathBuf {
    let cfg = dir.join("flowgate.toml");
    let text = format!(
        "[log]\nlevel = \"info\"\n\
         [engines.local]\nkind = \"memory\"\nmodels_dir = \"{root}/config/models\"\ndefault = true\n\
         data_dir = \"{data}\"\ndurability = \"fsync\"\nsnapshot_threshold = 50\n\
         [[auth.users]]\nname = \"Administrator\"\npassword_hash = \"{ADMIN_HASH}\"\ngroups = [\"administrators\"]\n",
        root = ROOT,
        data = dir.join("data").display(),
    );
    std::fs::write(&cfg, text).expect("write config");
    cfg
}

/// One HTTP/1.0 exchange (no keep-alive, no chunking); `None` when the server is gone.
fn call(addr: &str, method: &str, path: &str, body: Option<&Value>) -> Option<(u16, Value)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    s.set_write_timeout(Some(Duration::from_secs(10))).ok()?;
    let auth = base64::engine::general_purpose::STANDARD.encode("Administrator:Administrator");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\nAuthorization: Basic {auth}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).ok()?;
    let text = String::from_utf8_lossy(&resp);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    Some((status, json))
}

fn ok(r: &Option<(u16, Value)>) -> bool {
    matches!(r, Some((200..=299, _)))
}

fn str_field(v: &Value, k: &str) -> String {
    v[k].as_str().unwrap_or_default().to_owned()
}

/// How far a workflow was acknowledged to have gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Step {
    /// Started: the choose-participants task is open.
    Started,
    /// Participants chosen: the validation task is open.
    Chosen,
    /// Validated: the workflow is done.
    Done,
}

#[derive(Default)]
struct Acks {
    /// workflow id → furthest acknowledged step.
    steps: HashMap<String, Step>,
    /// task id → workflow id, for every acknowledged completion.
    ended_tasks: HashMap<String, String>,
    /// Every workflow id ever handed out.
    ids: HashSet<String>,
    /// Ids handed out twice.
    reused: Vec<String>,
}

fn open_tasks(addr: &str, wf: &str) -> Option<Vec<Value>> {
    let (status, v) = call(
        addr,
        "GET",
        &format!("/api/v1/task?workflowInstanceId={wf}"),
        None,
    )?;
    assert_eq!(status, 200, "task list of {wf}: {v}");
    Some(v["entries"].as_array().cloned().unwrap_or_default())
}

/// Drives one review after another until the server stops answering.
fn worker(addr: String, n: usize, acks: Arc<Mutex<Acks>>, stop: Arc<AtomicBool>) {
    let mut i = 0;
    while !stop.load(Ordering::Relaxed) {
        i += 1;
        let start = json!({"entity-type": "workflow", "workflowModelName": "SerialDocumentReview",
                           "attachedDocumentIds": [format!("doc-{n}-{i}")]});
        let r = call(&addr, "POST", "/api/v1/workflow", Some(&start));
        if !ok(&r) {
            return;
        }
        let wf = r.map(|(_, v)| str_field(&v, "id")).unwrap_or_default();
        {
            let mut a = acks.lock().expect("acks");
            if !a.ids.insert(wf.clone()) {
                a.reused.push(wf.clone());
            }
            a.steps.insert(wf.clone(), Step::Started);
        }
        for (action, vars, step) in [
            (
                "start_review",
                json!({"participants": ["user:Administrator"]}),
                Step::Chosen,
            ),
            ("validate", json!({}), Step::Done),
        ] {
            let Some(tasks) = open_tasks(&addr, &wf) else {
                return;
            };
            let Some(task) = tasks.first().map(|t| str_field(t, "id")) else {
                panic!("running workflow {wf} has no open task");
            };
            let body = json!({"entity-type": "task", "id": task, "variables": vars});
            let r = call(
                &addr,
                "PUT",
                &format!("/api/v1/task/{task}/{action}"),
                Some(&body),
            );
            if !ok(&r) {
                return;
            }
            let mut a = acks.lock().expect("acks");
            a.steps.insert(wf.clone(), step);
            a.ended_tasks.insert(task, wf.clone());
        }
    }
}

/// Checks the restarted server against everything acknowledged so far.
fn verify(addr: &str, acks: &mut Acks) -> usize {
    assert!(
        acks.reused.is_empty(),
        "ids handed out twice: {:?}",
        acks.reused
    );
    for (wf, step) in &acks.steps {
        let (status, v) =
            call(addr, "GET", &format!("/api/v1/workflow/{wf}"), None).expect("server answers");
        assert_eq!(status, 200, "acknowledged workflow {wf} is gone: {v}");
        let state = str_field(&v, "state");
        let open = open_tasks(addr, wf).expect("server answers");
        // A later step may have been committed without its answer getting out: the
        // state is at least what was acknowledged, and always whole.
        match state.as_str() {
            "running" => {
                assert!(
                    *step < Step::Done,
                    "{wf} was acknowledged done but is running"
                );
                assert_eq!(
                    open.len(),
                    1,
                    "running {wf} must have exactly one open task"
                );
                let node = str_field(&open[0], "nodeName");
                if *step == Step::Chosen {
                    assert_eq!(
                        node, "Task6d8",
                        "{wf} went back before its acknowledged step"
                    );
                }
            }
            "done" => assert!(open.is_empty(), "done {wf} still has open tasks"),
            other => panic!("{wf} is in state {other}"),
        }
    }
    for (task, wf) in &acks.ended_tasks {
        let (status, v) =
            call(addr, "GET", &format!("/api/v1/task/{task}"), None).expect("server answers");
        assert_eq!(status, 200, "task {task} of {wf}: {v}");
        assert_eq!(
            v["state"], "ended",
            "acknowledged completion of {task} lost"
        );
    }
    // Workflows whose start was in flight at the kill may exist too: they must be
    // whole, and their ids count as handed out.
    let (status, list) = call(addr, "GET", "/api/v1/workflow", None).expect("server answers");
    assert_eq!(status, 200);
    for w in list["entries"].as_array().cloned().unwrap_or_default() {
        let wf = str_field(&w, "id");
        let open = open_tasks(addr, &wf).expect("server answers");
        assert_eq!(
            open.len(),
            1,
            "running {wf} must have exactly one open task"
        );
        acks.ids.insert(wf);
    }
    acks.steps.len()
}

#[test]
fn acknowledged_changes_survive_sigkill_and_nothing_is_half_applied() {
    let t0 = Instant::now();
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path());
    let log = dir.path().join("flowgate.log");
    let acks = Arc::new(Mutex::new(Acks::default()));
    let result = std::panic::catch_unwind(|| {
        for round in 0..ROUNDS {
            let server = Server::start(&cfg, &log);
            let checked = verify(&server.addr, &mut acks.lock().expect("acks"));
            let stop = Arc::new(AtomicBool::new(false));
            let workers: Vec<_> = (0..WORKERS)
                .map(|n| {
                    let (addr, acks, stop) = (server.addr.clone(), acks.clone(), stop.clone());
                    std::thread::spawn(move || worker(addr, round * 100 + n, acks, stop))
                })
                .collect();
            // Kill at a different moment each round.
            let delay = 150 + rand::random_range(0..500);
            std::thread::sleep(Duration::from_millis(delay));
            server.kill();
            stop.store(true, Ordering::Relaxed);
            for w in workers {
                w.join().expect("worker");
            }
            eprintln!(
                "round {round}: {checked} workflows verified, killed after {delay} ms, {} acknowledged so far",
                acks.lock().expect("acks").steps.len()
            );
        }
        let server = Server::start(&cfg, &log);
        let total = verify(&server.addr, &mut acks.lock().expect("acks"));
        // Still serving after all those crashes, with fresh ids.
        let r = call(
            &server.addr,
            "POST",
            "/api/v1/workflow",
            Some(&json!({"entity-type": "workflow", "workflowModelName": "SerialDocumentReview"})),
        );
        assert!(ok(&r), "start after recovery: {r:?}");
        let id = r.map(|(_, v)| str_field(&v, "id")).unwrap_or_default();
        assert!(
            !acks.lock().expect("acks").ids.contains(&id),
            "id {id} reused"
        );
        server.kill();
        assert!(
            total > 0,
            "no request was acknowledged: the test drove nothing"
        );
        total
    });
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    match result {
        Ok(total) => {
            assert!(logs.contains("stored state loaded"), "{logs}");
            eprintln!("{total} workflows checked in {:?}", t0.elapsed());
            assert!(t0.elapsed() < Duration::from_secs(60));
        }
        Err(e) => {
            eprintln!("flowgate log:\n{logs}");
            std::panic::resume_unwind(e);
        }
    }
}

#[test]
fn future_data_format_refuses_to_start_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path());
    let log = dir.path().join("flowgate.log");
    let server = Server::start(&cfg, &log);
    let r = call(
        &server.addr,
        "POST",
        "/api/v1/workflow",
        Some(&json!({"entity-type": "workflow", "workflowModelName": "SerialDocumentReview"})),
    );
    assert!(ok(&r));
    server.kill();
    {
        const META: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
        let db = redb::Database::open(
            dir.path()
                .join("data")
                .join(flowgate_memory::storage::DATA_FILE),
        )
        .expect("open data file");
        let txn = db.begin_write().expect("txn");
        txn.open_table(META)
            .expect("meta")
            .insert(
                "format_version",
                flowgate_memory::storage::FORMAT_VERSION + 1,
            )
            .expect("insert");
        txn.commit().expect("commit");
    }
    let out = Command::new(BIN)
        .args(["serve", "--config"])
        .arg(&cfg)
        .args(["--bind", "127.0.0.1:0"])
        .env_remove("FLOWGATE_CONFIG")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("engines.local"), "{err}");
    let found = flowgate_memory::storage::FORMAT_VERSION + 1;
    assert!(err.contains(&format!("format version {found}")), "{err}");
    assert!(err.contains("flowgate.redb"), "{err}");
}

#[test]
fn invalid_durability_settings_name_their_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "durability = \"disk\"\nsnapshot_threshold = 0\n",
            &[
                "engines.local.durability",
                "engines.local.snapshot_threshold",
            ][..],
        ),
        (
            "durability = \"fsync\"\n",
            &["engines.local.data_dir: required when durability = \"fsync\""][..],
        ),
    ];
    for (extra, keys) in cases {
        let cfg = dir.path().join("bad.toml");
        std::fs::write(&cfg, format!("[engines.local]\nkind = \"memory\"\n{extra}"))
            .expect("write");
        let out = Command::new(BIN)
            .args(["check-config", "--config"])
            .arg(&cfg)
            .env_remove("FLOWGATE_CONFIG")
            .output()
            .expect("run");
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        for k in keys {
            assert!(err.contains(k), "{k} missing from: {err}");
        }
    }
}
