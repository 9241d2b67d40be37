//! Serving connections: what `axum::serve` does, plus a deadline on each
//! request's head (docs/APP.md: headers must arrive within 30 s, 408 otherwise),
//! over HTTP/1.1 only (an idle connection is closed at the same deadline).
//!
//! hyper enforces the deadline ([`Timeouts::head`], its header read
//! timeout) and closes the connection; it sends no answer. So that a client
//! whose head stalled learns why, the connection's task keeps the socket's
//! write half and writes a 408 problem through it, when the stalled head is
//! the connection's first request (on a connection kept alive between
//! requests, a later head that stalls or never begins just closes it: a
//! 408 there could be taken for the answer to the client's next request).
//! An answer the client takes no byte of for the body's deadline ends the
//! connection too ([`Watched`]). hyper reads
//! through tokio's read half, whose reads skip the system call that would
//! only say "nothing yet" after a short read (docs/PERFORMANCE.md).
//! Graceful shutdown: stop accepting, let requests in flight finish.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::Timeouts;

/// How long shutdown waits for requests in flight.
const DRAIN_FOR: std::time::Duration = std::time::Duration::from_secs(65);

/// Serves `router` on `listener` until `shutdown` resolves, then waits for
/// the requests in flight (at most a little longer than the longest one may
/// run).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    timeouts: Timeouts,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
) -> io::Result<()> {
    let graceful = GracefulShutdown::new();
    let mut shutdown = shutdown;
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait, do not spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        serve_connection(stream, router.clone(), timeouts, &graceful);
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_FOR, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still in flight at the end of the grace period");
    }
    Ok(())
}

fn serve_connection(
    stream: TcpStream,
    router: Router,
    timeouts: Timeouts,
    graceful: &GracefulShutdown,
) {
    // hyper reads through tokio's own read half; the write half stays with
    // the connection's task, for the 408 once hyper has given up.
    let (read, spare) = stream.into_split();
    let received = Arc::new(AtomicBool::new(false));
    let watched = Watched {
        read,
        received: received.clone(),
        stall: timeouts.body,
        stalled: None,
    };
    let requests = Arc::new(AtomicUsize::new(0));
    let counted = requests.clone();
    let service = router.map_request(move |req: Request<Incoming>| {
        counted.fetch_add(1, Ordering::Relaxed);
        req.map(Body::new)
    });
    // HTTP/1.1 only, with no sniffing of the protocol first: hyper's
    // deadline on the head then runs from the connection's start, where
    // the sniffing waited for a first byte without one, and HTTP/2 has no
    // deadline on an idle connection (docs/SECURITY.md).
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(timeouts.head)
        .serve_connection(TokioIo::new(watched), TowerToHyperService::new(service));
    let connection = graceful.watch(connection);
    tokio::spawn(async move {
        // Only the 408 uses the write half: otherwise it goes without a
        // shutdown of its own (hyper has ended the connection; the socket
        // closes as the two halves are dropped).
        let Err(error) = connection.await else {
            spare.forget();
            return;
        };
        let head_timed_out = error.is_timeout();
        if head_timed_out
            && requests.load(Ordering::Relaxed) == 0
            && received.load(Ordering::Relaxed)
        {
            answer_timeout(spare).await;
        } else {
            spare.forget();
            tracing::debug!(%error, "connection ended with an error");
        }
    });
}

/// Writes the 408 problem of a head that did not arrive in time through the
/// connection's write half, which shuts the socket's writing down as it is
/// dropped.
async fn answer_timeout(mut socket: OwnedWriteHalf) {
    let body = crate::error::problem_body(
        axum::http::StatusCode::REQUEST_TIMEOUT,
        "request_timeout",
        "the request's head did not arrive in time; send it again",
    );
    let answer = format!(
        "HTTP/1.1 408 Request Timeout\r\ncontent-type: application/problem+json\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = socket.write_all(answer.as_bytes()).await;
}

/// The connection's TCP stream as hyper reads and writes it: reads through
/// tokio's read half (a short read clears the socket's readiness, where a
/// read through `&TcpStream` would ask the kernel again and hear "nothing
/// yet"), writes through the shared stream; notes whether any byte has
/// arrived (a head that stalled after some bytes is answered 408; an idle
/// connection is just closed).
struct Watched {
    read: OwnedReadHalf,
    received: Arc<AtomicBool>,
    /// The longest wait for the socket to take bytes of an answer.
    stall: std::time::Duration,
    /// Since the socket stopped taking bytes, if it has.
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        ready!(Pin::new(&mut self.read).poll_read(cx, buf))?;
        if buf.filled().len() > before {
            self.received.store(true, Ordering::Relaxed);
        }
        Poll::Ready(Ok(()))
    }
}

impl Watched {
    /// Writes with `write` once the socket takes bytes, through the stream
    /// the two halves share (the write half is the connection task's). A
    /// socket that takes no byte for [`Watched::stall`] (the client reads
    /// nothing) fails the write, and hyper ends the connection: no answer
    /// waits longer than a body may pause (docs/SECURITY.md).
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        write: impl Fn(&TcpStream) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            let stream: &TcpStream = self.read.as_ref();
            if stream.poll_write_ready(cx)?.is_pending() {
                let limit = self.stall;
                let waiting = self
                    .stalled
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
                if waiting.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client took no bytes of the answer in time",
                    )));
                }
                return Poll::Pending;
            }
            match write(stream) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                done => {
                    self.stalled = None;
                    return Poll::Ready(done);
                }
            }
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |stream| stream.try_write(buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .poll_write_with(cx, |stream| stream.try_write_vectored(bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Nothing is shut down here: the socket closes when the connection's
    /// task has dropped both halves, after a 408 it may still owe.
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
