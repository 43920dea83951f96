//! Event-delivery latency for bench/events.sh: `subscribers` Server-Sent Events streams
//! (`GET <url>/events`) opened as one user (`--user`) or each as one of `--users` bench
//! users (`user0001`, `user0002`, ...), and optionally a webhook receiver; for every
//! event each records the time of arrival minus the event's `at` (its commit time).
//!
//! Once every stream is open (and the receiver listens), the ready file is written.
//! SIGUSR1 opens the measured window, SIGUSR2 closes it: only events whose `at` lies in
//! the window count. After SIGUSR2 the receiver is given up to `drain_secs` to receive
//! the window's webhooks (it stops earlier after a second without one). Prints one JSON
//! object (latencies in milliseconds) and exits; `max_secs` bounds the whole run.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use actix_web::{web, App, HttpResponse, HttpServer};
use base64::Engine as _;
use clap::Parser;
use serde_json::json;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;

#[derive(Parser)]
struct Args {
    /// Base URL of the API, e.g. http://127.0.0.1:8080/nuxeo/api/v1
    #[arg(long)]
    url: String,
    #[arg(long, default_value = "Administrator")]
    user: String,
    #[arg(long, default_value = "Administrator")]
    password: String,
    /// Open stream i as user `user{i % users + 1:04}` (password `--password`) instead of
    /// `--user`: each stream then sees the events of its own user's reviews.
    #[arg(long)]
    users: Option<usize>,
    /// SSE streams to open.
    #[arg(long, default_value_t = 100)]
    subscribers: usize,
    /// Address of the webhook receiver (any path, POST); none: no receiver.
    #[arg(long)]
    webhook_bind: Option<String>,
    /// Written once every stream is open and the receiver listens.
    #[arg(long)]
    ready_file: std::path::PathBuf,
    /// Longest wait for the window's webhooks after SIGUSR2.
    #[arg(long, default_value_t = 10)]
    drain_secs: u64,
    /// Longest run in all.
    #[arg(long, default_value_t = 120)]
    max_secs: u64,
}

/// Microseconds since the Unix epoch, now.
fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

/// Microseconds since the Unix epoch of an RFC 3339 time in UTC as the gateway writes
/// it (`2026-11-25T10:02:03.512345Z`); `None` for anything else.
fn parse_utc_us(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[10] != b'T' || *b.last()? != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| s.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hh, mm, ss) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut frac_us = 0i64;
    let frac = &s[19..s.len() - 1];
    if let Some(digits) = frac.strip_prefix('.') {
        let mut scale = 100_000i64;
        for c in digits.bytes().take(6) {
            frac_us += i64::from(c.checked_sub(b'0').filter(|v| *v <= 9)?) * scale;
            scale /= 10;
        }
    } else if !frac.is_empty() {
        return None;
    }
    // Days from the civil date (proleptic Gregorian), Howard Hinnant's algorithm.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + hh * 3600 + mm * 60 + ss) * 1_000_000) + frac_us)
}

/// The value of the first `"<key>":"..."` in `text`, without parsing the whole JSON.
fn string_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    let pat = format!("\"{key}\":\"");
    let start = text.find(&pat)? + pat.len();
    let len = text[start..].find('"')?;
    Some(&text[start..start + len])
}

/// (event `at`, latency) pairs, in microseconds.
type Samples = Vec<(i64, i64)>;

/// One stream: reads until `stop` changes; returns its samples and whether it ended
/// early (closed by the gateway, or a `dropped` event).
async fn subscriber(
    client: reqwest::Client,
    url: String,
    auth: String,
    ready: tokio::sync::mpsc::Sender<Result<(), String>>,
    mut stop: watch::Receiver<bool>,
) -> (Samples, bool) {
    let mut out = Samples::new();
    let mut resp = match client
        .get(&url)
        .header("Authorization", auth)
        .header("Accept", "text/event-stream")
        .send()
        .await
    {
        Ok(r) if r.status().is_success() => r,
        Ok(r) => {
            let _ = ready.send(Err(format!("status {}", r.status()))).await;
            return (out, true);
        }
        Err(e) => {
            let _ = ready.send(Err(e.to_string())).await;
            return (out, true);
        }
    };
    let _ = ready.send(Ok(())).await;
    drop(ready);
    let mut pending = String::new();
    loop {
        let chunk = tokio::select! {
            c = resp.chunk() => c,
            _ = stop.changed() => return (out, false),
        };
        let now = now_us();
        let bytes = match chunk {
            Ok(Some(b)) => b,
            _ => return (out, true),
        };
        pending.push_str(&String::from_utf8_lossy(&bytes));
        let mut ended = false;
        // Whole lines are read in place, then removed together.
        let mut used = 0;
        while let Some(nl) = pending[used..].find('\n') {
            let line = &pending[used..used + nl];
            if line == "event: dropped" {
                ended = true;
            } else if let Some(data) = line.strip_prefix("data: ") {
                if let Some(at) = string_field(data, "at").and_then(parse_utc_us) {
                    out.push((at, now - at));
                }
            }
            used += nl + 1;
        }
        pending.drain(..used);
        if ended {
            return (out, true);
        }
    }
}

/// What the webhook receiver saw: samples, event ids (for duplicates) and the time of
/// the last request.
#[derive(Default)]
struct Received {
    samples: Samples,
    ids: HashSet<String>,
    duplicates: usize,
    unparsed: usize,
    last: Option<Instant>,
}

