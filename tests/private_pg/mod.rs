//! A PostgreSQL server of a test's own: Debian's `initdb` and `pg_ctl` in a temporary
//! directory, run as the `postgres` user, listening on a loopback port. Optionally it
//! accepts only TLS connections, with a server certificate from a test CA and password
//! authentication for the role [`ROLE`].
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use flowgate_testkit::tls::Ca;

/// The password role of a TLS server (test-only credential on a loopback server).
pub const ROLE: &str = "flowgate";
/// Its password.
pub const PASSWORD: &str = "tls-test-only-password";

/// A PostgreSQL server in a temporary directory, stopped when dropped.
pub struct PrivatePg {
    bin: PathBuf,
    dir: tempfile::TempDir,
    pub port: u16,
    tls: bool,
}

fn as_postgres(program: &Path, args: &[&str]) -> std::process::Output {
    Command::new("runuser")
        .args(["-u", "postgres", "--"])
        .arg(program)
        .args(args)
        .output()
        .expect("runuser")
}

fn check(what: &str, out: &std::process::Output) {
    assert!(
        out.status.success(),
        "{what}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PrivatePg {
    /// A server accepting plain connections of `postgres` without a password. `None`
    /// (skipped) outside CI when PostgreSQL tests are not set up.
    pub fn start() -> Option<PrivatePg> {
        let pg = Self::init(false)?;
        pg.up();
        Some(pg)
    }

    /// A server that refuses connections over TCP without TLS, presents a certificate
    /// for 127.0.0.1 and localhost signed by `ca`, and asks [`ROLE`] for its password
    /// (which owns the database `flowgate`).
    pub fn start_tls(ca: &Ca) -> Option<PrivatePg> {
        let pg = Self::init(true)?;
        let (cert, key) = ca.server_leaf().expect("server certificate");
        let data = pg.dir.path().join("data");
        std::fs::write(data.join("server.crt"), cert).expect("write certificate");
        std::fs::write(data.join("server.key"), key).expect("write key");
        let hba = "local all all trust\n\
                   hostssl all all 127.0.0.1/32 scram-sha-256\n\
                   hostnossl all all 127.0.0.1/32 reject\n";
        std::fs::write(data.join("pg_hba.conf"), hba).expect("write pg_hba.conf");
        let status = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(&data)
            .status()
            .expect("chown");
        assert!(status.success());
        let status = Command::new("chmod")
            .arg("600")
            .arg(data.join("server.key"))
            .status()
            .expect("chmod");
        assert!(status.success());
        pg.up();
        pg.psql(&format!("CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'"));
        pg.psql(&format!("CREATE DATABASE flowgate OWNER {ROLE}"));
        Some(pg)
    }

    fn init(tls: bool) -> Option<PrivatePg> {
        flowgate_testkit::pg::database_url()?;
        let versions = std::fs::read_dir("/usr/lib/postgresql").expect("PostgreSQL binaries");
        let mut versions: Vec<PathBuf> =
            versions.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        versions.sort();
        let bin = versions.pop().expect("a PostgreSQL version").join("bin");
        let dir = tempfile::tempdir().expect("tempdir");
        let status = Command::new("chown")
            .args(["-R", "postgres"])
            .arg(dir.path())
            .status()
            .expect("chown");
        assert!(status.success());
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let data = dir.path().join("data");
        let out = as_postgres(
            &bin.join("initdb"),
            &[
                "-D",
                &data.to_string_lossy(),
                "-A",
                "trust",
                "-U",
                "postgres",
                "--no-sync",
            ],
        );
        check("initdb", &out);
        Some(PrivatePg {
            bin,
            dir,
            port,
            tls,
        })
    }

    fn data(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    /// Starts the server (again).
    pub fn up(&self) {
        let mut opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        if self.tls {
            opts.push_str(" -c ssl=on -c ssl_cert_file=server.crt -c ssl_key_file=server.key");
        }
        let log = self.dir.path().join("server.log");
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &[
                "-D",
                &self.data(),
                "-o",
                &opts,
                "-l",
                &log.to_string_lossy(),
                "-w",
                "-t",
                "30",
                "start",
            ],
        );
        check("pg_ctl start", &out);
    }

    /// Stops the server (fast shutdown).
    pub fn down(&self) {
        let out = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "fast", "-w", "-t", "30", "stop"],
        );
        check("pg_ctl stop", &out);
    }

    /// The URL of the plain server's `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// The URL of the TLS server's `flowgate` database as [`ROLE`], with `params`.
    pub fn tls_url(&self, host: &str, params: &str) -> String {
        format!(
            "postgres://{ROLE}:{PASSWORD}@{host}:{}/flowgate?{params}",
            self.port
        )
    }

    /// Runs `sql` as `postgres` over the server's socket; its output, unaligned.
    pub fn psql(&self, sql: &str) -> String {
        let out = as_postgres(
            &self.bin.join("psql"),
            &[
                "-X",
                "-q",
                "-tA",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                &self.dir.path().to_string_lossy(),
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ],
        );
        check("psql", &out);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = as_postgres(
            &self.bin.join("pg_ctl"),
            &["-D", &self.data(), "-m", "immediate", "stop"],
        );
    }
}
