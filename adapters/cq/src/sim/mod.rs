//! An in-process CQ / AEM simulator (feature `sim`).
//!
//! It answers the workflow endpoints the adapter uses the way the real server does for
//! each [`Profile`](crate::Profile): model and instance locations, the CSRF token
//! endpoint, Basic or bearer auth, JSON renderings with `_xss` twins, Sling status pages
//! for every POST and Sling error pages for every failure. Faults (delays, 500 pages,
//! malformed JSON, dropped connections, expired CSRF tokens) are switched on through the
//! [`CqSim`] handle that [`spawn`] returns.
//!
//! Users (password = user id, bearer token = `token-<user>`): `admin`, `jdoe`,
//! `editor1`, `legal1`, `dam1`, and the service account `flowgate-service`. Groups:
//! `administrators`, `workflow-administrators` (admin, flowgate-service), `authors`
//! (jdoe, editor1), `legal` (legal1), `dam-users` (dam1), `workflow-users` (everyone).

mod direct;
mod get;
mod models;
mod post;
mod render;
mod request;
mod server;
mod starts;
mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;

pub use flowgate_testkit::tls::{ServerTls, TlsCounters};
pub use models::{SimModel, SimNode, SimTransition};

use crate::Profile;

/// Which fields the JSON renderings of instances, work items and history carry.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SimFields {
    /// Every field the simulator knows, including those no public source shows a real
    /// server sending: instance `metaData` (with the start metadata flowgate writes),
    /// a work item's `currentAssignee`, a history row's `workItem` and `node`.
    #[default]
    Full,
    /// Only the fields Adobe's published client classes read and Adobe's documented
    /// examples show (see the module `render`).
    Minimal,
}

/// Switches that change the simulator's behaviour (all have the documented defaults).
#[derive(Clone, Debug)]
pub struct SimOptions {
    /// The release to imitate.
    pub profile: Profile,
    /// Whether POSTs need a CSRF token (default: every profile except `cq5`).
    pub csrf: bool,
    /// An unknown model id on start answers 201 with a `Location` that does not exist
    /// (default true), like a server that accepted junk.
    pub junk_start_on_bad_model: bool,
    /// A POST to a path that does not exist answers 201 "Content created", like the
    /// generic Sling POST servlet (default true).
    pub sling_post_on_missing: bool,
    /// Error pages are JSON when the request prefers JSON (default false).
    pub json_errors: bool,
    /// The start `Location` header is an absolute URL (default false).
    pub absolute_location: bool,
    /// Which fields instances, work items and history rows carry (default
    /// [`SimFields::Full`]).
    pub fields: SimFields,
    /// Names of models that run transient: a start answers 201 with the new
    /// instance's location, but the instance is never stored, so reading it answers
    /// 404 (default none).
    pub transient_models: Vec<String>,
    /// Bearer tokens accepted by every profile, as (token, user id): a server behind
    /// the same identity provider as the gateway. The user must be one of the
    /// simulator's users. Empty by default (only the cloud profile's `token-<user>`).
    pub bearer_tokens: Vec<(String, String)>,
}

impl SimOptions {
    /// The defaults of a profile.
    pub fn new(profile: Profile) -> SimOptions {
        SimOptions {
            profile,
            csrf: profile.may_have_csrf(),
            junk_start_on_bad_model: true,
            sling_post_on_missing: true,
            json_errors: false,
            absolute_location: false,
            fields: SimFields::Full,
            transient_models: Vec::new(),
            bearer_tokens: Vec::new(),
        }
    }
}

/// What an injected fault does to a matching request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultAction {
    /// Waits before answering normally.
    Delay(Duration),
    /// Answers with this status and a Sling error page, without any effect.
    Status(u16),
    /// Answers 200 `text/html` with a login page (a `.json` GET that got HTML).
    HtmlInsteadOfJson,
    /// Answers 200 `application/json` with a truncated body.
    MalformedJson,
    /// Answers this status with an empty body.
    EmptyBody(u16),
    /// Reads the request, then closes the connection without a response. With
    /// `apply_effects` the request takes effect first (an ambiguous POST outcome).
    DropBeforeResponse {
        /// Whether the side effect happens before the drop.
        apply_effects: bool,
    },
    /// Takes effect, sends the headers and half the body, then closes.
    DropMidBody,
    /// Answers 401 once, whatever the credentials.
    Unauthorized,
    /// Takes effect but leaves out the `Location` header of a 201.
    MissingLocation,
    /// Answers HTTP 200 whose status page says this status (like `:status=browser`).
    StatusPage(u16),
    /// Answers a POST with 201 "Content created" and a `Location` that does not exist,
    /// without any effect (a server that accepted junk).
    JunkCreated,
}

