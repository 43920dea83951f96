//! The adapter against Alfresco's published workflow definition served by Stoplight
//! Prism (an off-the-shelf contract mock from the npm registry, pinned in
//! `tests/contract-mock/package.json`), in mock mode with request validation: every
//! request the adapter sends for reading models, starting, reading, listing,
//! reassigning, delegating and completing must be one the definition allows (Prism
//! answers 400 otherwise), and every answer Prism makes up from the schemas must be
//! readable (no 502).
//!
//! The definition is used through a derived copy written by [`derived_definition`]:
//! its known defects are patched and a few changes make the mock usable; each is listed
//! there and in the adapter's README.
//!
//! Prism is `$FLOWGATE_PRISM_BIN`, else `tests/contract-mock/node_modules/.bin/prism`
//! (`npm ci` there; `scripts/test.sh` does it). Without it the test fails when `CI` or
//! `FLOWGATE_REQUIRE_PRISM=1` is set, and is skipped with a message otherwise.

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use flowgate_alfresco::{AlfrescoConfig, AlfrescoEngine, AuthConfig, AuthMode};
use flowgate_core::{CallContext, Completion, Secret, StartWorkflow, TaskQuery, WorkflowEngine};
use serde_yaml::Value;

const DEFINITION: &str = include_str!("../contract/alfresco-workflow.yaml");

/// Kills Prism and removes the derived definition when the test ends, however it ends.
struct Mock {
    child: Child,
    file: PathBuf,
}

impl Drop for Mock {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.file);
    }
}

fn prism_bin() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("FLOWGATE_PRISM_BIN") {
        return Some(PathBuf::from(p));
    }
    let local = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/contract-mock/node_modules/.bin/prism");
    local.exists().then_some(local)
}

fn required() -> bool {
    let set = |k: &str| std::env::var(k).is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    set("CI") || set("FLOWGATE_REQUIRE_PRISM")
}

fn map<'a>(v: &'a mut Value, path: &[&str]) -> &'a mut serde_yaml::Mapping {
    let mut cur = v;
    for k in path {
        cur = cur
            .get_mut(*k)
            .unwrap_or_else(|| panic!("the definition has {path:?}"));
    }
    cur.as_mapping_mut()
        .unwrap_or_else(|| panic!("{path:?} is a mapping"))
}

