//! Real faults between the gateway and its remote engines (Alfresco and CQ simulators on
//! loopback): slow, failing, malformed, refused and dropped upstreams, the circuit
//! breaker opening and closing, writes never repeated after a timeout, the concurrency
//! limit. Every test is bounded and stops its own servers.

#[path = "common/mod.rs"]
mod common;
mod routing_sims;

use std::time::{Duration, Instant};

use flowgate::settings::{Settings, Sources};
use flowgate::AppState;
use flowgate_alfresco::sim::{Fault, FaultKind};
use flowgate_cq::sim::{Fault as CqFault, FaultAction};
use serde_json::{json, Value};

use routing_sims::{bounded, entry_ids, id, timed_get, ThreeEngines, Tuning, ALF_DOC_PATH};

const MY_TASKS: &str = "/api/v1/task?userId=jdoe&isPaginated=true&pageSize=10";

fn failures(v: &Value) -> Vec<(String, String)> {
    v["engineFailures"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| {
                    (
                        f["engine"].as_str().unwrap_or_default().to_owned(),
                        f["code"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[actix_web::test]
async fn killed_cq_leaves_the_other_engines_tasks_and_a_failure_note_then_fails_fast() {
    bounded(90, async {
        let mut env = ThreeEngines::start(&Tuning::default()).await;
        let (local, alf, cq) = env.one_review_each().await;
        let cq_task = id(&env.gw.only_task("jdoe", &cq).await);
        let (r, healthy) = timed_get(&env.gw, MY_TASKS, "jdoe").await;
        assert_eq!(r.expect(200).json()["resultsCount"], 3);

        env.kill_cq().await;
        let (r, first) = timed_get(&env.gw, MY_TASKS, "jdoe").await;
        let r = r.expect(200);
        let note = r
            .headers
            .get("x-flowgate-engine-failures")
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert_eq!(note, "aem=unavailable");
        let v = r.json();
        assert_eq!(
            failures(&v),
            vec![("aem".to_owned(), "unavailable".to_owned())]
        );
        assert_eq!(v["resultsCount"], 2, "{v}");
        let wfs: Vec<&str> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["workflowInstanceId"].as_str().unwrap())
            .collect();
        assert!(
            wfs.contains(&local.as_str()) && wfs.contains(&alf.as_str()),
            "{wfs:?}"
        );
        assert!(
            first < Duration::from_secs(2),
            "a refused engine costs {first:?}, not the 8 s request timeout"
        );

        // Drive the breaker open, then measure requests routed to CQ alone.
        for _ in 0..3 {
            env.gw.get(MY_TASKS, "jdoe").await.expect(200);
        }
        let ready = env.gw.get("/health/ready", "jdoe").await.expect(200).json();
        let aem = ready["engines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["engine"] == "aem")
            .cloned()
            .unwrap();
        assert_eq!(aem["breaker"], "open", "{ready}");
        assert_eq!(aem["status"], "down");
        let mut routed = Vec::new();
        for _ in 0..20 {
            let (r, took) = timed_get(&env.gw, &format!("/api/v1/task/{cq_task}"), "jdoe").await;
            r.expect_exception(503);
            routed.push(took);
        }
        routed.sort();
        let median = routed[routed.len() / 2];
        let (r, fanout_open) = timed_get(&env.gw, MY_TASKS, "jdoe").await;
        assert_eq!(r.expect(200).json()["resultsCount"], 2);
        eprintln!(
            "fail-fast: healthy list {healthy:?}; first list with CQ refused {first:?}; \
             GET /task/cq~… with the breaker open: median {median:?}, max {:?}; \
             list with the breaker open {fanout_open:?}",
            routed[routed.len() - 1]
        );
        assert!(
            median < Duration::from_millis(50),
            "an open breaker answers in {median:?}"
        );
    })
    .await;
}

#[actix_web::test]
async fn breaker_opens_then_a_probe_after_the_cool_down_closes_it() {
    bounded(60, async {
        let mut env = ThreeEngines::start(&Tuning::default()).await;
        env.kill_cq().await;
        for _ in 0..3 {
            env.gw.get(MY_TASKS, "jdoe").await.expect(200);
        }
        let breaker = |v: &Value| {
            v["engines"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["engine"] == "aem")
                .map(|e| e["breaker"].as_str().unwrap_or_default().to_owned())
                .unwrap_or_default()
        };
        let v = env.gw.get("/health/ready", "jdoe").await.expect(200).json();
        assert_eq!(breaker(&v), "open");
        env.revive_cq().await;
        tokio::time::sleep(Duration::from_millis(700)).await;
        let r = env.gw.get(MY_TASKS, "jdoe").await.expect(200);
        assert!(
            r.headers.get("x-flowgate-engine-failures").is_none(),
            "{}",
            r.text()
        );
        let v = env.gw.get("/health/ready", "jdoe").await.expect(200).json();
        assert_eq!(breaker(&v), "closed", "{v}");
        assert_eq!(v["status"], "ready");
    })
    .await;
}

#[actix_web::test]
async fn a_slow_engine_misses_its_own_deadline_and_the_others_still_answer() {
    bounded(60, async {
        let t = Tuning {
            fanout_timeout_ms: 400,
            ..Tuning::default()
        };
        let env = ThreeEngines::start(&t).await;
        let (local, _, cq) = env.one_review_each().await;
        env.alf.fault(Fault::on(
            "/tasks",
            FaultKind::Delay(Duration::from_secs(3)),
        ));
        let (r, took) = timed_get(&env.gw, MY_TASKS, "jdoe").await;
        let v = r.expect(200).json();
        assert_eq!(failures(&v), vec![("alf".to_owned(), "timeout".to_owned())]);
        assert_eq!(v["resultsCount"], 2);
        let wfs: Vec<&str> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["workflowInstanceId"].as_str().unwrap())
            .collect();
        assert!(wfs.contains(&local.as_str()) && wfs.contains(&cq.as_str()));
        assert!(
            took < Duration::from_millis(1_500),
            "deadline honoured: {took:?}"
        );
    })
    .await;
}

#[actix_web::test]
async fn upstream_500s_malformed_and_dropped_answers_are_reported_per_engine() {
    bounded(60, async {
        let t = Tuning {
            breaker_failures: 0,
            ..Tuning::default()
        };
        let env = ThreeEngines::start(&t).await;
        env.one_review_each().await;
        // CQ answers 500 to every read.
        env.cq()
            .add_fault(CqFault::on("GET", "/", FaultAction::Status(500)));
        let v = env.gw.get(MY_TASKS, "jdoe").await.expect(200).json();
        assert_eq!(
            failures(&v),
            vec![("aem".to_owned(), "upstream".to_owned())]
        );
        assert_eq!(v["resultsCount"], 2);
        env.cq().clear_faults();

        // Alfresco answers truncated JSON.
        env.alf.fault(Fault::on("/tasks", FaultKind::MalformedJson));
        let v = env.gw.get(MY_TASKS, "jdoe").await.expect(200).json();
        assert_eq!(
            failures(&v),
            vec![("alf".to_owned(), "upstream".to_owned())]
        );
        env.alf.clear_faults();

        // CQ drops the connection in the middle of its answers.
        env.cq()
            .add_fault(CqFault::on("GET", "/", FaultAction::DropMidBody));
        let v = env.gw.get(MY_TASKS, "jdoe").await.expect(200).json();
        assert_eq!(
            failures(&v),
            vec![("aem".to_owned(), "upstream".to_owned())]
        );
        assert_eq!(v["resultsCount"], 2);
        env.cq().clear_faults();

        // Alfresco closes the connection without answering.
        env.alf
            .fault(Fault::on("/tasks", FaultKind::DropConnection));
        let v = env.gw.get(MY_TASKS, "jdoe").await.expect(200).json();
        assert_eq!(
            failures(&v),
            vec![("alf".to_owned(), "upstream".to_owned())]
        );
        env.alf.clear_faults();

        let v = env.gw.get(MY_TASKS, "jdoe").await.expect(200).json();
        assert!(failures(&v).is_empty());
        assert_eq!(v["resultsCount"], 3);
    })
    .await;
}

#[actix_web::test]
async fn a_timed_out_completion_is_a_504_and_is_never_sent_twice() {
    bounded(60, async {
        let t = Tuning {
            gateway_timeout_ms: 800,
            fanout_timeout_ms: 800,
            ..Tuning::default()
        };
        let env = ThreeEngines::start(&t).await;
        let (_, alf, cq) = env.one_review_each().await;
        let alf_task = id(&env.gw.only_task("jdoe", &alf).await);
        let cq_task = id(&env.gw.only_task("jdoe", &cq).await);

        env.alf
            .fault(Fault::on("/tasks/", FaultKind::Delay(Duration::from_secs(2))).method("PUT"));
        env.alf.clear_requests();
        let started = Instant::now();
        env.gw
            .complete("jdoe", &alf_task, "approve", json!({}))
            .await
            .expect_exception(504);
        assert!(started.elapsed() < Duration::from_millis(1_500));

        env.cq().add_fault(CqFault::on(
            "POST",
            "/bin/workflow/inbox",
            FaultAction::Delay(Duration::from_secs(2)),
        ));
        env.cq().clear_requests();
        env.gw
            .complete("jdoe", &cq_task, "Approve", json!({}))
            .await
            .expect_exception(504);

        // Let the delayed writes land, then count them.
        tokio::time::sleep(Duration::from_millis(2_500)).await;
        assert_eq!(env.alf.count("PUT", &alf_task["alf~".len()..]), 1);
        let cq_posts = env
            .cq()
            .requests()
            .iter()
            .filter(|r| r.method == "POST" && r.path.contains("/bin/workflow/inbox"))
            .count();
        assert_eq!(cq_posts, 1, "the completion was sent exactly once");
        assert!(env
            .alf
            .open_tasks(&alf["alf~".len()..])
            .iter()
            .all(|t| *t != alf_task["alf~".len()..]));
    })
    .await;
}

#[actix_web::test]
async fn the_engine_concurrency_limit_queues_calls_beyond_it() {
    bounded(60, async {
        let t = Tuning {
            cq_concurrency: 1,
            ..Tuning::default()
        };
        let env = ThreeEngines::start(&t).await;
        let (_, _, cq) = env.one_review_each().await;
        env.cq().add_fault(CqFault::on(
            "GET",
            "/var/workflow/instances",
            FaultAction::Delay(Duration::from_millis(150)),
        ));
        let path = format!("/api/v1/workflow/{cq}");
        let started = Instant::now();
        env.gw.get(&path, "Administrator").await.expect(200);
        let one = started.elapsed();
        let started = Instant::now();
        let calls = (0..4).map(|_| env.gw.get(&path, "Administrator"));
        for r in futures::future::join_all(calls).await {
            r.expect(200);
        }
        let four = started.elapsed();
        // One upstream call at a time: four concurrent reads take about four times one
        // read (without the limit they would overlap and take about one).
        assert!(
            four >= one * 3,
            "one read {one:?}, four concurrent reads {four:?}"
        );
    })
    .await;
}

#[actix_web::test]
async fn when_every_engine_fails_the_list_is_a_503_and_ready_is_503() {
    bounded(60, async {
        let alf = flowgate_alfresco::sim::Sim::spawn(Default::default()).expect("sim");
        let cq = flowgate_cq::sim::spawn(flowgate_cq::Profile::Aem64To65)
            .await
            .expect("sim");
        let t = Tuning::default();
        let toml = format!(
            "{}{}{}\n[engines.alf]\ndefault = true\n{}",
            routing_sims::gateway_toml(&t),
            routing_sims::cq_toml(&cq.base_url(), &t),
            routing_sims::users_only_toml(),
            routing_sims::alf_toml(&alf.base_url, &t).replacen("[engines.alf]\n", "", 1),
        );
        let mut settings = Settings::load(&Sources::from_toml(toml)).expect("settings");
        settings.server.bind = "127.0.0.1:0".into();
        let running = flowgate::spawn(AppState::new(settings).expect("state"))
            .await
            .expect("gateway");
        let base = format!("http://{}", running.addr);
        alf.stop();
        cq.stop().await;
        let client = reqwest::Client::new();
        let r = client
            .get(format!("{base}/api/v1/task?userId=jdoe"))
            .basic_auth("jdoe", Some("jdoe"))
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status().as_u16(), 503);
        let v: Value = r.json().await.expect("json");
        assert_eq!(v["entity-type"], "exception");
        let r = client
            .get(format!("{base}/health/ready"))
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status().as_u16(), 503);
        let r = client
            .get(format!("{base}/health/live"))
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status().as_u16(), 200);
        running.stop().await;
    })
    .await;
}

#[actix_web::test]
async fn health_endpoints_need_no_credentials_and_report_every_engine() {
    bounded(30, async {
        let env = ThreeEngines::start(&Tuning::default()).await;
        let r = env
            .gw
            .call(actix_web::http::Method::GET, "/health/live", None, None)
            .await
            .expect(200);
        assert_eq!(r.json()["status"], "live");
        let v = env
            .gw
            .call(actix_web::http::Method::GET, "/health/ready", None, None)
            .await
            .expect(200)
            .json();
        assert_eq!(v["status"], "ready");
        let names: Vec<&str> = v["engines"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["engine"].as_str().unwrap())
            .collect();
        assert_eq!(names, vec!["aem", "alf", "local"]);
        assert!(
            v["engines"]
                .as_array()
                .unwrap()
                .iter()
                .all(|e| e["status"] == "up"),
            "{v}"
        );
        let _ = (entry_ids, ALF_DOC_PATH);
    })
    .await;
}

#[actix_web::test]
async fn a_hanging_engine_costs_its_deadline_until_the_breaker_opens_then_nothing() {
    bounded(90, async {
        let t = Tuning {
            // A deadline long enough that "fails fast" stays distinguishable from "waited for
            // the deadline" on a loaded machine.
            fanout_timeout_ms: 1_200,
            max_attempts: 1,
            breaker_cooldown_ms: 30_000,
            ..Tuning::default()
        };
        let env = ThreeEngines::start(&t).await;
        env.one_review_each().await;
        // CQ accepts connections but never answers in time.
        env.cq().add_fault(CqFault::on(
            "*",
            "/",
            FaultAction::Delay(Duration::from_secs(20)),
        ));
        let mut before_open = Vec::new();
        for _ in 0..3 {
            let (r, took) = timed_get(&env.gw, MY_TASKS, "jdoe").await;
            let v = r.expect(200).json();
            assert_eq!(v["resultsCount"], 2);
            assert_eq!(failures(&v), vec![("aem".to_owned(), "timeout".to_owned())]);
            before_open.push(took);
        }
        assert!(
            before_open[0] >= Duration::from_millis(1_200),
            "{before_open:?}"
        );
        let mut after_open = Vec::new();
        for _ in 0..5 {
            let (r, took) = timed_get(&env.gw, MY_TASKS, "jdoe").await;
            let v = r.expect(200).json();
            assert_eq!(v["resultsCount"], 2);
            assert_eq!(
                failures(&v),
                vec![("aem".to_owned(), "unavailable".to_owned())]
            );
            after_open.push(took);
        }
        eprintln!(
            "hanging CQ: task list {before_open:?} until the breaker opened, then {after_open:?}"
        );
        assert!(
            after_open.iter().all(|d| *d < Duration::from_millis(600)),
            "{after_open:?}"
        );
    })
    .await;
}
