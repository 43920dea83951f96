//! Several engines behind one gateway: prefixed ids, fan-out listings, model routing.

use serde_json::json;

use crate::common::TestGateway;

/// A second embedded engine `archive` whose only model is a renamed serial review.
async fn two_engines() -> (TestGateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/models/SerialDocumentReview.json"
    ))
    .expect("model");
    let renamed = src.replacen(
        "\"name\": \"SerialDocumentReview\"",
        "\"name\": \"ArchiveReview\"",
        1,
    );
    std::fs::write(dir.path().join("ArchiveReview.json"), renamed).expect("write");
    let extra = format!(
        "[engines.archive]\nkind = \"memory\"\nmodels_dir = \"{}\"\nid_prefix = \"arc\"\n",
        dir.path().display()
    );
    (TestGateway::with(&extra).await, dir)
}

#[actix_web::test]
async fn ids_of_a_non_default_engine_carry_its_prefix_and_route_back() {
    let (gw, _dir) = two_engines().await;
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
            "ArchiveReview",
            "ParallelDocumentReview",
            "SerialDocumentReview"
        ]
    );
    let a = gw.start("jdoe", "ArchiveReview", None).await;
    let aid = a["id"].as_str().unwrap();
    assert!(aid.starts_with("arc~"), "{aid}");
    assert!(a["graphResource"].as_str().unwrap().contains(aid));
    let l = gw.start("jdoe", "SerialDocumentReview", None).await;
    assert!(!l["id"].as_str().unwrap().contains('~'));

    // Fan-out: both engines' tasks and workflows in one answer.
    let tasks = gw.get("/api/v1/task", "jdoe").await.expect(200).json();
    assert_eq!(tasks["entries"].as_array().unwrap().len(), 2);
    let wfs = gw.get("/api/v1/workflow", "jdoe").await.expect(200).json();
    assert_eq!(wfs["entries"].as_array().unwrap().len(), 2);

    // A prefixed task id reaches its engine for reads and completion.
    let t = gw.only_task("jdoe", aid).await;
    let tid = t["id"].as_str().unwrap();
    assert!(tid.starts_with("arc~"), "{tid}");
    assert_eq!(t["workflowInstanceId"], aid);
    assert!(t["taskInfo"]["taskActions"][0]["url"]
        .as_str()
        .unwrap()
        .ends_with(&format!("/task/{tid}/cancel")));
    gw.get(&format!("/api/v1/task/{tid}"), "jdoe")
        .await
        .expect(200);
    gw.complete("jdoe", tid, "cancel", json!({}))
        .await
        .expect(200);
    let w = gw
        .get(&format!("/api/v1/workflow/{aid}"), "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(w["state"], "done");
    // The default engine's workflow is untouched.
    assert_eq!(
        gw.tasks_of("jdoe", l["id"].as_str().unwrap()).await.len(),
        1
    );
}

#[actix_web::test]
async fn paged_fan_out_counts_every_engine() {
    let (gw, _dir) = two_engines().await;
    gw.start("jdoe", "ArchiveReview", None).await;
    gw.start("jdoe", "SerialDocumentReview", None).await;
    gw.start("jdoe", "ArchiveReview", None).await;
    let v = gw
        .get("/api/v1/task?isPaginated=true&pageSize=2", "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(v["resultsCount"], 3);
    assert_eq!(v["entries"].as_array().unwrap().len(), 2);
    let p2 = gw
        .get(
            "/api/v1/task?isPaginated=true&pageSize=2&currentPageIndex=1",
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(p2["entries"].as_array().unwrap().len(), 1);
}
