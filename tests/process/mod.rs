//! The real `flowgate` binary as a child process, for tests that restart or kill it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_flowgate");
/// `Administrator` / `Administrator`, the development credential of `config/dev.toml`.
pub const ADMIN_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$EJMQQHDp9M2CYWKLwKmbxg$5MLxErHkrnzNWymO+2mHK2Dww5WWec8lRhtkLxcUJOU";

/// A running `flowgate serve` on a kernel-chosen loopback port; its log goes to a file.
pub struct Server {
    child: Child,
    /// `host:port` it listens on.
    pub addr: String,
}

impl Server {
    /// Starts the binary with `cfg` and waits for its announcement line.
    pub fn start(cfg: &Path, log: &Path) -> Server {
        Self::start_with_env(cfg, log, &[])
    }

    /// [`Server::start`] with extra environment variables for the child alone.
    pub fn start_with_env(cfg: &Path, log: &Path, env: &[(&str, &str)]) -> Server {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file");
        let mut child = Command::new(BIN)
            .args(["serve", "--config"])
            .arg(cfg)
            .args(["--bind", "127.0.0.1:0"])
            .env_remove("FLOWGATE_CONFIG")
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("spawn flowgate");
        let stdout = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("announcement line");
        let addr = line
            .trim()
            .strip_prefix("flowgate listening on http://")
            .and_then(|rest| rest.split('/').next())
            .unwrap_or_else(|| panic!("unexpected first line: {line:?}"))
            .to_owned();
        Server { child, addr }
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, as a service manager stops it, then waits (at most 20 s) for the
    /// graceful stop to end the process; returns whether it exited with success.
    pub fn terminate(mut self) -> bool {
        let sent = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(sent.success(), "SIGTERM sent");
        let end = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status.success();
            }
            if std::time::Instant::now() > end {
                self.child.kill().expect("SIGKILL");
                self.child.wait().expect("reap");
                panic!("the gateway did not stop within 20 s of SIGTERM");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// SIGKILL, then reap.
    pub fn kill(mut self) {
        // `Child::kill` sends SIGKILL on Unix: no shutdown code runs.
        self.child.kill().expect("SIGKILL");
        self.child.wait().expect("reap");
    }
}

impl Drop for Server {
    /// A test that ends, or fails, without stopping its server leaves nothing running.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Writes `flowgate.toml` in `dir` for the binary: the embedded engine on redb in
/// `dir/data`, the shipped models, `Administrator` as the only user, and `extra` (whole
/// tables, e.g. `[server]` or `[[webhooks]]`) before the engine.
pub fn redb_config(dir: &Path, extra: &str) -> std::path::PathBuf {
    let cfg = dir.join("flowgate.toml");
    let text = format!(
        "[log]\nlevel = \"info\"\n{extra}\
         [engines.local]\nkind = \"embedded\"\nmodels_dir = \"{root}/config/models\"\ndefault = true\n\
         storage = \"redb\"\ndata_dir = \"{data}\"\n\
         [[auth.users]]\nname = \"Administrator\"\npassword_hash = \"{ADMIN_HASH}\"\ngroups = [\"administrators\"]\n",
        root = env!("CARGO_MANIFEST_DIR"),
        data = dir.join("data").display(),
    );
    std::fs::write(&cfg, text).expect("write config");
    cfg
}
