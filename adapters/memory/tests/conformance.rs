//! The engine conformance suite, run on the embedded engine with both shipped models.

use std::sync::Arc;

use flowgate_core::CallContext;
use flowgate_memory::MemoryEngine;
use flowgate_testkit::{ExpectedTask, Fixture, Setup, Step, Who};
use serde_json::json;

fn users() -> (
    CallContext,
    Vec<CallContext>,
    CallContext,
    CallContext,
    CallContext,
) {
    (
        CallContext::user("jsmith", ["members"]),
        vec![
            CallContext::user("jdoe", ["members"]),
            CallContext::user("asmith", ["members"]),
        ],
        CallContext::user("bsmith", ["members"]),
        CallContext::user("mallory", ["outsiders"]),
        CallContext::admin("Administrator"),
    )
}

fn serial() -> Fixture {
    let (initiator, reviewers, spare, outsider, admin) = users();
    let participants = json!({"participants": ["user:jdoe", "user:asmith"]});
    Fixture {
        label: "serial".into(),
        model: "SerialDocumentReview".into(),
        document: "doc-serial".into(),
        start_variables: json!({"validationOrReview": "validation"})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        initiator,
        reviewers,
        spare,
        outsider,
        admin,
        first_task: ExpectedTask {
            actors: vec!["jsmith".into()],
            actions: vec!["cancel".into(), "start_review".into()],
            allow_reassignment: Some(false),
        },
        approve_path: vec![
            Step::new(Who::Initiator, "start_review")
                .vars(participants.clone())
                .comment("please review"),
            Step::new(Who::Reviewer(0), "validate"),
            Step::new(Who::Reviewer(1), "validate").comment("fine"),
        ],
        reject_path: Some(vec![
            Step::new(Who::Initiator, "start_review").vars(participants),
            Step::new(Who::Reviewer(0), "validate"),
            Step::new(Who::Reviewer(1), "reject"),
            Step::new(Who::Reviewer(0), "reject"),
            Step::new(Who::Initiator, "cancel"),
        ]),
        invalid_action: "approve".into(),
        reassignable_after: 1,
    }
}

fn parallel() -> Fixture {
    let (initiator, reviewers, spare, outsider, admin) = users();
    let start = json!({
        "participants": "[\"user:jdoe\",\"user:asmith\"]",
        "end_date": "2099-01-01T00:00:00.00Z",
        "comment": "please review"
    });
    Fixture {
        label: "parallel".into(),
        model: "ParallelDocumentReview".into(),
        document: "doc-parallel".into(),
        start_variables: Default::default(),
        initiator,
        reviewers,
        spare,
        outsider,
        admin,
        first_task: ExpectedTask {
            actors: vec!["jsmith".into()],
            actions: vec!["cancel".into(), "start_review".into()],
            allow_reassignment: Some(false),
        },
        approve_path: vec![
            Step::new(Who::Initiator, "start_review").vars(start.clone()),
            Step::new(Who::Reviewer(0), "approve").comment("good"),
            Step::new(Who::Reviewer(1), "approve"),
            Step::new(Who::Initiator, "validate"),
        ],
        reject_path: Some(vec![
            Step::new(Who::Initiator, "start_review").vars(start),
            Step::new(Who::Reviewer(0), "reject").comment("no"),
            Step::new(Who::Reviewer(1), "NA"),
            Step::new(Who::Initiator, "reject"),
        ]),
        invalid_action: "validate".into(),
        reassignable_after: 1,
    }
}

flowgate_testkit::conformance_suite!(async {
    let engine = MemoryEngine::builtin("local").expect("shipped models load");
    Setup::new(Arc::new(engine), vec![serial(), parallel()])
});
