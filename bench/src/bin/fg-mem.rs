//! Memory of the embedded engine, measured on the real gateway binary.
//!
//! Starts `flowgate serve` with the shipped configuration (`config/dev.toml`: redb with
//! `fsync`) or its in-memory variant (the same file without `storage`, `data_dir` and
//! `durability`), on loopback, in a scratch directory it removes afterwards, and drives
//! it over HTTP as users do:
//!
//! - `per-workflow`: starts `--workflows` workflows on documents, half through
//!   `POST /id/{docId}/@workflow`, half through `POST /workflow` with the document id,
//!   each with a participants variable and a comment, from the configuration's users in
//!   turn; reads the process's resident memory (`VmRSS`) before and after and prints the
//!   bytes per running workflow.
//! - `long-run`: with retention on (ended workflows kept for `--retention`, swept every
//!   second), runs `--rounds` rounds of `--reviews` full reviews (start on a document,
//!   choose the participants, validate with a comment) and prints the resident memory
//!   after each round.
//!
//! Both print one JSON object on stdout. Everything is bounded by count.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::{Parser, Subcommand, ValueEnum};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// The gateway binary (a release build).
    #[arg(long, default_value = "target/release/flowgate")]
    bin: PathBuf,
    /// The shipped configuration; its `[engines.local]` is the engine measured and its
    /// users (password = user name) make the requests.
    #[arg(long, default_value = "config/dev.toml")]
    config: PathBuf,
    /// `redb`: the configuration as shipped (durable, fsync), data in the scratch
    /// directory. `memory`: the same without storage settings.
    #[arg(long, value_enum, default_value = "redb")]
    storage: Storage,
    /// Loopback port of the gateway.
    #[arg(long, default_value_t = 18_090)]
    port: u16,
    /// Scratch directory (configuration variant, data, gateway log); removed at the end.
    #[arg(long, default_value = "target/bench/fg-mem")]
    work: PathBuf,
    /// Requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Storage {
    Redb,
    Memory,
}

#[derive(Subcommand)]
enum Cmd {
    /// Bytes of resident memory per running workflow.
    PerWorkflow {
        #[arg(long, default_value_t = 100_000)]
        workflows: usize,
    },
    /// Resident memory over rounds of full reviews, with retention on.
    LongRun {
        #[arg(long, default_value_t = 10)]
        rounds: usize,
        #[arg(long, default_value_t = 5_000)]
        reviews: usize,
        /// How long ended workflows are kept (a retention time: "1s", "5s").
        #[arg(long, default_value = "1s")]
        retention: String,
    },
}

/// The users of dev.toml: each one's password is its name.
const USERS: [&str; 5] = ["Administrator", "jdoe", "asmith", "bob", "eve"];

fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("fg-mem: {msg}");
    std::process::exit(2)
}

fn rss_kb(pid: u32) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| fail(format!("cannot read /proc/{pid}/status: {e}")));
    text.lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| fail("no VmRSS line"))
}

/// The configuration measured: the shipped one, or the same without its storage keys.
fn config_variant(args: &Args) -> PathBuf {
    let text = std::fs::read_to_string(&args.config)
        .unwrap_or_else(|e| fail(format!("cannot read {}: {e}", args.config.display())));
    let path = args.work.join("gateway.toml");
    let text = match args.storage {
        Storage::Redb => text,
        Storage::Memory => text
            .lines()
            .filter(|l| {
                let k = l.trim_start();
                !(k.starts_with("storage")
                    || k.starts_with("data_dir")
                    || k.starts_with("durability"))
            })
            .map(|l| format!("{l}\n"))
            .collect(),
    };
    std::fs::write(&path, text)
        .unwrap_or_else(|e| fail(format!("cannot write {}: {e}", path.display())));
    path
}

