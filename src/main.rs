//! The `flowgate` command line: `serve`, `check-config`, `migrate`, `hash-password`,
//! `openapi`.

use std::io::{BufRead, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use flowgate::settings::{Settings, Sources};
use flowgate::AppState;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "flowgate", version, about = "Nuxeo workflow REST API gateway")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway until SIGTERM or Ctrl-C.
    Serve {
        /// Settings file applied over the built-in defaults.
        #[arg(long, env = "FLOWGATE_CONFIG")]
        config: Option<PathBuf>,
        /// Listening address (overrides `server.bind`); port 0 picks a free port.
        #[arg(long)]
        bind: Option<String>,
    },
    /// Validate settings and workflow models, then exit (non-zero with the reason).
    CheckConfig {
        /// Settings file applied over the built-in defaults.
        #[arg(long, env = "FLOWGATE_CONFIG")]
        config: Option<PathBuf>,
    },
    /// Apply the PostgreSQL schema migrations of every embedded engine configured with
    /// `storage = "postgres"`; with `--from` and `--to`, copy a redb data directory into
    /// a PostgreSQL database instead.
    Migrate {
        /// Settings file applied over the built-in defaults.
        #[arg(long, env = "FLOWGATE_CONFIG")]
        config: Option<PathBuf>,
        /// A redb data directory (an embedded engine's `data_dir`) to copy.
        #[arg(long, requires = "to")]
        from: Option<PathBuf>,
        /// The PostgreSQL URL to copy into (better given as FLOWGATE_MIGRATE_TO).
        #[arg(
            long,
            env = "FLOWGATE_MIGRATE_TO",
            hide_env_values = true,
            requires = "from"
        )]
        to: Option<String>,
        /// The engine name the copied state belongs to.
        #[arg(long, default_value = "local")]
        engine: String,
        /// The schema to copy into (created if missing).
        #[arg(long)]
        schema: Option<String>,
    },
    /// Read a password from standard input and print its argon2 hash for `password_hash`.
    HashPassword,
    /// Print the OpenAPI description of the API (the JSON served at /api/v1/openapi.json).
    Openapi,
}

fn load(config: Option<PathBuf>, bind: Option<String>) -> Result<Settings, String> {
    let mut sources = Sources::from_process(config);
    if let Some(b) = bind {
        // Flags win over file and environment: applied as the last layer.
        let mut env: std::collections::HashMap<String, String> = std::env::vars().collect();
        env.insert("FLOWGATE__SERVER__BIND".into(), b);
        sources.env = Some(env);
    }
    Settings::load(&sources).map_err(|e| e.to_string())
}

fn init_tracing(s: &Settings) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&s.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if s.log.format == "json" {
        builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .init();
    } else {
        builder.init();
    }
}

async fn serve(config: Option<PathBuf>, bind: Option<String>) -> Result<(), String> {
    use flowgate::auth::safety;
    let mut settings = load(config, bind)?;
    init_tracing(&settings);
    let admin = safety::add_admin(
        &mut settings,
        std::env::var(safety::ADMIN_PASSWORD_ENV).ok(),
        std::env::var(safety::ADMIN_USER_ENV).ok(),
    )?;
    if let Some(name) = &admin {
        tracing::info!(user = %name, "administrator added from {}", safety::ADMIN_PASSWORD_ENV);
    }
    let addr = settings.bind_addr().map_err(|e| e.to_string())?;
    for w in safety::check_listen(&settings, addr, admin.as_deref())? {
        tracing::warn!("{w}");
    }
    let state = AppState::new(settings).map_err(|e| e.to_string())?;
    let listener = TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    let local = listener
        .local_addr()
        .map_err(|e| format!("cannot read the bound address: {e}"))?;
    let ctx = state.settings.server.context_path.clone();
    let metrics_bind = Some(state.settings.metrics.clone())
        .filter(|m| m.enabled && !m.bind.is_empty())
        .map(|m| m.bind);
    let data = actix_web::web::Data::new(state);
    // Jobs, live event relays and webhook dispatchers, stopped after the server.
    let background = flowgate::start_background(&data);
    let state = data.clone();
    let metrics = match metrics_bind {
        Some(m) => {
            let l = TcpListener::bind(&m).map_err(|e| format!("cannot listen on {m}: {e}"))?;
            let at = l
                .local_addr()
                .map_err(|e| format!("cannot read the bound address: {e}"))?;
            let server =
                flowgate::routes::metrics::server(data.clone(), l).map_err(|e| e.to_string())?;
            tracing::info!(addr = %at, "metrics listening");
            Some((server, at))
        }
        None => None,
    };
    let server = flowgate::server_with_data(data, listener).map_err(|e| e.to_string())?;
    let handle = server.handle();
    let stopping = state.clone();
    actix_web::rt::spawn(async move {
        let graceful = stop_signal().await;
        tracing::info!(graceful, "stop signal received");
        // Webhook dispatchers write what they delivered before anything else ends;
        // events committed while requests drain are delivered after the next start.
        stopping.webhooks.request_stop();
        // Event streams end now rather than hold a graceful stop for its whole grace
        // period; their clients resume elsewhere or after the restart.
        stopping.events.close();
        handle.stop(graceful).await;
    });
    // Harnesses that start the binary on port 0 read the real address from this line.
    println!("flowgate listening on http://{local}{ctx}/");
    if let Some((_, at)) = &metrics {
        println!("flowgate metrics on http://{at}/metrics");
    }
    let _ = std::io::stdout().flush();
    tracing::info!(addr = %local, "listening");
    match metrics {
        Some((m, _)) => {
            let handle = m.handle();
            let metrics_task = actix_web::rt::spawn(m);
            let result = server.await;
            handle.stop(true).await;
            let _ = metrics_task.await;
            result.map_err(|e| e.to_string())?;
        }
        None => server.await.map_err(|e| e.to_string())?,
    }
    background.stop(&state).await;
    tracing::info!("stopped");
    Ok(())
}

