//! The stack-limit baseline: a bare actix-web server answering every GET with a fixed,
//! task-sized JSON body after checking a Basic `Authorization` header is present, the
//! least work any gateway request does, served by actix-web's own `HttpServer` like the
//! gateway.

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
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let app = || App::new().default_service(web::to(flowgate_bench::bare_task));
    let mut server = HttpServer::new(app);
    if args.workers > 0 {
        server = server.workers(args.workers);
    }
    server.bind(&args.bind)?.run().await
}
