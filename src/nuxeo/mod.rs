//! The Nuxeo wire format: entities written to clients, bodies read from them, and the
//! per-request rendering context (base URL, fetch flags, tolerant query parameters).
//! Nothing outside this module knows Nuxeo JSON field names.

mod context;
mod entities;
mod lists;
mod principals;
mod requests;
pub mod schema;

pub use context::{base_url, blank_as_none, valid_host, Params, RenderCtx};
pub use entities::{w3c, GraphEntity, Renderer, TaskEntity, WorkflowEntity};
pub use lists::{page_of, pagination_of, ListEntity, Pagination, MAX_PAGE_SIZE};
pub use principals::{
    document_entity, group_entity, user_entity, DocumentEntity, Fetched, GroupEntity, UserEntity,
    UserOrName,
};
pub use requests::{
    parse_completion, parse_start, trimmed, DocumentId, DocumentIds, DocumentObject,
    TaskCompletionRequest, WorkflowRequest,
};
