//! `sortBy` / `sortOrder` on the task and workflow lists: refused values, and the order of
//! a list merged from two engines, whole and paged.

use serde_json::Value;

use crate::common::TestGateway;

/// A second embedded engine `archive` whose only model is a serial review renamed
/// `ArchiveReview`, with tasks due in one hour (the shipped one gives 120 hours) and
/// its first task named `archive.chooseParticipants`.
async fn two_engines() -> (TestGateway, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/config/models/SerialDocumentReview.json"
    ))
    .expect("model");
    let changed = src
        .replacen(
            "\"name\": \"SerialDocumentReview\"",
            "\"name\": \"ArchiveReview\"",
            1,
        )
        .replace("duration('120h')", "duration('1h')")
        .replace(
            "wf.serialDocumentReview.chooseParticipants",
            "archive.chooseParticipants",
        );
    assert_ne!(src, changed);
    std::fs::write(dir.path().join("ArchiveReview.json"), changed).expect("write");
    let extra = format!(
        "[engines.archive]\nkind = \"memory\"\nmodels_dir = \"{}\"\nid_prefix = \"arc\"\n",
        dir.path().display()
    );
    (TestGateway::with(&extra).await, dir)
}

fn ids(list: &Value) -> Vec<String> {
    list["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn wf_ids(list: &Value) -> Vec<String> {
    list["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["workflowInstanceId"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[actix_web::test]
async fn unknown_sort_fields_and_orders_are_refused_naming_what_is_accepted() {
    let gw = TestGateway::new().await;
    let wf = gw
        .start("jdoe", "SerialDocumentReview", Some("doc-a"))
        .await;
    let wf_id = wf["id"].as_str().unwrap_or_default();
    let lists = [
        "/api/v1/task?sortBy=priority".to_owned(),
        "/api/v1/task?userId=jdoe&isPaginated=true&sortBy=priority".to_owned(),
        "/api/v1/workflow?sortBy=priority".to_owned(),
        "/api/v1/id/doc-a/@task?sortBy=priority".to_owned(),
        "/api/v1/id/doc-a/@workflow?sortBy=priority".to_owned(),
        format!("/api/v1/id/doc-a/@workflow/{wf_id}/task?sortBy=priority"),
    ];
    for path in &lists {
        let v = gw.get(path, "jdoe").await.expect_exception(400).json();
        let m = v["message"].as_str().unwrap_or_default();
        assert!(
            m.contains("'priority'") && m.contains("created"),
            "{path}: {m}"
        );
    }
    for path in [
        "/api/v1/task?sortBy=nt:name",
        "/api/v1/id/doc-a/@task?sortBy=dueDate&sortOrder=asc",
        "/api/v1/id/doc-a/@workflow?sortBy=dc:title",
    ] {
        let v = gw.get(path, "jdoe").await.expect(200).json();
        assert_eq!(v["entries"].as_array().map(Vec::len), Some(1), "{path}");
    }
    // Due dates are no workflow property.
    let m = gw
        .get("/api/v1/workflow?sortBy=dueDate", "jdoe")
        .await
        .expect_exception(400)
        .json()["message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(m.contains("dc:title"), "{m}");
    for order in ["up", "ascending", ""] {
        for list in ["task", "workflow"] {
            let m = gw
                .get(&format!("/api/v1/{list}?sortOrder={order}"), "jdoe")
                .await
                .expect_exception(400)
                .json()["message"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            assert!(
                m.contains("asc") && m.contains("desc"),
                "{list} {order:?}: {m}"
            );
        }
    }
    gw.get("/api/v1/task?sortBy=dueDate&sortOrder=DESC", "jdoe")
        .await
        .expect(200);
}

#[actix_web::test]
async fn a_list_merged_from_two_engines_follows_the_requested_order() {
    let (gw, _dir) = two_engines().await;
    // Started in this order: l1, a1, l2, a2 (local tasks due in 120 h, archive ones in 1 h).
    let mut started = Vec::new();
    for model in [
        "SerialDocumentReview",
        "ArchiveReview",
        "SerialDocumentReview",
        "ArchiveReview",
    ] {
        let w = gw.start("jdoe", model, None).await;
        started.push(w["id"].as_str().unwrap_or_default().to_owned());
    }
    let [l1, a1, l2, a2] = [0, 1, 2, 3].map(|i| started[i].as_str());
    assert!(a1.starts_with("arc~") && !l1.contains('~'), "{started:?}");

    let tasks = |query: &'static str| {
        let gw = &gw;
        async move {
            let v = gw
                .get(&format!("/api/v1/task?userId=jdoe{query}"), "jdoe")
                .await
                .expect(200)
                .json();
            wf_ids(&v)
        }
    };
    // The default (inbox) order: due date ascending.
    assert_eq!(tasks("").await, [a1, a2, l1, l2]);
    assert_eq!(tasks("&sortOrder=asc").await, [a1, a2, l1, l2]);
    assert_eq!(
        tasks("&sortBy=nt:dueDate&sortOrder=DESC").await,
        [l2, l1, a2, a1]
    );
    // As in Nuxeo, a sortBy without sortOrder sorts in descending order.
    assert_eq!(tasks("&sortBy=created").await, [a2, l2, a1, l1]);
    assert_eq!(
        tasks("&sortBy=dc:created&sortOrder=asc").await,
        [l1, a1, l2, a2]
    );
    // Equal names keep the inbox order.
    assert_eq!(tasks("&sortBy=name&sortOrder=asc").await, [a1, a2, l1, l2]);
    assert_eq!(tasks("&sortBy=name&sortOrder=desc").await, [l1, l2, a1, a2]);

    // Pages of the merged, sorted list are its slices.
    let whole = tasks("&sortBy=created&sortOrder=desc").await;
    let mut paged = Vec::new();
    for page in 0..2 {
        let v = gw
            .get(
                &format!(
                    "/api/v1/task?userId=jdoe&isPaginated=true&pageSize=2&currentPageIndex={page}&sortBy=created&sortOrder=desc"
                ),
                "jdoe",
            )
            .await
            .expect(200)
            .json();
        assert_eq!(v["resultsCount"], 4, "{v}");
        paged.extend(wf_ids(&v));
    }
    assert_eq!(paged, whole);
    let v = gw
        .get(
            "/api/v1/task?userId=jdoe&isPaginated=true&pageSize=1&offset=1&sortBy=dueDate&sortOrder=desc",
            "jdoe",
        )
        .await
        .expect(200)
        .json();
    assert_eq!(wf_ids(&v), [l1]);

    let workflows = |query: &'static str| {
        let gw = &gw;
        async move {
            let v = gw
                .get(&format!("/api/v1/workflow{query}"), "jdoe")
                .await
                .expect(200)
                .json();
            ids(&v)
        }
    };
    assert_eq!(workflows("").await, [l1, a1, l2, a2]);
    assert_eq!(
        workflows("?sortBy=created&sortOrder=desc").await,
        [a2, l2, a1, l1]
    );
    assert_eq!(workflows("?sortOrder=desc").await, [a2, l2, a1, l1]);
    assert_eq!(
        workflows("?sortBy=name&sortOrder=asc").await,
        [a1, a2, l1, l2]
    );
    assert_eq!(workflows("?sortBy=ecm:name").await, [l2, l1, a2, a1]);
}
