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

/// Starts `flowgate serve` with `args` and `envs` (standard error piped); answers the
/// process and the first line it printed, or its standard error when it stopped.
fn start(args: &[&str], envs: &[(&str, &str)]) -> (Child, Result<String, String>) {
    let mut child = Command::new(BIN)
        .current_dir(ROOT)
        .arg("serve")
        .args(args)
        .env_remove("FLOWGATE_CONFIG")
        .env_remove("FLOWGATE_ADMIN_PASSWORD")
        .env_remove("FLOWGATE_ADMIN_USER")
        .envs(envs.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    match line.trim().strip_prefix("flowgate listening on ") {
        Some(url) => {
            let url = url.replace("0.0.0.0", "127.0.0.1");
            (child, Ok(url))
        }
        None => {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = std::io::Read::read_to_string(&mut e, &mut err);
            }
            (child, Err(err))
        }
    }
}

/// Stops `child` with SIGTERM and answers what it wrote on standard error.
fn stop(mut child: Child) -> String {
    terminate(&child);
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    let _ = child.wait();
    err
}

/// `GET /nuxeo/api/v1/automation/login`-like probe: the status line of an authenticated
/// request with `user:password`.
fn status_as(url: &str, user: &str, password: &str) -> String {
    use base64::Engine as _;
    let creds = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    let resp = exchange(
        url,
        format!(
            "GET /nuxeo/api/v1/workflowModel HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {creds}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    );
    resp.lines().next().unwrap_or_default().to_owned()
}

/// The image's settings with the models of the repository and data in `data`.
fn image_env(data: &std::path::Path) -> Vec<(&'static str, String)> {
    vec![
        (
            "FLOWGATE__ENGINES__LOCAL__MODELS_DIR",
            format!("{ROOT}/config/models"),
        ),
        (
            "FLOWGATE__ENGINES__LOCAL__DATA_DIR",
            data.display().to_string(),
        ),
        ("RUST_LOG", "info".to_owned()),
    ]
}

fn refs<'a>(v: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    v.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

#[test]
fn the_image_settings_with_the_dev_users_refuse_to_listen_beyond_loopback() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = std::fs::read_to_string(format!("{ROOT}/config/container.toml")).expect("read");
    assert!(!image.contains("[[auth.users]]"), "the image ships no user");
    let dev = std::fs::read_to_string(format!("{ROOT}/config/dev.toml")).expect("read");
    let users = &dev[dev.find("[[auth.users]]").expect("dev users")..];
    let file = dir.path().join("image-with-dev-users.toml");
    std::fs::write(&file, format!("{image}\n{users}")).expect("write");
    let env = image_env(&dir.path().join("data"));
    let path = file.display().to_string();
    let (mut child, started) = start(&["--config", &path, "--bind", "0.0.0.0:0"], &refs(&env));
    let err = started.expect_err("must not start");
    let status = child.wait().expect("wait");
    assert!(!status.success());
    assert!(err.contains("refusing to listen on 0.0.0.0"), "{err}");
    assert!(err.contains("not a loopback address"), "{err}");
    assert!(
        err.contains("Administrator") && err.contains("jdoe"),
        "{err}"
    );
    assert!(err.contains("FLOWGATE_ADMIN_PASSWORD"), "{err}");
    // The dev config alone, beyond loopback: refused too.
    let (mut child, started) = start(
        &["--config", "config/dev.toml", "--bind", "[::]:0"],
        &refs(&env),
    );
    assert!(started.is_err());
    assert!(!child.wait().expect("wait").success());
}

#[test]
fn the_image_settings_start_with_the_administrator_of_the_environment_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = image_env(&dir.path().join("data"));
    env.push(("FLOWGATE_ADMIN_PASSWORD", "c0rrect-h0rse".to_owned()));
    env.push(("FLOWGATE__LOG__FORMAT", "json".to_owned()));
    let (child, started) = start(
        &["--config", "config/container.toml", "--bind", "0.0.0.0:0"],
        &refs(&env),
    );
    let url = started.expect("starts");
    assert!(
        status_as(&url, "Administrator", "c0rrect-h0rse").contains(" 200"),
        "the administrator signs in"
    );
    assert!(status_as(&url, "Administrator", "Administrator").contains(" 401"));
    assert!(status_as(&url, "jdoe", "jdoe").contains(" 401"));
    let err = stop(child);
    assert!(
        !err.contains("c0rrect-h0rse"),
        "the password is never logged: {err}"
    );
    // The failed sign-ins are audited, one event each, without the password.
    let audits: Vec<serde_json::Value> = err
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "flowgate::audit")
        .collect();
    assert_eq!(audits.len(), 2, "{err}");
    assert_eq!(audits[0]["event"], "sign_in_failed");
    assert_eq!(audits[0]["kind"], "basic");
    assert_eq!(audits[0]["reason"], "wrong password");
    assert_eq!(audits[0]["client"], "127.0.0.1");
    assert_eq!(audits[1]["reason"], "unknown user");
    assert!(audits[1]["user"]
        .as_str()
        .is_some_and(|u| u.contains("jdoe")));
}