/// A fault rule: requests whose method and decoded path match get `action`.
#[derive(Clone, Debug)]
pub struct Fault {
    /// HTTP method to match (`GET`, `POST`), any when `None`.
    pub method: Option<String>,
    /// Substring the decoded request path must contain.
    pub path_contains: String,
    /// How many matching requests to let through unharmed first.
    pub skip: u32,
    /// How many matching requests to affect; forever when `None`.
    pub times: Option<u32>,
    /// What to do.
    pub action: FaultAction,
}

impl Fault {
    /// A fault on `method` (or any method for `"*"`) and paths containing `path_contains`,
    /// applied to every match until [`Fault::times`] says otherwise.
    pub fn on(method: &str, path_contains: &str, action: FaultAction) -> Fault {
        Fault {
            method: (method != "*").then(|| method.to_ascii_uppercase()),
            path_contains: path_contains.to_owned(),
            skip: 0,
            times: None,
            action,
        }
    }

    /// Applies the fault to at most `n` requests.
    pub fn times(mut self, n: u32) -> Fault {
        self.times = Some(n);
        self
    }

    /// Lets the first `n` matching requests through.
    pub fn skip(mut self, n: u32) -> Fault {
        self.skip = n;
        self
    }
}

/// A request as the simulator received it.
#[derive(Clone, Debug)]
pub struct RecordedRequest {
    /// HTTP method.
    pub method: String,
    /// Path as sent on the wire (still percent-encoded).
    pub raw_path: String,
    /// Path decoded once.
    pub path: String,
    /// Raw query string.
    pub query: String,
    /// Header names (lower-case) and values.
    pub headers: Vec<(String, String)>,
    /// Decoded form fields of a POST.
    pub form: Vec<(String, String)>,
    /// The user the request authenticated as (`None`: no or refused credentials).
    pub user: Option<String>,
}

impl RecordedRequest {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a form field.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.form
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug)]
pub(crate) struct Shared {
    pub world: Mutex<state::World>,
    pub options: Mutex<SimOptions>,
    pub faults: Mutex<Vec<Fault>>,
    pub requests: Mutex<Vec<RecordedRequest>>,
    pub origin: Mutex<Option<String>>,
}

/// A running simulator. Dropping it stops the server.
#[derive(Debug)]
pub struct CqSim {
    addr: SocketAddr,
    scheme: &'static str,
    shared: Arc<Shared>,
    handle: actix_web::dev::ServerHandle,
    tls: Arc<TlsCounters>,
    front: Option<tokio::task::JoinHandle<()>>,
}

/// Starts a simulator of `profile` on `127.0.0.1` with an ephemeral port.
/// Must be called inside a tokio runtime.
pub async fn spawn(profile: Profile) -> std::io::Result<CqSim> {
    spawn_with(SimOptions::new(profile), 0).await
}

/// Starts a simulator with explicit options on `127.0.0.1:port` (0 = ephemeral).
/// Must be called inside a tokio runtime.
pub async fn spawn_with(options: SimOptions, port: u16) -> std::io::Result<CqSim> {
    let (sim, server) = bind(options, port)?;
    tokio::spawn(server);
    Ok(sim)
}

/// Starts a simulator serving https on `127.0.0.1:port` (0 = ephemeral) with `tls`,
/// which may require client certificates. Must be called inside a tokio runtime.
pub async fn spawn_tls(options: SimOptions, port: u16, tls: &ServerTls) -> std::io::Result<CqSim> {
    let (sim, server) = bind_tls(options, port, Some(tls))?;
    tokio::spawn(server);
    Ok(sim)
}

/// Binds the server and returns the handle plus the future that runs it, for callers
/// that want to drive it themselves (the simulator binary).
pub fn bind(options: SimOptions, port: u16) -> std::io::Result<(CqSim, actix_web::dev::Server)> {
    bind_tls(options, port, None)
}

