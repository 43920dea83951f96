//! # flowgate-core
//!
//! The engine-neutral contract of flowgate. Every workflow backend (the embedded
//! engine, Alfresco, CQ/AEM) implements one async trait, [`WorkflowEngine`], and speaks
//! only the neutral model defined here. Nothing in this crate knows Nuxeo, Alfresco or
//! CQ wire formats: the gateway converts Nuxeo JSON to and from this model, and each
//! adapter converts its own upstream format.
//!
//! Types a reader should know first:
//! - [`WorkflowEngine`]: the implementer contract, used as `Arc<dyn WorkflowEngine>`.
//! - [`CallContext`]: who is calling (user, groups, admin flag), request id and deadline.
//! - [`Capabilities`]: flat flags saying which optional operations an engine supports.
//! - [`EngineError`]: the one error enum every engine returns; the gateway maps its
//!   [`ErrorKind`] to an HTTP status in exactly one place.
//! - The model: [`WorkflowModel`], [`WorkflowInstance`], [`Task`], [`Graph`], [`Document`].
//!
//! ```
//! use flowgate_core::{CallContext, TaskQuery, PageRequest};
//! let cx = CallContext::user("jdoe", ["members"]);
//! let q = TaskQuery::for_actor("jdoe", ["members"]).page(PageRequest::new(0, 50));
//! assert!(q.open_only);
//! assert!(!cx.admin);
//! ```

pub mod access;
mod context;
mod engine;
mod error;
mod event_log;
mod event_pack;
pub mod events;
mod limits;
mod model;
pub mod order;
mod query;

pub use context::{valid_traceparent, CallContext, Credentials, Secret};
pub use engine::{Capabilities, EngineInfo, Health, WorkflowEngine};
pub use error::{EngineError, ErrorKind, Result};
pub use event_log::{EventLog, LIVE_BUFFER};
pub use events::{Event, EventKind, EventQuery, ROUTING_CATEGORY};
pub use limits::{shown, Limits};
pub use model::{
    ActorRef, Comment, Completion, DocLocator, Document, Graph, GraphNode, GraphPoint,
    GraphTransition, NodeState, StartWorkflow, Task, TaskAction, TaskInfo, TaskState, VarType,
    VariableDef, Variables, WorkflowInstance, WorkflowModel, WorkflowState,
};
pub use order::{Sort, TaskSort, TaskSortKey, WorkflowSort, WorkflowSortKey};
pub use query::{ActorFilter, Page, PageRequest, TaskQuery, WorkflowQuery};
