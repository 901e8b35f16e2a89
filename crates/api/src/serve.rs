//! Serving the router over TCP with bounds on what a client may hold: how long it may take to
//! send a request's head and its body, how long a kept-alive connection may sit idle, and how
//! many connections are served at once. `axum::serve` has none of these, so a few hundred
//! sockets that stall mid-request used to hold file descriptors until none were left and
//! nobody was served.

mod body;
mod socket;

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tower::ServiceExt;

use crate::ApiError;
use body::{DeadlineBody, TrackedBody};
use socket::{InFlight, Socket};

/// A request's line and headers may take this much; hyper refuses a larger head (431), and it
/// is also the most a connection buffers, which bounds memory per connection.
pub const HEAD_LIMIT_BYTES: usize = 32 * 1024;
/// hyper refuses a request with more headers (431).
pub const HEADERS_LIMIT: usize = 100;
/// A longer request target (path and query) is answered 414; no route needs a fraction of it.
pub const URI_LIMIT_BYTES: usize = 8 * 1024;
/// Connections beyond `max_connections` that are still read, one request each, so `/healthz`
/// answers and everyone else learns to come back (503) instead of waiting in the kernel's
/// queue. Beyond these, new connections are closed at once.
const OVERFLOW_CONNECTIONS: usize = 64;
/// After accepting fails for want of file descriptors or memory, try again after this long
/// instead of spinning: connections that end meanwhile free what is missing.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// How long a client may take and how many are served at once.
#[derive(Clone, Copy, Debug)]
pub struct ServeLimits {
    /// From connecting, or from the first byte of a later request, to the end of its headers.
    pub header_timeout: Duration,
    /// From the first read of a request's body to its end, however it trickles in.
    pub body_timeout: Duration,
    /// How long a kept-alive connection may wait for its next request (and send its headers).
    pub idle_timeout: Duration,
    /// Connections served at once; more are answered 503, except `/healthz`.
    pub max_connections: usize,
}

impl Default for ServeLimits {
    /// The idle timeout outlasts the usual 60 s of load balancers' own keep-alive, so they do
    /// not send a request on a connection this server is just closing.
    fn default() -> Self {
        ServeLimits {
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(65),
            max_connections: 1024,
        }
    }
}

/// What a request learns about the connection it came on; set by [`serve`], read by [`guard`].
#[derive(Clone, Copy)]
struct Served {
    body_timeout: Duration,
    over_capacity: bool,
}

/// Serves `router` on `listener` over HTTP/1.1 within `limits` until `shutdown` completes, then
/// stops accepting and waits for the requests in flight (the timeouts bound that wait).
/// Requests carry the peer's address as `ConnectInfo<SocketAddr>`.
pub async fn serve(listener: TcpListener, router: Router, limits: ServeLimits, shutdown: impl Future<Output = ()>) {
    let capacity = Capacity::new(limits.max_connections);
    let connections = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, peer)) => {
                if let Some(slot) = capacity.take() {
                    spawn_connection(&connections, stream, peer, router.clone(), limits, slot);
                }
            }
            Err(error) => pause_after(error).await,
        }
    }
    // Closed at once, so new connections are refused rather than queued while the others finish.
    drop(listener);
    connections.shutdown().await;
}

fn spawn_connection(connections: &GracefulShutdown, stream: TcpStream, peer: SocketAddr, router: Router, limits: ServeLimits, slot: Slot) {
    let served = Served { body_timeout: limits.body_timeout, over_capacity: slot.over_capacity };
    let in_flight = Arc::new(InFlight::default());
    let io = TokioIo::new(Socket::new(stream, limits.header_timeout, in_flight.clone()));
    let service = hyper::service::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
        let finished = in_flight.start();
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(served);
        let response = router.clone().oneshot(request);
        async move { Ok::<_, Infallible>(response.await?.map(|body| Body::new(TrackedBody::new(body, finished)))) }
    });
    // hyper's header timer runs from the moment a connection waits for a request until its
    // headers are in, so it is the idle timeout; `Socket` holds the shorter header timeout.
    let connection = http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.idle_timeout)
        .max_header_size(HEAD_LIMIT_BYTES)
        .max_buf_size(HEAD_LIMIT_BYTES)
        .max_headers(HEADERS_LIMIT)
        .keep_alive(!slot.over_capacity)
        .serve_connection(io, service);
    let connection = connections.watch(connection);
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            tracing::debug!(%error, %peer, "connection ended with an error");
        }
        drop(slot);
    });
}

/// Errors that concern one connection (it was reset before we took it) need no pause.
async fn pause_after(error: io::Error) {
    if matches!(error.kind(), io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset) {
        return;
    }
    tracing::warn!(%error, "cannot accept connections; trying again shortly");
    tokio::time::sleep(ACCEPT_PAUSE).await;
}

/// The connection slots: served ones, and the overflow that is only answered 503.
struct Capacity {
    served: Arc<Semaphore>,
    overflow: Arc<Semaphore>,
}

/// A connection's place, given back when the connection ends.
struct Slot {
    over_capacity: bool,
    _permit: OwnedSemaphorePermit,
}

impl Capacity {
    fn new(max_connections: usize) -> Self {
        Capacity { served: Arc::new(Semaphore::new(max_connections)), overflow: Arc::new(Semaphore::new(OVERFLOW_CONNECTIONS)) }
    }

    /// `None` when even the overflow is full: the connection is closed unanswered. Every 503
    /// is logged and counted like any other answer, so this needs no log line of its own.
    fn take(&self) -> Option<Slot> {
        if let Ok(permit) = self.served.clone().try_acquire_owned() {
            return Some(Slot { over_capacity: false, _permit: permit });
        }
        self.overflow.clone().try_acquire_owned().ok().map(|permit| Slot { over_capacity: true, _permit: permit })
    }
}

/// Inside the router, so that its refusals are counted, logged and carry a request id like any
/// other answer: 503 on a connection over capacity (but `/healthz`), 414 for an overlong
/// target, and 408 when the body does not arrive within the body timeout.
pub(crate) async fn guard(request: Request, next: Next) -> Response {
    if request.uri().path_and_query().is_some_and(|target| target.as_str().len() > URI_LIMIT_BYTES) {
        return ApiError::UriTooLong.into_response();
    }
    let Some(served) = request.extensions().get::<Served>().copied() else {
        return next.run(request).await;
    };
    if served.over_capacity && request.uri().path() != "/healthz" {
        return ApiError::Overloaded.into_response();
    }
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| Body::new(DeadlineBody::new(body, served.body_timeout, expired.clone())));
    let response = next.run(request).await;
    // However the handler answered a body that failed to arrive, the client should learn why.
    if expired.load(Ordering::Relaxed) { ApiError::BodyTimeout(served.body_timeout).into_response() } else { response }
}
