//! # flowgate-testkit
//!
//! The conformance suite every flowgate engine must pass. Each case is a plain
//! `pub async fn` in [`cases`] taking `&dyn WorkflowEngine` and a [`Fixture`]; the
//! [`conformance_suite!`] macro expands to one `#[tokio::test]` per case so a failure
//! names the case (and the message names the fixture).
//!
//! Engines differ in their models, users and buttons, so a [`Fixture`] describes the
//! engine-specific bits as data: who starts, who reviews, who must be refused, which
//! model to start with which variables, what the first task looks like, and the list
//! of steps that approve (and, if the model has one, reject) a workflow.
//!
//! Capability-gated cases (reassign, delegate, graphs, suspend/resume) never skip
//! silently: when the engine's [`flowgate_core::Capabilities`] flag is off they assert
//! that the call fails with [`flowgate_core::ErrorKind::Unsupported`].
//!
//! In an engine crate's `tests/conformance.rs`:
//!
//! ```ignore
//! flowgate_testkit::conformance_suite!(async {
//!     // Start a simulator here if needed and keep it alive in `Setup::guard`.
//!     flowgate_testkit::Setup::new(std::sync::Arc::new(my_engine()), vec![my_fixture()])
//! });
//! ```
//!
//! `adapters/memory/tests/conformance.rs` is a complete example with fixtures for
//! SerialDocumentReview and ParallelDocumentReview.

pub mod cases;
mod fixture;
pub mod logs;
pub mod peers;
#[cfg(feature = "pg")]
pub mod pg;
mod sorting;
#[cfg(feature = "tls")]
pub mod tls;

pub use fixture::{ExpectedTask, Fixture, Setup, Step, Who};

/// Upper bound of one case against one fixture.
pub const CASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Runs one case future with [`CASE_TIMEOUT`]; a timeout fails the test naming the case.
pub async fn bounded<F: std::future::Future<Output = ()>>(case: &str, fixture: &str, fut: F) {
    if tokio::time::timeout(CASE_TIMEOUT, fut).await.is_err() {
        panic!("case '{case}' with fixture '{fixture}' did not finish within {CASE_TIMEOUT:?}");
    }
}

/// Expands to one `#[tokio::test]` per conformance case. The argument is an
/// expression giving a future of a [`Setup`]; it is evaluated afresh for every case,
/// so each case runs on its own engine.
#[macro_export]
macro_rules! conformance_suite {
    ($setup:expr) => {
        $crate::conformance_suite!(@cases $setup;
            models_include_fixture_model,
            start_shows_first_task,
            approve_path_ends_done,
            reject_path_ends_done,
            reassign_replaces_actors,
            delegate_lets_delegate_complete,
            cancel_cancels_tasks_and_refuses_second_cancel,
            queries_find_by_user_workflow_document_model,
            paging_reports_totals,
            task_lists_are_in_inbox_order,
            lists_follow_the_requested_sort,
            unknown_ids_are_not_found,
            wrong_actor_is_forbidden,
            double_completion_is_conflict,
            unknown_action_is_bad_request,
            concurrent_completions_one_wins,
            outsider_sees_nothing,
            graphs_follow_capabilities,
            suspend_resume_follows_capability,
        );
    };
    (@cases $setup:expr; $($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let setup: $crate::Setup = $setup.await;
                for fixture in &setup.fixtures {
                    $crate::bounded(
                        stringify!($case),
                        &fixture.label,
                        $crate::cases::$case(&*setup.engine, fixture),
                    )
                    .await;
                }
            }
        )*
    };
}
