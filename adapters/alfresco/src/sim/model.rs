//! Seed data of the simulator: users, groups, the node tree, the five built-in
//! workflow definitions, their start and task form models.

use serde_json::{json, Value};

/// The group whose members are repository administrators.
pub const ADMIN_GROUP: &str = "GROUP_ALFRESCO_ADMINISTRATORS";

/// A seeded repository node.
#[derive(Clone, Debug)]
pub struct Node {
    pub id: &'static str,
    pub name: &'static str,
    pub parent: Option<&'static str>,
    pub folder: bool,
    pub mime: Option<&'static str>,
    pub size: Option<u64>,
    pub title: Option<&'static str>,
}

/// Fixed node uuids so that tests can hard-code them.
pub mod nodes {
    pub const ROOT: &str = "8f2105b4-daaf-4874-9e8a-2152569d109b";
    pub const SITES: &str = "5f0a3b49-3f0b-4c38-9c3a-2a4f8e0c5b11";
    pub const FINANCE: &str = "c2b7e1d4-6a8f-4e2b-9d1c-7f3a5e9b0c22";
    pub const DOCLIB: &str = "e4d9c8b7-1a2b-4c3d-8e5f-6a7b8c9d0e33";
    pub const CONTRACT: &str = "0a6b2c1e-5d4f-4a8e-9b7c-3e2d1f0a9b8c";
    pub const BUDGET: &str = "5c7e2d9a-1b3f-4c6d-8e9f-0a1b2c3d4e5f";
    pub const ARCHIVE_FOLDER: &str = "9b8a7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c44";
    pub const ODD_NAME: &str = "3d4e5f6a-7b8c-4d9e-8f0a-1b2c3d4e5f55";
}

