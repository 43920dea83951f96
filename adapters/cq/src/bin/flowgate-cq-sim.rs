//! `flowgate-cq-sim --port N --profile P [--fields full|minimal] [--transient-model NAME]...
//! [--bearer-token TOKEN=USER]...
//! [--tls-cert FILE --tls-key FILE [--client-ca FILE]]`:
//! runs the CQ / AEM simulator on 127.0.0.1 (http, or https with the given certificate)
//! until interrupted, for manual walk-throughs and black-box tests of the gateway.

use clap::Parser;
use std::time::Duration;

use flowgate_cq::sim::{self, Fault, FaultAction, ServerTls, SimFields, SimOptions};
use flowgate_cq::Profile;

/// Command line of the simulator.
#[derive(Parser, Debug)]
#[command(
    name = "flowgate-cq-sim",
    about = "CQ / AEM workflow API simulator (127.0.0.1 only)"
)]
struct Args {
    /// Port to listen on (0 picks a free one).
    #[arg(long, default_value_t = 4502)]
    port: u16,
    /// Release to imitate: cq5, aem60-63, aem64-65 or cloud.
    #[arg(long, default_value = "aem64-65", value_parser = parse_profile)]
    profile: Profile,
    /// Fields of instances, work items and history: `full` (every field, the default)
    /// or `minimal` (only those Adobe's published material shows).
    #[arg(long, default_value = "full", value_parser = parse_fields)]
    fields: SimFields,
    /// A model (name, e.g. `publish_example`) that runs transient: its instances are
    /// never stored. Repeatable.
    #[arg(long = "transient-model")]
    transient_models: Vec<String>,
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
    /// Accept `Authorization: Bearer TOKEN` as USER on every profile (a server behind
    /// the same identity provider as the gateway). Repeatable.
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

fn parse_profile(s: &str) -> Result<Profile, String> {
    Profile::parse(s)
        .ok_or_else(|| format!("unknown profile '{s}' (cq5, aem60-63, aem64-65, cloud)"))
}

fn parse_fields(s: &str) -> Result<SimFields, String> {
    match s {
        "full" => Ok(SimFields::Full),
        "minimal" => Ok(SimFields::Minimal),
        _ => Err(format!("unknown fields '{s}' (full, minimal)")),
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

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let tls = server_tls(&args)?;
    let mut options = SimOptions::new(args.profile);
    options.fields = args.fields;
    options.transient_models = args.transient_models.clone();
    options.bearer_tokens = args.bearer_tokens.clone();
    let (handle, server) = sim::bind_tls(options, args.port, tls.as_ref())?;
    if args.delay_ms > 0 {
        let delay = Duration::from_millis(args.delay_ms);
        handle.add_fault(Fault::on("*", "/", FaultAction::Delay(delay)));
    }
    println!(
        "flowgate-cq-sim: profile {} listening on {}",
        handle.profile(),
        handle.base_url()
    );
    tokio::select! {
        r = server => r,
        _ = tokio::signal::ctrl_c() => {
            handle.stop().await;
            Ok(())
        }
    }
}