/// Like [`bind`], serving https when `tls` is given: the public port is then a TLS
/// front (spawned on the current tokio runtime) relaying to the HTTP server on a
/// loopback port of its own.
pub fn bind_tls(
    options: SimOptions,
    port: u16,
    tls: Option<&ServerTls>,
) -> std::io::Result<(CqSim, actix_web::dev::Server)> {
    let shared = Arc::new(Shared {
        world: Mutex::new(state::World::new(options.profile)),
        options: Mutex::new(options),
        faults: Mutex::new(Vec::new()),
        requests: Mutex::new(Vec::new()),
        origin: Mutex::new(None),
    });
    let public = std::net::TcpListener::bind(("127.0.0.1", port))?;
    let addr = public.local_addr()?;
    let counters = Arc::new(TlsCounters::default());
    let (listener, scheme, front) = match tls {
        Some(tls) => {
            let config = tls.config()?;
            let inner = std::net::TcpListener::bind(("127.0.0.1", 0))?;
            let backend = inner.local_addr()?;
            let c = counters.clone();
            let front = tokio::spawn(async move {
                let r = flowgate_testkit::tls::serve_front(config, public, backend, c).await;
                if let Err(e) = r {
                    tracing::warn!(error = %e, "cq simulator TLS front stopped");
                }
            });
            (inner, "https", Some(front))
        }
        None => (public, "http", None),
    };
    *shared.origin.lock() = Some(format!("{scheme}://{addr}"));
    let server = server::build(shared.clone(), listener)?;
    let handle = server.handle();
    Ok((
        CqSim {
            addr,
            scheme,
            shared,
            handle,
            tls: counters,
            front,
        },
        server,
    ))
}

impl CqSim {
    /// Base URL with a trailing slash, e.g. `http://127.0.0.1:41234/` (`https://` when
    /// serving TLS).
    pub fn base_url(&self) -> String {
        format!("{}://{}/", self.scheme, self.addr)
    }

    /// Connections and failed handshakes on the TLS front (zero when serving http).
    pub fn tls_counters(&self) -> &TlsCounters {
        &self.tls
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The imitated release.
    pub fn profile(&self) -> Profile {
        self.shared.options.lock().profile
    }

    /// Changes options while running.
    pub fn set_options(&self, f: impl FnOnce(&mut SimOptions)) {
        f(&mut self.shared.options.lock());
    }

    /// Adds a fault rule (rules are tried in insertion order).
    pub fn add_fault(&self, fault: Fault) {
        self.shared.faults.lock().push(fault);
    }

    /// Removes every fault rule.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().clear();
    }

    /// Invalidates every CSRF token issued so far.
    pub fn expire_csrf_tokens(&self) {
        self.shared.world.lock().csrf_tokens.clear();
    }

    /// Every request received so far, oldest first.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.requests.lock().clone()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.requests.lock().clear();
    }

    /// Adds a content page that documents can resolve to.
    pub fn add_page(&self, path: &str, title: &str) {
        self.shared
            .world
            .lock()
            .pages
            .insert(path.to_owned(), title.to_owned());
    }

    /// Adds (or replaces) a model.
    pub fn add_model(&self, model: SimModel) {
        let mut w = self.shared.world.lock();
        w.models.retain(|m| m.name != model.name);
        w.models.push(model);
    }

    /// Paths of the instances in a state (`RUNNING`, `SUSPENDED`, `ABORTED`, `COMPLETED`).
    pub fn instances_in_state(&self, state: &str) -> Vec<String> {
        self.shared
            .world
            .lock()
            .instances
            .values()
            .filter(|i| i.state.as_str() == state)
            .map(|i| i.path.clone())
            .collect()
    }

    /// Current assignee of an open work item.
    pub fn assignee_of(&self, item: &str) -> Option<String> {
        self.shared
            .world
            .lock()
            .items
            .get(item)
            .map(|w| w.assignee.clone())
    }

    /// Stops the server and waits until every worker has stopped: "graceful" with a zero
    /// shutdown timeout closes open connections at once but, unlike a forced stop, only
    /// returns when no worker can answer any more.
    pub async fn stop(mut self) {
        if let Some(front) = self.front.take() {
            front.abort();
        }
        self.handle.stop(true).await;
    }
}

impl Drop for CqSim {
    fn drop(&mut self) {
        // The stop command is sent when `stop` is called; the returned future only waits.
        drop(self.handle.stop(true));
        if let Some(front) = self.front.take() {
            front.abort();
        }
    }
}