/// Resolves at the signal that stops the gateway: `true` for SIGTERM (how service
/// managers stop a process: in-flight requests may finish), `false` for SIGINT (Ctrl-C)
/// and SIGQUIT (open connections, event streams included, are closed at once).
async fn stop_signal() -> bool {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match (signal(SignalKind::terminate()), signal(SignalKind::quit())) {
            (Ok(mut term), Ok(mut quit)) => tokio::select! {
                _ = term.recv() => true,
                _ = quit.recv() => false,
                _ = tokio::signal::ctrl_c() => false,
            },
            (Err(e), _) | (_, Err(e)) => {
                tracing::warn!(error = %e, "SIGTERM and SIGQUIT not handled; Ctrl-C still stops");
                let _ = tokio::signal::ctrl_c().await;
                false
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        false
    }
}

fn check_config(config: Option<PathBuf>) -> Result<(), String> {
    let settings = load(config, None)?;
    let lines = flowgate::registry::check_models(&settings).map_err(|e| e.to_string())?;
    AppState::new(settings).map_err(|e| e.to_string())?;
    for l in lines {
        println!("{l}");
    }
    println!("configuration is valid");
    Ok(())
}

async fn migrate(
    config: Option<PathBuf>,
    from: Option<PathBuf>,
    to: Option<String>,
    engine: String,
    schema: Option<String>,
) -> Result<(), String> {
    use flowgate::settings::EngineSettings;
    use flowgate_memory::pg;
    if let (Some(from), Some(to)) = (from, to) {
        let mut options = pg::PgOptions::new(to);
        options.schema = schema;
        let r = pg::copy_redb(&from, &options, &engine)
            .await
            .map_err(|e| e.to_string())?;
        println!(
            "copied {} workflows, {} tasks, {} events and {} document paths of engine '{engine}' from {}",
            r.workflows,
            r.tasks,
            r.events,
            r.document_paths,
            from.display()
        );
        return Ok(());
    }
    let settings = load(config, None)?;
    let mut done = 0;
    for (name, e) in &settings.engines {
        let EngineSettings::Memory(m) = e else {
            continue;
        };
        let Some(options) = m.postgres(name).map_err(|e| e.join("; "))? else {
            continue;
        };
        let version = pg::migrate(&options).await.map_err(|e| e.to_string())?;
        println!("engine '{name}': database schema at version {version}");
        done += 1;
    }
    if done == 0 {
        return Err("no embedded engine is configured with storage = \"postgres\"".into());
    }
    Ok(())
}

fn hash_password() -> Result<(), String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| format!("cannot read standard input: {e}"))?;
    let pw = line.trim_end_matches(['\r', '\n']);
    if pw.is_empty() {
        return Err("empty password: write the password on standard input".into());
    }
    println!("{}", flowgate::auth::hash_password(pw)?);
    Ok(())
}

#[actix_web::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config, bind } => serve(config, bind).await,
        Command::CheckConfig { config } => check_config(config),
        Command::Migrate {
            config,
            from,
            to,
            engine,
            schema,
        } => migrate(config, from, to, engine, schema).await,
        Command::HashPassword => hash_password(),
        Command::Openapi => flowgate::openapi::spec_pretty().map(|s| println!("{s}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("flowgate: {e}");
            ExitCode::FAILURE
        }
    }
}
