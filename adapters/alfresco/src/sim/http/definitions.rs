//! `GET /process-definitions` and one definition with its start form and image.

use actix_web::HttpResponse;
use serde_json::Value;

use super::filter::eval;
use super::respond::{entry_json, paged, unpaged};
use super::Req;
use crate::sim::model;
use crate::sim::query::{self, Allowed, ApiError, Paging, Pred};
use crate::sim::state::State;

pub(super) fn list(
    st: &State,
    r: &Req,
    paging: Paging,
    preds: &[Pred],
) -> Result<HttpResponse, ApiError> {
    query::check(
        preds,
        &Allowed {
            eq: &["category", "key", "name", "deploymentId", "version"],
            matches: &["category", "key", "name"],
            range: &[],
            range_eq: &[],
            variables: false,
        },
    )?;
    let (col, asc) = query::parse_order(
        r.q("orderBy"),
        &["id", "key", "name", "category", "version", "deploymentId"],
        ("name", true),
    )?;
    let mut items: Vec<Value> = st
        .definitions
        .iter()
        .map(State::render_definition)
        .filter(|v| eval(preds, v, &[], &[]))
        .collect();
    query::sort_by_field(&mut items, &col, asc);
    Ok(paged(items, paging))
}

pub(super) fn one(
    st: &State,
    id: &str,
    rest: &[&str],
    paging: Paging,
) -> Result<HttpResponse, ApiError> {
    let d = st.definition(id).ok_or_else(|| ApiError::not_found(id))?;
    match rest {
        [] => Ok(entry_json(State::render_definition(d))),
        ["start-form-model"] => Ok(unpaged(
            model::start_form(d.seed.start_form).unwrap_or_default(),
            paging,
        )),
        ["image"] => Ok(HttpResponse::Ok()
            .content_type("image/png")
            .body(model::TINY_PNG)),
        _ => Err(ApiError::not_found(id)),
    }
}
