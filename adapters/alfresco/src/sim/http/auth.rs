//! Authentication: Basic credentials, tickets and configured bearer tokens, the `401`
//! challenge, and the ticket login endpoint.

use std::time::Instant;

use actix_web::http::header;
use actix_web::HttpResponse;
use base64::Engine as _;
use serde_json::{json, Value};

use super::respond::{created, error_response};
use super::{Family, Req};
use crate::sim::query::ApiError;
use crate::sim::state::{State, Ticket};
use crate::sim::Shared;

pub(super) fn unauthorized(family: Family) -> HttpResponse {
    let realm = match family {
        Family::V1 => "Basic realm=\"Alfresco -default- tenant\"",
        Family::Legacy => "Basic realm=\"Alfresco\"",
    };
    let mut r = error_response(
        family,
        &ApiError::new(
            401,
            "framework.exception.NotAuthenticated",
            "Authentication failed",
        ),
    );
    if let Ok(v) = header::HeaderValue::from_str(realm) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

/// Who is calling, and whether with a ticket.
pub(super) enum Principal {
    Password(String),
    Ticket(String, String),
    /// A bearer token configured in the simulator (`SimOptions::bearer_tokens`).
    Bearer(String),
}

impl Principal {
    pub(super) fn user(&self) -> &str {
        match self {
            Principal::Password(u) | Principal::Ticket(u, _) | Principal::Bearer(u) => u,
        }
    }
}

pub(super) fn authenticate(
    shared: &Shared,
    st: &mut State,
    auth: Option<&str>,
    r: &Req,
) -> Option<Principal> {
    let ticket_from = |st: &mut State, t: &str| -> Option<Principal> {
        let tk = st.tickets.get_mut(t)?;
        if tk.last_used.elapsed() > shared.ticket_idle {
            st.tickets.remove(t);
            return None;
        }
        tk.last_used = Instant::now();
        Some(Principal::Ticket(tk.user.clone(), t.to_owned()))
    };
    if let Some(t) = r.q("alf_ticket") {
        return ticket_from(st, t);
    }
    let auth = auth?;
    if let Some(token) = auth.strip_prefix("Bearer ") {
        let user = st.bearer_tokens.get(token.trim())?;
        return Some(Principal::Bearer(user.clone()));
    }
    let b64 = auth.strip_prefix("Basic ")?;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(b64.trim())
        .ok()?;
    let raw = String::from_utf8(raw).ok()?;
    match raw.split_once(':') {
        None => ticket_from(st, &raw),
        Some(("", t)) | Some(("ROLE_TICKET", t)) => ticket_from(st, t),
        Some((u, p)) => {
            let (name, pw) = st
                .passwords
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(u))?;
            (pw == p).then(|| Principal::Password(name.clone()))
        }
    }
}

pub(super) fn login(st: &mut State, r: &Req) -> HttpResponse {
    let body: Value = match serde_json::from_slice(&r.body) {
        Ok(v) => v,
        Err(_) => {
            return error_response(
                Family::V1,
                &ApiError::bad("Could not read content from HTTP request body"),
            )
        }
    };
    let (Some(user), Some(pw)) = (
        body.get("userId").and_then(Value::as_str),
        body.get("password").and_then(Value::as_str),
    ) else {
        return error_response(Family::V1, &ApiError::bad("Invalid login details."));
    };
    let Some((name, _)) = st
        .passwords
        .iter()
        .find(|(k, p)| k.eq_ignore_ascii_case(user) && *p == pw)
        .map(|(k, p)| (k.clone(), p.clone()))
    else {
        return error_response(
            Family::V1,
            &ApiError::new(403, "framework.exception.PermissionDenied", "Login failed"),
        );
    };
    // One ticket per user: logging in twice gives the same ticket.
    let existing = st
        .tickets
        .values()
        .find(|t| t.user == name)
        .map(|t| t.id.clone());
    let id = existing.unwrap_or_else(|| format!("TICKET_{}", uuid::Uuid::new_v4().simple()));
    st.tickets.insert(
        id.clone(),
        Ticket {
            id: id.clone(),
            user: name.clone(),
            last_used: Instant::now(),
        },
    );
    created(json!({"id": id, "userId": name}))
}
