//! The transport over real TLS on loopback: an unknown CA is refused clearly and at
//! once, `ca_file` makes it pass, a server wanting a client certificate works with one
//! and fails clearly without, and a configured forward proxy (tinyproxy) carries the
//! calls, with the credentials of its URL when it asks for some.

use std::io::Write as _;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use flowgate_core::{CallContext, ErrorKind};
use flowgate_http::{HttpSettings, Idempotency, Upstream};
use flowgate_testkit::peers;
use flowgate_testkit::tls::Ca;
use reqwest::Method;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// An https server on loopback answering `200 {}`; counts TCP connections.
async fn https_server(ca: &Ca, client_ca: Option<&Ca>) -> (url::Url, Arc<AtomicUsize>) {
    let (cert, key) = ca.server_leaf().expect("server leaf");
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).unwrap();
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .unwrap();
    let config = match client_ca {
        Some(cca) => {
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_slice_iter(cca.pem().as_bytes()) {
                roots.add(c.unwrap()).unwrap();
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider(),
            )
            .build()
            .unwrap();
            builder.with_client_cert_verifier(verifier)
        }
        None => builder.with_no_client_auth(),
    }
    .with_single_cert(certs, key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            c.fetch_add(1, Ordering::SeqCst);
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut got = Vec::new();
                let mut buf = vec![0u8; 4096];
                loop {
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match tls.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    got.clear();
                    let resp = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
                    if tls.write_all(resp).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (
        format!("https://127.0.0.1:{}/api/", addr.port())
            .parse()
            .unwrap(),
        count,
    )
}

fn pem_file(pem: &str) -> tempfile::NamedTempFile {
    let mut f = tempfile::NamedTempFile::new().unwrap();
    f.write_all(pem.as_bytes()).unwrap();
    f.flush().unwrap();
    f
}

fn settings() -> HttpSettings {
    HttpSettings {
        request_timeout_ms: 3_000,
        retry_min_delay_ms: 5,
        retry_max_delay_ms: 20,
        max_attempts: 3,
        ..HttpSettings::default()
    }
}

async fn get(up: &Upstream) -> Result<u16, flowgate_core::EngineError> {
    let cx = CallContext::admin("admin").with_timeout(Duration::from_secs(10));
    let url = up.url(&["x"]).unwrap();
    let resp = up
        .send(
            &cx,
            "get",
            Idempotency::Idempotent,
            up.request(Method::GET, url),
        )
        .await?;
    Ok(resp.status().as_u16())
}

#[tokio::test]
async fn an_unknown_ca_is_refused_at_once_and_ca_file_makes_it_pass() {
    let ca = Ca::new("flowgate test CA").expect("CA");
    let (base, connections) = https_server(&ca, None).await;

    let up = Upstream::new("alf", base.clone(), settings()).unwrap();
    let started = Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(10), get(&up))
        .await
        .expect("no hang")
        .unwrap_err();
    // Upstream: the gateway answers 502.
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err}");
    assert!(
        err.message()
            .contains("upstream certificate was not trusted"),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(connections.load(Ordering::SeqCst), 1, "not retried");

    let ca_file = pem_file(&ca.pem());
    let mut s = settings();
    s.ca_file = Some(ca_file.path().to_owned());
    let up = Upstream::new("alf", base, s).unwrap();
    assert_eq!(get(&up).await.unwrap(), 200);
    assert_eq!(get(&up).await.unwrap(), 200);
}

#[tokio::test]
async fn a_server_wanting_a_client_certificate_works_with_one_and_fails_clearly_without() {
    let ca = Ca::new("flowgate server CA").expect("CA");
    let clients = Ca::new("flowgate client CA").expect("CA");
    let (base, _) = https_server(&ca, Some(&clients)).await;
    let ca_file = pem_file(&ca.pem());
    let mut s = settings();
    s.ca_file = Some(ca_file.path().to_owned());

    let up = Upstream::new("aem", base.clone(), s.clone()).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), get(&up))
        .await
        .expect("no hang")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err}");
    assert!(err.message().contains("client certificate"), "{err}");

    let (cert, key) = clients.client_leaf().expect("client leaf");
    let (cert_file, key_file) = (pem_file(&cert), pem_file(&key));
    s.client_cert_file = Some(cert_file.path().to_owned());
    s.client_key_file = Some(key_file.path().to_owned());
    let up = Upstream::new("aem", base, s).unwrap();
    assert_eq!(get(&up).await.unwrap(), 200);
}