async fn receive(seen: web::Data<Mutex<Received>>, body: web::Bytes) -> HttpResponse {
    let now = now_us();
    let text = String::from_utf8_lossy(&body);
    let at = string_field(&text, "timestamp").and_then(parse_utc_us);
    let id = string_field(&text, "id").map(str::to_owned);
    let mut r = seen.lock().unwrap_or_else(|e| e.into_inner());
    r.last = Some(Instant::now());
    match (at, id) {
        (Some(at), Some(id)) => {
            if r.ids.insert(id) {
                r.samples.push((at, now - at));
            } else {
                r.duplicates += 1;
            }
        }
        _ => r.unparsed += 1,
    }
    HttpResponse::NoContent().finish()
}

/// Count, p50, p99 and max in milliseconds of the samples whose `at` is in the window.
fn summary(samples: &[(i64, i64)], from: i64, to: i64) -> serde_json::Value {
    let mut v: Vec<i64> = samples
        .iter()
        .filter(|(at, _)| *at >= from && *at <= to)
        .map(|(_, l)| *l)
        .collect();
    v.sort_unstable();
    let q = |p: f64| -> f64 {
        if v.is_empty() {
            return 0.0;
        }
        let i = ((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
        v[i] as f64 / 1000.0
    };
    json!({
        "count": v.len(),
        "p50_ms": q(0.50),
        "p99_ms": q(0.99),
        "max_ms": v.last().map_or(0.0, |m| *m as f64 / 1000.0),
    })
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.max_secs);
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;

    let seen = web::Data::new(Mutex::new(Received::default()));
    if let Some(bind) = &args.webhook_bind {
        let listener = std::net::TcpListener::bind(bind)?;
        let seen = seen.clone();
        std::thread::spawn(move || {
            actix_web::rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(seen.clone())
                        .app_data(web::PayloadConfig::new(1 << 20))
                        .default_service(web::post().to(receive))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)?;
                server.run().await
            })
        });
    }

    let basic = |user: &str| {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{}", args.password))
        )
    };
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let (ready_tx, mut ready_rx) = tokio::sync::mpsc::channel(args.subscribers.max(1));
    let url = format!("{}/events", args.url.trim_end_matches('/'));
    let mut tasks = Vec::new();
    for i in 0..args.subscribers {
        let auth = match args.users {
            Some(n) => basic(&format!("user{:04}", i % n.max(1) + 1)),
            None => basic(&args.user),
        };
        tasks.push(tokio::spawn(subscriber(
            client.clone(),
            url.clone(),
            auth,
            ready_tx.clone(),
            stop_rx.clone(),
        )));
    }
    drop(ready_tx);
    let mut open = 0usize;
    while let Some(r) = tokio::time::timeout_at(deadline, ready_rx.recv()).await? {
        match r {
            Ok(()) => open += 1,
            Err(e) => eprintln!("fg-events: a stream did not open: {e}"),
        }
    }
    std::fs::write(&args.ready_file, format!("{open}\n"))?;

    let from = tokio::select! {
        _ = usr1.recv() => now_us(),
        () = tokio::time::sleep_until(deadline) => now_us(),
    };
    let to = tokio::select! {
        _ = usr2.recv() => now_us(),
        () = tokio::time::sleep_until(deadline) => now_us(),
    };
    // Streams have what they will get within a moment; webhooks may be behind.
    let drain_end = Instant::now() + Duration::from_secs(args.drain_secs);
    let mut drained_ms = 0u128;
    if args.webhook_bind.is_some() {
        let started = Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let idle = {
                let r = seen.lock().unwrap_or_else(|e| e.into_inner());
                let caught_up = r.samples.iter().any(|(at, _)| *at > to);
                let quiet = r.last.is_none_or(|l| l.elapsed() >= Duration::from_secs(1));
                caught_up || quiet
            };
            if idle || Instant::now() >= drain_end {
                break;
            }
        }
        drained_ms = started.elapsed().as_millis();
    } else {
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let _ = stop_tx.send(true);
    let mut sse = Samples::new();
    let mut ended_early = 0usize;
    let mut per_stream = Vec::new();
    for t in tasks {
        if let Ok((s, early)) = t.await {
            per_stream.push(s.iter().filter(|(at, _)| *at >= from && *at <= to).count());
            sse.extend(s);
            ended_early += usize::from(early);
        }
    }
    per_stream.sort_unstable();
    let r = seen.lock().unwrap_or_else(|e| e.into_inner());
    let out = json!({
        "window_s": (to - from) as f64 / 1e6,
        "streams_open": open,
        "streams_ended_early": ended_early,
        "events_per_stream_min": per_stream.first().copied().unwrap_or(0),
        "events_per_stream_max": per_stream.last().copied().unwrap_or(0),
        "sse": summary(&sse, from, to),
        "webhook": if args.webhook_bind.is_some() {
            let mut w = summary(&r.samples, from, to);
            w["duplicates"] = r.duplicates.into();
            w["unparsed"] = r.unparsed.into();
            w["received_total"] = r.ids.len().into();
            w["drain_ms"] = (drained_ms as u64).into();
            w
        } else {
            serde_json::Value::Null
        },
    });
    println!("{out}");
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_gateway_times() {
        assert_eq!(parse_utc_us("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc_us("1970-01-02T00:00:01.5Z"), Some(86_401_500_000));
        assert_eq!(
            parse_utc_us("2026-11-25T10:02:03.512345678Z"),
            Some(1_795_600_923_512_345)
        );
        assert_eq!(parse_utc_us("2026-11-25T10:02:03+01:00"), None);
    }
}