#[test]
fn the_insecure_setting_lets_dev_users_listen_beyond_loopback_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = image_env(&dir.path().join("data"));
    env.push((
        "FLOWGATE__AUTH__ALLOW_INSECURE_DEV_USERS",
        "true".to_owned(),
    ));
    let (child, started) = start(
        &["--config", "config/dev.toml", "--bind", "0.0.0.0:0"],
        &refs(&env),
    );
    let url = started.expect("starts");
    assert!(status_as(&url, "jdoe", "jdoe").contains(" 200"));
    let err = stop(child);
    assert!(err.contains("INSECURE"), "{err}");
    assert!(err.contains("allow_insecure_dev_users"), "{err}");
}

#[test]
fn the_dev_config_on_loopback_still_starts_with_its_users() {
    let dir = tempfile::tempdir().expect("tempdir");
    let env = image_env(&dir.path().join("data"));
    let (child, started) = start(
        &["--config", "config/dev.toml", "--bind", "127.0.0.1:0"],
        &refs(&env),
    );
    let url = started.expect("starts");
    assert!(status_as(&url, "jdoe", "jdoe").contains(" 200"));
    let err = stop(child);
    assert!(!err.contains("INSECURE"), "{err}");
}

#[test]
fn metrics_can_listen_on_their_own_address() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = image_env(&dir.path().join("data"));
    env.push(("FLOWGATE__METRICS__BIND", "127.0.0.1:0".to_owned()));
    let mut child = Command::new(BIN)
        .current_dir(ROOT)
        .args([
            "serve",
            "--config",
            "config/dev.toml",
            "--bind",
            "127.0.0.1:0",
        ])
        .env_remove("FLOWGATE_CONFIG")
        .envs(refs(&env))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let (mut api, mut metrics) = (String::new(), String::new());
    out.read_line(&mut api).expect("read");
    out.read_line(&mut metrics).expect("read");
    let api = api
        .trim()
        .strip_prefix("flowgate listening on ")
        .unwrap_or_else(|| panic!("unexpected line: {api}"))
        .to_owned();
    let metrics = metrics
        .trim()
        .strip_prefix("flowgate metrics on ")
        .and_then(|m| m.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected line: {metrics}"))
        .to_owned();
    let get = b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let on_api = exchange(&api, get);
    let on_own = exchange(&format!("{metrics}/nuxeo/"), get);
    terminate(&child);
    let _ = child.wait();
    assert!(on_api.starts_with("HTTP/1.1 404"), "{on_api}");
    assert!(on_own.starts_with("HTTP/1.1 200"), "{on_own}");
    assert!(on_own.contains("flowgate_"), "{on_own}");
}
