//! Tokens of `authentication/token` with the real binary: kept in `tokens.redb` beside
//! the embedded engine's data they survive a restart (and stay revoked once revoked);
//! without a data directory they end with the process. Neither the log nor the file
//! holds a token in clear.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;

mod process;
use process::{Server, ADMIN_HASH};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn write_config(dir: &Path, durable: bool) -> PathBuf {
    let cfg = dir.join("flowgate.toml");
    let storage = if durable {
        format!(
            "storage = \"redb\"\ndata_dir = \"{}\"\n",
            dir.join("data").display()
        )
    } else {
        "storage = \"memory\"\n".to_owned()
    };
    let text = format!(
        "[log]\nlevel = \"info\"\n\
         [engines.local]\nkind = \"embedded\"\nmodels_dir = \"{ROOT}/config/models\"\ndefault = true\n\
         {storage}\
         [[auth.users]]\nname = \"Administrator\"\npassword_hash = \"{ADMIN_HASH}\"\ngroups = [\"administrators\"]\n",
    );
    std::fs::write(&cfg, text).expect("write config");
    cfg
}

enum Auth<'a> {
    Basic,
    Token(&'a str),
}

/// One HTTP/1.0 exchange: status and body.
fn call(addr: &str, method: &str, path: &str, auth: Auth<'_>) -> (u16, String) {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let header = match auth {
        Auth::Basic => format!(
            "Authorization: Basic {}",
            base64::engine::general_purpose::STANDARD.encode("Administrator:Administrator")
        ),
        Auth::Token(t) => format!("X-Authentication-Token: {t}"),
    };
    let req = format!(
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{header}\r\nContent-Length: 0\r\n\r\n"
    );
    s.write_all(req.as_bytes()).expect("write");
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).expect("read");
    let text = String::from_utf8_lossy(&resp).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").expect("a response");
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("a status");
    (status, body.to_owned())
}

const ISSUE: &str = "/nuxeo/authentication/token?applicationName=cli&deviceId=box-1&deviceDescription=Box&permission=rw";

#[test]
fn tokens_survive_a_restart_until_revoked() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), true);
    let log = dir.path().join("flowgate.log");

    let s = Server::start(&cfg, &log);
    let (status, token) = call(&s.addr, "GET", ISSUE, Auth::Basic);
    assert_eq!(status, 200, "{token}");
    assert_eq!(
        call(&s.addr, "GET", "/nuxeo/api/v1/me", Auth::Token(&token)).0,
        200
    );
    s.kill();

    let s = Server::start(&cfg, &log);
    let (status, me) = call(&s.addr, "GET", "/nuxeo/api/v1/me", Auth::Token(&token));
    assert_eq!(status, 200, "the token works after a restart: {me}");
    assert!(me.contains("Administrator"));
    let (status, list) = call(&s.addr, "GET", "/nuxeo/api/v1/token", Auth::Token(&token));
    assert_eq!(status, 200);
    assert!(
        list.contains("\"deviceId\":\"box-1\"") && list.contains("\"deviceDescription\":\"Box\"")
    );
    assert!(!list.contains(&token), "listings never show a token");
    let (status, _) = call(&s.addr, "GET", &format!("{ISSUE}&revoke=true"), Auth::Basic);
    assert_eq!(status, 200);
    assert_eq!(
        call(&s.addr, "GET", "/nuxeo/api/v1/me", Auth::Token(&token)).0,
        401
    );
    s.kill();

    let s = Server::start(&cfg, &log);
    assert_eq!(
        call(&s.addr, "GET", "/nuxeo/api/v1/me", Auth::Token(&token)).0,
        401,
        "a revoked token stays revoked after a restart"
    );
    s.kill();

    let file = std::fs::read(dir.path().join("data").join("tokens.redb")).expect("tokens.redb");
    assert!(!file.windows(token.len()).any(|w| w == token.as_bytes()));
    let log = std::fs::read_to_string(&log).expect("log");
    assert!(!log.contains(&token), "the token is never logged");
    assert!(log.contains("tokens are kept in a file"), "{log}");
}

#[test]
fn without_a_data_directory_tokens_end_with_the_process() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cfg = write_config(dir.path(), false);
    let log = dir.path().join("flowgate.log");
    let s = Server::start(&cfg, &log);
    let (status, token) = call(&s.addr, "GET", ISSUE, Auth::Basic);
    assert_eq!(status, 200, "{token}");
    s.kill();
    let s = Server::start(&cfg, &log);
    assert_eq!(
        call(&s.addr, "GET", "/nuxeo/api/v1/me", Auth::Token(&token)).0,
        401
    );
    s.kill();
    let log = std::fs::read_to_string(&log).expect("log");
    assert!(log.contains("tokens are kept in memory"), "{log}");
}
