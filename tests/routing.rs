//! Several engines behind one gateway: the embedded engine (default) plus Alfresco and
//! CQ simulators on loopback. Id, document and model routing, fan-out with gateway
//! paging, and refusal of hostile ids and paths before any upstream call.

#[path = "common/mod.rs"]
mod common;
mod routing_sims;

use actix_web::test::TestRequest;
use serde_json::json;

use common::{basic, TestGateway};
use routing_sims::{bounded, entry_ids, id, ThreeEngines, Tuning, ALF_DOC_PATH, CQ_DOC_PATH};

#[actix_web::test]
async fn one_task_list_spans_all_three_engines_with_correct_totals_and_paging() {
    bounded(60, async {
        let env = ThreeEngines::start(&Tuning::default()).await;
        let (local, alf, cq) = env.one_review_each().await;
        assert!(!local.contains('~'), "{local}");
        assert!(alf.starts_with("alf~"), "{alf}");
        assert!(cq.starts_with("cq~"), "{cq}");

        let r = env
            .gw
            .get(
                "/api/v1/task?userId=jdoe&isPaginated=true&pageSize=10",
                "jdoe",
            )
            .await
            .expect(200);
        assert!(r.headers.get("x-flowgate-engine-failures").is_none());
        let v = r.json();
        assert_eq!(v["resultsCount"], 3, "{v}");
        assert!(v.get("engineFailures").is_none());
        let all = entry_ids(&v);
        assert_eq!(all.len(), 3);
        let wf_of: Vec<String> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["workflowInstanceId"].as_str().unwrap().to_owned())
            .collect();
        for wf in [&local, &alf, &cq] {
            assert!(wf_of.contains(wf), "{wf} missing in {wf_of:?}");
        }

        // Pages of two: same total, disjoint, together the whole list in the same order.
        let p0 = env
            .gw
            .get(
                "/api/v1/task?userId=jdoe&isPaginated=true&pageSize=2",
                "jdoe",
            )
            .await
            .expect(200)
            .json();
        let p1 = env
            .gw
            .get(
                "/api/v1/task?userId=jdoe&isPaginated=true&pageSize=2&currentPageIndex=1",
                "jdoe",
            )
            .await
            .expect(200)
            .json();
        assert_eq!(p0["resultsCount"], 3);
        assert_eq!(p1["resultsCount"], 3);
        assert_eq!(p0["numberOfPages"], 2);
        let mut paged = entry_ids(&p0);
        paged.extend(entry_ids(&p1));
        assert_eq!(
            paged, all,
            "pages concatenate to the full, stably ordered list"
        );

        // Every id reaches its own engine for reads.
        for t in &all {
            let got = env
                .gw
                .get(&format!("/api/v1/task/{t}"), "jdoe")
                .await
                .expect(200);
            assert_eq!(id(&got.json()), *t);
        }
        // My workflows: bob's Alfresco start only.
        let mine = env
            .gw
            .get("/api/v1/workflow", "bob")
            .await
            .expect(200)
            .json();
        assert_eq!(entry_ids(&mine), vec![alf.clone()]);
    })
    .await;
}

#[actix_web::test]
async fn remote_task_completion_routes_by_prefix_and_reaches_only_its_engine() {
    bounded(60, async {
        let env = ThreeEngines::start(&Tuning::default()).await;
        let (_, alf, cq) = env.one_review_each().await;
        let alf_task = id(&env.gw.only_task("jdoe", &alf).await);
        let cq_task = id(&env.gw.only_task("jdoe", &cq).await);
        env.cq().clear_requests();
        env.gw
            .complete("jdoe", &alf_task, "approve", json!({}))
            .await
            .expect(200);
        assert!(
            env.cq().requests().is_empty(),
            "an Alfresco completion must not ask CQ anything"
        );
        env.alf.clear_requests();
        env.gw
            .complete("jdoe", &cq_task, "Approve", json!({}))
            .await
            .expect(200);
        assert!(
            env.alf.requests().is_empty(),
            "a CQ completion must not ask Alfresco"
        );
        let w = env
            .gw
            .get(&format!("/api/v1/workflow/{cq}"), "Administrator")
            .await;
        assert_eq!(w.expect(200).json()["id"], cq.as_str());
    })
    .await;
}

