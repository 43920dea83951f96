//! The stack-limit baseline: a bare actix-web server answering every GET with a fixed,
//! task-sized JSON body after checking a Basic `Authorization` header is present, the
//! least work any gateway request does. By default served by actix-web's own
//! `HttpServer`; `--batch-writes` serves it the way the gateway serves itself
//! (`flowgate::conn::serve`, response writes after the worker's ready batch).

use actix_web::{web, App, HttpServer};
use clap::Parser;

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:18080")]
    bind: String,
    /// Worker threads (0 = one per core).
    #[arg(long, default_value_t = 0)]
    workers: usize,
    /// Serve through `flowgate::conn::serve` with batched writes instead of `HttpServer`.
    #[arg(long)]
    batch_writes: bool,
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let app = || App::new().default_service(web::to(flowgate_bench::bare_task));
    if args.batch_writes {
        let options = flowgate::conn::Options {
            workers: args.workers,
            shutdown_timeout_secs: 1,
            batch_writes: true,
        };
        let listener = std::net::TcpListener::bind(&args.bind)?;
        return flowgate::conn::serve(listener, options, app)?.await;
    }
    let mut server = HttpServer::new(app);
    if args.workers > 0 {
        server = server.workers(args.workers);
    }
    server.bind(&args.bind)?.run().await
}
