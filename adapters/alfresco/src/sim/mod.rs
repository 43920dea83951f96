//! A faithful, in-process simulator of Alfresco's public v1 workflow API, the core
//! nodes and authentication APIs and the one legacy web script the adapter uses.
//!
//! It hard-codes the five built-in workflow definitions (ad hoc, review, pooled review,
//! parallel review, parallel group review) with their real task sequences and outcomes,
//! seeds users, groups and a small node tree, applies Alfresco's visibility rules, paging,
//! list envelope and error JSON, and accepts Basic and ticket authentication.
//!
//! Tests steer it through the [`SimHandle`] returned by [`Sim::spawn`]: faults
//! (delay, status, malformed JSON, dropped connection, ...), ticket expiry, and an
//! inspection log of every request received.
//!
//! ```no_run
//! # fn demo() -> std::io::Result<()> {
//! use flowgate_alfresco::sim::{Sim, SimOptions};
//! let sim = Sim::spawn(SimOptions::default())?;
//! println!("Alfresco simulator at {}", sim.base_url);
//! # Ok(()) }
//! ```

mod http;
mod model;
mod query;
mod shape;
mod state;

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

pub use flowgate_testkit::tls::{ServerTls, TlsCounters};
pub use model::nodes;
pub use shape::{SimShape, MINIMAL};

/// Start-up options of a simulator.
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// Port to bind on 127.0.0.1; 0 picks a free one.
    pub port: u16,
    /// Idle time after which a ticket expires (Alfresco default: one hour).
    pub ticket_idle: Duration,
    /// `workflow.maxGroupReviewers` (0 = unlimited).
    pub max_group_reviewers: usize,
    /// Users to add to the seeded ones, as (user name, password).
    pub extra_users: Vec<(String, String)>,
    /// Reproduce the code-reading quirk where the initiator without a task of their own
    /// gets 403 on `GET /processes/{id}`. Off by default: unconfirmed on a live server.
    pub initiator_shortcut_broken: bool,
    /// Reproduce the 500 for candidate-group members on a process with several open tasks.
    pub group_shortcut_500_on_multi_task: bool,
    /// Serve https with this certificate (and client-certificate check) instead of http.
    pub tls: Option<ServerTls>,
    /// Which fields the workflow answers carry (default: as built; minimal: only the
    /// definition's required fields and those carrying state; full: every field).
    pub shape: SimShape,
    /// Misbehave on paged workflow lists: ignore `skipCount` and always answer
    /// `hasMoreItems: true`, so that a list never ends.
    pub endless_lists: bool,
    /// Bearer tokens accepted in `Authorization: Bearer <token>`, as (token, user name):
    /// a server behind the same identity provider as the gateway. Each token acts as
    /// its user, who need not have a password. Empty (the default): bearer tokens are
    /// refused like any unknown credentials.
    pub bearer_tokens: Vec<(String, String)>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self {
            port: 0,
            ticket_idle: Duration::from_secs(3600),
            max_group_reviewers: 0,
            extra_users: Vec::new(),
            initiator_shortcut_broken: false,
            group_shortcut_500_on_multi_task: true,
            tls: None,
            shape: SimShape::Default,
            endless_lists: false,
            bearer_tokens: Vec::new(),
        }
    }
}

/// What a fault does to a matching request.
#[derive(Clone, Debug, PartialEq)]
pub enum FaultKind {
    /// Sleep before handling the request normally.
    Delay(Duration),
    /// Answer this status with a v1 error body, without handling the request.
    Status(u16),
    /// Answer 200 with truncated JSON, without handling the request.
    MalformedJson,
    /// Answer 200 with valid JSON that lacks `entry`/`list`.
    WrongShape,
    /// Answer 200 with an HTML login page (an SSO proxy intercepting).
    HtmlOk,
    /// Close the connection without a complete response, without handling the request.
    DropConnection,
    /// Handle the request (its side effect happens), then drop the connection.
    DropAfterCommit,
    /// Answer 503 with `Retry-After: 1`.
    RateLimit,
}