struct Gateway(Child);

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start_gateway(args: &Args, retention: Option<&str>) -> Gateway {
    let config = config_variant(args);
    let log = std::fs::File::create(args.work.join("gateway.log"))
        .unwrap_or_else(|e| fail(format!("cannot create the gateway log: {e}")));
    let err = log
        .try_clone()
        .unwrap_or_else(|e| fail(format!("cannot share the gateway log: {e}")));
    let mut cmd = Command::new(&args.bin);
    cmd.arg("serve")
        .arg("--config")
        .arg(&config)
        .arg("--bind")
        .arg(format!("127.0.0.1:{}", args.port))
        .env("FLOWGATE__LOG__LEVEL", "warn")
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err);
    if args.storage == Storage::Redb {
        cmd.env("FLOWGATE__ENGINES__LOCAL__DATA_DIR", args.work.join("data"));
    }
    if let Some(r) = retention {
        cmd.env("FLOWGATE__ENGINES__LOCAL__RETENTION", r)
            .env("FLOWGATE__ENGINES__LOCAL__RETENTION_SWEEP_SECS", "1");
    }
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| fail(format!("cannot start {}: {e}", args.bin.display())));
    Gateway(child)
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(
        &self,
        user: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{user}"));
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("Authorization", format!("Basic {auth}"))
            .timeout(Duration::from_secs(60));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{path}: {status}: {text}"));
        }
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| format!("{path}: {e}"))
    }

    async fn wait_ready(&self, gw: &mut Gateway) {
        let until = Instant::now() + Duration::from_secs(60);
        while Instant::now() < until {
            if let Ok(Some(status)) = gw.0.try_wait() {
                fail(format!("the gateway exited ({status}); see its log"));
            }
            if self
                .call(USERS[0], reqwest::Method::GET, "/me", None)
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        fail("the gateway did not answer within 60 s")
    }

    /// Starts workflow `n` on its own document, as user `n mod 5`, naming the next user
    /// as participant, with a comment. Returns the workflow id.
    async fn start(&self, salt: u32, n: usize) -> Result<String, String> {
        let user = USERS[n % USERS.len()];
        let doc = format!("{salt:08x}-1c2d-4e5f-8a9b-{n:012x}");
        let variables = json!({
            "participants": [format!("user:{}", USERS[(n + 1) % USERS.len()])],
            "initiatorComment": "Please review this version before Friday",
        });
        let wf = if n.is_multiple_of(2) {
            let body = json!({"entity-type":"workflow","workflowModelName":"SerialDocumentReview",
                              "variables": variables});
            let path = format!("/id/{doc}/@workflow");
            self.call(user, reqwest::Method::POST, &path, Some(body))
                .await?
        } else {
            let body = json!({"entity-type":"workflow","workflowModelName":"SerialDocumentReview",
                              "attachedDocumentIds":[doc], "variables": variables});
            self.call(user, reqwest::Method::POST, "/workflow", Some(body))
                .await?
        };
        wf["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "start returned no id".to_owned())
    }

    async fn open_task(&self, user: &str, wf: &str) -> Result<String, String> {
        let path = format!("/task?workflowInstanceId={wf}");
        let v = self.call(user, reqwest::Method::GET, &path, None).await?;
        v["entries"][0]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("workflow {wf} has no open task"))
    }

    /// A whole review: start, choose the participant, the participant validates.
    async fn review(&self, salt: u32, n: usize) -> Result<(), String> {
        let user = USERS[n % USERS.len()];
        let reviewer = USERS[(n + 1) % USERS.len()];
        let wf = self.start(salt, n).await?;
        let t1 = self.open_task(user, &wf).await?;
        let body = json!({"entity-type":"task","id":t1,"comment":"Over to you",
                          "variables":{"participants":[format!("user:{reviewer}")]}});
        let path = format!("/task/{t1}/start_review");
        self.call(user, reqwest::Method::PUT, &path, Some(body))
            .await?;
        let t2 = self.open_task(reviewer, &wf).await?;
        let body = json!({"entity-type":"task","id":t2,"comment":"Looks good"});
        let path = format!("/task/{t2}/validate");
        self.call(reviewer, reqwest::Method::PUT, &path, Some(body))
            .await?;
        Ok(())
    }
}

