//! Load driver for flowgate benchmarks.
//!
//! `seed` starts workflows over HTTP so that every user holds open tasks; `drive` runs
//! complete SerialDocumentReview reviews (start on a document, read the task, start_review
//! with the participants, read the next task, validate) from many
//! clients at once and reports completions per second. Both are bounded by count.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use clap::{Parser, Subcommand};
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// Base URL of the API, e.g. http://127.0.0.1:8080/api/v1
    #[arg(long)]
    url: String,
    /// Password shared by the benchmark users.
    #[arg(long, default_value = "bench")]
    password: String,
    /// User names are `<prefix>0001`, `<prefix>0002`, ...
    #[arg(long, default_value = "user")]
    prefix: String,
    /// Number of users.
    #[arg(long, default_value_t = 1000)]
    users: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Start `per_user` workflows for every user; each leaves one open task.
    Seed {
        #[arg(long, default_value_t = 100)]
        per_user: usize,
        #[arg(long, default_value = "SerialDocumentReview")]
        model: String,
    },
    /// Run `workflows` reviews to their end and report completions per second.
    Drive {
        #[arg(long, default_value_t = 2000)]
        workflows: usize,
        /// Start no review after this many seconds (those under way finish).
        #[arg(long)]
        seconds: Option<f64>,
        /// Start this many reviews a second, evenly spaced (0: as fast as `concurrency`
        /// allows). Starts fall behind the schedule when every client is busy.
        #[arg(long, default_value_t = 0.0)]
        rate: f64,
    },
    /// Write every user's open task ids, one `id<TAB>Authorization value` line each, for
    /// load tools that complete tasks (bench/complete.lua).
    TaskIds {
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Complete the tasks of a `task-ids` file with their `cancel` button, each once,
    /// from `concurrency` clients, for at most `seconds`; reports completions per second
    /// (the reqwest counterpart of bench/complete.lua).
    Complete {
        #[arg(long)]
        tasks: std::path::PathBuf,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
}

struct Client {
    http: reqwest::Client,
    base: String,
    password: String,
}

impl Client {
    fn auth(&self, user: &str) -> String {
        let raw = format!("{user}:{}", self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }

    async fn call(
        &self,
        user: &str,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let mut req = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .header("Authorization", self.auth(user))
            .timeout(Duration::from_secs(30));
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

    async fn first_task(&self, user: &str, workflow: &str) -> Result<String, String> {
        let v = self
            .call(
                user,
                reqwest::Method::GET,
                &format!("/task?workflowInstanceId={workflow}"),
                None,
            )
            .await?;
        v["entries"][0]["id"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("workflow {workflow} has no open task"))
    }

    async fn review(&self, user: &str, n: usize) -> Result<(), String> {
        let wf = self
            .call(
                user,
                reqwest::Method::POST,
                "/workflow",
                Some(
                    json!({"entity-type":"workflow","workflowModelName":"SerialDocumentReview",
                            "attachedDocumentIds":[format!("bench-doc-{user}-{n}")]}),
                ),
            )
            .await?;
        let wid = wf["id"].as_str().ok_or("start returned no id")?.to_owned();
        let t1 = self.first_task(user, &wid).await?;
        self.call(
            user,
            reqwest::Method::PUT,
            &format!("/task/{t1}/start_review"),
            Some(json!({"entity-type":"task","id":t1,"variables":{"participants":[user]}})),
        )
        .await?;
        let t2 = self.first_task(user, &wid).await?;
        self.call(
            user,
            reqwest::Method::PUT,
            &format!("/task/{t2}/validate"),
            Some(json!({"entity-type":"task","id":t2,"comment":"ok"})),
        )
        .await?;
        Ok(())
    }
}

fn user_name(prefix: &str, i: usize) -> String {
    format!("{prefix}{:04}", i + 1)
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = Arc::new(Client {
        http: reqwest::Client::builder()
            .pool_max_idle_per_host(args.concurrency)
            .build()
            .unwrap_or_else(|e| {
                eprintln!("cannot build HTTP client: {e}");
                std::process::exit(2)
            }),
        base: args.url.trim_end_matches('/').to_owned(),
        password: args.password.clone(),
    });
    let errors = Arc::new(AtomicUsize::new(0));
    // Each user's first request pays for one argon2 verification; do those before timing
    // so the figures measure the workflow calls, not password hashing.
    stream::iter(0..args.users)
        .for_each_concurrent(args.concurrency, |i| {
            let (client, errors) = (client.clone(), errors.clone());
            let user = user_name(&args.prefix, i);
            async move {
                if let Err(e) = client.call(&user, reqwest::Method::GET, "/me", None).await {
                    if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                        eprintln!("warm-up error: {e}");
                    }
                }
            }
        })
        .await;
    let started = Instant::now();
    match args.cmd {
        Cmd::Seed { per_user, model } => {
            let total = args.users * per_user;
            let body = json!({"entity-type":"workflow","workflowModelName":model});
            stream::iter(0..total)
                .for_each_concurrent(args.concurrency, |i| {
                    let (client, errors, body) = (client.clone(), errors.clone(), body.clone());
                    let user = user_name(&args.prefix, i % args.users);
                    async move {
                        if let Err(e) = client
                            .call(&user, reqwest::Method::POST, "/workflow", Some(body))
                            .await
                        {
                            if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("seed error: {e}");
                            }
                        }
                    }
                })
                .await;
            let secs = started.elapsed().as_secs_f64();
            let sample = client
                .call(
                    &user_name(&args.prefix, 0),
                    reqwest::Method::GET,
                    &format!("/task?userId={}", user_name(&args.prefix, 0)),
                    None,
                )
                .await
                .ok()
                .and_then(|v| v["entries"][0]["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            println!(
                "{}",
                json!({"seeded": total, "errors": errors.load(Ordering::Relaxed),
                       "seconds": secs, "per_second": total as f64 / secs, "sample_task": sample})
            );
        }
        Cmd::TaskIds { out } => {
            let lines = stream::iter(0..args.users)
                .map(|i| {
                    let client = client.clone();
                    let user = user_name(&args.prefix, i);
                    async move {
                        let v = client
                            .call(
                                &user,
                                reqwest::Method::GET,
                                &format!("/task?userId={user}"),
                                None,
                            )
                            .await?;
                        let auth = client.auth(&user);
                        Ok::<_, String>(
                            v["entries"]
                                .as_array()
                                .map(|a| {
                                    a.iter()
                                        .filter_map(|t| t["id"].as_str())
                                        .map(|id| format!("{id}\t{auth}\n"))
                                        .collect::<String>()
                                })
                                .unwrap_or_default(),
                        )
                    }
                })
                .buffer_unordered(args.concurrency)
                .collect::<Vec<_>>()
                .await;
            let mut text = String::new();
            for l in lines {
                match l {
                    Ok(t) => text.push_str(&t),
                    Err(e) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        eprintln!("task list error: {e}");
                    }
                }
            }
            if let Err(e) = std::fs::write(&out, &text) {
                eprintln!("cannot write {}: {e}", out.display());
                std::process::exit(2);
            }
            println!("{}", json!({"tasks": text.lines().count()}));
        }
        Cmd::Complete { tasks, seconds } => {
            let text = std::fs::read_to_string(&tasks).unwrap_or_else(|e| {
                eprintln!("cannot read {}: {e}", tasks.display());
                std::process::exit(2)
            });
            let list: Arc<Vec<(String, String)>> = Arc::new(
                text.lines()
                    .filter_map(|l| l.split_once('\t'))
                    .map(|(id, auth)| (id.to_owned(), auth.to_owned()))
                    .collect(),
            );
            let next = Arc::new(AtomicUsize::new(0));
            let done = Arc::new(AtomicUsize::new(0));
            let deadline = Duration::from_secs_f64(seconds);
            let started = Instant::now();
            let body = json!({"entity-type":"task","comment":"bench"}).to_string();
            futures::future::join_all((0..args.concurrency).map(|_| {
                let (client, list, next, done, errors, body) = (
                    client.clone(),
                    list.clone(),
                    next.clone(),
                    done.clone(),
                    errors.clone(),
                    body.clone(),
                );
                async move {
                    while started.elapsed() < deadline {
                        let Some((id, auth)) = list.get(next.fetch_add(1, Ordering::Relaxed))
                        else {
                            break;
                        };
                        let r = client
                            .http
                            .put(format!("{}/task/{id}/cancel", client.base))
                            .header("Authorization", auth)
                            .header("Content-Type", "application/json")
                            .body(body.clone())
                            .timeout(Duration::from_secs(30))
                            .send()
                            .await;
                        match r {
                            Ok(resp) if resp.status().is_success() => {
                                let _ = resp.bytes().await;
                                done.fetch_add(1, Ordering::Relaxed);
                            }
                            other => {
                                if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                                    match other {
                                        Ok(resp) => eprintln!("complete error: {}", resp.status()),
                                        Err(e) => eprintln!("complete error: {e}"),
                                    }
                                }
                            }
                        }
                    }
                }
            }))
            .await;
            let secs = started.elapsed().as_secs_f64();
            let n = done.load(Ordering::Relaxed);
            println!(
                "{}",
                json!({"completions": n, "errors": errors.load(Ordering::Relaxed), "seconds": secs,
                       "completions_per_second": n as f64 / secs,
                       "exhausted": next.load(Ordering::Relaxed) >= list.len()})
            );
        }
        Cmd::Drive {
            workflows,
            seconds,
            rate,
        } => {
            let until = seconds.map(|s| started + Duration::from_secs_f64(s.max(0.0)));
            let begun = Arc::new(AtomicUsize::new(0));
            let counted = begun.clone();
            stream::iter(0..workflows)
                .then(move |i| async move {
                    if rate > 0.0 {
                        let at = started + Duration::from_secs_f64(i as f64 / rate);
                        tokio::time::sleep_until(at.into()).await;
                    }
                    i
                })
                .take_while(move |_| std::future::ready(until.is_none_or(|u| Instant::now() < u)))
                .inspect(move |_| {
                    counted.fetch_add(1, Ordering::Relaxed);
                })
                .for_each_concurrent(args.concurrency, |i| {
                    let (client, errors) = (client.clone(), errors.clone());
                    let user = user_name(&args.prefix, i % args.users);
                    async move {
                        if let Err(e) = client.review(&user, i).await {
                            if errors.fetch_add(1, Ordering::Relaxed) < 3 {
                                eprintln!("drive error: {e}");
                            }
                        }
                    }
                })
                .await;
            let secs = started.elapsed().as_secs_f64();
            let failed = errors.load(Ordering::Relaxed);
            let workflows = begun.load(Ordering::Relaxed);
            let done = workflows.saturating_sub(failed);
            let completions = 2 * done;
            println!(
                "{}",
                json!({"workflows": workflows, "errors": failed, "seconds": secs,
                       "completions": completions,
                       "completions_per_second": completions as f64 / secs,
                       "reviews_per_second": done as f64 / secs,
                       "requests_per_second": (5 * done) as f64 / secs})
            );
        }
    }
    if errors.load(Ordering::Relaxed) > 0 {
        std::process::exit(1);
    }
}
