//! `sortBy` / `sortOrder` of the task and workflow lists.
//!
//! `sortBy` takes Nuxeo's property names (`nt:dueDate`, `dc:created`, ...) and plain
//! names (`dueDate`, `created`, `name`, ...); `sortOrder` is `asc` or `desc` in any case.
//! As in Nuxeo, a `sortBy` without `sortOrder` sorts in descending order. A `sortOrder`
//! without `sortBy` applies to the default key (due date for tasks, start time for
//! workflows). Without either, lists keep their default order. Anything else, a blank
//! value included, is refused with 400, naming what was sent and what is accepted.

use flowgate_core::{Sort, TaskSort, TaskSortKey, WorkflowSort, WorkflowSortKey};
use serde::Deserialize;
use utoipa::openapi::schema::Type;
use utoipa::openapi::{ObjectBuilder, RefOr, Schema};
use utoipa::IntoParams;

use crate::error::ApiError;

/// The `sortBy` values of task lists and what each sorts on.
pub(crate) const TASK_FIELDS: &[(&str, TaskSortKey)] = &[
    ("dueDate", TaskSortKey::DueDate),
    ("nt:dueDate", TaskSortKey::DueDate),
    ("created", TaskSortKey::Created),
    ("dc:created", TaskSortKey::Created),
    ("name", TaskSortKey::Name),
    ("nt:name", TaskSortKey::Name),
    ("dc:title", TaskSortKey::Name),
];

/// The `sortBy` values of workflow lists and what each sorts on.
pub(crate) const WORKFLOW_FIELDS: &[(&str, WorkflowSortKey)] = &[
    ("created", WorkflowSortKey::Created),
    ("dc:created", WorkflowSortKey::Created),
    ("name", WorkflowSortKey::Name),
    ("ecm:name", WorkflowSortKey::Name),
    ("title", WorkflowSortKey::Title),
    ("dc:title", WorkflowSortKey::Title),
];

/// `sortOrder`: `asc` or `desc`, in any case.
const ORDER_PATTERN: &str = "^([Aa][Ss][Cc]|[Dd][Ee][Ss][Cc])$";

/// Sorting of the task lists (`GET /task`, `…/@task`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TaskSortParams {
    /// Sort key: due date (`dueDate`, `nt:dueDate`; tasks without a due date come last
    /// in both orders), creation time (`created`, `dc:created`) or task name (`name`,
    /// `nt:name`, `dc:title`; case-insensitive). Ties keep the default order. Default:
    /// due date ascending, then creation time, then id.
    #[param(value_type = Option<TaskSortField>, inline)]
    sort_by: Option<String>,
    /// `asc` or `desc` (any case). Default: `desc` when `sortBy` is given, as in Nuxeo;
    /// without `sortBy` it applies to the due date.
    #[param(value_type = Option<SortDirection>, inline)]
    sort_order: Option<String>,
}

/// Sorting of the workflow lists (`GET /workflow`, `…/@workflow`).
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(rename_all = "camelCase")]
pub(crate) struct WorkflowSortParams {
    /// Sort key: start time (`created`, `dc:created`), instance name (`name`,
    /// `ecm:name`) or title (`title`, `dc:title`); names and titles compare
    /// case-insensitively. Ties keep the default order. Default: start time ascending,
    /// then id.
    #[param(value_type = Option<WorkflowSortField>, inline)]
    sort_by: Option<String>,
    /// `asc` or `desc` (any case). Default: `desc` when `sortBy` is given, as in Nuxeo;
    /// without `sortBy` it applies to the start time.
    #[param(value_type = Option<SortDirection>, inline)]
    sort_order: Option<String>,
}

impl TaskSortParams {
    /// The order asked for; `None` for the default one.
    pub(crate) fn sort(&self) -> Result<Option<TaskSort>, ApiError> {
        parse(
            "tasks",
            TASK_FIELDS,
            TaskSortKey::DueDate,
            self.sort_by.as_deref(),
            self.sort_order.as_deref(),
        )
    }
}

impl WorkflowSortParams {
    /// The order asked for; `None` for the default one.
    pub(crate) fn sort(&self) -> Result<Option<WorkflowSort>, ApiError> {
        parse(
            "workflows",
            WORKFLOW_FIELDS,
            WorkflowSortKey::Created,
            self.sort_by.as_deref(),
            self.sort_order.as_deref(),
        )
    }
}

