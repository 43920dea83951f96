//! `POST /api/v1/admin/purge` and the engine kind names, through the real HTTP interface.

use actix_web::http::Method;
use serde_json::json;

use crate::common::TestGateway;

const FUTURE: &str = "2999-01-01T00:00:00Z";
const PAST: &str = "2000-01-01T00:00:00Z";

fn purge_path(date: &str) -> String {
    format!(
        "/api/v1/admin/purge?endedBefore={}",
        date.replace('+', "%2B")
    )
}

#[actix_web::test]
async fn admins_purge_ended_workflows_and_running_ones_stay() {
    let gw = TestGateway::new().await;
    let ended = gw.start("jdoe", "SerialDocumentReview", None).await;
    let ended_id = ended["id"].as_str().unwrap().to_owned();
    let ended_task = gw.only_task("jdoe", &ended_id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    gw.delete(&format!("/api/v1/workflow/{ended_id}"), "jdoe")
        .await
        .expect(204);
    let running = gw.start("jdoe", "SerialDocumentReview", None).await;
    let running_id = running["id"].as_str().unwrap().to_owned();

    // Nothing ended before 2000.
    let r = gw
        .post(&purge_path(PAST), "Administrator", &json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(r["entity-type"], "workflowPurge");
    assert_eq!(r["purged"], 0);
    gw.get(&format!("/api/v1/workflow/{ended_id}"), "jdoe")
        .await
        .expect(200);

    let r = gw
        .post(&purge_path(FUTURE), "Administrator", &json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(r["purged"], 1, "{r}");
    assert_eq!(r["engines"], json!([{"engine": "local", "purged": 1}]));
    assert_eq!(r["endedBefore"], FUTURE);
    gw.get(&format!("/api/v1/workflow/{ended_id}"), "jdoe")
        .await
        .expect_exception(404);
    gw.get(&format!("/api/v1/task/{ended_task}"), "jdoe")
        .await
        .expect_exception(404);
    let w = gw
        .get(&format!("/api/v1/workflow/{running_id}"), "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(w["state"], "running");
    gw.only_task("jdoe", &running_id).await;

    // Again: nothing left to purge.
    let r = gw
        .post(&purge_path(FUTURE), "Administrator", &json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(r["purged"], 0);
}

#[actix_web::test]
async fn only_administrators_purge() {
    let gw = TestGateway::new().await;
    let wf = gw.start("jdoe", "SerialDocumentReview", None).await;
    let id = wf["id"].as_str().unwrap().to_owned();
    gw.delete(&format!("/api/v1/workflow/{id}"), "jdoe")
        .await
        .expect(204);
    // Members and power users alike; even with a bad date the answer is 403.
    for user in ["jdoe", "bob"] {
        gw.post(&purge_path(FUTURE), user, &json!({}))
            .await
            .expect_exception(403);
        gw.post("/api/v1/admin/purge?endedBefore=x", user, &json!({}))
            .await
            .expect_exception(403);
    }
    gw.call(Method::POST, &purge_path(FUTURE), None, None)
        .await
        .expect(401);
    gw.get(&format!("/api/v1/workflow/{id}"), "jdoe")
        .await
        .expect(200);
}

#[actix_web::test]
async fn a_missing_or_bad_date_is_a_400() {
    let gw = TestGateway::new().await;
    for path in [
        "/api/v1/admin/purge",
        "/api/v1/admin/purge?endedBefore=",
        "/api/v1/admin/purge?endedBefore=yesterday",
        "/api/v1/admin/purge?endedBefore=2024-01-31",
        "/api/v1/admin/purge?endedBefore=2024-02-30T00:00:00Z",
        "/api/v1/admin/purge?endedBefore=2024-01-01T00:00:00Z&endedBefore=2025-01-01T00:00:00Z",
    ] {
        let r = gw
            .post(path, "Administrator", &json!({}))
            .await
            .expect_exception(400);
        assert!(
            r.json()["message"]
                .as_str()
                .unwrap()
                .contains("endedBefore"),
            "{path}"
        );
    }
    // Offsets are understood.
    let r = gw
        .post(
            &purge_path("2024-01-31T10:00:00+02:00"),
            "Administrator",
            &json!({}),
        )
        .await
        .expect(200)
        .json();
    assert_eq!(r["endedBefore"], "2024-01-31T08:00:00Z");
    gw.get("/api/v1/admin/purge", "Administrator")
        .await
        .expect_exception(405);
}

#[actix_web::test]
async fn engines_of_kind_embedded_and_of_its_older_name_memory_both_start() {
    // The fixture's own engine says `kind = "memory"`; this one says "embedded".
    let gw = TestGateway::with(
        "[engines.other]\nkind = \"embedded\"\nid_prefix = \"oth\"\nstorage = \"memory\"\nretention = \"30d\"\n",
    )
    .await;
    let ready = gw
        .call(Method::GET, "/health/ready", None, None)
        .await
        .expect(200)
        .json();
    let engines = ready["engines"].as_array().unwrap();
    assert_eq!(engines.len(), 2, "{ready}");
    for e in engines {
        assert_eq!(e["kind"], "embedded", "{ready}");
        assert_eq!(e["status"], "up", "{ready}");
    }
    let r = gw
        .post(&purge_path(FUTURE), "Administrator", &json!({}))
        .await
        .expect(200)
        .json();
    assert_eq!(r["engines"].as_array().unwrap().len(), 2, "{r}");
}