#[actix_web::test]
async fn an_id_naming_no_engine_is_a_404_without_any_upstream_call() {
    bounded(30, async {
        let env = ThreeEngines::start(&Tuning::default()).await;
        env.alf.clear_requests();
        env.cq().clear_requests();
        for path in [
            "/api/v1/task/nope~123",
            "/api/v1/workflow/nope~123",
            "/api/v1/workflowModel/nope~SerialDocumentReview",
        ] {
            env.gw.get(path, "jdoe").await.expect_exception(404);
        }
        env.gw
            .put(
                "/api/v1/task/nope~1/approve",
                "jdoe",
                Some(&json!({"entity-type": "task"})),
            )
            .await
            .expect_exception(404);
        assert!(env.alf.requests().is_empty());
        assert!(env.cq().requests().is_empty());
    })
    .await;
}

#[actix_web::test]
async fn document_paths_route_by_longest_mount_and_document_ids_by_prefix() {
    bounded(60, async {
        let env = ThreeEngines::start(&Tuning::default()).await;
        let (_, alf, cq) = env.one_review_each().await;
        // /path/alfresco/... reaches Alfresco with the mount removed.
        let v = env
            .gw
            .get(&format!("{ALF_DOC_PATH}/@workflow"), "bob")
            .await
            .expect(200)
            .json();
        assert_eq!(entry_ids(&v), vec![alf.clone()]);
        // /path/content/... reaches CQ with the JCR path intact.
        let v = env
            .gw
            .get(&format!("{CQ_DOC_PATH}/@workflow"), "Administrator")
            .await
            .expect(200)
            .json();
        assert_eq!(entry_ids(&v), vec![cq.clone()]);
        // Attached document ids carry their engine and route back by prefix.
        let w = env
            .gw
            .get(&format!("/api/v1/workflow/{alf}"), "bob")
            .await
            .expect(200)
            .json();
        let doc = w["attachedDocumentIds"][0]["id"]
            .as_str()
            .or_else(|| w["attachedDocumentIds"][0].as_str())
            .expect("attached document")
            .to_owned();
        assert!(doc.starts_with("alf~"), "{doc}");
        let v = env
            .gw
            .get(&format!("/api/v1/id/{doc}/@workflow"), "bob")
            .await
            .expect(200)
            .json();
        assert_eq!(entry_ids(&v), vec![alf]);
        // Anything else is the default engine's: an untouched document has no workflows.
        let v = env
            .gw
            .get("/api/v1/id/some-local-doc/@workflow", "bob")
            .await
            .expect(200)
            .json();
        assert_eq!(entry_ids(&v), Vec::<String>::new());
    })
    .await;
}

/// A second embedded engine with the same models as the default one.
async fn twin_engines() -> TestGateway {
    let extra = format!(
        "[engines.archive]\nkind = \"memory\"\nmodels_dir = \"{}/config/models\"\nid_prefix = \"arc\"\n",
        env!("CARGO_MANIFEST_DIR")
    );
    TestGateway::with(&extra).await
}

