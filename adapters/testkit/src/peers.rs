//! Real protocol peers from Debian's packages for the tests that need one: nginx as
//! the TLS-terminating reverse proxy users put in front of the gateway, tinyproxy as
//! the forward proxy between the gateway and its upstreams. `.ci/run` installs both.
//! Every peer listens on loopback only and ends when its [`Peer`] is dropped.
//!
//! Outside CI a missing program skips the test with a message; in CI (`CI` set) it
//! fails, so a CI run never passes without having run these tests.
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The program `name` from the usual Debian places or the `PATH`; `None` (with a
/// message) when absent outside CI.
///
/// # Panics
/// When `CI` is set and the program is absent.
pub fn program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = ["/usr/sbin", "/usr/bin"]
        .into_iter()
        .map(PathBuf::from)
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(name))
        .find(|p| p.is_file());
    if found.is_none() {
        if std::env::var_os("CI").is_some() {
            panic!("{name} is not installed: these tests must run in CI (see .ci/run)");
        }
        eprintln!("skipped: {name} is not installed (apt-get install {name})");
    }
    found
}

/// A free loopback port (bound and released: good enough for a peer started next).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// A peer process, killed when dropped.
pub struct Peer {
    child: Child,
    /// Its loopback port.
    pub port: u16,
    /// Its log, for failure messages.
    pub log: PathBuf,
}

impl Peer {
    /// Starts `cmd` and waits (at most 10 s) until `port` accepts connections.
    ///
    /// # Panics
    /// When the program exits or the port stays closed; the message holds its log.
    pub fn start(mut cmd: Command, port: u16, log: &Path) -> Peer {
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let mut peer = Peer {
            child,
            port,
            log: log.to_owned(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return peer;
            }
            if let Ok(Some(status)) = peer.child.try_wait() {
                panic!("{cmd:?} exited ({status}): {}", peer.log_text());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("{cmd:?} did not open port {port}: {}", peer.log_text());
    }

    /// `http://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.port)
    }

    /// What the peer logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx on `127.0.0.1:<port>` with TLS (`cert`, `key` PEM files), passing every
/// request to `upstream` (`host:port`) as a reverse proxy in front of the gateway
/// would: HTTP/1.1 with kept-alive upstream connections, the client's `Host`, and
/// `X-Forwarded-Proto: https`. Its default response buffering stays on, as in a
/// stock configuration. `None` when nginx is not installed (outside CI).
pub fn tls_reverse_proxy(dir: &Path, upstream: &str, cert: &Path, key: &Path) -> Option<Peer> {
    let nginx = program("nginx")?;
    let port = free_port();
    let d = dir.display();
    let conf = dir.join("nginx.conf");
    let text = format!(
        // One process (no master and workers), so that killing it leaves nothing behind.
        "daemon off; master_process off; pid {d}/nginx.pid; error_log {d}/nginx-error.log info;\n\
         events {{ worker_connections 256; }}\n\
         http {{\n\
           access_log {d}/nginx-access.log;\n\
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;\n\
           fastcgi_temp_path {d}/fcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;\n\
           upstream flowgate {{ server {upstream}; keepalive 8; }}\n\
           server {{\n\
             listen 127.0.0.1:{port} ssl;\n\
             ssl_certificate {cert}; ssl_certificate_key {key};\n\
             location / {{\n\
               proxy_pass http://flowgate;\n\
               proxy_http_version 1.1; proxy_set_header Connection \"\";\n\
               proxy_set_header Host $http_host;\n\
               proxy_set_header X-Forwarded-Proto https;\n\
               proxy_read_timeout 60s;\n\
             }}\n\
           }}\n\
         }}\n",
        cert = cert.display(),
        key = key.display(),
    );
    std::fs::write(&conf, text).expect("write nginx.conf");
    let mut cmd = Command::new(nginx);
    cmd.arg("-c").arg(&conf).arg("-p").arg(dir);
    Some(Peer::start(cmd, port, &dir.join("nginx-error.log")))
}

/// tinyproxy on `127.0.0.1:<port>`, a forward proxy for loopback clients; with
/// `basic_auth` it asks for those credentials (`Proxy-Authorization`). It logs every
/// request, so a test can count the `CONNECT` tunnels it opened ([`connects`]).
/// `None` when tinyproxy is not installed (outside CI).
pub fn forward_proxy(dir: &Path, basic_auth: Option<(&str, &str)>) -> Option<Peer> {
    let tinyproxy = program("tinyproxy")?;
    let port = free_port();
    let log = dir.join("tinyproxy.log");
    let auth = basic_auth
        .map(|(u, p)| format!("BasicAuth {u} {p}\n"))
        .unwrap_or_default();
    // No `ConnectPort` line: CONNECT is allowed to every port (the upstreams listen on
    // kernel-chosen ones).
    let text = format!(
        "Port {port}\nListen 127.0.0.1\nTimeout 60\nMaxClients 64\n\
         LogFile \"{}\"\nLogLevel Info\nPidFile \"{}\"\n\
         Allow 127.0.0.1\n{auth}",
        log.display(),
        dir.join("tinyproxy.pid").display(),
    );
    let conf = dir.join("tinyproxy.conf");
    std::fs::write(&conf, text).expect("write tinyproxy.conf");
    let mut cmd = Command::new(tinyproxy);
    // -d: stay in the foreground, so that dropping the peer ends it.
    cmd.arg("-d").arg("-c").arg(&conf);
    Some(Peer::start(cmd, port, &log))
}

/// How many `CONNECT` requests the tinyproxy of `peer` received.
pub fn connects(peer: &Peer) -> usize {
    peer.log_text()
        .lines()
        .filter(|l| l.contains("Request (file descriptor") && l.contains("CONNECT "))
        .count()
}
