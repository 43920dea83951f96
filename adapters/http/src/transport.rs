//! The one transport of an engine: a `reqwest::Client` (its connection pool, rustls)
//! built from the engine's [`HttpSettings`], and one attempt of a call through it.

use std::time::Duration;

use bytes::Bytes;
use flowgate_core::EngineError;
use reqwest::header::HeaderMap;
use reqwest::StatusCode;

use crate::settings::HttpSettings;

const USER_AGENT: &str = concat!("flowgate/", env!("CARGO_PKG_VERSION"));

/// An upstream's answer, read in full (its body bounded by `max_body_bytes`).
#[derive(Debug)]
pub struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The value of header field `name` (case-insensitive; the first if repeated), when
    /// it is text.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// Builds the client of `engine` (or of another user of an [`HttpSettings`] table, by
/// its name): rustls with the system's roots plus `ca_file`, the client certificate, the
/// proxy, the connect and idle timeouts. Fails with `Unavailable` naming the setting
/// when a TLS file cannot be read or parsed, so that the gateway refuses to start.
pub fn build_client(engine: &str, settings: &HttpSettings) -> Result<reqwest::Client, EngineError> {
    let fail = |what: String| {
        EngineError::Unavailable(format!(
            "engine '{engine}': cannot build HTTP client: {what}"
        ))
    };
    let read = |key: &str, path: &std::path::Path| {
        std::fs::read(path).map_err(|e| fail(format!("{key} '{}': {e}", path.display())))
    };
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .pool_idle_timeout(Duration::from_millis(settings.pool_idle_timeout_ms))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(USER_AGENT)
        .tls_backend_rustls();
    if let Some(path) = &settings.ca_file {
        let pem = read("ca_file", path)?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| fail(format!("ca_file '{}': {e}", path.display())))?;
        if certs.is_empty() {
            return Err(fail(format!(
                "ca_file '{}': no PEM certificate in it",
                path.display()
            )));
        }
        b = b.tls_certs_merge(certs);
    }
    if let (Some(cert), Some(key)) = (&settings.client_cert_file, &settings.client_key_file) {
        let mut pem = read("client_cert_file", cert)?;
        pem.push(b'\n');
        pem.extend_from_slice(&read("client_key_file", key)?);
        let identity = reqwest::Identity::from_pem(&pem).map_err(|e| {
            fail(format!(
                "client_cert_file '{}' / client_key_file '{}': {e}",
                cert.display(),
                key.display()
            ))
        })?;
        b = b.identity(identity);
    }
    if let Some(proxy) = &settings.proxy {
        let mut p = reqwest::Proxy::all(proxy.as_str()).map_err(|e| fail(format!("proxy: {e}")))?;
        if let Some(list) = &settings.no_proxy {
            p = p.no_proxy(reqwest::NoProxy::from_string(list));
        }
        b = b.proxy(p);
    }
    if settings.danger_accept_invalid_certs {
        tracing::warn!(
            engine,
            "danger_accept_invalid_certs is on: the upstream's TLS certificate is NOT verified; \
             anyone on the network path can read and change this engine's traffic"
        );
        b = b.tls_danger_accept_invalid_certs(true);
    }
    b.build().map_err(|e| fail(e.to_string()))
}

/// Why an attempt got no usable answer.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The connection could not be made: the request was not sent.
    Connect,
    /// No complete answer in time.
    Timeout,
    /// TLS refused: retrying cannot help, the message says why.
    Tls(TlsProblem),
    /// The connection broke or the answer was not HTTP.
    Broken(&'static str),
    /// The answer's body is over the size limit.
    TooLarge(StatusCode),
    /// The forward proxy refused the tunnel to the upstream: the request was not sent.
    Proxy(ProxyRefusal),
}

/// How a forward proxy refused the tunnel to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ProxyRefusal {
    /// It asks for credentials (`407`): retrying cannot help.
    Credentials,
    /// It answered the `CONNECT` with another status (it may not reach the upstream).
    Refused,
}

/// A TLS failure, as told to clients.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TlsProblem {
    /// The upstream's certificate did not verify (unknown issuer, expired, wrong name).
    UntrustedServer(String),
    /// The upstream refused the gateway's client certificate, or wanted one.
    ClientCertRefused(String),
    /// Another handshake failure (no common protocol version or cipher, ...).
    Handshake(String),
}

impl TlsProblem {
    /// The client-facing message (no upstream body, no secret).
    pub(crate) fn message(&self, engine: &str) -> String {
        match self {
            TlsProblem::UntrustedServer(why) => format!(
                "engine '{engine}': the upstream certificate was not trusted ({why}); \
                 add its certificate authority with ca_file"
            ),
            TlsProblem::ClientCertRefused(why) => format!(
                "engine '{engine}': the upstream refused the TLS connection for want of an \
                 acceptable client certificate ({why}); check client_cert_file and client_key_file"
            ),
            TlsProblem::Handshake(why) => {
                format!("engine '{engine}': the TLS handshake with the upstream failed ({why})")
            }
        }
    }
}