/// A fault rule: requests whose method matches (when given) and whose path contains
/// `path_contains` get `kind`, at most `times` times (`None` = forever).
#[derive(Clone, Debug, PartialEq)]
pub struct Fault {
    /// HTTP method to match (`GET`, `PUT`, ...); `None` matches all.
    pub method: Option<String>,
    /// Substring of the request path to match.
    pub path_contains: String,
    /// What to do.
    pub kind: FaultKind,
    /// How many more requests to affect; `None` for all.
    pub times: Option<usize>,
}

impl Fault {
    /// A fault on every request whose path contains `path_contains`.
    pub fn on(path_contains: impl Into<String>, kind: FaultKind) -> Self {
        Self {
            method: None,
            path_contains: path_contains.into(),
            kind,
            times: None,
        }
    }

    /// Restricts the fault to one method.
    pub fn method(mut self, m: &str) -> Self {
        self.method = Some(m.to_ascii_uppercase());
        self
    }

    /// Limits the fault to the next `n` matching requests.
    pub fn times(mut self, n: usize) -> Self {
        self.times = Some(n);
        self
    }
}

/// One request as the simulator received it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedRequest {
    /// Method.
    pub method: String,
    /// Path, percent-encoded as sent.
    pub path: String,
    /// Decoded query parameters in order.
    pub query: Vec<(String, String)>,
    /// Status answered (0 when the connection was dropped).
    pub status: u16,
    /// The user the request was authenticated as (`None`: not authenticated, or
    /// answered before authentication by a fault).
    pub user: Option<String>,
}

pub(crate) struct Shared {
    pub state: Mutex<state::State>,
    pub faults: Mutex<Vec<Fault>>,
    pub log: Mutex<Vec<RecordedRequest>>,
    pub ticket_idle: Duration,
    pub shape: SimShape,
    pub endless_lists: bool,
}

/// The simulator entry point.
pub struct Sim;

impl Sim {
    /// Binds 127.0.0.1 on `opts.port` and serves on a thread of its own until the
    /// returned handle is dropped or stopped.
    pub fn spawn(opts: SimOptions) -> std::io::Result<SimHandle> {
        let shared = Arc::new(Shared {
            state: Mutex::new(state::State::new(&opts)),
            faults: Mutex::new(Vec::new()),
            log: Mutex::new(Vec::new()),
            ticket_idle: opts.ticket_idle,
            shape: opts.shape,
            endless_lists: opts.endless_lists,
        });
        let public = std::net::TcpListener::bind(("127.0.0.1", opts.port))?;
        let addr = public.local_addr()?;
        let counters = Arc::new(TlsCounters::default());
        // With TLS the public port is a TLS front relaying to the HTTP server on a
        // loopback port of its own.
        let (listener, front) = match &opts.tls {
            Some(tls) => {
                let config = tls.config()?;
                let inner = std::net::TcpListener::bind(("127.0.0.1", 0))?;
                let backend = inner.local_addr()?;
                (inner, Some((config, public, backend, counters.clone())))
            }
            None => (public, None),
        };
        let server = http::server(shared.clone(), listener)?;
        let handle = server.handle();
        let thread = std::thread::Builder::new()
            .name(format!("alfresco-sim-{}", addr.port()))
            .spawn(move || {
                let sys = actix_web::rt::System::new();
                let run = async move {
                    if let Some((config, public, backend, counters)) = front {
                        actix_web::rt::spawn(async move {
                            let r = flowgate_testkit::tls::serve_front(
                                config, public, backend, counters,
                            )
                            .await;
                            if let Err(e) = r {
                                tracing::warn!(error = %e, "alfresco simulator TLS front stopped");
                            }
                        });
                    }
                    server.await
                };
                if let Err(e) = sys.block_on(run) {
                    tracing::warn!(error = %e, "alfresco simulator stopped with an error");
                }
            })?;
        let scheme = if opts.tls.is_some() { "https" } else { "http" };
        Ok(SimHandle {
            base_url: format!("{scheme}://{addr}/alfresco/"),
            port: addr.port(),
            shared,
            tls: counters,
            server: handle,
            thread: Some(thread),
        })
    }
}

