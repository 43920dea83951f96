//! Tasks: listing with filters and ordering, updating one task, and reading one
//! task with its form model, variables, candidates and items.

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::filter::{eval, flag, status_of};
use super::respond::{entry_json, method_not_allowed, paged, parse_body, unpaged};
use super::Req;
use crate::sim::model;
use crate::sim::query::{self, Allowed, ApiError, Op, Paging, Pred};
use crate::sim::state::State;

pub(super) fn list(
    st: &State,
    r: &Req,
    user: &str,
    paging: Paging,
    preds: &[Pred],
) -> Result<HttpResponse, ApiError> {
    let admin = st.is_admin(user);
    query::check(
        preds,
        &Allowed {
            eq: &[
                "status",
                "assignee",
                "owner",
                "candidateUser",
                "candidateGroup",
                "name",
                "description",
                "priority",
                "processId",
                "processBusinessKey",
                "activityDefinitionId",
                "processDefinitionId",
                "processDefinitionKey",
                "processDefinitionName",
                "startedAt",
                "endedAt",
                "dueAt",
                "includeTaskVariables",
                "includeProcessVariables",
            ],
            matches: &[
                "assignee",
                "owner",
                "name",
                "description",
                "processBusinessKey",
                "activityDefinitionId",
                "processDefinitionKey",
                "processDefinitionName",
            ],
            range: &["startedAt", "endedAt", "dueAt"],
            range_eq: &["priority"],
            variables: true,
        },
    )?;
    let status = status_of(preds, "active");
    if !matches!(status.as_str(), "active" | "completed" | "any") {
        return Err(ApiError::bad(format!("Invalid status parameter: {status}")));
    }
    let cand_user = preds
        .iter()
        .find(|p| p.prop == "candidateUser")
        .and_then(|p| p.value.as_str())
        .map(str::to_owned);
    let cand_group = preds
        .iter()
        .find(|p| p.prop == "candidateGroup")
        .and_then(|p| p.value.as_str())
        .map(str::to_owned);
    if (cand_user.is_some() || cand_group.is_some()) && status != "active" {
        return Err(ApiError::bad(
            "Filtering on candidateUser or candidateGroup is only allowed for active tasks",
        ));
    }
    let by_process = preds
        .iter()
        .any(|p| p.prop == "processId" && p.op == Op::Eq);
    let mut order_cols = vec![
        "id",
        "name",
        "description",
        "priority",
        "processId",
        "assignee",
        "startedAt",
        "dueAt",
    ];
    if status != "active" {
        order_cols.extend(["processDefinitionId", "owner", "endedAt", "durationInMs"]);
    }
    let (col, asc) = query::parse_order(r.q("orderBy"), &order_cols, ("dueAt", true))?;
    let runtime = status == "active";
    let with_vars = flag(preds, "includeTaskVariables") || flag(preds, "includeProcessVariables");
    let skip = [
        "status",
        "candidateUser",
        "candidateGroup",
        "includeTaskVariables",
        "includeProcessVariables",
    ];
    let mut items = Vec::new();
    for t in st.tasks.values() {
        let open = t.ended.is_none();
        let keep = match status.as_str() {
            "active" => open,
            "completed" => !open,
            _ => true,
        };
        if !keep {
            continue;
        }
        if let Some(u) = &cand_user {
            let gs = st.groups_of(u);
            let ok = t.assignee.is_none()
                && if gs.is_empty() {
                    t.candidate_users.iter().any(|c| c == u)
                } else {
                    t.candidate_groups.iter().any(|g| gs.contains(g))
                };
            if !ok {
                continue;
            }
        }
        if let Some(g) = &cand_group {
            if t.assignee.is_some() || !t.candidate_groups.contains(g) {
                continue;
            }
        }
        if !admin
            && cand_user.is_none()
            && cand_group.is_none()
            && !by_process
            && !t.involved.contains(user)
        {
            continue;
        }
        let mut view = st.render_task(t, runtime, false);
        if let Ok(p) = st.process(&t.process_id) {
            view["processDefinitionKey"] = json!(p.key);
            if let Some(b) = &p.business_key {
                view["processBusinessKey"] = json!(b);
            }
            if let Some(d) = st.definition(&p.def_id) {
                view["processDefinitionName"] = json!(d.seed.name);
            }
        }
        let vars = st.task_variables(t, None);
        if !eval(preds, &view, &vars, &skip) {
            continue;
        }
        items.push(st.render_task(t, runtime, with_vars));
    }
    query::sort_by_field(&mut items, &col, asc);
    Ok(paged(items, paging))
}

pub(super) fn one(
    st: &mut State,
    r: &Req,
    user: &str,
    id: &str,
    rest: &[&str],
    paging: Paging,
    preds: &[Pred],
) -> Result<HttpResponse, ApiError> {
    let m = r.method.as_str();
    let t = st.task(id)?.clone();
    if m == "PUT" && rest.is_empty() {
        let body = parse_body(r)?;
        let body = body
            .as_object()
            .cloned()
            .ok_or_else(|| ApiError::bad("Invalid task body"))?;
        let select: Vec<String> = r
            .q("select")
            .unwrap_or_default()
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        return Ok(entry_json(st.update_task(user, id, &select, &body)?));
    }
    st.check_task_read(user, &t)?;
    match (m, rest) {
        ("GET", []) => Ok(entry_json(st.render_task(&t, false, false))),
        ("GET", ["task-form-model"]) => Ok(unpaged(
            model::task_form(&t.form_key).unwrap_or_default(),
            paging,
        )),
        ("GET", ["variables"]) => {
            let scope = preds
                .iter()
                .find(|p| p.prop == "scope")
                .and_then(|p| p.value.as_str());
            if preds.iter().any(|p| p.prop != "scope") {
                return Err(ApiError::bad(
                    "An invalid WHERE query was received. Only scope is supported",
                ));
            }
            Ok(unpaged(st.task_variables(&t, scope), paging))
        }
        ("GET", ["candidates"]) => {
            let mut c: Vec<Value> = t
                .candidate_users
                .iter()
                .map(|u| json!({"candidateId": u, "candidateType": "user"}))
                .collect();
            c.extend(
                t.candidate_groups
                    .iter()
                    .map(|g| json!({"candidateId": g, "candidateType": "group"})),
            );
            Ok(unpaged(c, paging))
        }
        ("GET", ["items"]) => {
            let p = st.process(&t.process_id)?;
            Ok(unpaged(
                p.items.iter().filter_map(|i| st.render_item(i)).collect(),
                paging,
            ))
        }
        _ => Ok(method_not_allowed()),
    }
}
