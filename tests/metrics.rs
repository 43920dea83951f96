//! `/metrics`: after real traffic through the gateway (the embedded engine and both remote
//! engines on their simulators), the Prometheus text carries the request, engine and
//! embedded-engine series, labelled by route template and never by id.

#[path = "common/mod.rs"]
mod common;
mod routing_sims;

use actix_web::http::Method;
use common::TestGateway;
use routing_sims::{bounded, ThreeEngines, Tuning};

/// Lines of the text format whose series name is `name` (labels included).
fn series<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter(|l| {
            l.strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
        })
        .collect()
}

/// The value of the sample `name{labels}` (labels written exactly as in the output).
fn value(text: &str, name_and_labels: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name_and_labels))
        .and_then(|rest| rest.trim().parse().ok())
}

#[actix_web::test]
async fn metrics_show_requests_engines_and_embedded_counts_after_traffic() {
    bounded(60, async {
        let three = ThreeEngines::start(&Tuning::default()).await;
        let gw = &three.gw;
        let (local, _alf, _cq) = three.one_review_each().await;
        let task = gw.only_task("jdoe", &local).await;
        let task_id = task["id"].as_str().expect("task id").to_owned();
        gw.get(&format!("/api/v1/task/{task_id}"), "jdoe")
            .await
            .expect(200);
        gw.get("/api/v1/task?userId=jdoe", "jdoe").await.expect(200);
        gw.get("/api/v1/no/such/thing", "jdoe")
            .await
            .expect_exception(404);

        let r = gw.call(Method::GET, "/metrics", None, None).await.expect(200);
        assert!(r
            .content_type()
            .is_some_and(|c| c.starts_with("text/plain; version=0.0.4")));
        let text = r.text();

        // Requests, by route template.
        let by_id = "flowgate_http_requests_total{method=\"GET\",route=\"/api/v1/task/{id}\",status=\"200\"}";
        assert!(value(&text, by_id).is_some_and(|v| v >= 1.0), "{text}");
        assert!(
            value(
                &text,
                "flowgate_http_requests_total{method=\"POST\",route=\"/api/v1/workflow\",status=\"201\"}"
            )
            .is_some_and(|v| v >= 1.0),
            "{text}"
        );
        assert!(text.contains("route=\"unmatched\",status=\"404\""), "{text}");
        assert!(!text.contains(&task_id), "a task id leaked into a label");
        assert!(!text.contains(&local), "a workflow id leaked into a label");
        assert!(
            text.contains("# TYPE flowgate_http_request_duration_seconds histogram"),
            "{text}"
        );
        assert!(
            !series(&text, "flowgate_http_request_duration_seconds_bucket").is_empty(),
            "{text}"
        );
        assert!(text.contains("le=\"0.005\""), "buckets: {text}");
        // The scrape itself is in flight while it renders (other tests of this binary
        // may add theirs: the recorder is per process).
        let in_flight = series(&text, "flowgate_http_requests_in_flight");
        assert_eq!(in_flight.len(), 1, "{text}");
        let n: f64 = in_flight[0]
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        assert!(n >= 1.0, "{text}");

        // Remote engines, from the shared HTTP client.
        for engine in ["alf", "aem"] {
            let calls = series(&text, "flowgate_engine_calls_total");
            assert!(
                calls
                    .iter()
                    .any(|l| l.contains(&format!("engine=\"{engine}\"")) && l.contains("outcome=\"ok\"")),
                "{engine}: {calls:?}"
            );
            assert!(
                series(&text, "flowgate_engine_call_duration_seconds_bucket")
                    .iter()
                    .any(|l| l.contains(&format!("engine=\"{engine}\""))),
                "{text}"
            );
            assert_eq!(
                value(&text, &format!("flowgate_breaker_open{{engine=\"{engine}\"}}")),
                Some(0.0),
                "{text}"
            );
        }

        // The embedded engine of this gateway: one running review with one open task.
        assert_eq!(
            value(&text, "flowgate_workflows_running{engine=\"local\"}"),
            Some(1.0),
            "{text}"
        );
        assert_eq!(
            value(&text, "flowgate_tasks_open{engine=\"local\"}"),
            Some(1.0),
            "{text}"
        );
    })
    .await;
}

#[actix_web::test]
async fn embedded_counts_follow_the_workflows() {
    let gw = TestGateway::new().await;
    let scrape = |text: String, name: &str| value(&text, &format!("{name}{{engine=\"local\"}}"));
    let text = gw
        .call(Method::GET, "/metrics", None, None)
        .await
        .expect(200)
        .text();
    assert_eq!(scrape(text, "flowgate_workflows_running"), Some(0.0));
    let wf = gw.start("jdoe", "SerialDocumentReview", None).await;
    let id = wf["id"].as_str().expect("id").to_owned();
    let text = gw
        .call(Method::GET, "/metrics", None, None)
        .await
        .expect(200)
        .text();
    assert_eq!(
        scrape(text.clone(), "flowgate_workflows_running"),
        Some(1.0)
    );
    assert_eq!(scrape(text, "flowgate_tasks_open"), Some(1.0));
    gw.delete(&format!("/api/v1/workflow/{id}"), "jdoe")
        .await
        .expect(204);
    let text = gw
        .call(Method::GET, "/metrics", None, None)
        .await
        .expect(200)
        .text();
    assert_eq!(
        scrape(text.clone(), "flowgate_workflows_running"),
        Some(0.0)
    );
    assert_eq!(scrape(text, "flowgate_tasks_open"), Some(0.0));
}

#[actix_web::test]
async fn metrics_can_be_turned_off() {
    let gw = TestGateway::with("[metrics]\nenabled = false\n").await;
    gw.call(Method::GET, "/metrics", None, None)
        .await
        .expect_exception(404);
}
