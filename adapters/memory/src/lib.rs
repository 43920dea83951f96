//! # flowgate-memory
//!
//! The embedded workflow engine of flowgate. It runs Nuxeo-style route models
//! (`config/models/*.json`) in process and serves its state from memory; with a data
//! directory it also keeps every change on disk (see [Durable state](#durable-state)).
//!
//! - Models are JSON: start and stop nodes, task nodes (title, directive, assignees,
//!   buttons, due date, node variables, the workflow variables a node may see),
//!   transitions with CEL conditions and chains of declarative actions, merges, nodes
//!   creating one task per participant, loops. Every model is checked and every
//!   expression compiled at load time: a broken file is a [`ModelError`] naming the
//!   file, the node and the problem.
//! - State lives in concurrent maps with secondary indexes (actor → tasks,
//!   document/initiator/model → instances, instance → tasks), so queries cost in
//!   proportion to their result. Each instance step runs under that instance's lock on
//!   a working copy and is applied as one batch of plain serializable changes.
//!
//! ## Model files
//!
//! ```json
//! {"name": "Review", "title": "wf.review",
//!  "variables": [{"name": "participants", "type": "string_list"},
//!                {"name": "index", "type": "integer", "default": 0}],
//!  "nodes": [
//!   {"id": "start", "title": "Start", "start": true, "x": 0, "y": 0,
//!    "transitions": [{"name": "go", "target": "review", "labelText": ""}]},
//!   {"id": "review", "title": "wf.review.task", "titleText": "Review",
//!    "task": {"directive": "wf.review.directive",
//!             "assignees": "WorkflowVariables.participants", "multiTask": true,
//!             "dueDate": "now + duration('120h')", "allowTaskReassignment": true,
//!             "buttons": [{"name": "approve", "label": "wf.review.approve", "validate": true}]},
//!    "variables": [{"name": "comment", "type": "string"}],
//!    "workflowVariables": ["participants"],
//!    "input": [], "output": [{"set": "WorkflowVariables.index", "value": "WorkflowVariables.index + 1",
//!                             "if": "button == 'approve'"}],
//!    "escalations": [{"name": "late", "condition": "now > timestamp('2030-01-01T00:00:00Z')",
//!                     "action": "force_resume"}],
//!    "transitions": [{"name": "done", "condition": "button == 'approve'", "target": "end",
//!                     "actions": [{"event": "document.approve"}]}]},
//!   {"id": "end", "title": "Stop", "stop": true}]}
//! ```
//!
//! - Node kinds: `start` (exactly one), `stop` (at least one, no transitions), a `task`
//!   block (buttons required; `assignees` is a CEL expression giving a string or a list,
//!   `staticAssignees` a fixed list; `multiTask` creates one task per assignee and the
//!   node goes on when all are ended), `"merge": "all"` (waits for every incoming
//!   branch); a node with none of these is automatic. Several true transitions fork.
//! - Variable types: `string`, `integer`, `boolean`, `date`, `string_list`, `blob`.
//! - Actions (`input`, `output`, transition `actions`): `{"set", "value"}` (CEL value),
//!   `{"set", "builtin": "review_summary"}`, or `{"event"}` (logged for observers); each
//!   may have an `"if"` guard. Expressions see the names listed in the `expr` module:
//!   `WorkflowVariables`, `NodeVariables`, `button`, `initiator`, `now`, `documents`,
//!   `tasks`, `nodeId`.
//!
//! ## Durable state
//!
//! [`MemoryEngine::open`] with [`StorageOptions::durable`] loads the state stored in a
//! data directory and then commits every change there (a redb file, [`RedbStorage`])
//! before applying it and answering; concurrent steps share one `fsync` through a
//! single writer thread. [`MemoryEngine::builtin`] and [`MemoryEngine::from_dir`] stay
//! purely in memory. Backends implement [`Storage`]; `docs/durability.md` describes the
//! on-disk format and crash handling, `docs/scaling.md` a shared-database backend.
//!
//! ```
//! use flowgate_core::{CallContext, StartWorkflow, WorkflowEngine};
//! use flowgate_memory::{MemoryEngine, ModelSource, StorageOptions};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let cx = CallContext::admin("Administrator");
//! let start = StartWorkflow { model: "SerialDocumentReview".into(), ..Default::default() };
//! let id = {
//!     let engine =
//!         MemoryEngine::open("local", ModelSource::Builtin, StorageOptions::durable(dir.path()))
//!             .unwrap();
//!     engine.start(&cx, start).await.unwrap().id
//! };
//! // A new engine on the same directory finds the workflow again.
//! let engine =
//!     MemoryEngine::open("local", ModelSource::Builtin, StorageOptions::durable(dir.path()))
//!         .unwrap();
//! assert_eq!(engine.workflow(&cx, &id).await.unwrap().id, id);
//! # });
//! ```
//!
//! Types to know: [`MemoryEngine`] (the engine), [`EngineStats`], [`ModelError`],
//! [`validate_dir`]; the state records in [`state`]; [`Storage`], [`StorageOptions`],
//! [`RedbStorage`] for durability.
//!
//! ```
//! use flowgate_core::{CallContext, StartWorkflow, TaskQuery, WorkflowEngine};
//! use flowgate_memory::MemoryEngine;
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let engine = MemoryEngine::builtin("local").unwrap();
//! let cx = CallContext::user("Administrator", ["members"]);
//! let wf = engine
//!     .start(&cx, StartWorkflow { model: "SerialDocumentReview".into(), ..Default::default() })
//!     .await
//!     .unwrap();
//! let tasks = engine.tasks(&cx, TaskQuery::for_workflow(&wf.id)).await.unwrap();
//! assert_eq!(tasks.items[0].actors, vec!["Administrator"]);
//! # });
//! ```

mod catalog;
mod engine;
mod error;
mod events;
mod expr;
mod journal;
mod model;
mod ops;
pub mod pg;
pub mod retention;
mod runner;
mod spec;
pub mod state;
pub mod storage;
mod store;
mod vars;
mod view;

pub use catalog::{validate_dir, ModelSource};
pub use engine::{EngineStats, MemoryEngine};
pub use error::{ModelError, OpenError};
pub use journal::StorageStats;
pub use retention::{parse_retention, RetentionPolicy, StoreCounts};
pub use storage::{Durability, RedbStorage, Storage, StorageError, StorageOptions};
pub use vars::{format_date, parse_date};
