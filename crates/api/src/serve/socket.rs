//! A client's TCP stream as hyper sees it, with the two things hyper cannot be told: a deadline
//! for each request head that runs from its first byte, and an envelope for the answers hyper
//! writes itself when it cannot parse a request.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::body::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::Sleep;

use crate::ApiError;

/// How many of a connection's requests have reached the service and how many have been
/// answered, so the socket can tell a new request's first bytes from the rest of the last one.
#[derive(Default)]
pub struct InFlight {
    started: AtomicU64,
    finished: AtomicU64,
}

/// Counts its request as answered when dropped (with the response body, or with the request).
pub struct Finished(Arc<InFlight>);

impl InFlight {
    /// Called as hyper hands a request to the service: its head is complete.
    pub fn start(self: &Arc<Self>) -> Finished {
        self.started.fetch_add(1, Ordering::AcqRel);
        Finished(self.clone())
    }

    fn started(&self) -> u64 {
        self.started.load(Ordering::Acquire)
    }

    /// `Some(started)` when every request so far has been answered: the connection is between
    /// requests, so bytes arriving now begin the next head.
    fn between_requests(&self) -> Option<u64> {
        let started = self.started();
        (self.finished.load(Ordering::Acquire) == started).then_some(started)
    }
}

impl Drop for Finished {
    fn drop(&mut self) {
        self.0.finished.fetch_add(1, Ordering::AcqRel);
    }
}

/// The deadline of the head being read, and how many requests had started when it was set:
/// once that count moves on, the head is complete and the deadline no longer applies.
struct HeadDeadline {
    started: u64,
    sleep: Pin<Box<Sleep>>,
}

pub struct Socket {
    stream: TcpStream,
    header_timeout: Duration,
    in_flight: Arc<InFlight>,
    head: Option<HeadDeadline>,
    /// An envelope that replaces hyper's own bodiless error answer, still to be written.
    envelope: Option<Bytes>,
}

impl Socket {
    /// The first head's deadline runs from connecting: a client that sends nothing is no better
    /// than one that sends half a request line.
    pub fn new(stream: TcpStream, header_timeout: Duration, in_flight: Arc<InFlight>) -> Self {
        let head = Some(HeadDeadline { started: 0, sleep: Box::pin(tokio::time::sleep(header_timeout)) });
        Socket { stream, header_timeout, in_flight, head, envelope: None }
    }

    /// Fails once the head being read is late. Checked before every read, so a client that
    /// trickles a byte at a time cannot stretch it.
    fn poll_head_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        if self.head.as_ref().is_some_and(|head| head.started != self.in_flight.started()) {
            self.head = None;
        }
        let Some(head) = &mut self.head else { return Poll::Pending };
        ready!(head.sleep.as_mut().poll(cx));
        Poll::Ready(io::Error::new(io::ErrorKind::TimedOut, "the request headers did not arrive in time"))
    }

    fn note_bytes_read(&mut self) {
        if self.head.is_none()
            && let Some(started) = self.in_flight.between_requests()
        {
            self.head = Some(HeadDeadline { started, sleep: Box::pin(tokio::time::sleep(self.header_timeout)) });
        }
    }

    /// Writes what is left of a substituted envelope before anything else.
    fn poll_envelope(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some(rest) = self.envelope.as_mut().filter(|rest| !rest.is_empty()) {
            let written = ready!(Pin::new(&mut self.stream).poll_write(cx, rest))?;
            if written == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *rest = rest.slice(written..);
        }
        self.envelope = None;
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Socket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Poll::Ready(late) = this.poll_head_deadline(cx) {
            return Poll::Ready(Err(late));
        }
        let filled = buf.filled().len();
        let read = Pin::new(&mut this.stream).poll_read(cx, buf);
        if buf.filled().len() > filled {
            this.note_bytes_read();
        }
        read
    }
}

/// hyper writes heads and bodies through here. Not vectored, so that each head arrives whole in
/// one write and hyper's own error answers can be recognized.
impl AsyncWrite for Socket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_envelope(cx))?;
        if let Some(envelope) = envelope_for(buf) {
            this.envelope = Some(envelope);
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_envelope(cx))?;
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_envelope(cx))?;
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}

/// hyper answers a request whose line or headers it cannot parse, or which are too large, by
/// itself, before any service sees it, and with an empty body: exactly a status line,
/// `content-length: 0` and `date`. That head, and nothing else (every answer of the router has a
/// body and an `x-request-id`), is replaced by the same status with the JSON envelope.
fn envelope_for(written: &[u8]) -> Option<Bytes> {
    let head = std::str::from_utf8(written.strip_suffix(b"\r\n\r\n")?).ok()?;
    let mut lines = head.split("\r\n");
    let error = match lines.next()? {
        "HTTP/1.1 400 Bad Request" => ApiError::MalformedRequestHead,
        "HTTP/1.1 431 Request Header Fields Too Large" => ApiError::RequestHeadTooLarge,
        _ => return None,
    };
    let mut date = String::new();
    for line in lines {
        match line.split_once(": ")? {
            ("content-length", "0") | ("connection", "close") => {}
            ("date", value) => date = format!("date: {value}\r\n"),
            _ => return None,
        }
    }
    let (status, body) = error.into_json();
    let head =
        format!("HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n{date}\r\n", body.len());
    Some([head.into_bytes(), body].concat().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hyper_s_bodiless_error_heads_are_replaced() {
        let hyper_s = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Sun, 06 Dec 2026 10:00:00 GMT\r\n\r\n";
        let replaced = String::from_utf8(envelope_for(hyper_s).expect("replaced").to_vec()).unwrap();
        assert!(replaced.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "{replaced}");
        assert!(replaced.contains("\r\ndate: Sun, 06 Dec 2026 10:00:00 GMT\r\n"), "{replaced}");
        assert!(
            replaced.ends_with(
                r#""code":"headers_too_large","message":"the request line and headers exceed 32768 bytes or 100 headers","details":{}}}"#
            ),
            "{replaced}"
        );
        for kept in [
            &b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nx-request-id: 1\r\n\r\n"[..],
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n",
            b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n{}",
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n",
        ] {
            assert_eq!(envelope_for(kept), None, "{}", String::from_utf8_lossy(kept));
        }
    }
}