fn parse<K: Copy>(
    what: &str,
    fields: &[(&str, K)],
    default_key: K,
    by: Option<&str>,
    order: Option<&str>,
) -> Result<Option<Sort<K>>, ApiError> {
    let descending = match order {
        None => None,
        Some(o) if o.eq_ignore_ascii_case("asc") => Some(false),
        Some(o) if o.eq_ignore_ascii_case("desc") => Some(true),
        Some(o) => {
            return Err(ApiError::bad_request(format!(
                "Unknown sortOrder '{}': accepted values are asc and desc",
                flowgate_core::shown(o)
            )))
        }
    };
    let key = match by {
        None => None,
        Some(b) => match fields.iter().find(|(name, _)| *name == b) {
            Some((_, k)) => Some(*k),
            None => {
                let names: Vec<&str> = fields.iter().map(|(n, _)| *n).collect();
                return Err(ApiError::bad_request(format!(
                    "Unknown sortBy field '{}' for {what}: accepted fields are {}",
                    flowgate_core::shown(b),
                    names.join(", ")
                )));
            }
        },
    };
    Ok(match (key, descending) {
        (None, None) => None,
        (None, Some(descending)) => Some(Sort {
            key: default_key,
            descending,
        }),
        (Some(key), descending) => Some(Sort {
            key,
            descending: descending.unwrap_or(true),
        }),
    })
}

fn field_schema(fields: &[(&str, impl Copy)], description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(fields.iter().map(|(n, _)| *n)))
        .into()
}

/// A `sortBy` value of the task lists (schema only).
pub(crate) struct TaskSortField;

impl utoipa::PartialSchema for TaskSortField {
    fn schema() -> RefOr<Schema> {
        field_schema(TASK_FIELDS, "A task sort key")
    }
}

impl utoipa::ToSchema for TaskSortField {}

/// A `sortBy` value of the workflow lists (schema only).
pub(crate) struct WorkflowSortField;

impl utoipa::PartialSchema for WorkflowSortField {
    fn schema() -> RefOr<Schema> {
        field_schema(WORKFLOW_FIELDS, "A workflow sort key")
    }
}

impl utoipa::ToSchema for WorkflowSortField {}

/// A `sortOrder` value (schema only): `asc` or `desc`, in any case.
pub(crate) struct SortDirection;

impl utoipa::PartialSchema for SortDirection {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("`asc` or `desc`, in any case"))
            .pattern(Some(ORDER_PATTERN))
            .examples(["asc", "desc"])
            .into()
    }
}

impl utoipa::ToSchema for SortDirection {}

#[cfg(test)]
mod tests {
    use super::*;

    fn tasks(by: Option<&str>, order: Option<&str>) -> Result<Option<TaskSort>, ApiError> {
        TaskSortParams {
            sort_by: by.map(str::to_owned),
            sort_order: order.map(str::to_owned),
        }
        .sort()
    }

    #[test]
    fn nuxeo_and_plain_names_are_accepted() {
        for (by, key) in TASK_FIELDS {
            let s = tasks(Some(by), Some("ASC")).ok().flatten();
            assert_eq!(s, Some(Sort::asc(*key)), "{by}");
        }
        let s = WorkflowSortParams {
            sort_by: Some("dc:title".into()),
            sort_order: Some("Desc".into()),
        }
        .sort()
        .ok()
        .flatten();
        assert_eq!(s, Some(Sort::desc(WorkflowSortKey::Title)));
    }

    #[test]
    fn defaults_follow_nuxeo() {
        assert_eq!(tasks(None, None).ok().flatten(), None);
        assert_eq!(
            tasks(Some("name"), None).ok().flatten(),
            Some(Sort::desc(TaskSortKey::Name))
        );
        assert_eq!(
            tasks(None, Some("desc")).ok().flatten(),
            Some(Sort::desc(TaskSortKey::DueDate))
        );
    }

    #[test]
    fn unknown_values_are_refused_with_what_is_accepted() {
        for (by, order) in [
            (Some("priority"), None),
            (Some("DueDate"), None),
            (Some(""), None),
            (Some("dueDate,name"), None),
            (None, Some("up")),
            (None, Some("")),
        ] {
            assert!(tasks(by, order).is_err(), "{by:?} {order:?}");
        }
        let e = WorkflowSortParams {
            sort_by: Some("dueDate".into()),
            sort_order: None,
        }
        .sort()
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(e.contains("dueDate") && e.contains("dc:created"), "{e}");
    }

    #[test]
    fn orders_are_accepted_in_any_case_and_nothing_else() {
        for ok in ["asc", "DESC", "Asc", "dEsC"] {
            assert!(tasks(None, Some(ok)).is_ok(), "{ok}");
        }
        for bad in ["", "ascending", "up", "1"] {
            assert!(tasks(None, Some(bad)).is_err(), "{bad}");
        }
    }
}
