//! `flowgate-cq-sim --port N --profile P [--tls-cert FILE --tls-key FILE [--client-ca FILE]]`:
//! runs the CQ / AEM simulator on 127.0.0.1 (http, or https with the given certificate)
//! until interrupted, for manual walk-throughs and black-box tests of the gateway.

use clap::Parser;
use std::time::Duration;

use flowgate_cq::sim::{self, Fault, FaultAction, ServerTls, SimOptions};
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
}

fn parse_profile(s: &str) -> Result<Profile, String> {
    Profile::parse(s)
        .ok_or_else(|| format!("unknown profile '{s}' (cq5, aem60-63, aem64-65, cloud)"))
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
    let (handle, server) = sim::bind_tls(SimOptions::new(args.profile), args.port, tls.as_ref())?;
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
