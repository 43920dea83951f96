//! The user, group and document entities: what `fetch.*` flags expand ids into, and what
//! `GET user/{id}` and `GET me` answer. Field order follows Nuxeo's writers.

use flowgate_core::Document;
use serde::Serialize;

use super::context::RenderCtx;
use crate::auth::{Directory, Group, User};

/// `{"entity-type":"user",…}`, never with a password.
#[derive(Debug, Serialize)]
pub struct UserEntity {
    #[serde(rename = "entity-type")]
    entity_type: &'static str,
    id: String,
    properties: UserProperties,
    #[serde(rename = "extendedGroups")]
    extended_groups: Vec<ExtendedGroup>,
    #[serde(rename = "isAdministrator")]
    is_administrator: bool,
    #[serde(rename = "isAnonymous")]
    is_anonymous: bool,
}

#[derive(Debug, Serialize)]
struct UserProperties {
    #[serde(rename = "firstName")]
    first_name: String,
    #[serde(rename = "lastName")]
    last_name: String,
    username: String,
    email: String,
    company: &'static str,
    groups: Vec<String>,
    #[serde(rename = "tenantId")]
    tenant_id: Option<String>,
}

#[derive(Debug, Serialize)]
struct ExtendedGroup {
    name: String,
    label: String,
    url: String,
}

/// `{"entity-type":"group",…}`
#[derive(Debug, Serialize)]
pub struct GroupEntity {
    #[serde(rename = "entity-type")]
    entity_type: &'static str,
    groupname: String,
    grouplabel: String,
    id: String,
    properties: GroupProperties,
}

#[derive(Debug, Serialize)]
struct GroupProperties {
    groupname: String,
    grouplabel: String,
    description: Option<String>,
}

/// `{"entity-type":"document",…}`; what the gateway does not know is `null`.
#[derive(Debug, Serialize)]
pub struct DocumentEntity {
    #[serde(rename = "entity-type")]
    entity_type: &'static str,
    repository: String,
    uid: String,
    path: Option<String>,
    #[serde(rename = "type")]
    doc_type: Option<String>,
    state: Option<String>,
    #[serde(rename = "parentRef")]
    parent_ref: Option<String>,
    #[serde(rename = "isCheckedOut")]
    is_checked_out: Option<bool>,
    #[serde(rename = "isRecord")]
    is_record: Option<bool>,
    #[serde(rename = "retainUntil")]
    retain_until: Option<String>,
    #[serde(rename = "hasLegalHold")]
    has_legal_hold: Option<bool>,
    #[serde(rename = "isUnderRetentionOrLegalHold")]
    is_under_retention_or_legal_hold: Option<bool>,
    #[serde(rename = "isVersion")]
    is_version: Option<bool>,
    #[serde(rename = "isProxy")]
    is_proxy: Option<bool>,
    #[serde(rename = "changeToken")]
    change_token: Option<String>,
    #[serde(rename = "isTrashed")]
    is_trashed: Option<bool>,
    title: Option<String>,
    #[serde(rename = "lastModified")]
    last_modified: Option<String>,
    properties: NoProperties,
    facets: [String; 0],
    schemas: [String; 0],
}

/// `{}`
#[derive(Debug, Serialize)]
struct NoProperties {}

/// A fetched principal or document, in place of its `{"id": …}` reference.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Fetched {
    /// A user.
    User(UserEntity),
    /// A group.
    Group(GroupEntity),
    /// A document.
    Document(DocumentEntity),
}

/// A user entity when the user is known, else the name as given.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum UserOrName {
    /// A known user.
    User(Box<UserEntity>),
    /// The name as given.
    Name(String),
}

/// A user entity.
pub fn user_entity(u: &User, d: &Directory, ctx: &RenderCtx) -> UserEntity {
    let extended_groups = u
        .groups
        .iter()
        .map(|g| ExtendedGroup {
            name: g.clone(),
            label: d.group(g).map_or_else(|| g.clone(), |x| x.label.clone()),
            url: ctx.api_url(&["group/", g]),
        })
        .collect();
    UserEntity {
        entity_type: "user",
        id: u.name.clone(),
        properties: UserProperties {
            first_name: u.first_name.clone(),
            last_name: u.last_name.clone(),
            username: u.name.clone(),
            email: u.email.clone(),
            company: "",
            groups: u.groups.clone(),
            tenant_id: None,
        },
        extended_groups,
        is_administrator: u.admin,
        is_anonymous: false,
    }
}

/// A group entity.
pub fn group_entity(g: &Group) -> GroupEntity {
    GroupEntity {
        entity_type: "group",
        groupname: g.name.clone(),
        grouplabel: g.label.clone(),
        id: g.name.clone(),
        properties: GroupProperties {
            groupname: g.name.clone(),
            grouplabel: g.label.clone(),
            description: g.description.clone(),
        },
    }
}

/// A document entity; unknown fields of stub documents are `null`.
pub fn document_entity(d: &Document, repository: &str) -> DocumentEntity {
    DocumentEntity {
        entity_type: "document",
        repository: repository.to_owned(),
        uid: d.id.clone(),
        path: d.path.clone(),
        doc_type: d.doc_type.clone(),
        state: d.state.clone(),
        parent_ref: None,
        is_checked_out: None,
        is_record: None,
        retain_until: None,
        has_legal_hold: None,
        is_under_retention_or_legal_hold: None,
        is_version: None,
        is_proxy: None,
        change_token: None,
        is_trashed: None,
        title: d.title.clone(),
        last_modified: None,
        properties: NoProperties {},
        facets: [],
        schemas: [],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_and_stub_document_render_in_nuxeo_field_order() {
        let g = Group {
            name: "members".into(),
            label: "Members".into(),
            description: None,
        };
        assert_eq!(
            serde_json::to_string(&group_entity(&g)).unwrap(),
            r#"{"entity-type":"group","groupname":"members","grouplabel":"Members","id":"members","properties":{"groupname":"members","grouplabel":"Members","description":null}}"#
        );
        let d = Document {
            id: "d1".into(),
            ..Document::default()
        };
        assert_eq!(
            serde_json::to_string(&document_entity(&d, "default")).unwrap(),
            concat!(
                r#"{"entity-type":"document","repository":"default","uid":"d1","path":null,"type":null,"state":null,"#,
                r#""parentRef":null,"isCheckedOut":null,"isRecord":null,"retainUntil":null,"hasLegalHold":null,"#,
                r#""isUnderRetentionOrLegalHold":null,"isVersion":null,"isProxy":null,"changeToken":null,"#,
                r#""isTrashed":null,"title":null,"lastModified":null,"properties":{},"facets":[],"schemas":[]}"#
            )
        );
    }
}