/// A running simulator. Dropping it stops the server.
pub struct SimHandle {
    /// Base URL to configure an adapter with (`http://127.0.0.1:<port>/alfresco/`).
    pub base_url: String,
    /// The bound port.
    pub port: u16,
    shared: Arc<Shared>,
    tls: Arc<TlsCounters>,
    server: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("base_url", &self.base_url)
            .finish()
    }
}

impl SimHandle {
    /// Connections and failed handshakes on the TLS front (zero when serving http).
    pub fn tls_counters(&self) -> &TlsCounters {
        &self.tls
    }

    /// Adds a fault rule (rules are tried in insertion order).
    pub fn fault(&self, f: Fault) {
        self.shared.faults.lock().push(f);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().clear();
    }

    /// Invalidates every ticket, as if they had all expired.
    pub fn expire_tickets(&self) {
        self.shared.state.lock().tickets.clear();
    }

    /// Number of tickets currently valid.
    pub fn ticket_count(&self) -> usize {
        self.shared.state.lock().tickets.len()
    }

    /// Every request received so far.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.lock().clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.shared.log.lock().clear();
    }

    /// Accepts `token` as a bearer token of `user` from now on.
    pub fn add_bearer_token(&self, token: &str, user: &str) {
        self.shared
            .state
            .lock()
            .bearer_tokens
            .insert(token.to_owned(), user.to_owned());
    }

    /// Number of requests with this method whose path ends with `path_suffix`.
    pub fn count(&self, method: &str, path_suffix: &str) -> usize {
        self.shared
            .log
            .lock()
            .iter()
            .filter(|r| r.method == method && r.path.ends_with(path_suffix))
            .count()
    }

    /// Deploys a new version of a built-in definition; returns the new definition id.
    pub fn redeploy(&self, key: &str) -> Option<String> {
        self.shared.state.lock().redeploy(key)
    }

    /// Adds a user (or changes its password).
    pub fn add_user(&self, user: &str, password: &str) {
        self.shared
            .state
            .lock()
            .passwords
            .insert(user.to_owned(), password.to_owned());
    }

    /// Adds `member` (a user or `GROUP_x`) to `group`, creating the group if needed.
    pub fn add_to_group(&self, group: &str, member: &str) {
        let mut st = self.shared.state.lock();
        match st.groups.iter_mut().find(|(g, _)| g == group) {
            Some((_, m)) => m.push(member.to_owned()),
            None => st.groups.push((group.to_owned(), vec![member.to_owned()])),
        }
    }

    /// `(assignee, state)` of a task as stored, for assertions; `None` if unknown.
    pub fn task_assignee(&self, id: &str) -> Option<Option<String>> {
        self.shared
            .state
            .lock()
            .task(id)
            .ok()
            .map(|t| t.assignee.clone())
    }

    /// Ids of the open tasks of a process, for assertions.
    pub fn open_tasks(&self, process_id: &str) -> Vec<String> {
        self.shared
            .state
            .lock()
            .process_tasks(process_id)
            .filter(|t| t.ended.is_none())
            .map(|t| t.id.clone())
            .collect()
    }

    /// Number of processes ever started.
    pub fn process_count(&self) -> usize {
        self.shared.state.lock().processes.len()
    }

    /// Stops the server and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        // The stop command is sent synchronously; the returned future only waits for it.
        // "Graceful" with a zero shutdown timeout: connections are closed at once, and the
        // server only finishes (and its thread, joined below) once every worker has
        // stopped; a forced stop would leave workers answering on open connections for a
        // moment after this returns.
        drop(self.server.stop(true));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        self.shutdown();
    }
}
