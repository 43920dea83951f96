//! Engine-specific data the cases run with.

use std::any::Any;
use std::sync::Arc;

use flowgate_core::{CallContext, Variables, WorkflowEngine};

/// Who performs a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    /// The user who started the workflow.
    Initiator,
    /// `Fixture::reviewers[i]`.
    Reviewer(usize),
    /// The administrator.
    Admin,
    /// `Fixture::spare`, the user tasks get reassigned or delegated to.
    Spare,
}

/// One step of a path: `who` completes the workflow's next open task assigned to them
/// with `action`, `variables` and `comment`.
#[derive(Clone, Debug)]
pub struct Step {
    /// Acting user.
    pub who: Who,
    /// Button / outcome.
    pub action: String,
    /// Variables sent with the completion.
    pub variables: Variables,
    /// Comment sent with the completion.
    pub comment: Option<String>,
}

impl Step {
    /// A step without variables or comment.
    pub fn new(who: Who, action: impl Into<String>) -> Self {
        Self {
            who,
            action: action.into(),
            variables: Variables::new(),
            comment: None,
        }
    }

    /// Sets the variables (a JSON object; anything else means none).
    pub fn vars(mut self, v: serde_json::Value) -> Self {
        self.variables = v.as_object().cloned().unwrap_or_default();
        self
    }

    /// Sets the comment.
    pub fn comment(mut self, c: impl Into<String>) -> Self {
        self.comment = Some(c.into());
        self
    }
}

/// What the first task after start must look like.
#[derive(Clone, Debug, Default)]
pub struct ExpectedTask {
    /// Actors, spelled as the engine shows them.
    pub actors: Vec<String>,
    /// Action names, in order.
    pub actions: Vec<String>,
    /// Whether its node allows reassignment, when the engine says so.
    pub allow_reassignment: Option<bool>,
}

/// The engine-specific description of one model to run the suite with.
#[derive(Clone, Debug)]
pub struct Fixture {
    /// Short name shown in failures (`serial`, `alfresco-pooled`).
    pub label: String,
    /// Model to start.
    pub model: String,
    /// Document to attach.
    pub document: String,
    /// Variables to start with.
    pub start_variables: Variables,
    /// Starts workflows; not an administrator.
    pub initiator: CallContext,
    /// Reviewers named by the paths.
    pub reviewers: Vec<CallContext>,
    /// A user with no part in any workflow; receives reassigned and delegated tasks.
    pub spare: CallContext,
    /// A user who must be refused everything.
    pub outsider: CallContext,
    /// An administrator.
    pub admin: CallContext,
    /// The first task after start.
    pub first_task: ExpectedTask,
    /// Steps from start to `done` through approval.
    pub approve_path: Vec<Step>,
    /// Steps from start to `done` through rejection, when the model has one.
    pub reject_path: Option<Vec<Step>>,
    /// An action name that is not a button of the first task.
    pub invalid_action: String,
    /// How many approve-path steps to walk before the next open task (the one of step
    /// `reassignable_after`) may be reassigned and delegated.
    pub reassignable_after: usize,
}

impl Fixture {
    /// The caller for a role.
    pub fn user(&self, who: Who) -> &CallContext {
        match who {
            Who::Initiator => &self.initiator,
            Who::Reviewer(i) => self.reviewers.get(i).unwrap_or(&self.admin),
            Who::Admin => &self.admin,
            Who::Spare => &self.spare,
        }
    }
}

/// An engine with its fixtures. `guard` keeps alive whatever the engine needs (a
/// simulator server, a temp dir) for the duration of a case.
pub struct Setup {
    /// The engine under test.
    pub engine: Arc<dyn WorkflowEngine>,
    /// Fixtures the cases run with, one after the other.
    pub fixtures: Vec<Fixture>,
    /// Dropped after the case.
    pub guard: Option<Box<dyn Any + Send>>,
}

impl Setup {
    /// A setup without guard.
    pub fn new(engine: Arc<dyn WorkflowEngine>, fixtures: Vec<Fixture>) -> Self {
        Self {
            engine,
            fixtures,
            guard: None,
        }
    }
}
