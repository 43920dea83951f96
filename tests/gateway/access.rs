//! The authorization matrix: every endpoint of the API, under every prefix, called by
//! each role, with the expected status, and nothing changed after a refusal.
//!
//! One parallel review on a document: jdoe started it and chose two reviewers, asmith
//! (task A) and the group `reviewers` (task G, carol is a member); asmith delegated
//! task A to dan. Eve has nothing to do with it; bob is a power user.

use actix_web::http::Method;
use serde_json::{json, Value};

use crate::common::{actor_ids, TestGateway};

const DOC: &str = "7b0f0c34-1a52-4c0a-9f38-6a3a8f1d2e01";
const PREFIXES: [&str; 4] = [
    "/api/v1",
    "/nuxeo/api/v1",
    "/nuxeo/site/api/v1",
    "/nuxeo/api/v1/repo/default",
];

#[derive(Clone, Copy, Debug, PartialEq)]
enum Role {
    Initiator,
    Actor,
    Delegate,
    GroupMember,
    Outsider,
    PowerUser,
    Admin,
}

use Role::*;

const ROLES: [Role; 7] = [
    Initiator,
    Actor,
    Delegate,
    GroupMember,
    Outsider,
    PowerUser,
    Admin,
];

fn user(r: Role) -> &'static str {
    match r {
        Initiator => "jdoe",
        Actor => "asmith",
        Delegate => "dan",
        GroupMember => "carol",
        Outsider => "eve",
        PowerUser => "bob",
        Admin => "Administrator",
    }
}

struct Review {
    wf: String,
    task_a: String,
    task_g: String,
}

async fn review(g: &TestGateway) -> Review {
    let wf = g.start("jdoe", "ParallelDocumentReview", Some(DOC)).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let choose = g.only_task("jdoe", &wf).await;
    let choose = choose["id"].as_str().expect("id");
    g.complete(
        "jdoe",
        choose,
        "start_review",
        json!({"participants": ["user:asmith", "group:reviewers"], "end_date": "2031-01-01T00:00:00.000Z"}),
    )
    .await
    .expect(200);
    let tasks = g.tasks_of("jdoe", &wf).await;
    let find = |actor: &str| {
        tasks
            .iter()
            .find(|t| actor_ids(t) == [actor])
            .and_then(|t| t["id"].as_str())
            .map(str::to_owned)
            .unwrap_or_else(|| panic!("no task for {actor} in {tasks:?}"))
    };
    let (task_a, task_g) = (find("user:asmith"), find("group:reviewers"));
    g.put(
        &format!("/api/v1/task/{task_a}/delegate?delegatedActors=user:dan"),
        "asmith",
        None,
    )
    .await
    .expect(200);
    Review { wf, task_a, task_g }
}

/// Status `role` gets for each right.
fn sees_workflow(r: Role) -> u16 {
    match r {
        Outsider => 403,
        _ => 200,
    }
}

fn sees_task_a(r: Role) -> u16 {
    match r {
        Initiator | Actor | Delegate | Admin => 200,
        _ => 403,
    }
}