/// The published definition with its known defects patched, and made servable:
///
/// Defects (the server does otherwise, and the definition's own prose says so):
/// 1. `Variable.value` and `VariableBody.value` are typed `integer`: any JSON value.
/// 2. The `select` parameter is typed `integer`: a comma-separated string.
/// 3. The task `state` enums (`Task`, `TaskBody`) lack `delegated`, which the update
///    operation's description uses: added.
///
/// For the mock:
/// 4. Prism ignores Swagger 2's `basePath`: the paths are moved under it.
/// 5. `Pagination.hasMoreItems` gets the example `false`: Prism's made-up lists
///    would otherwise say `true` for ever (and the adapter rightly refuses them).
/// 6. `Task.endedAt` is dropped: Prism fills every property, and a task with an end
///    date cannot be completed, reassigned or delegated.
fn derived_definition() -> String {
    let mut d: Value = serde_yaml::from_str(DEFINITION).expect("the definition is YAML");
    for def in ["Variable", "VariableBody"] {
        map(&mut d, &["definitions", def, "properties", "value"]).remove("type");
    }
    map(&mut d, &["parameters", "selectParam"]).insert("type".into(), "string".into());
    for def in ["Task", "TaskBody"] {
        let state = map(&mut d, &["definitions", def, "properties", "state"]);
        if let Some(Value::Sequence(values)) = state.get_mut("enum") {
            values.push("delegated".into());
        }
    }
    let base = d
        .get("basePath")
        .and_then(Value::as_str)
        .expect("basePath")
        .to_owned();
    let paths = std::mem::take(map(&mut d, &["paths"]));
    let moved: serde_yaml::Mapping = paths
        .into_iter()
        .map(|(k, v)| {
            (
                format!("{base}{}", k.as_str().unwrap_or_default()).into(),
                v,
            )
        })
        .collect();
    *map(&mut d, &["paths"]) = moved;
    map(&mut d, &[]).remove("basePath");
    map(
        &mut d,
        &["definitions", "Pagination", "properties", "hasMoreItems"],
    )
    .insert("example".into(), false.into());
    map(&mut d, &["definitions", "Task", "properties"]).remove("endedAt");
    serde_yaml::to_string(&d).expect("YAML out")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

fn start_mock(bin: &PathBuf) -> (Mock, u16) {
    let port = free_port();
    let file = std::env::temp_dir().join(format!(
        "flowgate-alfresco-prism-{}-{port}.yaml",
        std::process::id()
    ));
    std::fs::write(&file, derived_definition()).expect("derived definition written");
    let child = Command::new(bin)
        .args(["mock", "--host", "127.0.0.1", "--port"])
        .arg(port.to_string())
        .args(["--errors", "--verboseLevel", "warn"])
        .arg(&file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let mock = Mock { child, file };
    let until = Instant::now() + Duration::from_secs(90);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < until, "Prism did not listen within 90 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    (mock, port)
}

async fn step<T>(what: &str, f: impl std::future::Future<Output = flowgate_core::Result<T>>) -> T {
    match tokio::time::timeout(Duration::from_secs(30), f).await {
        Ok(Ok(v)) => v,
        Ok(Err(e)) => panic!("{what}: {e:?}"),
        Err(_) => panic!("{what}: no answer within 30 s"),
    }
}

#[test]
fn the_derived_definition_patches_the_known_defects() {
    let d: Value = serde_yaml::from_str(&derived_definition()).expect("YAML");
    let defs = &d["definitions"];
    assert!(defs["Variable"]["properties"]["value"]
        .get("type")
        .is_none());
    assert_eq!(
        d["parameters"]["selectParam"]["type"].as_str(),
        Some("string")
    );
    let states = defs["TaskBody"]["properties"]["state"]["enum"]
        .as_sequence()
        .expect("enum");
    assert!(states.iter().any(|s| s.as_str() == Some("delegated")));
    assert!(d["paths"]
        .get("/alfresco/api/-default-/public/workflow/versions/1/tasks/{taskId}")
        .is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_adapter_runs_start_to_completion_against_the_published_definition() {
    let Some(bin) = prism_bin() else {
        assert!(
            !required(),
            "Prism is required here (CI or FLOWGATE_REQUIRE_PRISM) but was not found: run \
             `npm ci` in adapters/alfresco/tests/contract-mock or set FLOWGATE_PRISM_BIN"
        );
        eprintln!(
            "\n*** SKIPPED: Prism not found (npm ci in adapters/alfresco/tests/contract-mock, \
             or FLOWGATE_PRISM_BIN); the contract-mock check did not run ***\n"
        );
        return;
    };
    let (_mock, port) = start_mock(&bin);
    let auth = AuthConfig {
        mode: AuthMode::Basic,
        user: Some("admin".into()),
        password: Some(Secret::new("admin")),
        password_env: None,
    };
    let mut cfg = AlfrescoConfig::new(
        format!("http://127.0.0.1:{port}/alfresco/")
            .parse()
            .expect("url"),
        auth,
    );
    cfg.http.request_timeout_ms = 10_000;
    cfg.http.max_attempts = 1;
    cfg.http.breaker_failures = 0;
    let e = AlfrescoEngine::new("alfresco", cfg).expect("engine");
    let admin = CallContext::admin("admin");

    // Prism makes every string "string": the one definition key, process and task id.
    let models = step("models", e.models(&admin)).await;
    assert!(models.iter().any(|m| m.name == "string"), "{models:?}");
    step("model", e.model(&admin, "string")).await;
    let wf = step(
        "start",
        e.start(
            &admin,
            StartWorkflow {
                model: "string".into(),
                documents: Vec::new(),
                variables: serde_json::json!({"priority": "1", "comment": "Please review"})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            },
        ),
    )
    .await;
    step("workflow", e.workflow(&admin, &wf.id)).await;
    let task = step("task", e.task(&admin, "string")).await;
    step(
        "tasks of the workflow",
        e.tasks(&admin, TaskQuery::for_workflow(&wf.id)),
    )
    .await;
    step(
        "reassign",
        e.reassign(
            &admin,
            &task.id,
            vec!["jdoe".into()],
            Some("over to you".into()),
        ),
    )
    .await;
    step(
        "delegate",
        e.delegate(&admin, &task.id, vec!["erin".into()], None),
    )
    .await;
    let action = task.info.actions[0].name.clone();
    step(
        "complete",
        e.complete(
            &admin,
            &task.id,
            Completion {
                action,
                comment: Some("Done".into()),
                variables: Default::default(),
            },
        ),
    )
    .await;
}
