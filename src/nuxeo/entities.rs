//! Nuxeo wire entities and their conversion from the neutral model.
//!
//! Field order follows the Nuxeo writers (DocumentRouteWriter, TaskWriter, the graph
//! views): serde writes struct fields in declaration order, and `serde_json` keeps map
//! insertion order (`preserve_order`), so `entity-type` is always first and `id` second.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use flowgate_core::{Document, Graph, Task, Variables, WorkflowInstance, WorkflowModel};
use serde::Serialize;
use utoipa::ToSchema;

use super::context::{RenderCtx, API_PATH};
use super::principals::{document_entity, group_entity, user_entity, Fetched, UserOrName};
use crate::auth::Directory;

/// W3C date in UTC with exactly three fraction digits and `Z`.
pub fn w3c(d: &DateTime<Utc>) -> String {
    use chrono::{Datelike as _, Timelike as _};
    let d = d.naive_utc();
    let year = d.year();
    if !(0..=9999).contains(&year) {
        return d.and_utc().to_rfc3339_opts(SecondsFormat::Millis, true);
    }
    // `YYYY-MM-DDThh:mm:ss.mmmZ`, written digit by digit: every entity carries one or
    // two dates and the general formatter costs more than the rest of a small entity.
    let mut b = [0u8; 24];
    let put = |b: &mut [u8; 24], at: usize, width: usize, mut v: u32| {
        for i in (0..width).rev() {
            b[at + i] = b'0' + (v % 10) as u8;
            v /= 10;
        }
    };
    put(&mut b, 0, 4, year.unsigned_abs());
    b[4] = b'-';
    put(&mut b, 5, 2, d.month());
    b[7] = b'-';
    put(&mut b, 8, 2, d.day());
    b[10] = b'T';
    put(&mut b, 11, 2, d.hour());
    b[13] = b':';
    put(&mut b, 14, 2, d.minute());
    b[16] = b':';
    // A leap second is carried in the nanoseconds (>= 1e9); shown as second 60 like
    // chrono does.
    let nanos = d.nanosecond();
    put(&mut b, 17, 2, d.second() + nanos / 1_000_000_000);
    b[19] = b'.';
    put(&mut b, 20, 3, (nanos % 1_000_000_000) / 1_000_000);
    b[23] = b'Z';
    // Only ASCII digits and separators were written.
    std::str::from_utf8(&b).unwrap_or_default().to_owned()
}

/// A string written from its parts where it is written: a task carries five or six
/// links and names made of the base URL, ids and fixed pieces, and building each as a
/// `String` only to copy it into the body cost an allocation apiece. Serialises as the
/// joined string.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Joined<'a>([&'a str; JOINED_PARTS]);

/// Most parts a [`Joined`] holds (base URL, `api/v1/`, four pieces).
const JOINED_PARTS: usize = 6;

impl<'a> Joined<'a> {
    /// `parts`, in order (at most [`JOINED_PARTS`], checked when compiled).
    pub(crate) fn of<const N: usize>(parts: [&'a str; N]) -> Self {
        const { assert!(N <= JOINED_PARTS) };
        let mut all = [""; JOINED_PARTS];
        all[..N].copy_from_slice(&parts);
        Self(all)
    }
}

impl std::fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.iter().try_for_each(|p| f.write_str(p))
    }
}

impl Serialize for Joined<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Everything needed to turn neutral values into entities: the request context, the
/// user directory (fetched actors) and documents resolved ahead of time.
pub struct Renderer<'a> {
    /// Request context.
    pub ctx: &'a RenderCtx,
    /// Users and groups.
    pub directory: &'a Directory,
    /// Documents resolved for fetch flags, by id.
    pub documents: &'a HashMap<String, Document>,
}

/// `{"entity-type":"workflow",…}`
#[derive(Serialize, ToSchema)]
pub struct WorkflowEntity<'a> {
    #[serde(rename = "entity-type")]
    #[schema(value_type = super::schema::WorkflowType, inline)]
    entity_type: &'static str,
    id: &'a str,
    name: &'a str,
    title: &'a str,
    state: &'static str,
    #[serde(rename = "workflowModelName")]
    workflow_model_name: &'a str,
    /// User name of the initiator; a `user` entity with `fetch.workflow=initiator`.
    #[schema(value_type = Option<String>)]
    initiator: Option<UserOrName>,
    #[serde(rename = "attachedDocumentIds")]
    #[schema(value_type = Vec<super::schema::DocumentRef>)]
    attached_document_ids: Vec<RefOr<'a>>,
    /// Workflow variables (a model's defaults for a model).
    #[schema(value_type = Object)]
    variables: VarsRef<'a>,
    #[serde(rename = "graphResource")]
    graph_resource: String,
}

