//! The conformance fixtures of the Alfresco simulator: one per built-in definition.

use flowgate_alfresco::sim::nodes;
use flowgate_testkit::{ExpectedTask, Fixture, Step, Who};
use serde_json::json;

fn base(label: &str, model: &str, vars: serde_json::Value) -> Fixture {
    Fixture {
        label: label.into(),
        model: model.into(),
        document: nodes::CONTRACT.into(),
        start_variables: vars.as_object().cloned().unwrap_or_default(),
        initiator: super::user("dave", &[]),
        reviewers: vec![super::user("jdoe", &["reviewers"])],
        spare: super::user("erin", &[]),
        outsider: super::user("mallory", &[]),
        admin: super::admin(),
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

pub fn fixtures() -> Vec<Fixture> {
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
