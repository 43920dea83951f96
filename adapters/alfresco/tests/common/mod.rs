//! Shared helpers of the adapter's integration tests: a simulator plus an engine
//! configured against it.

#![allow(dead_code)]

pub mod fixtures;

use std::sync::Arc;
use std::time::Duration;

use flowgate_alfresco::sim::{Sim, SimHandle, SimOptions};
use flowgate_alfresco::{AlfrescoConfig, AlfrescoEngine, AuthConfig, AuthMode};
use flowgate_core::{CallContext, Secret};

/// Users the tests add to the seeded ones.
pub const EXTRA_USERS: &[&str] = &["erin", "mallory"];

pub fn sim_with(opts: SimOptions) -> SimHandle {
    let mut opts = opts;
    for u in EXTRA_USERS {
        opts.extra_users.push(((*u).into(), (*u).into()));
    }
    Sim::spawn(opts).expect("simulator starts")
}

pub fn sim() -> SimHandle {
    sim_with(SimOptions::default())
}

pub fn config(sim: &SimHandle, mode: AuthMode) -> AlfrescoConfig {
    let auth = match mode {
        AuthMode::Passthrough | AuthMode::BearerPassthrough => AuthConfig {
            mode,
            ..AuthConfig::default()
        },
        _ => AuthConfig {
            mode,
            user: Some("admin".into()),
            password: None,
            password_env: Some("ALF_TEST_PASSWORD".into()),
        },
    };
    let mut cfg = AlfrescoConfig::new(sim.base_url.parse().expect("url"), auth);
    cfg.http.request_timeout_ms = 3_000;
    cfg.http.retry_min_delay_ms = 10;
    cfg.http.retry_max_delay_ms = 50;
    cfg.http.breaker_failures = 0;
    cfg
}

pub fn engine_from(cfg: AlfrescoConfig) -> AlfrescoEngine {
    AlfrescoEngine::with_env("alfresco", cfg, &|k| {
        (k == "ALF_TEST_PASSWORD").then(|| "admin".to_owned())
    })
    .expect("engine builds")
}

pub fn engine(sim: &SimHandle, mode: AuthMode) -> AlfrescoEngine {
    engine_from(config(sim, mode))
}

pub fn arc(e: AlfrescoEngine) -> Arc<dyn flowgate_core::WorkflowEngine> {
    Arc::new(e)
}

/// A caller with a deadline, so that no test can hang.
pub fn user(name: &str, groups: &[&str]) -> CallContext {
    CallContext::user(name, groups.iter().copied()).with_timeout(Duration::from_secs(20))
}

pub fn admin() -> CallContext {
    CallContext::admin("admin").with_timeout(Duration::from_secs(20))
}

/// A caller signed in to the gateway with a bearer token.
pub fn with_bearer(mut cx: CallContext, token: &str) -> CallContext {
    cx.credentials = Some(flowgate_core::Credentials::Bearer(Secret::new(token)));
    cx
}

/// A caller carrying its own Basic credentials (password = user name in the simulator).
pub fn with_password(mut cx: CallContext) -> CallContext {
    cx.credentials = Some(flowgate_core::Credentials::Basic {
        user: cx.user.clone(),
        password: Secret::new(cx.user.clone()),
    });
    cx
}

/// Every test body runs under this bound.
pub async fn bounded<F: std::future::Future<Output = T>, T>(f: F) -> T {
    tokio::time::timeout(Duration::from_secs(60), f)
        .await
        .expect("test finished in time")
}

/// A start of `model` on the contract document with these variables.
pub fn start_req(model: &str, vars: serde_json::Value) -> flowgate_core::StartWorkflow {
    flowgate_core::StartWorkflow {
        model: model.into(),
        documents: vec![flowgate_alfresco::sim::nodes::CONTRACT.into()],
        variables: vars.as_object().cloned().unwrap_or_default(),
    }
}

/// Completion with this action.
pub fn done(action: &str) -> flowgate_core::Completion {
    flowgate_core::Completion {
        action: action.into(),
        ..Default::default()
    }
}

/// The open tasks of workflow `wf`, read as admin.
pub async fn open_tasks(
    e: &dyn flowgate_core::WorkflowEngine,
    wf: &str,
) -> Vec<flowgate_core::Task> {
    e.tasks(&admin(), flowgate_core::TaskQuery::for_workflow(wf))
        .await
        .expect("tasks of workflow")
        .items
}

/// An engine with short timeouts and two attempts, for fault tests.
pub fn fast_engine(sim: &flowgate_alfresco::sim::SimHandle) -> flowgate_alfresco::AlfrescoEngine {
    let mut cfg = config(sim, AuthMode::Basic);
    cfg.http.request_timeout_ms = 400;
    cfg.http.max_attempts = 2;
    engine_from(cfg)
}