pub fn seed_nodes() -> Vec<Node> {
    use nodes::*;
    let n = |id, name, parent, folder, mime, size, title| Node {
        id,
        name,
        parent,
        folder,
        mime,
        size,
        title,
    };
    vec![
        n(ROOT, "Company Home", None, true, None, None, None),
        n(SITES, "Sites", Some(ROOT), true, None, None, None),
        n(FINANCE, "finance", Some(SITES), true, None, None, None),
        n(
            DOCLIB,
            "documentLibrary",
            Some(FINANCE),
            true,
            None,
            None,
            None,
        ),
        n(
            CONTRACT,
            "contract.pdf",
            Some(DOCLIB),
            false,
            Some("application/pdf"),
            Some(18423),
            Some("Q3 contract"),
        ),
        n(
            BUDGET,
            "budget.xlsx",
            Some(DOCLIB),
            false,
            Some("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
            Some(9120),
            None,
        ),
        n(
            ARCHIVE_FOLDER,
            "archive",
            Some(DOCLIB),
            true,
            None,
            None,
            None,
        ),
        n(
            ODD_NAME,
            "minutes & notes 2024.txt",
            Some(DOCLIB),
            false,
            Some("text/plain"),
            Some(512),
            None,
        ),
    ]
}

/// Seeded users (user name = password unless the options say otherwise).
pub const USERS: &[&str] = &["admin", "jdoe", "bob", "carol", "dave"];

/// Seeded groups with their direct members (users or groups).
pub fn seed_groups() -> Vec<(&'static str, Vec<&'static str>)> {
    vec![
        (ADMIN_GROUP, vec!["admin"]),
        ("GROUP_reviewers", vec!["jdoe", "bob", "carol"]),
        ("GROUP_empty", vec![]),
        ("GROUP_all", vec!["GROUP_reviewers", "dave"]),
    ]
}

/// A built-in definition.
#[derive(Clone, Debug)]
pub struct DefSeed {
    pub key: &'static str,
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub start_form: &'static str,
}

pub const DEFINITIONS: &[DefSeed] = &[
    DefSeed {
        key: "activitiAdhoc",
        name: "Adhoc Activiti Process",
        title: "New Task",
        description: "Assign a new task to yourself or a colleague",
        start_form: "wf:submitAdhocTask",
    },
    DefSeed {
        key: "activitiReview",
        name: "Review And Approve Activiti Process",
        title: "Review And Approve (single reviewer)",
        description: "Assign a review task to a single reviewer",
        start_form: "wf:submitReviewTask",
    },
    DefSeed {
        key: "activitiReviewPooled",
        name: "Pooled Review And Approve Activiti Process",
        title: "Review and Approve (pooled review)",
        description:
            "Assign a review task to multiple reviewers. One reviewer takes ownership of the task",
        start_form: "wf:submitGroupReviewTask",
    },
    DefSeed {
        key: "activitiParallelReview",
        name: "Parallel Review And Approve Activiti Process",
        title: "Review and Approve (one or more reviewers)",
        description: "Assign a review task to multiple reviewers",
        start_form: "wf:submitParallelReviewTask",
    },
    DefSeed {
        key: "activitiParallelGroupReview",
        name: "Parallel Group Review And Approve Activiti Process",
        title: "Review and Approve (group review)",
        description: "Assign a review task to a group of reviewers",
        start_form: "wf:submitGroupReviewTask",
    },
];

/// Model type of a variable known to the content model, in `prefix:local` form.
pub fn var_type(name: &str) -> Option<&'static str> {
    Some(match name {
        "bpm_assignee" | "bpm_assignees" | "initiator" => "cm:person",
        "bpm_groupAssignee" => "cm:authorityContainer",
        "bpm_package" => "bpm:workflowPackage",
        "bpm_workflowDescription"
        | "bpm_description"
        | "bpm_comment"
        | "bpm_status"
        | "bpm_outcome"
        | "wf_reviewOutcome" => "d:text",
        "bpm_workflowDueDate" | "bpm_dueDate" | "bpm_startDate" | "bpm_completionDate" => "d:date",
        "bpm_workflowPriority"
        | "bpm_priority"
        | "bpm_percentComplete"
        | "wf_requiredApprovePercent"
        | "wf_approveCount"
        | "wf_rejectCount"
        | "wf_reviewerCount"
        | "wf_requiredPercent" => "d:int",
        "wf_actualPercent" | "wf_actualRejectPercent" => "d:double",
        "bpm_sendEMailNotifications" | "wf_notifyMe" | "bpm_reassignable" | "cancelled" => {
            "d:boolean"
        }
        "companyhome" | "initiatorhome" => "d:noderef",
        "bpm_outcomePropertyName" => "d:qname",
        _ => return None,
    })
}

fn el(name: &str, title: &str, required: bool, default: Option<&str>, allowed: &[&str]) -> Value {
    let (prefix, local) = name.split_once('_').unwrap_or(("bpm", name));
    let uri = match prefix {
        "wf" => "http://www.alfresco.org/model/workflow/1.0",
        _ => "http://www.alfresco.org/model/bpm/1.0",
    };
    let mut v = json!({
        "name": name,
        "qualifiedName": format!("{{{uri}}}{local}"),
        "title": title,
        "dataType": var_type(name).unwrap_or("d:text"),
        "required": required,
    });
    if let Some(d) = default {
        v["defaultValue"] = json!(d);
    }
    if !allowed.is_empty() {
        v["allowedValues"] = json!(allowed);
    }
    v
}

fn common_start() -> Vec<Value> {
    vec![
        el("bpm_workflowDueDate", "Workflow Due Date", false, None, &[]),
        el(
            "bpm_workflowPriority",
            "Workflow Priority",
            false,
            Some("2"),
            &["1", "2", "3"],
        ),
        el("bpm_workflowDescription", "Description", false, None, &[]),
        el(
            "bpm_sendEMailNotifications",
            "Send Email Notifications",
            false,
            Some("false"),
            &[],
        ),
        el("bpm_package", "Workflow Package", false, None, &[]),
        el(
            "bpm_status",
            "Status",
            true,
            Some("Not Yet Started"),
            &[
                "Not Yet Started",
                "In Progress",
                "On Hold",
                "Cancelled",
                "Completed",
            ],
        ),
        el("bpm_comment", "Comment", false, None, &[]),
    ]
}

