//! The `flowgate` binary: check-config, hash-password and serve on a free port.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_flowgate");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn check_config_accepts_the_shipped_dev_config() {
    let out = Command::new(BIN)
        .current_dir(ROOT)
        .args(["check-config", "--config", "config/dev.toml"])
        .env_remove("FLOWGATE_CONFIG")
        .output()
        .expect("run");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("SerialDocumentReview"), "{stdout}");
    assert!(stdout.contains("ParallelDocumentReview"), "{stdout}");
}

#[test]
fn check_config_fails_naming_the_bad_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("bad.toml");
    std::fs::write(
        &file,
        "[server]\nbind = \"nowhere\"\n[engines.local]\nkind = \"memory\"\nmodels_dir = \"/does/not/exist\"\n",
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("server.bind"), "{err}");
    assert!(err.contains("engines.local.models_dir"), "{err}");
}

#[test]
fn check_config_reports_a_broken_model() {
    let dir = tempfile::tempdir().expect("tempdir");
    let models = dir.path().join("models");
    std::fs::create_dir(&models).expect("mkdir");
    std::fs::write(models.join("Broken.json"), "{ not json").expect("write");
    let file = dir.path().join("fg.toml");
    std::fs::write(
        &file,
        format!(
            "[engines.local]\nkind = \"memory\"\nmodels_dir = \"{}\"\n",
            models.display()
        ),
    )
    .expect("write");
    let out = Command::new(BIN)
        .args(["check-config", "--config"])
        .arg(&file)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Broken.json"), "{err}");
}

#[test]
fn hash_password_prints_an_argon2_phc_string() {
    let mut child = Command::new(BIN)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"s3cret\n")
        .expect("write");
    let out = child.wait_with_output().expect("wait");
    assert!(out.status.success());
    let hash = String::from_utf8_lossy(&out.stdout);
    assert!(hash.trim().starts_with("$argon2id$"), "{hash}");
    assert!(!hash.contains("s3cret"));
}

/// Starts `flowgate serve` with the dev config on a free port, with `envs` and its
/// standard error sent to `stderr`; answers the process and the base URL it printed.
fn serve(envs: &[(&str, &str)], stderr: Stdio) -> (Child, String) {
    let mut child = Command::new(BIN)
        .current_dir(ROOT)
        .args([
            "serve",
            "--config",
            "config/dev.toml",
            "--bind",
            "127.0.0.1:0",
        ])
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let url = line
        .trim()
        .strip_prefix("flowgate listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {line}"))
        .to_owned();
    (child, url)
}

/// Sends one raw HTTP/1.1 request to the server at `url` and answers the raw response.
fn exchange(url: &str, request: &[u8]) -> String {
    let addr = url
        .trim_start_matches("http://")
        .trim_end_matches("/nuxeo/");
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.write_all(request).expect("write");
    let mut resp = String::new();
    std::io::Read::read_to_string(&mut s, &mut resp).expect("read");
    resp
}

/// Sends SIGTERM.
fn terminate(child: &Child) {
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill");
}

#[test]
fn serve_on_port_zero_prints_the_bound_address_and_stops_on_sigterm() {
    let (mut child, url) = serve(&[("RUST_LOG", "warn")], Stdio::null());
    assert!(
        url.starts_with("http://127.0.0.1:") && url.ends_with("/nuxeo/"),
        "{url}"
    );
    let resp = exchange(
        &url,
        b"GET /nuxeo/runningstatus HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    // SIGTERM: graceful stop.
    terminate(&child);
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            assert!(status.success(), "{status:?}");
            break;
        }
        if started.elapsed() > Duration::from_secs(15) {
            let _ = child.kill();
            panic!("server did not stop after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn request_log_lines_name_the_request_route_status_and_user() {
    let (mut child, url) = serve(
        &[("RUST_LOG", "info"), ("FLOWGATE__LOG__FORMAT", "json")],
        Stdio::piped(),
    );
    // jdoe:jdoe (the dev config's users have their names as passwords).
    let resp = exchange(
        &url,
        b"GET /nuxeo/api/v1/workflowModel/SerialDocumentReview HTTP/1.1\r\nHost: x\r\n\
          Authorization: Basic amRvZTpqZG9l\r\nX-Request-Id: log-check-1\r\nConnection: close\r\n\r\n",
    );
    assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
    terminate(&child);
    let stderr = child.stderr.take().expect("stderr");
    let started = Instant::now();
    let mut found = None;
    for l in BufReader::new(stderr).lines() {
        let Ok(l) = l else { break };
        if l.contains("log-check-1") && l.contains("\"status\"") {
            found = Some(l);
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "no request line"
        );
    }
    let _ = child.kill();
    let _ = child.wait();
    let l = found.expect("a request line with the request id");
    let v: serde_json::Value = serde_json::from_str(&l).expect("JSON log line");
    assert_eq!(v["user"], "jdoe", "{l}");
    assert_eq!(v["status"], 200, "{l}");
    assert_eq!(v["route"], "/api/v1/workflowModel/{name}", "{l}");
    assert_eq!(
        v["path"], "/nuxeo/api/v1/workflowModel/SerialDocumentReview",
        "{l}"
    );
    assert!(
        !l.contains("amRvZTpqZG9l"),
        "credentials must not be logged: {l}"
    );
}
