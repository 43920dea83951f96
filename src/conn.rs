//! Client connections: the server that accepts them ([`serve`]) and how responses reach
//! their sockets ([`Batched`]).
//!
//! An actix worker serves its connections as tasks of one thread. When several requests
//! arrive together (one readiness event for many sockets), each connection task reads its
//! request, runs the handler and writes the response before the next task runs. With the
//! clients on the same machine, every such write can wake a client thread that then takes
//! the CPU away from the worker for one response at a time.
//!
//! [`Batched`] delays the first write of each response until the worker has given every
//! task that was already ready its turn: the connection's task wakes itself and yields
//! once, so it runs again behind them and only then writes. Responses of one batch thus
//! leave close together, after the work that produced them, and a woken client finds
//! several of them at once. Nothing is buffered here and nothing waits for a timer: a
//! worker with nothing else to do writes on the next turn of its loop, and reads, flushes
//! and shutdowns pass straight through.

use std::io;
use std::net::{SocketAddr, TcpListener};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_service::ServiceFactoryExt;
use actix_web::body::MessageBody;
use actix_web::dev::{AppConfig, Server, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::App;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// How [`serve`] runs.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Seconds in-flight requests get to finish after a graceful stop.
    pub shutdown_timeout_secs: u64,
    /// Serve over [`Batched`] connections that write after the worker's ready batch.
    pub batch_writes: bool,
}

/// Serves the applications `factory` builds (one per worker) on `listener`.
///
/// The HTTP/1.1 service `actix_web::HttpServer` would build, with its defaults (request
/// head within 5 s, keep-alive 5 s, 1 s to close after a response, idle keep-alive
/// connections closed at a graceful stop), but over [`Batched`] connections, which
/// `HttpServer` cannot wrap its sockets in. Each application also gets [`Bound`].
pub fn serve<F, T, B>(listener: TcpListener, options: Options, factory: F) -> io::Result<Server>
where
    F: Fn() -> App<T> + Send + Clone + 'static,
    T: ServiceFactory<
            ServiceRequest,
            Config = (),
            Response = ServiceResponse<B>,
            Error = actix_web::Error,
            InitError = (),
        > + 'static,
    B: MessageBody + 'static,
{
    let addr = listener.local_addr()?;
    let mut builder = actix_server::Server::build().shutdown_timeout(options.shutdown_timeout_secs);
    if options.workers > 0 {
        builder = builder.workers(options.workers);
    }
    let closing = builder.graceful_shutdown_signal();
    let batch = options.batch_writes;
    let builder = builder.listen("flowgate", listener, move || {
        let app = factory().app_data(Bound(addr));
        let closing = closing.clone();
        let http = actix_http::HttpService::build()
            .graceful_shutdown_signal(move || {
                let closing = closing.clone();
                async move { closing.notified().await }
            })
            .client_request_timeout(Duration::from_secs(5))
            .client_disconnect_timeout(Duration::from_secs(1))
            .local_addr(addr)
            .finish(actix_service::map_config(app, |_| AppConfig::default()));
        actix_service::fn_service(move |io: tokio::net::TcpStream| {
            let peer = io.peer_addr().ok();
            let io = Batched::new(io, batch);
            std::future::ready(Ok((io, actix_http::Protocol::Http1, peer)))
        })
        .and_then(http)
    })?;
    Ok(builder.run())
}

/// The address the server's listener is bound to, kept as application data: the host
/// of last resort for links built for a request that names none (HTTP/1.0 without
/// `Host`).
#[derive(Clone, Copy, Debug)]
pub struct Bound(pub SocketAddr);

/// A connection whose response writes yield once to the worker's other ready tasks.
#[derive(Debug)]
pub struct Batched<T> {
    io: T,
    /// Writes go through without yielding first: always when batching is off, and
    /// after the yield until the writer flushes (the end of one response's bytes).
    through: bool,
    batch: bool,
}

impl<T> Batched<T> {
    /// Wraps `io`; `batch = false` makes every operation a plain pass-through.
    pub fn new(io: T, batch: bool) -> Self {
        Self {
            io,
            through: !batch,
            batch,
        }
    }

