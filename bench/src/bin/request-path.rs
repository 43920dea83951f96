//! In-process cost of the gateway's request path, without sockets: the real application
//! (`flowgate::app`, every middleware, auth, routing, the embedded engine, rendering)
//! against a bare actix handler answering a fixed task body, both driven through the
//! same actix service interface. Prints microseconds per request for each, so that a
//! change to the request path can be measured without the noise of a load generator
//! sharing the machine.
//!
//! `cargo run --release -p flowgate-bench --bin request-path -- --requests 200000`
//! (`--alfresco` / `--cq`: a task of an in-process simulator, read through its adapter)

use std::time::Instant;

use actix_web::dev::Service;
use actix_web::test::{self, TestRequest};
use actix_web::{web, App};
use base64::Engine as _;
use clap::Parser;
use flowgate::settings::{Settings, Sources};
use flowgate::AppState;

// The gateway binary's allocator, so that allocation costs what it costs in production.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
struct Args {
    /// Requests per measurement.
    #[arg(long, default_value_t = 200_000)]
    requests: u32,
    /// Measurements; the fastest is reported.
    #[arg(long, default_value_t = 5)]
    rounds: u32,
    /// Path prefix of the API (`/api/v1`, `/nuxeo/api/v1`, ...).
    #[arg(long, default_value = "/api/v1")]
    prefix: String,
    /// Stored workflows (each with one open task) before measuring.
    #[arg(long, default_value_t = 1000)]
    stored: u32,
    /// Measure only the gateway (for instruction counts with `perf stat`).
    #[arg(long)]
    gateway_only: bool,
    /// Measure only the bare handler (the other side of `--gateway-only`).
    #[arg(long)]
    bare_only: bool,
    /// Read a task of an Alfresco simulator (started in this process) through the
    /// gateway's Alfresco adapter instead of an embedded task.
    #[arg(long)]
    alfresco: bool,
    /// Read a work item of a CQ simulator (AEM 6.5 profile, started in this process)
    /// through the gateway's CQ adapter instead of an embedded task.
    #[arg(long, conflicts_with = "alfresco")]
    cq: bool,
    /// Measure task completions (`PUT /task/{id}/cancel`, a different stored task each
    /// time; needs `--stored` ≥ requests × rounds) instead of reads.
    #[arg(long)]
    complete: bool,
}

