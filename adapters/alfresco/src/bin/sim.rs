//! `flowgate-alfresco-sim --port N [--shape default|minimal|full] [--bearer-token TOKEN=USER]...
//! [--tls-cert FILE --tls-key FILE [--client-ca FILE]]`:
//! runs the Alfresco simulator on 127.0.0.1 until
//! interrupted. Seeded users: admin, jdoe, bob, carol, dave (password = user name).

use std::time::Duration;

use clap::Parser;
use flowgate_alfresco::sim::{Fault, FaultKind, ServerTls, Sim, SimOptions, SimShape};

/// Command line of the simulator.
#[derive(Parser, Debug)]
#[command(
    name = "flowgate-alfresco-sim",
    about = "Alfresco workflow API simulator for flowgate tests"
)]
struct Args {
    /// Port to bind on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8081)]
    port: u16,
    /// Idle seconds after which tickets expire.
    #[arg(long, default_value_t = 3600)]
    ticket_idle_secs: u64,
    /// Delay added to every request, in milliseconds (latency experiments, benchmarks).
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Serve https with this certificate chain (PEM, leaf first); needs --tls-key.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<std::path::PathBuf>,
    /// Private key (PEM) of --tls-cert.
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<std::path::PathBuf>,
    /// Require client certificates signed by this CA (PEM); needs --tls-cert.
    #[arg(long, requires = "tls_cert")]
    client_ca: Option<std::path::PathBuf>,
    /// Fields of the workflow answers: `default`, `minimal` (the published definition's
    /// required fields and those carrying state) or `full` (every optional field).
    #[arg(long, default_value = "default", value_parser = ["default", "minimal", "full"])]
    shape: String,
    /// Accept `Authorization: Bearer TOKEN` as USER (a server behind the same identity
    /// provider as the gateway). Repeatable.
    #[arg(long = "bearer-token", value_parser = parse_bearer)]
    bearer_tokens: Vec<(String, String)>,
}

/// `TOKEN=USER` of `--bearer-token`.
fn parse_bearer(s: &str) -> Result<(String, String), String> {
    match s.rsplit_once('=') {
        Some((token, user)) if !token.is_empty() && !user.is_empty() => {
            Ok((token.to_owned(), user.to_owned()))
        }
        _ => Err("expected TOKEN=USER".to_owned()),
    }
}

/// The TLS settings given on the command line, if any.
fn server_tls(args: &Args) -> std::io::Result<Option<ServerTls>> {
    match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => {
            ServerTls::from_files(cert, key, args.client_ca.as_deref()).map(Some)
        }
        _ => Ok(None),
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let sim = Sim::spawn(SimOptions {
        port: args.port,
        ticket_idle: Duration::from_secs(args.ticket_idle_secs),
        tls: server_tls(&args)?,
        bearer_tokens: args.bearer_tokens.clone(),
        shape: match args.shape.as_str() {
            "minimal" => SimShape::Minimal,
            "full" => SimShape::Full,
            _ => SimShape::Default,
        },
        ..SimOptions::default()
    })?;
    if args.delay_ms > 0 {
        sim.fault(Fault::on(
            "/",
            FaultKind::Delay(Duration::from_millis(args.delay_ms)),
        ));
    }
    println!("alfresco simulator listening at {}", sim.base_url);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let _ = tokio::signal::ctrl_c().await;
    });
    sim.stop();
    Ok(())
}
