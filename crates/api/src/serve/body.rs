//! Bodies wrapped by the transport: a request body that must arrive by a deadline, and a
//! response body that tells the connection when its request is answered.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes, HttpBody};
use http_body::{Frame, SizeHint};
use tokio::time::Sleep;

use super::socket::Finished;

/// A request body that fails, and sets `expired`, once `timeout` has passed since it was first
/// read. The deadline covers the whole body, not the gap between two pieces of it as tower-http's
/// `TimeoutBody` does, so a client cannot hold a request open by sending a byte now and then.
pub struct DeadlineBody {
    body: Body,
    timeout: Duration,
    deadline: Option<Pin<Box<Sleep>>>,
    expired: Arc<AtomicBool>,
}

impl DeadlineBody {
    pub fn new(body: Body, timeout: Duration, expired: Arc<AtomicBool>) -> Self {
        DeadlineBody { body, timeout, deadline: None, expired }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        let deadline = this.deadline.get_or_insert_with(|| Box::pin(tokio::time::sleep(this.timeout)));
        if deadline.as_mut().poll(cx).is_ready() {
            this.expired.store(true, Ordering::Relaxed);
            let late = io::Error::new(io::ErrorKind::TimedOut, "the request body did not arrive in time");
            return Poll::Ready(Some(Err(axum::Error::new(late))));
        }
        Pin::new(&mut this.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// A response body that counts its request as answered when hyper is done with it.
pub struct TrackedBody {
    body: Body,
    _finished: Finished,
}

impl TrackedBody {
    pub fn new(body: Body, finished: Finished) -> Self {
        TrackedBody { body, _finished: finished }
    }
}

impl HttpBody for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