/// Runs `count` operations numbered from `from`, `concurrency` at a time; returns the
/// number that failed (the first three are printed).
async fn run<F, Fut>(from: usize, count: usize, concurrency: usize, op: F) -> usize
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let errors = AtomicUsize::new(0);
    stream::iter(from..from + count)
        .for_each_concurrent(concurrency, |n| {
            let (errors, fut) = (&errors, op(n));
            async move {
                if let Err(e) = fut.await {
                    if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("fg-mem: {e}");
                    }
                }
            }
        })
        .await;
    errors.into_inner()
}

fn remove_dir(path: &Path) {
    if path.exists() {
        if let Err(e) = std::fs::remove_dir_all(path) {
            eprintln!("fg-mem: cannot remove {}: {e}", path.display());
        }
    }
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    remove_dir(&args.work);
    std::fs::create_dir_all(&args.work)
        .unwrap_or_else(|e| fail(format!("cannot create {}: {e}", args.work.display())));
    let retention = match &args.cmd {
        Cmd::LongRun { retention, .. } => Some(retention.as_str()),
        Cmd::PerWorkflow { .. } => None,
    };
    let mut gw = start_gateway(&args, retention);
    let pid = gw.0.id();
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()
            .unwrap_or_else(|e| fail(format!("cannot build the HTTP client: {e}"))),
        base: format!("http://127.0.0.1:{}/api/v1", args.port),
    });
    client.wait_ready(&mut gw).await;
    // Every user signs in once (one password check each) before anything is measured.
    for u in USERS {
        if let Err(e) = client.call(u, reqwest::Method::GET, "/me", None).await {
            fail(e);
        }
    }
    let salt = std::process::id();
    let mode = match args.storage {
        Storage::Redb => "redb",
        Storage::Memory => "memory",
    };
    let settle = Duration::from_secs(3);
    let out = match args.cmd {
        Cmd::PerWorkflow { workflows } => {
            // A first batch warms the process up (threads, buffers, pools) outside the
            // measure.
            let warm = (workflows / 20).clamp(100, 2_000);
            let c = client.clone();
            let warm_errors = run(0, warm, args.concurrency, |n| {
                let c = c.clone();
                async move { c.start(salt, n).await.map(drop) }
            })
            .await;
            tokio::time::sleep(settle).await;
            let before = rss_kb(pid);
            let started = Instant::now();
            let errors = run(warm, workflows, args.concurrency, |n| {
                let c = c.clone();
                async move { c.start(salt, n).await.map(drop) }
            })
            .await;
            let secs = started.elapsed().as_secs_f64();
            tokio::time::sleep(settle).await;
            let after = rss_kb(pid);
            let started_ok = (workflows - errors).max(1);
            json!({"mode": mode, "workflows": workflows, "errors": errors + warm_errors,
                   "seconds": secs, "rss_before_kb": before, "rss_after_kb": after,
                   "bytes_per_workflow":
                       ((after as f64 - before as f64) * 1024.0 / started_ok as f64).round()})
        }
        Cmd::LongRun {
            rounds, reviews, ..
        } => {
            let mut samples = vec![rss_kb(pid)];
            let mut errors = 0;
            let started = Instant::now();
            for r in 0..rounds {
                let c = client.clone();
                errors += run(r * reviews, reviews, args.concurrency, |n| {
                    let c = c.clone();
                    async move { c.review(salt, n).await }
                })
                .await;
                // Past the retention time and at least one sweep.
                tokio::time::sleep(settle).await;
                samples.push(rss_kb(pid));
            }
            let first = samples.get(1).copied().unwrap_or_default();
            let last = samples.last().copied().unwrap_or_default();
            json!({"mode": mode, "rounds": rounds, "reviews_per_round": reviews,
                   "errors": errors, "seconds": started.elapsed().as_secs_f64(),
                   "rss_kb": samples,
                   "growth_after_first_round_kb": last as i64 - first as i64})
        }
    };
    drop(gw);
    remove_dir(&args.work);
    println!("{out}");
}