fn config(password_hash: &str, user: &str) -> String {
    format!(
        "[log]\nlevel = \"warn\"\n[engines.local]\nkind = \"embedded\"\nmodels_dir = \"{}/../config/models\"\ndefault = true\n[[auth.users]]\nname = \"{user}\"\npassword_hash = \"{password_hash}\"\ngroups = [\"members\"]\n",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Starts an Alfresco simulator, an activitiReview process assigned to `jdoe` on it, and
/// answers the engine settings and the task's gateway id.
async fn alfresco(
) -> Result<(flowgate_alfresco::sim::SimHandle, String, String), Box<dyn std::error::Error>> {
    let sim = flowgate_alfresco::sim::Sim::spawn(flowgate_alfresco::sim::SimOptions::default())?;
    let wf = format!("{}api/-default-/public/workflow/versions/1", sim.base_url);
    let http = reqwest::Client::new();
    http.post(format!("{wf}/processes"))
        .basic_auth("dave", Some("dave"))
        .json(&serde_json::json!({"processDefinitionKey": "activitiReview", "variables": {"bpm_assignee": "jdoe"}}))
        .send()
        .await?
        .error_for_status()?;
    let list: serde_json::Value = http
        .get(format!("{wf}/tasks"))
        .basic_auth("jdoe", Some("jdoe"))
        .query(&[("where", "(status='active' AND assignee='jdoe')")])
        .send()
        .await?
        .json()
        .await?;
    let id = list["list"]["entries"][0]["entry"]["id"]
        .as_str()
        .ok_or("the simulator listed no task")?
        .to_owned();
    let engine = format!(
        "[engines.alf]\nkind = \"alfresco\"\nid_prefix = \"alf\"\n[engines.alf.http]\nbase_url = \"{}\"\n[engines.alf.auth]\nmode = \"basic\"\nuser = \"admin\"\npassword = \"admin\"\n",
        sim.base_url
    );
    Ok((sim, engine, format!("alf~{id}")))
}

/// The simulator of the remote engine under test, kept running while it is measured.
enum Remote {
    Alfresco(flowgate_alfresco::sim::SimHandle),
    Cq(flowgate_cq::sim::CqSim),
}

impl Remote {
    fn clear_requests(&self) {
        match self {
            Remote::Alfresco(s) => s.clear_requests(),
            Remote::Cq(s) => s.clear_requests(),
        }
    }

    /// `METHOD path` of every request the simulator received.
    fn requests(&self) -> Vec<String> {
        match self {
            Remote::Alfresco(s) => s
                .requests()
                .into_iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect(),
            Remote::Cq(s) => s
                .requests()
                .into_iter()
                .map(|r| format!("{} {}", r.method, r.path))
                .collect(),
        }
    }
}

/// Starts a CQ simulator (AEM 6.5 profile) with one review running on a page, and
/// answers the engine settings. The work item goes to the `authors` group, which the
/// measuring user belongs to.
async fn cq() -> Result<(flowgate_cq::sim::CqSim, String), Box<dyn std::error::Error>> {
    let sim = flowgate_cq::sim::spawn(flowgate_cq::Profile::Aem64To65).await?;
    let base = sim.base_url();
    let http = reqwest::Client::new();
    let token: serde_json::Value = http
        .get(format!("{base}libs/granite/csrf/token.json"))
        .basic_auth("editor1", Some("editor1"))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    http.post(format!("{base}etc/workflow/instances"))
        .basic_auth("editor1", Some("editor1"))
        .header("CSRF-Token", token["token"].as_str().unwrap_or_default())
        .form(&[
            ("_charset_", "utf-8"),
            ("model", "/var/workflow/models/flowgate/review"),
            ("payloadType", "JCR_PATH"),
            ("payload", "/content/flowgate/en/page-a"),
        ])
        .send()
        .await?
        .error_for_status()?;
    let engine = format!(
        "[engines.cq]\nkind = \"cq\"\nbase_url = \"{base}\"\nprofile = \"aem64-65\"\nid_prefix = \"cq\"\nmounts = [\"/content\"]\n[engines.cq.auth]\nmode = \"basic\"\nuser = \"admin\"\npassword = \"admin\"\n"
    );
    Ok((sim, engine))
}

/// An application as `test::init_service` gives it.
trait TestApp<B>:
    Service<
    actix_http::Request,
    Response = actix_web::dev::ServiceResponse<B>,
    Error = actix_web::Error,
>
{
}

impl<S, B> TestApp<B> for S where
    S: Service<
        actix_http::Request,
        Response = actix_web::dev::ServiceResponse<B>,
        Error = actix_web::Error,
    >
{
}

/// `GET uri` on `svc` with `auth`, its body as JSON.
async fn get_json<S, B>(
    svc: &S,
    uri: &str,
    auth: &str,
) -> Result<serde_json::Value, Box<dyn std::error::Error>>
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let req = TestRequest::get()
        .uri(uri)
        .insert_header(("authorization", auth))
        .to_request();
    let res = svc.call(req).await.map_err(|e| e.to_string())?;
    Ok(serde_json::from_slice(&test::read_body(res).await)?)
}

/// Times `n` calls of `uri` on `svc`, the fastest of `rounds`, in microseconds per call.
async fn measure<S, B>(svc: &S, uri: &str, auth: &str, n: u32, rounds: u32) -> f64
where
    S: TestApp<B>,
    B: actix_web::body::MessageBody,
{
    let mut best = f64::MAX;
    for _ in 0..rounds {
        let started = Instant::now();
        for _ in 0..n {
            // What a load generator sends: a Host header and the credentials.
            let req = TestRequest::get()
                .uri(uri)
                .insert_header(("host", "127.0.0.1:8080"))
                .insert_header(("authorization", auth))
                .to_request();
            match svc.call(req).await {
                Ok(res) => {
                    assert!(res.status().is_success(), "{uri}: {}", res.status());
                    let _ = test::read_body(res).await;
                }
                Err(e) => panic!("{uri}: {e}"),
            }
        }
        best = best.min(started.elapsed().as_secs_f64() * 1e6 / f64::from(n));
    }
    best
}

#[actix_web::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let hash = flowgate::auth::hash_password("bench").map_err(|e| format!("hash: {e}"))?;
    // The remote engine, its settings, and the gateway id of its task when known
    // before the gateway runs.
    let (user, remote) = if args.alfresco {
        let (sim, engine, id) = alfresco().await?;
        ("jdoe", Some((Remote::Alfresco(sim), engine, Some(id))))
    } else if args.cq {
        let (sim, engine) = cq().await?;
        ("jdoe", Some((Remote::Cq(sim), engine, None)))
    } else {
        ("user0001", None)
    };
    let mut toml = config(&hash, user);
    if let Some((_, engine, _)) = &remote {
        toml.push_str(engine);
    }
    let settings = Settings::load(&Sources::from_toml(toml))?;
    let state = web::Data::new(AppState::new(settings)?);
    let app = test::init_service(flowgate::app(state)).await;
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{user}:bench"))
    );
    let mut task_ids = Vec::new();
    for _ in 0..args.stored.max(1) {
        let req = TestRequest::post()
            .uri(&format!("{}/workflow", args.prefix))
            .insert_header(("authorization", auth.as_str()))
            .insert_header(("content-type", "application/json"))
            .set_payload(r#"{"entity-type":"workflow","workflowModelName":"SerialDocumentReview"}"#)
            .to_request();
        let res = app.call(req).await.map_err(|e| e.to_string())?;
        let body: serde_json::Value = serde_json::from_slice(&test::read_body(res).await)?;
        let wf = body["id"].as_str().unwrap_or_default().to_owned();
        if task_ids.is_empty() || args.complete {
            let uri = format!("{}/task?workflowInstanceId={wf}", args.prefix);
            let body = get_json(&app, &uri, &auth).await?;
            if let Some(id) = body["entries"][0]["id"].as_str() {
                task_ids.push(id.to_owned());
            }
        }
    }
    match &remote {
        Some((_, _, Some(id))) => task_ids.insert(0, id.clone()),
        Some((Remote::Cq(_), _, None)) => {
            // The work item's gateway id, as the user's task list gives it.
            let uri = format!("{}/task?userId={user}", args.prefix);
            let body = get_json(&app, &uri, &auth).await?;
            let id = body["entries"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|t| t["id"].as_str())
                .find(|id| id.starts_with("cq~"))
                .ok_or("the gateway listed no CQ task")?;
            task_ids.insert(0, id.to_owned());
        }
        _ => {}
    }
    let Some(task_id) = task_ids.first().cloned() else {
        return Err("no task was created".into());
    };
    if args.complete {
        let n = args.requests as usize;
        let rounds = (args.rounds as usize).min(task_ids.len() / n.max(1));
        if rounds == 0 {
            return Err("--complete needs --stored >= --requests".into());
        }
        let mut best = f64::MAX;
        for r in 0..rounds {
            let started = Instant::now();
            for id in &task_ids[r * n..(r + 1) * n] {
                let req = TestRequest::put()
                    .uri(&format!("{}/task/{id}/cancel", args.prefix))
                    .insert_header(("host", "127.0.0.1:8080"))
                    .insert_header(("authorization", auth.as_str()))
                    .insert_header(("content-type", "application/json"))
                    .set_payload(r#"{"entity-type":"task","comment":"bench"}"#)
                    .to_request();
                let res = app.call(req).await.map_err(|e| e.to_string())?;
                if !res.status().is_success() {
                    return Err(format!("completion answered {}", res.status()).into());
                }
                let _ = test::read_body(res).await;
            }
            best = best.min(started.elapsed().as_secs_f64() * 1e6 / n as f64);
        }
        println!(
            "PUT {}/task/{{id}}/cancel {best:8.2} us/request",
            args.prefix
        );
        return Ok(());
    }
    let bare =
        test::init_service(App::new().default_service(web::to(flowgate_bench::bare_task))).await;
    let uri = format!("{}/task/{task_id}", args.prefix);
    if args.bare_only {
        let b = measure(&bare, &uri, &auth, args.requests, args.rounds).await;
        println!("bare actix handler   {b:8.2} us/request");
        return Ok(());
    }
    if let Some((sim, _, _)) = &remote {
        sim.clear_requests();
    }
    let g = measure(&app, &uri, &auth, args.requests, args.rounds).await;
    if let Some((sim, _, _)) = &remote {
        // What one read cost the simulator, by request.
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for r in sim.requests() {
            *counts.entry(r).or_default() += 1;
        }
        let reads = u64::from(args.requests) * u64::from(args.rounds);
        for (k, n) in counts {
            println!("upstream per read: {:.2} x {k}", n as f64 / reads as f64);
        }
    }
    if args.gateway_only {
        println!("GET {}/task/{{id}} {g:8.2} us/request", args.prefix);
        return Ok(());
    }
    let b = measure(&bare, &uri, &auth, args.requests, args.rounds).await;
    println!("bare actix handler   {b:8.2} us/request");
    println!(
        "GET {}/task/{{id}} {g:8.2} us/request ({:.1}x)",
        args.prefix,
        g / b
    );
    Ok(())
}