    /// Whether a write must first let the worker's other ready tasks run: the first
    /// write of bytes since the last flush. If so, the task is already woken again.
    fn wait_turn(&mut self, cx: &mut Context<'_>, nothing: bool) -> bool {
        if self.through || nothing {
            return false;
        }
        // Queued behind every task that is ready on this worker; the next try writes.
        self.through = true;
        cx.waker().wake_by_ref();
        true
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Batched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Batched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.wait_turn(cx, buf.is_empty()) {
            return Poll::Pending;
        }
        Pin::new(&mut me.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let me = self.get_mut();
        if me.wait_turn(cx, bufs.iter().all(|b| b.is_empty())) {
            return Poll::Pending;
        }
        Pin::new(&mut me.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let me = self.get_mut();
        let flushed = Pin::new(&mut me.io).poll_flush(cx);
        if flushed.is_ready() {
            // The next response yields again.
            me.through = !me.batch;
        }
        flushed
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use tokio::io::AsyncWriteExt;

    use super::*;

    /// A writer that records each write in a shared log.
    struct Logged {
        name: &'static str,
        log: Rc<RefCell<Vec<String>>>,
    }

    impl AsyncWrite for Logged {
        fn poll_write(
            self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let text = String::from_utf8_lossy(buf);
            self.log
                .borrow_mut()
                .push(format!("{} wrote {text}", self.name));
            Poll::Ready(Ok(buf.len()))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    /// Three connection tasks, ready at once, each answering two requests the way the
    /// HTTP dispatcher does (write the response, flush), on one thread.
    fn serve_three(batch: bool) -> Vec<String> {
        let log = Rc::new(RefCell::new(Vec::new()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let local = tokio::task::LocalSet::new();
        for name in ["a", "b", "c"] {
            let log = log.clone();
            local.spawn_local(async move {
                let mut io = Batched::new(
                    Logged {
                        name,
                        log: log.clone(),
                    },
                    batch,
                );
                for n in 1..=2 {
                    log.borrow_mut().push(format!("{name} handled {n}"));
                    io.write_all(format!("{n}").as_bytes())
                        .await
                        .expect("write");
                    io.flush().await.expect("flush");
                }
            });
        }
        rt.block_on(local);
        Rc::try_unwrap(log).expect("one owner").into_inner()
    }

    #[test]
    fn responses_are_written_after_the_ready_tasks_ran() {
        let log = serve_three(true);
        assert_eq!(
            log,
            [
                "a handled 1",
                "b handled 1",
                "c handled 1",
                "a wrote 1",
                "a handled 2",
                "b wrote 1",
                "b handled 2",
                "c wrote 1",
                "c handled 2",
                "a wrote 2",
                "b wrote 2",
                "c wrote 2",
            ]
        );
    }

    #[test]
    fn without_batching_each_task_writes_at_once() {
        let log = serve_three(false);
        assert_eq!(
            log,
            [
                "a handled 1",
                "a wrote 1",
                "a handled 2",
                "a wrote 2",
                "b handled 1",
                "b wrote 1",
                "b handled 2",
                "b wrote 2",
                "c handled 1",
                "c wrote 1",
                "c handled 2",
                "c wrote 2",
            ]
        );
    }

    #[test]
    fn one_yield_per_response_whatever_its_pieces() {
        let log = Rc::new(RefCell::new(Vec::new()));
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut io = Batched::new(
            Logged {
                name: "a",
                log: log.clone(),
            },
            true,
        );
        let mut io = Pin::new(&mut io);
        assert!(io.as_mut().poll_write(&mut cx, b"head").is_pending());
        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b"head"),
            Poll::Ready(Ok(4))
        ));
        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b"body"),
            Poll::Ready(Ok(4))
        ));
        assert!(io.as_mut().poll_flush(&mut cx).is_ready());
        // An empty write (nothing to send) does not yield.
        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b""),
            Poll::Ready(Ok(0))
        ));
        assert!(io.as_mut().poll_write(&mut cx, b"next").is_pending());
        assert!(matches!(
            io.as_mut().poll_write(&mut cx, b"next"),
            Poll::Ready(Ok(4))
        ));
        assert!(io.as_mut().poll_flush(&mut cx).is_ready());
        // Vectored writes take their turn the same way.
        let parts = [io::IoSlice::new(b""), io::IoSlice::new(b"more")];
        assert!(io
            .as_mut()
            .poll_write_vectored(&mut cx, &parts)
            .is_pending());
        assert!(matches!(
            io.as_mut().poll_write_vectored(&mut cx, &parts),
            Poll::Ready(Ok(4))
        ));
        assert_eq!(
            *log.borrow(),
            [
                "a wrote head",
                "a wrote body",
                "a wrote ",
                "a wrote next",
                "a wrote more"
            ]
        );
    }
}
