//! HTTP-level tests of the whole gateway: the real `flowgate::app` in process (and on a
//! real socket for the concurrency tests), the shipped models, a fixed set of users.

#[path = "../common/mod.rs"]
mod common;
#[path = "../sse_support/mod.rs"]
mod sse_support;

mod access;
mod audit;
mod auth;
mod bootstrap;
mod concurrency;
mod documents;
mod engines;
mod errors;
mod events_stream;
mod hardening;
mod limits;
mod models;
mod purge;
mod runs;
mod server;
mod sign_in_guard;
mod slow_body;
mod sorting;
mod tasks;
mod tokens;
mod wire;
mod workflows;