/// Borrowed or owned variables.
#[derive(Serialize)]
#[serde(untagged)]
enum VarsRef<'a> {
    Borrowed(&'a Variables),
    Owned(Variables),
}

/// `{"entity-type":"task",…}`
#[derive(Serialize, ToSchema)]
pub struct TaskEntity<'a> {
    #[serde(rename = "entity-type")]
    #[schema(value_type = super::schema::TaskType, inline)]
    entity_type: &'static str,
    id: &'a str,
    name: &'a str,
    #[serde(rename = "workflowInstanceId")]
    workflow_instance_id: Option<&'a str>,
    #[serde(rename = "workflowModelName", skip_serializing_if = "Option::is_none")]
    workflow_model_name: Option<&'a str>,
    #[serde(rename = "workflowInitiator", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    workflow_initiator: Option<Option<UserOrName>>,
    #[serde(rename = "workflowTitle", skip_serializing_if = "Option::is_none")]
    workflow_title: Option<&'a str>,
    #[serde(
        rename = "workflowLifeCycleState",
        skip_serializing_if = "Option::is_none"
    )]
    workflow_life_cycle_state: Option<&'static str>,
    #[serde(rename = "graphResource", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    graph_resource: Option<Joined<'a>>,
    state: &'static str,
    directive: Option<&'a str>,
    created: String,
    #[serde(rename = "dueDate")]
    due_date: Option<String>,
    #[serde(rename = "nodeName")]
    node_name: &'a str,
    #[serde(rename = "targetDocumentIds")]
    #[schema(value_type = Vec<super::schema::DocumentRef>)]
    target_document_ids: Vec<RefOr<'a>>,
    #[schema(value_type = Vec<super::schema::PrincipalRef>)]
    actors: Vec<RefOr<'a>>,
    #[serde(rename = "delegatedActors")]
    #[schema(value_type = Vec<super::schema::PrincipalRef>)]
    delegated_actors: Vec<RefOr<'a>>,
    comments: Vec<CommentEntity<'a>>,
    /// Task and workflow variables.
    #[schema(value_type = Object)]
    variables: &'a Variables,
    #[serde(rename = "taskInfo")]
    task_info: TaskInfoEntity<'a>,
}

#[derive(Serialize, ToSchema)]
struct CommentEntity<'a> {
    author: &'a str,
    text: Option<&'a str>,
    date: String,
}

#[derive(Serialize, ToSchema)]
struct TaskInfoEntity<'a> {
    #[serde(rename = "allowTaskReassignment")]
    allow_task_reassignment: bool,
    #[serde(rename = "taskActions")]
    task_actions: Vec<TaskActionEntity<'a>>,
    #[serde(rename = "layoutResource")]
    layout_resource: NamedUrl<'a>,
    schemas: Vec<NamedUrl<'a>>,
}

#[derive(Serialize, ToSchema)]
struct TaskActionEntity<'a> {
    name: &'a str,
    #[schema(value_type = String)]
    url: Joined<'a>,
    label: &'a str,
    validate: bool,
}

#[derive(Serialize, ToSchema)]
struct NamedUrl<'a> {
    #[schema(value_type = String)]
    name: Joined<'a>,
    #[schema(value_type = String)]
    url: Joined<'a>,
}

/// `{"entity-type":"graph",…}`
#[derive(Serialize, ToSchema)]
pub struct GraphEntity<'a> {
    #[serde(rename = "entity-type")]
    #[schema(value_type = super::schema::GraphType, inline)]
    entity_type: &'static str,
    nodes: Vec<NodeEntity<'a>>,
    transitions: Vec<TransitionEntity<'a>>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct NodeEntity<'a> {
    x: i64,
    y: i64,
    is_start_node: bool,
    is_end_node: bool,
    id: &'a str,
    title: &'a str,
    state: &'static str,
    is_merge: bool,
    is_multi_task: bool,
    has_sub_workflow: bool,
    start_node: bool,
    end_node: bool,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct TransitionEntity<'a> {
    node_source_id: &'a str,
    node_target_id: &'a str,
    label: &'a str,
    #[schema(value_type = Vec<super::schema::GraphPoint>)]
    path: &'a [flowgate_core::GraphPoint],
}

