//! The one legacy web script the adapter uses: the workflow instances of a node.

use actix_web::HttpResponse;
use serde_json::{json, Value};

use super::Req;
use crate::sim::query::{self, ApiError};
use crate::sim::state::{fmt_legacy_date, State};

pub(super) fn legacy(
    st: &State,
    r: &Req,
    user: &str,
    rest: &[&str],
) -> Result<HttpResponse, ApiError> {
    match (r.method.as_str(), rest) {
        ("GET", ["api", "node", store_type, store_id, id, "workflow-instances"]) => {
            if *store_type != "workspace" || *store_id != "SpacesStore" {
                return Ok(HttpResponse::Ok().json(json!({"data": []})));
            }
            let admin = st.is_admin(user);
            let data: Vec<Value> = st
                .processes
                .values()
                .filter(|p| p.ended.is_none() && p.items.iter().any(|i| i == id))
                .filter(|p| admin || st.involved_in_process(user, p))
                .map(|p| {
                    let d = st.definition(&p.def_id);
                    let var = |n: &str| p.vars.get(n).map(|v| v.value.clone()).unwrap_or(Value::Null);
                    json!({
                        "id": format!("activiti${}", p.id),
                        "url": format!("api/workflow-instances/activiti${}", p.id),
                        "name": format!("activiti${}", p.key),
                        "title": d.map(|d| d.seed.title).unwrap_or_default(),
                        "description": d.map(|d| d.seed.description).unwrap_or_default(),
                        "isActive": true,
                        "startDate": fmt_legacy_date(p.started),
                        "priority": var("bpm_workflowPriority"),
                        "message": var("bpm_workflowDescription"),
                        "endDate": null,
                        "dueDate": var("bpm_workflowDueDate").as_str().and_then(query::parse_date).map(fmt_legacy_date),
                        "context": null,
                        "package": p.package,
                        "initiator": {"userName": p.start_user, "firstName": p.start_user, "lastName": ""},
                        "definitionUrl": format!("api/workflow-definitions/activiti${}", p.def_id),
                    })
                })
                .collect();
            Ok(HttpResponse::Ok().json(json!({ "data": data })))
        }
        _ => Err(ApiError::new(404, "NotFound", "Web Script not found")),
    }
}
