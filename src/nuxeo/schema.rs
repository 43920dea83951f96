//! OpenAPI schemas of the Nuxeo entities that are written without a Rust type of their
//! own (lists, users, references inside entities) and the constant `entity-type` of
//! every entity. The entities with a type ([`super::WorkflowEntity`],
//! [`super::TaskEntity`], …) derive their schema themselves.

use utoipa::ToSchema;

use super::{TaskEntity, WorkflowEntity};
use crate::router::EngineFailure;

/// A one-value string schema for the `entity-type` of an entity: the variant's name in
/// lower case.
macro_rules! entity_type {
    ($($name:ident = $variant:ident;)*) => {$(
        #[doc = concat!("The `entity-type` of a `", stringify!($variant), "` entity (lower case).")]
        #[derive(ToSchema)]
        #[serde(rename_all = "lowercase")]
        #[allow(dead_code)] // Schema only: the entities write the constant themselves.
        pub enum $name {
            /// The only value.
            $variant,
        }
    )*};
}

entity_type! {
    WorkflowType = Workflow;
    WorkflowsType = Workflows;
    TaskType = Task;
    TasksType = Tasks;
    GraphType = Graph;
    UserType = User;
    LoginType = Login;
}

/// A reference to a document (`{"id": …}`), or a whole `document` entity when fetched
/// with `fetch.workflow=attachedDocumentIds` / `fetch.task=targetDocumentIds`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct DocumentRef {
    /// Document id.
    id: String,
}

/// An actor (`{"id": "jdoe"}`, `{"id": "group:members"}`), or a `user`/`group` entity
/// when fetched with `fetch.task=actors`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct PrincipalRef {
    /// User name or `group:<name>`.
    id: String,
}

/// One point of a transition's polyline in a graph.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct GraphPoint {
    /// Horizontal canvas coordinate.
    x: f64,
    /// Vertical canvas coordinate.
    y: f64,
}

/// `{"entity-type":"workflows","entries":[…]}`; when the list was longer than
/// `limits.max_page_size`, the first page, with the fields of `Pagination` between
/// `entity-type` and `entries`.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct WorkflowList<'a> {
    /// Always `workflows`.
    #[schema(rename = "entity-type", inline)]
    entity_type: WorkflowsType,
    /// Workflow instances (or models, which are rendered as `workflow` entities).
    entries: Vec<WorkflowEntity<'a>>,
    /// Engines that failed while the list was gathered from several engines; absent
    /// when every engine answered.
    #[schema(rename = "engineFailures")]
    engine_failures: Option<Vec<EngineFailure>>,
}

/// `{"entity-type":"tasks","entries":[…]}`. With `isPaginated=true` (or when the list
/// was longer than `limits.max_page_size`) the fields of `Pagination` come between
/// `entity-type` and `entries`: one shape, whose pagination fields are optional.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct TaskList<'a> {
    /// Always `tasks`.
    #[schema(rename = "entity-type", inline)]
    entity_type: TasksType,
    /// Tasks.
    entries: Vec<TaskEntity<'a>>,
    /// Engines that failed while the list was gathered from several engines; absent
    /// when every engine answered.
    #[schema(rename = "engineFailures")]
    engine_failures: Option<Vec<EngineFailure>>,
}

/// `{"entity-type":"user",…}` (never with a password).
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserEntity {
    /// Always `user`.
    #[schema(rename = "entity-type", inline)]
    entity_type: UserType,
    /// User name.
    id: String,
    /// Profile fields.
    properties: UserProperties,
    /// Groups with their labels.
    #[schema(rename = "extendedGroups")]
    extended_groups: Vec<ExtendedGroup>,
    /// Member of the administrators group.
    #[schema(rename = "isAdministrator")]
    is_administrator: bool,
    /// Always false.
    #[schema(rename = "isAnonymous")]
    is_anonymous: bool,
}

/// Profile fields of a user.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct UserProperties {
    /// First name.
    #[schema(rename = "firstName")]
    first_name: String,
    /// Last name.
    #[schema(rename = "lastName")]
    last_name: String,
    /// User name.
    username: String,
    /// E-mail address.
    email: String,
    /// Always empty.
    company: String,
    /// Group names.
    groups: Vec<String>,
    /// Always null.
    #[schema(rename = "tenantId")]
    tenant_id: Option<String>,
}

/// A group of a user, with its label.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ExtendedGroup {
    /// Group name.
    name: String,
    /// Group label.
    label: String,
    /// URL of the group resource.
    url: String,
}

/// `{"entity-type":"login",…}`
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct LoginEntity {
    /// Always `login`.
    #[schema(rename = "entity-type", inline)]
    entity_type: LoginType,
    /// User name.
    username: String,
    /// Member of the administrators group.
    #[schema(rename = "isAdministrator")]
    is_administrator: bool,
    /// Group names.
    groups: Vec<String>,
}