#[actix_web::test]
async fn a_model_name_in_two_engines_is_qualified_and_the_plain_name_stays_default() {
    let gw = twin_engines().await;
    let names: Vec<String> = gw
        .get("/api/v1/workflowModel", "jdoe")
        .await
        .expect(200)
        .json()["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        vec![
            "ParallelDocumentReview",
            "SerialDocumentReview",
            "arc~ParallelDocumentReview",
            "arc~SerialDocumentReview"
        ]
    );
    let m = gw
        .get("/api/v1/workflowModel/arc~SerialDocumentReview", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(m["name"], "arc~SerialDocumentReview");
    gw.get(
        "/api/v1/workflowModel/arc~SerialDocumentReview/graph",
        "jdoe",
    )
    .await
    .expect(200);
    let plain = gw.start("jdoe", "SerialDocumentReview", None).await;
    assert!(!id(&plain).contains('~'));
    let qualified = gw.start("jdoe", "arc~SerialDocumentReview", None).await;
    assert!(id(&qualified).starts_with("arc~"), "{qualified}");
    // A qualified model filter asks only its engine.
    let t = gw
        .get(
            "/api/v1/task?userId=jdoe&workflowModelName=arc~SerialDocumentReview",
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    let wfs: Vec<&str> = t["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["workflowInstanceId"].as_str().unwrap())
        .collect();
    assert_eq!(wfs, vec![id(&qualified).as_str()]);
}

#[actix_web::test]
async fn a_prefixed_document_picks_its_engine_and_an_unknown_prefix_is_a_404() {
    let gw = twin_engines().await;
    let r = gw
        .post(
            "/api/v1/id/arc~doc-1/@workflow",
            "jdoe",
            &json!({"entity-type": "workflow", "workflowModelName": "SerialDocumentReview"}),
        )
        .await
        .expect(201)
        .json();
    assert!(
        id(&r).starts_with("arc~"),
        "the document's engine is asked first: {r}"
    );
    gw.post(
        "/api/v1/workflow",
        "jdoe",
        &json!({"entity-type": "workflow", "workflowModelName": "arc~SerialDocumentReview",
                "attachedDocumentIds": ["other~doc"]}),
    )
    .await
    .expect_exception(404);
}

/// Ids and paths that must never reach an upstream, as raw request paths.
fn hostile_ids(prefix: &str) -> Vec<String> {
    let long = "a".repeat(600);
    [
        "..",
        ".",
        "a%2F..%2F..%2Fetc",
        "..%2F..%2Fapi",
        "a%5C..%5Cb",
        "http:%2F%2Fevil.example%2Fx",
        "x%0D%0AHost:%20evil",
        "x%00y",
        "a%252Fb",
        "a%3Fb",
        long.as_str(),
    ]
    .iter()
    .map(|s| format!("{prefix}~{s}"))
    .collect()
}

#[actix_web::test]
async fn hostile_ids_and_paths_are_refused_before_any_upstream_call() {
    bounded(60, async {
        let env = ThreeEngines::start(&Tuning::default()).await;
        env.alf.clear_requests();
        env.cq().clear_requests();
        for prefix in ["alf", "cq"] {
            for bad in hostile_ids(prefix) {
                for (method, path) in [
                    ("GET", format!("/api/v1/task/{bad}")),
                    ("GET", format!("/api/v1/workflow/{bad}")),
                    ("DELETE", format!("/api/v1/workflow/{bad}")),
                    ("PUT", format!("/api/v1/task/{bad}/approve")),
                    ("GET", format!("/api/v1/id/{bad}/@task")),
                    ("GET", format!("/api/v1/task?workflowInstanceId={bad}")),
                ] {
                    let req = TestRequest::default()
                        .method(method.parse().unwrap())
                        .uri(&path)
                        .insert_header(("authorization", basic("Administrator")))
                        .insert_header(("content-type", "application/json"))
                        .set_payload(r#"{"entity-type":"task"}"#);
                    let r = env.gw.send(req).await;
                    assert!(
                        matches!(r.status.as_u16(), 400 | 404),
                        "{method} {path}: {} {}",
                        r.status,
                        r.text()
                    );
                }
            }
        }
        for path in [
            "/api/v1/path/alfresco/Sites/%2E%2E/%2E%2E/x/@workflow",
            "/api/v1/path/alfresco/Sites/a%2F..%2Fb/@task",
            "/api/v1/path/alfresco/Sites/x%0D%0Ay/@workflow",
            "/api/v1/path/alfresco/Sites/a%5C..%5Cb/@workflow",
            "/api/v1/path/alfresco/Sites/a%252Fb/@workflow",
            "/api/v1/path/content/a/%2E%2E/%2E%2E/etc/@workflow",
            "/api/v1/path/content/x%0D%0AHost:%20evil/@task",
            "/api/v1/path/content/a%2F..%2F..%2Fapps/@workflow",
            "/api/v1/path/content/a%3Fb=c/@workflow",
        ] {
            let r = env.gw.get(path, "Administrator").await;
            assert!(
                matches!(r.status.as_u16(), 400 | 404),
                "{path}: {} {}",
                r.status,
                r.text()
            );
        }
        let long_path = format!("/api/v1/path/content/{}/@workflow", "a/".repeat(1500));
        let r = env.gw.get(&long_path, "Administrator").await;
        assert_eq!(r.status.as_u16(), 400, "{}", r.text());
        assert!(
            env.alf.requests().is_empty(),
            "Alfresco was called: {:?}",
            env.alf.requests()
        );
        assert!(
            env.cq().requests().is_empty(),
            "CQ was called: {:?}",
            env.cq()
                .requests()
                .iter()
                .map(|r| r.raw_path.clone())
                .collect::<Vec<_>>()
        );
    })
    .await;
}

#[actix_web::test]
async fn hostile_remote_ids_get_a_400_exception() {
    bounded(30, async {
        let env = ThreeEngines::start(&Tuning::default()).await;
        for prefix in ["alf", "cq"] {
            for bad in ["a%2F..%2Fb", "x%0D%0Ay", "http:%2F%2Fevil", ".."] {
                env.gw
                    .get(&format!("/api/v1/task/{prefix}~{bad}"), "jdoe")
                    .await
                    .expect_exception(400);
            }
            env.gw
                .get(
                    &format!("/api/v1/task/{prefix}~{}", "b".repeat(600)),
                    "jdoe",
                )
                .await
                .expect_exception(400);
        }
    })
    .await;
}

#[test]
fn the_example_configuration_parses_with_every_key_known() {
    let sources = flowgate::settings::Sources {
        file: Some(concat!(env!("CARGO_MANIFEST_DIR"), "/config/example.toml").into()),
        toml: None,
        env: Some(Default::default()),
    };
    match flowgate::settings::Settings::load(&sources) {
        Ok(s) => {
            assert_eq!(s.engines.len(), 3);
            assert_eq!(s.routing.fanout_timeout_ms, 3000);
        }
        // Only the service passwords, read from the process environment, may be missing.
        Err(flowgate::settings::SettingsError::Invalid(problems)) => {
            assert!(problems.iter().all(|p| p.contains(".auth")), "{problems:?}");
        }
        Err(e) => panic!("example configuration does not load: {e}"),
    }
}

#[actix_web::test]
async fn a_passthrough_engine_receives_the_callers_own_credentials() {
    bounded(60, async {
        let alf = flowgate_alfresco::sim::Sim::spawn(Default::default()).expect("sim");
        let t = Tuning::default();
        let extra = format!(
            "{}{}",
            routing_sims::gateway_toml(&t),
            routing_sims::alf_toml(&alf.base_url, &t).replace(
                "mode = \"basic\"\nuser = \"admin\"\npassword = \"admin\"\n",
                "mode = \"passthrough\"\n"
            )
        );
        let gw = TestGateway::with(&extra).await;
        // bob starts as bob (Alfresco knows bob/bob as the gateway does), for jdoe.
        let w = gw
            .post(
                &format!("{ALF_DOC_PATH}/@workflow"),
                "bob",
                &json!({"entity-type": "workflow", "workflowModelName": "activitiReview",
                        "variables": {"assignee": "jdoe"}}),
            )
            .await
            .expect(201)
            .json();
        let wf = id(&w);
        assert!(wf.starts_with("alf~"));
        let v = gw
            .get("/api/v1/task?userId=jdoe", "jdoe")
            .await
            .expect(200)
            .json();
        assert!(v.get("engineFailures").is_none(), "{v}");
        let tasks: Vec<String> = v["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["workflowInstanceId"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(tasks, vec![wf]);
        // eve exists in the gateway only: Alfresco refuses her own credentials, the
        // embedded engine still answers.
        let r = gw.get("/api/v1/task?userId=eve", "eve").await.expect(200);
        let v = r.json();
        assert_eq!(v["engineFailures"][0]["engine"], "alf", "{v}");
        assert!(!r.text().contains("eve:eve"));
        alf.stop();
    })
    .await;
}

#[actix_web::test]
async fn hostile_document_references_in_a_start_body_never_start_anything() {
    bounded(60, async {
        let env = ThreeEngines::start(&Tuning::default()).await;
        for (model, vars) in [
            ("activitiReview", json!({"assignee": "jdoe"})),
            ("flowgate/review", json!({})),
        ] {
            for bad in [
                "../../etc/passwd",
                "http://evil.example/x",
                "a\r\nHost: evil",
                "/content/../apps",
            ] {
                let r = env
                    .gw
                    .post(
                        "/api/v1/workflow",
                        "Administrator",
                        &json!({"entity-type": "workflow", "workflowModelName": model,
                                "attachedDocumentIds": [bad], "variables": vars}),
                    )
                    .await;
                assert!(
                    matches!(r.status.as_u16(), 400 | 404),
                    "{model} {bad:?}: {} {}",
                    r.status,
                    r.text()
                );
            }
        }
        assert_eq!(env.alf.count("POST", "/processes"), 0);
        assert!(
            !env.cq().requests().iter().any(|r| r.method == "POST"),
            "CQ received a POST"
        );
    })
    .await;
}
