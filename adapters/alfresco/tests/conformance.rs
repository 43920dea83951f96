//! The flowgate conformance suite against the Alfresco simulator, with one fixture per
//! built-in definition, in service-account (ticket) mode.

mod common;

use flowgate_alfresco::sim::nodes;
use flowgate_alfresco::AuthMode;
use flowgate_testkit::{ExpectedTask, Fixture, Setup, Step, Who};
use serde_json::json;

fn base(label: &str, model: &str, vars: serde_json::Value) -> Fixture {
    Fixture {
        label: label.into(),
        model: model.into(),
        document: nodes::CONTRACT.into(),
        start_variables: vars.as_object().cloned().unwrap_or_default(),
        initiator: common::user("dave", &[]),
        reviewers: vec![common::user("jdoe", &["reviewers"])],
        spare: common::user("erin", &[]),
        outsider: common::user("mallory", &[]),
        admin: common::admin(),
        first_task: ExpectedTask {
            actors: vec!["jdoe".into()],
            actions: vec!["approve".into(), "reject".into()],
            allow_reassignment: Some(true),
        },
        approve_path: vec![
            Step::new(Who::Reviewer(0), "approve").comment("Looks good"),
            Step::new(Who::Initiator, "complete"),
        ],
        reject_path: Some(vec![
            Step::new(Who::Reviewer(0), "reject").comment("No"),
            Step::new(Who::Initiator, "complete"),
        ]),
        invalid_action: "validate".into(),
        reassignable_after: 0,
    }
}

fn fixtures() -> Vec<Fixture> {
    let review = base(
        "alfresco-review",
        "activitiReview",
        json!({"assignee": "user:jdoe", "comment": "Please review", "priority": 1}),
    );
    let mut pooled = base(
        "alfresco-pooled",
        "activitiReviewPooled",
        json!({"groupAssignee": "group:reviewers"}),
    );
    pooled.first_task.actors = vec!["group:reviewers".into()];
    let mut parallel = base(
        "alfresco-parallel",
        "activitiParallelReview",
        json!({"participants": ["user:jdoe"], "requiredApprovePercent": 100}),
    );
    parallel.first_task.actors = vec!["jdoe".into()];
    let mut adhoc = base(
        "alfresco-adhoc",
        "activitiAdhoc",
        json!({"assignee": "jdoe"}),
    );
    adhoc.first_task.actions = vec!["complete".into()];
    adhoc.approve_path = vec![
        Step::new(Who::Reviewer(0), "complete").comment("Done"),
        Step::new(Who::Initiator, "complete"),
    ];
    adhoc.reject_path = None;
    adhoc.invalid_action = "approve".into();
    vec![review, pooled, parallel, adhoc]
}

async fn setup() -> Setup {
    let sim = common::sim();
    let engine = common::engine(&sim, AuthMode::Ticket);
    let mut s = Setup::new(common::arc(engine), fixtures());
    s.guard = Some(Box::new(sim));
    s
}

flowgate_testkit::conformance_suite!(setup());