/// Finds a rustls error in `e`'s chain. An io error's `source()` skips the error it
/// wraps (and io errors nest), so those are opened with `get_ref()`.
fn tls_problem(e: &(dyn std::error::Error + 'static)) -> Option<TlsProblem> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    for _ in 0..16 {
        let err = cur?;
        if let Some(r) = err.downcast_ref::<rustls::Error>() {
            return Some(classify(r));
        }
        cur = match err.downcast_ref::<std::io::Error>() {
            Some(io) => io
                .get_ref()
                .map(|inner| inner as &(dyn std::error::Error + 'static)),
            None => err.source(),
        };
    }
    None
}

fn classify(e: &rustls::Error) -> TlsProblem {
    use rustls::AlertDescription as A;
    match e {
        rustls::Error::InvalidCertificate(c) => {
            TlsProblem::UntrustedServer(certificate_reason(c).to_owned())
        }
        rustls::Error::AlertReceived(
            a @ (A::CertificateRequired
            | A::BadCertificate
            | A::UnknownCA
            | A::CertificateUnknown
            | A::CertificateExpired
            | A::CertificateRevoked
            | A::UnsupportedCertificate
            | A::AccessDenied),
        ) => TlsProblem::ClientCertRefused(format!("alert {a:?}")),
        other => TlsProblem::Handshake(other.to_string()),
    }
}

fn certificate_reason(c: &rustls::CertificateError) -> &'static str {
    use rustls::CertificateError as C;
    match c {
        C::UnknownIssuer => "unknown issuer",
        C::Expired | C::ExpiredContext { .. } => "expired",
        C::NotValidYet | C::NotValidYetContext { .. } => "not valid yet",
        C::NotValidForName | C::NotValidForNameContext { .. } => "not valid for the host name",
        C::Revoked => "revoked",
        C::BadSignature => "bad signature",
        _ => "rejected by the verifier",
    }
}

/// Finds the proxy tunnel error of hyper-util (reqwest's connector) in `e`'s chain. Its
/// type is not exported, so it is known by its text (`tunnel error: …`); any other text
/// leaves the failure a plain connection failure.
fn proxy_refusal(e: &(dyn std::error::Error + 'static)) -> Option<ProxyRefusal> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    for _ in 0..16 {
        let err = cur?;
        if let Some(what) = err.to_string().strip_prefix("tunnel error: ") {
            return match what {
                "proxy authorization required" => Some(ProxyRefusal::Credentials),
                "unsuccessful" => Some(ProxyRefusal::Refused),
                _ => None,
            };
        }
        cur = err.source();
    }
    None
}

/// Classifies a reqwest error of one attempt.
fn failure_of(e: reqwest::Error) -> Failure {
    let e = e.without_url();
    if let Some(tls) = tls_problem(&e) {
        tracing::debug!(error = %e, "upstream TLS failure");
        return Failure::Tls(tls);
    }
    tracing::debug!(error = %e, "upstream call failed");
    if let Some(refusal) = proxy_refusal(&e) {
        return Failure::Proxy(refusal);
    }
    if e.is_connect() {
        Failure::Connect
    } else if e.is_timeout() {
        Failure::Timeout
    } else {
        Failure::Broken("the connection failed")
    }
}

/// Sends one attempt and reads the whole answer, at most `limit` body bytes.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    request: reqwest::Request,
    limit: usize,
) -> Result<Response, Failure> {
    let mut resp = client.execute(request).await.map_err(failure_of)?;
    let status = resp.status();
    if resp.content_length().is_some_and(|n| n > limit as u64) {
        return Err(Failure::TooLarge(status));
    }
    let mut body = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(|e| match failure_of(e) {
        Failure::Tls(t) => Failure::Tls(t),
        _ => Failure::Broken("the connection failed while reading the answer"),
    })? {
        if body.len() + chunk.len() > limit {
            return Err(Failure::TooLarge(status));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Response {
        status,
        headers: std::mem::take(resp.headers_mut()),
        body: body.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_errors_are_found_inside_io_errors() {
        let inner = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, inner);
        assert_eq!(
            tls_problem(&io),
            Some(TlsProblem::UntrustedServer("unknown issuer".into()))
        );
        let alert = std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(rustls::AlertDescription::CertificateRequired),
        );
        assert!(matches!(
            tls_problem(&alert),
            Some(TlsProblem::ClientCertRefused(_))
        ));
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(tls_problem(&plain), None);
        assert!(TlsProblem::UntrustedServer("unknown issuer".into())
            .message("alf")
            .contains("upstream certificate was not trusted"));
    }

    #[test]
    fn unreadable_tls_files_name_the_setting() {
        let s = HttpSettings {
            ca_file: Some("/nonexistent/flowgate-ca.pem".into()),
            ..HttpSettings::default()
        };
        let e = build_client("alf", &s).unwrap_err();
        assert!(e.message().contains("ca_file"), "{e}");
    }
}