#[tokio::test]
async fn a_configured_proxy_carries_the_calls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(proxy) = peers::forward_proxy(dir.path(), None) else {
        return;
    };
    let ca = Ca::new("flowgate proxy test CA").expect("CA");
    let (base, direct) = https_server(&ca, None).await;
    let ca_file = pem_file(&ca.pem());
    let mut s = settings();
    s.ca_file = Some(ca_file.path().to_owned());
    s.proxy = Some(proxy.url().parse().expect("proxy URL"));
    let up = Upstream::new("alf", base, s).unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), get(&up))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(peers::connects(&proxy), 1, "{}", proxy.log_text());
    assert_eq!(direct.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_proxy_asking_for_credentials_gets_those_of_the_proxy_url_and_never_shows_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(proxy) = peers::forward_proxy(dir.path(), Some(("corp", "proxy-pass-71"))) else {
        return;
    };
    let ca = Ca::new("flowgate proxy test CA").expect("CA");
    let (base, direct) = https_server(&ca, None).await;
    let ca_file = pem_file(&ca.pem());
    let with = |user_info: &str| {
        let mut s = settings();
        s.ca_file = Some(ca_file.path().to_owned());
        s.proxy = Some(
            format!("http://{user_info}@127.0.0.1:{}/", proxy.port)
                .parse()
                .expect("proxy URL"),
        );
        Upstream::new("alf", base.clone(), s).unwrap()
    };
    let up = with("corp:proxy-pass-71");
    let status = tokio::time::timeout(Duration::from_secs(10), get(&up))
        .await
        .expect("no hang")
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(direct.load(Ordering::SeqCst), 1);
    // No credentials: the proxy asks for some (407), a 502 at once that says so.
    let mut s = settings();
    s.ca_file = Some(ca_file.path().to_owned());
    s.proxy = Some(proxy.url().parse().expect("proxy URL"));
    let started = Instant::now();
    let err = tokio::time::timeout(
        Duration::from_secs(10),
        get(&Upstream::new("alf", base.clone(), s).unwrap()),
    )
    .await
    .expect("no hang")
    .expect_err("refused by the proxy");
    assert!(started.elapsed() < Duration::from_secs(5), "{err:?}");
    assert_eq!(err.kind(), ErrorKind::Upstream, "{err:?}");
    assert!(
        err.message().contains("proxy asks for credentials"),
        "{err:?}"
    );
    // Wrong credentials: tinyproxy refuses the tunnel (401), a failure that names the
    // proxy and neither the password given nor the one expected.
    let err = tokio::time::timeout(Duration::from_secs(10), get(&with("corp:wrong-pass-19")))
        .await
        .expect("no hang")
        .expect_err("refused by the proxy");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(err.message().contains("forward proxy"), "{err:?}");
    let shown = format!("{err} {err:?}");
    for secret in ["wrong-pass-19", "proxy-pass-71"] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
    assert_eq!(
        direct.load(Ordering::SeqCst),
        1,
        "nothing reached the server"
    );
}

#[tokio::test]
async fn a_proxy_that_cannot_reach_the_upstream_is_a_clear_503() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(proxy) = peers::forward_proxy(dir.path(), None) else {
        return;
    };
    // A loopback port nothing listens on: the proxy cannot open the tunnel.
    let closed = peers::free_port();
    let mut s = settings();
    s.proxy = Some(proxy.url().parse().expect("proxy URL"));
    let base: url::Url = format!("https://127.0.0.1:{closed}/api/")
        .parse()
        .expect("URL");
    let up = Upstream::new("alf", base, s).unwrap();
    let err = tokio::time::timeout(Duration::from_secs(10), get(&up))
        .await
        .expect("no hang")
        .expect_err("no upstream");
    assert_eq!(err.kind(), ErrorKind::Unavailable, "{err:?}");
    assert!(
        err.message().contains("forward proxy refused the tunnel"),
        "{err:?}"
    );
    assert!(peers::connects(&proxy) >= 1, "{}", proxy.log_text());
}