/// The start form model of a start task type; `None` for unknown types.
pub fn start_form(start_type: &str) -> Option<Vec<Value>> {
    let mut v = common_start();
    match start_type {
        "wf:submitAdhocTask" => {
            v.insert(0, el("bpm_assignee", "Assignee", true, None, &[]));
            v.push(el("wf_notifyMe", "Notify Me", false, Some("false"), &[]));
        }
        "wf:submitReviewTask" => v.insert(0, el("bpm_assignee", "Assignee", true, None, &[])),
        "wf:submitGroupReviewTask" => {
            v.insert(
                0,
                el("bpm_groupAssignee", "Group Assignee", true, None, &[]),
            );
            v.push(el(
                "wf_requiredApprovePercent",
                "Required Approve Percent",
                false,
                Some("50"),
                &[],
            ));
        }
        "wf:submitParallelReviewTask" => {
            v.insert(0, el("bpm_assignees", "Assignees", true, None, &[]));
            v.push(el(
                "wf_requiredApprovePercent",
                "Required Approve Percent",
                false,
                Some("50"),
                &[],
            ));
        }
        _ => return None,
    }
    Some(v)
}

/// The task form model of a task type; `None` for unknown types.
pub fn task_form(form_key: &str) -> Option<Vec<Value>> {
    let mut v = vec![
        el("bpm_comment", "Comment", false, None, &[]),
        el(
            "bpm_status",
            "Status",
            true,
            Some("Not Yet Started"),
            &[
                "Not Yet Started",
                "In Progress",
                "On Hold",
                "Cancelled",
                "Completed",
            ],
        ),
        el(
            "bpm_priority",
            "Priority",
            true,
            Some("2"),
            &["1", "2", "3"],
        ),
        el("bpm_dueDate", "Due", false, None, &[]),
        el("bpm_description", "Description", true, None, &[]),
        el(
            "bpm_percentComplete",
            "Percentage Complete",
            true,
            Some("0"),
            &[],
        ),
        el("bpm_reassignable", "Reassignable", false, Some("true"), &[]),
        el("bpm_package", "Workflow Package", false, None, &[]),
    ];
    match form_key {
        "wf:activitiReviewTask" => {
            v.insert(
                0,
                el(
                    "wf_reviewOutcome",
                    "Review Outcome",
                    false,
                    Some("Reject"),
                    &["Approve", "Reject"],
                ),
            );
            v.push(el(
                "bpm_outcomePropertyName",
                "Outcome Property Name",
                false,
                Some("{http://www.alfresco.org/model/workflow/1.0}reviewOutcome"),
                &[],
            ));
        }
        "wf:adhocTask"
        | "wf:completedAdhocTask"
        | "wf:approvedTask"
        | "wf:rejectedTask"
        | "wf:approvedParallelTask"
        | "wf:rejectedParallelTask" => {}
        _ => return None,
    }
    Some(v)
}

/// Static definition graph info: (activity id, name, type) of the built-ins, used for
/// activity records.
pub fn activity_name(key: &str, activity: &str) -> (&'static str, &'static str) {
    match activity {
        "start" => ("Start", "startEvent"),
        "end" | "theEnd" => ("End", "endEvent"),
        "adhocTask" => ("Adhoc Task", "userTask"),
        "verifyTaskDone" => ("Verify Adhoc Task Completed.", "userTask"),
        "reviewTask" => ("Review Task", "userTask"),
        "reviewDecision" => ("Review Decision", "exclusiveGateway"),
        "approved" => ("Document Approved", "userTask"),
        "rejected" => ("Document Rejected", "userTask"),
        _ => {
            let _ = key;
            ("Activity", "userTask")
        }
    }
}

/// A 1x1 transparent PNG served as process diagram.
pub const TINY_PNG: &[u8] = &[
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48, 0x44, 0x52,
    0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00, 0x00, 0x1f, 0x15, 0xc4,
    0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78, 0x9c, 0x63, 0x00, 0x01, 0x00, 0x00,
    0x05, 0x00, 0x01, 0x0d, 0x0a, 0x2d, 0xb4, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae,
    0x42, 0x60, 0x82,
];