fn ids(v: &Value) -> Vec<String> {
    v["entries"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A snapshot of everything a refused write could have changed.
async fn snapshot(g: &TestGateway, r: &Review) -> Value {
    let wf = g
        .get(&format!("/api/v1/workflow/{}", r.wf), "Administrator")
        .await
        .json();
    let a = g
        .get(&format!("/api/v1/task/{}", r.task_a), "Administrator")
        .await
        .json();
    let t = g
        .get(&format!("/api/v1/task/{}", r.task_g), "Administrator")
        .await
        .json();
    json!({"wf": wf["state"], "vars": wf["variables"], "a": [a["state"], a["actors"], a["delegatedActors"], a["comments"]],
           "g": [t["state"], t["actors"], t["delegatedActors"], t["comments"]]})
}

#[actix_web::test]
async fn reads_under_every_prefix_follow_the_rules_for_every_role() {
    let g = TestGateway::new().await;
    let r = review(&g).await;
    for prefix in PREFIXES {
        for role in ROLES {
            let u = user(role);
            let ctx = format!("{role:?} under {prefix}");
            let s = g.get(&format!("{prefix}/workflow/{}", r.wf), u).await;
            assert_eq!(
                s.status.as_u16(),
                sees_workflow(role),
                "GET workflow, {ctx}"
            );
            let s = g.get(&format!("{prefix}/workflow/{}/graph", r.wf), u).await;
            assert_eq!(s.status.as_u16(), sees_workflow(role), "GET graph, {ctx}");
            let s = g.get(&format!("{prefix}/task/{}", r.task_a), u).await;
            assert_eq!(s.status.as_u16(), sees_task_a(role), "GET task A, {ctx}");
            let g_status = match role {
                Initiator | GroupMember | Admin => 200,
                _ => 403,
            };
            let s = g.get(&format!("{prefix}/task/{}", r.task_g), u).await;
            assert_eq!(s.status.as_u16(), g_status, "GET task G, {ctx}");

            // Lists: the document's workflows, its tasks, the workflow's tasks.
            let listed = ids(&g
                .get(&format!("{prefix}/id/{DOC}/@workflow"), u)
                .await
                .expect(200)
                .json());
            assert_eq!(
                listed.contains(&r.wf),
                sees_workflow(role) == 200,
                "@workflow, {ctx}"
            );
            let doc_tasks = ids(&g
                .get(&format!("{prefix}/id/{DOC}/@task"), u)
                .await
                .expect(200)
                .json());
            let wf_tasks = ids(&g
                .get(&format!("{prefix}/task?workflowInstanceId={}", r.wf), u)
                .await
                .expect(200)
                .json());
            let wf_tasks2 = ids(&g
                .get(&format!("{prefix}/workflow/{}/task", r.wf), u)
                .await
                .expect(200)
                .json());
            let wf_tasks3 = ids(&g
                .get(&format!("{prefix}/id/{DOC}/@workflow/{}/task", r.wf), u)
                .await
                .expect(200)
                .json());
            for list in [&wf_tasks, &wf_tasks2, &wf_tasks3] {
                assert_eq!(
                    list.contains(&r.task_a),
                    sees_task_a(role) == 200,
                    "task A listed, {ctx}"
                );
                assert_eq!(
                    list.contains(&r.task_g),
                    g_status == 200,
                    "task G listed, {ctx}"
                );
            }
            if role == Outsider || role == PowerUser {
                assert!(
                    doc_tasks.is_empty(),
                    "@task of the document, {ctx}: {doc_tasks:?}"
                );
            }
            // Someone else's inbox shows only what the caller may see.
            let inbox = ids(&g
                .get(&format!("{prefix}/task?userId=asmith"), u)
                .await
                .expect(200)
                .json());
            assert_eq!(
                inbox.contains(&r.task_a),
                sees_task_a(role) == 200,
                "asmith's inbox, {ctx}"
            );
        }
    }
    // The outsider learns nothing from the document adapter, not even variables.
    let v = g
        .get(&format!("/api/v1/id/{DOC}/@workflow"), "eve")
        .await
        .json();
    assert!(!v.to_string().contains("participants"), "{v}");
}

#[actix_web::test]
async fn refused_writes_change_nothing_and_allowed_ones_succeed() {
    let g = TestGateway::new().await;
    let r = review(&g).await;
    let before = snapshot(&g, &r).await;
    let a = &r.task_a;
    // (role, method, path, body) that must be refused with 403.
    let mut refused: Vec<(Role, Method, String, Option<Value>)> = Vec::new();
    for role in [GroupMember, Outsider, PowerUser, Delegate] {
        refused.push((
            role,
            Method::PUT,
            format!("/api/v1/task/{a}/reassign?actors=user:{}", user(role)),
            None,
        ));
        refused.push((
            role,
            Method::PUT,
            format!("/api/v1/task/{a}/delegate?delegatedActors=user:eve"),
            None,
        ));
    }
    for role in [GroupMember, Outsider, PowerUser] {
        let body = json!({"entity-type": "task", "id": a, "variables": {}});
        refused.push((
            role,
            Method::PUT,
            format!("/api/v1/task/{a}/approve"),
            Some(body),
        ));
    }
    for role in [Actor, Delegate, GroupMember, Outsider] {
        refused.push((
            role,
            Method::DELETE,
            format!("/api/v1/workflow/{}", r.wf),
            None,
        ));
    }
    for prefix in PREFIXES {
        for (role, method, path, body) in &refused {
            let path = path.replacen("/api/v1", prefix, 1);
            let res = g
                .call(method.clone(), &path, Some(user(*role)), body.as_ref())
                .await;
            res.expect_exception(403);
            assert_eq!(
                snapshot(&g, &r).await,
                before,
                "{role:?} {method} {path} changed something"
            );
        }
    }
    // What each role may do.
    g.complete("dan", a, "approve", json!({"comment": "for asmith"}))
        .await
        .expect(200);
    g.complete("carol", &r.task_g, "approve", json!({}))
        .await
        .expect(200);
    let consolidate = g.only_task("jdoe", &r.wf).await;
    let id = consolidate["id"].as_str().expect("id");
    g.complete("jdoe", id, "validate", json!({}))
        .await
        .expect(200);
    let wf = g
        .get(&format!("/api/v1/workflow/{}", r.wf), "jdoe")
        .await
        .expect(200)
        .json();
    assert_eq!(wf["state"], "done");
}

#[actix_web::test]
async fn a_delegate_cannot_take_the_task_over() {
    let g = TestGateway::new().await;
    let r = review(&g).await;
    let a = &r.task_a;
    g.put(
        &format!("/api/v1/task/{a}/reassign?actors=user:dan"),
        "dan",
        None,
    )
    .await
    .expect_exception(403);
    g.put(
        &format!("/api/v1/task/{a}/delegate?delegatedActors=user:eve"),
        "dan",
        None,
    )
    .await
    .expect_exception(403);
    // The actor still owns her task.
    g.get(&format!("/api/v1/task/{a}"), "asmith")
        .await
        .expect(200);
    let t = g
        .get(&format!("/api/v1/task/{a}"), "Administrator")
        .await
        .json();
    assert_eq!(actor_ids(&t), ["user:asmith"]);
}

#[actix_web::test]
async fn a_reassignment_ends_earlier_delegations() {
    let g = TestGateway::new().await;
    let r = review(&g).await;
    let a = &r.task_a;
    g.put(
        &format!("/api/v1/task/{a}/reassign?actors=user:bob"),
        "jdoe",
        None,
    )
    .await
    .expect(200);
    let t = g
        .get(&format!("/api/v1/task/{a}"), "Administrator")
        .await
        .json();
    assert_eq!(t["delegatedActors"], json!([]), "{t}");
    for gone in ["dan", "asmith"] {
        g.complete(gone, a, "approve", json!({}))
            .await
            .expect_exception(403);
        g.get(&format!("/api/v1/task/{a}"), gone)
            .await
            .expect_exception(403);
    }
    g.complete("bob", a, "approve", json!({})).await.expect(200);
}

#[actix_web::test]
async fn the_power_user_group_comes_from_the_settings() {
    // Shipped default: `powerusers` (bob is a member) may cancel others' workflows.
    let g = TestGateway::new().await;
    let wf = g.start("jdoe", "SerialDocumentReview", Some(DOC)).await;
    let id = wf["id"].as_str().expect("id");
    g.delete(&format!("/api/v1/workflow/{id}"), "bob")
        .await
        .expect(204);

    let g = TestGateway::with("[auth]\npoweruser_group = \"nobody\"\n").await;
    let wf = g.start("jdoe", "SerialDocumentReview", Some(DOC)).await;
    let id = wf["id"].as_str().expect("id");
    g.delete(&format!("/api/v1/workflow/{id}"), "bob")
        .await
        .expect_exception(403);
    g.get(&format!("/api/v1/workflow/{id}"), "bob")
        .await
        .expect_exception(403);
    let wf = g
        .get(&format!("/api/v1/workflow/{id}"), "jdoe")
        .await
        .json();
    assert_eq!(wf["state"], "running");

    let g = TestGateway::with("[auth]\npoweruser_group = \"reviewers\"\n").await;
    let wf = g.start("jdoe", "SerialDocumentReview", Some(DOC)).await;
    let id = wf["id"].as_str().expect("id");
    g.delete(&format!("/api/v1/workflow/{id}"), "bob")
        .await
        .expect_exception(403);
    g.delete(&format!("/api/v1/workflow/{id}"), "carol")
        .await
        .expect(204);
}