impl<'a> GraphEntity<'a> {
    /// Renders a graph.
    pub fn from_graph(g: &'a Graph) -> Self {
        Self {
            entity_type: "graph",
            nodes: g
                .nodes
                .iter()
                .map(|n| NodeEntity {
                    x: n.x,
                    y: n.y,
                    is_start_node: n.start,
                    is_end_node: n.end,
                    id: &n.id,
                    title: &n.title,
                    state: n.state.as_str(),
                    is_merge: n.merge,
                    is_multi_task: n.multi_task,
                    has_sub_workflow: n.sub_workflow,
                    start_node: n.start,
                    end_node: n.end,
                })
                .collect(),
            transitions: g
                .transitions
                .iter()
                .map(|t| TransitionEntity {
                    node_source_id: &t.source,
                    node_target_id: &t.target,
                    label: &t.label,
                    path: &t.path,
                })
                .collect(),
        }
    }
}

/// `{"id": …}` for an unfetched (or unknown) principal or document, else the fetched
/// entity. The plain reference borrows the id: lists of them are the common case and
/// need no JSON tree.
#[derive(Serialize)]
#[serde(untagged)]
pub enum RefOr<'a> {
    /// `{"id": …}`
    Id {
        /// The id.
        id: &'a str,
    },
    /// A fetched entity.
    Entity(Box<Fetched>),
}

fn id_obj(id: &str) -> RefOr<'_> {
    RefOr::Id { id }
}

impl<'a> Renderer<'a> {
    /// A workflow instance.
    pub fn workflow(&self, w: &'a WorkflowInstance) -> WorkflowEntity<'a> {
        let initiator = match &w.initiator {
            None => None,
            Some(u) if self.ctx.fetches("workflow", "initiator") => Some(self.user_or_string(u)),
            Some(u) => Some(UserOrName::Name(u.clone())),
        };
        let fetch_docs = self.ctx.fetches("workflow", "attachedDocumentIds");
        WorkflowEntity {
            entity_type: "workflow",
            id: &w.id,
            name: &w.name,
            title: &w.title,
            state: w.state.as_str(),
            workflow_model_name: &w.model_name,
            initiator,
            attached_document_ids: w
                .attached_documents
                .iter()
                .map(|d| self.document_ref(d, fetch_docs))
                .collect(),
            variables: VarsRef::Borrowed(&w.variables),
            graph_resource: self.ctx.api_url(&["workflow/", &w.id, "/graph"]),
        }
    }

    /// A workflow model, rendered as a `workflow` entity in state `validated`.
    pub fn model(&self, m: &'a WorkflowModel) -> WorkflowEntity<'a> {
        WorkflowEntity {
            entity_type: "workflow",
            id: &m.id,
            name: &m.name,
            title: &m.title,
            state: "validated",
            workflow_model_name: &m.name,
            initiator: None,
            attached_document_ids: Vec::new(),
            variables: VarsRef::Owned(m.default_variables()),
            graph_resource: self.ctx.api_url(&["workflowModel/", &m.name, "/graph"]),
        }
    }

    /// A task.
    pub fn task(&self, t: &'a Task) -> TaskEntity<'a> {
        let in_wf = t.workflow_id.is_some();
        let fetch_actors = self.ctx.fetches("task", "actors");
        let fetch_docs = self.ctx.fetches("task", "targetDocumentIds");
        let actor = |a: &'a String| {
            if fetch_actors {
                self.principal(a)
            } else {
                id_obj(a)
            }
        };
        let initiator = t.workflow_initiator.as_deref().map(|u| {
            if self.ctx.fetches("task", "workflowInitiator") {
                self.user_or_string(u)
            } else {
                UserOrName::Name(u.to_owned())
            }
        });
        TaskEntity {
            entity_type: "task",
            id: &t.id,
            name: &t.name,
            workflow_instance_id: t.workflow_id.as_deref(),
            workflow_model_name: if in_wf {
                Some(t.workflow_model_name.as_deref().unwrap_or(""))
            } else {
                None
            },
            workflow_initiator: if in_wf { Some(initiator) } else { None },
            workflow_title: if in_wf {
                Some(t.workflow_title.as_deref().unwrap_or(""))
            } else {
                None
            },
            workflow_life_cycle_state: if in_wf {
                Some(t.workflow_state.map(|s| s.as_str()).unwrap_or("running"))
            } else {
                None
            },
            graph_resource: t
                .workflow_id
                .as_ref()
                .map(|w| Joined::of([&self.ctx.base, API_PATH, "workflow/", w, "/graph"])),
            state: t.state.as_str(),
            directive: t.directive.as_deref(),
            created: w3c(&t.created),
            due_date: t.due_date.as_ref().map(w3c),
            node_name: &t.node_id,
            target_document_ids: t
                .target_documents
                .iter()
                .map(|d| self.document_ref(d, fetch_docs))
                .collect(),
            actors: t.actors.iter().map(actor).collect(),
            delegated_actors: t.delegated_actors.iter().map(actor).collect(),
            comments: t
                .comments
                .iter()
                .map(|c| CommentEntity {
                    author: &c.author,
                    text: c.text.as_deref(),
                    date: w3c(&c.date),
                })
                .collect(),
            variables: &t.variables,
            task_info: TaskInfoEntity {
                allow_task_reassignment: t.info.allow_reassignment,
                task_actions: t
                    .info
                    .actions
                    .iter()
                    .map(|a| TaskActionEntity {
                        name: &a.name,
                        url: Joined::of([&self.ctx.base, API_PATH, "task/", &t.id, "/", &a.name]),
                        label: &a.label,
                        validate: a.validate,
                    })
                    .collect(),
                layout_resource: NamedUrl {
                    name: Joined::of([&t.node_id, "@taskLayout"]),
                    url: Joined::of([
                        &self.ctx.base,
                        "site/layout-manager/layouts/?layoutName=",
                        &t.node_id,
                        "@taskLayout",
                    ]),
                },
                schemas: t
                    .info
                    .schemas
                    .iter()
                    .map(|s| NamedUrl {
                        name: Joined::of([s]),
                        url: Joined::of([&self.ctx.base, API_PATH, "config/schemas/", s]),
                    })
                    .collect(),
            },
        }
    }

    /// A paginated or plain task list.
    pub fn tasks(&self, tasks: &'a [Task]) -> Vec<TaskEntity<'a>> {
        tasks.iter().map(|t| self.task(t)).collect()
    }

    fn document_ref<'b>(&self, id: &'b str, fetch: bool) -> RefOr<'b> {
        if !fetch {
            return id_obj(id);
        }
        let stub = Document {
            id: id.to_owned(),
            ..Document::default()
        };
        let doc = self.documents.get(id).unwrap_or(&stub);
        RefOr::Entity(Box::new(Fetched::Document(document_entity(
            doc,
            &self.ctx.repository,
        ))))
    }

    /// A user entity for `name`, or the plain string when the user is unknown.
    fn user_or_string(&self, name: &str) -> UserOrName {
        let bare = name.strip_prefix("user:").unwrap_or(name);
        match self.directory.user(bare) {
            Some(u) => UserOrName::User(Box::new(user_entity(u, self.directory, self.ctx))),
            None => UserOrName::Name(name.to_owned()),
        }
    }

    fn user_ref<'b>(&self, u: &crate::auth::User) -> RefOr<'b> {
        RefOr::Entity(Box::new(Fetched::User(user_entity(
            u,
            self.directory,
            self.ctx,
        ))))
    }

    fn group_ref<'b>(g: &crate::auth::Group) -> RefOr<'b> {
        RefOr::Entity(Box::new(Fetched::Group(group_entity(g))))
    }

    /// Resolves an actor: `user:X` → user, `group:Y` → group, bare → user, else group,
    /// else `{"id": …}`.
    fn principal<'b>(&self, actor: &'b str) -> RefOr<'b> {
        let d = self.directory;
        if let Some(u) = actor.strip_prefix("user:") {
            return d
                .user(u)
                .map(|u| self.user_ref(u))
                .unwrap_or_else(|| id_obj(actor));
        }
        if let Some(g) = actor.strip_prefix("group:") {
            return d
                .group(g)
                .map(Self::group_ref)
                .unwrap_or_else(|| id_obj(actor));
        }
        if let Some(u) = d.user(actor) {
            return self.user_ref(u);
        }
        d.group(actor)
            .map(Self::group_ref)
            .unwrap_or_else(|| id_obj(actor))
    }
}

#[cfg(test)]
#[path = "entities_tests.rs"]
mod tests;
