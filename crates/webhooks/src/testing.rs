//! A webhook receiver for tests: an HTTP server on loopback that keeps what it is sent, and can
//! be told to fail or to answer slowly.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One POST the receiver accepted.
#[derive(Debug, Clone)]
pub struct Received {
    pub signature: String,
    pub body: String,
    pub event: serde_json::Value,
}

#[derive(Default)]
struct Inbox {
    accepted: Mutex<Vec<Received>>,
    /// Every POST, accepted or not.
    hits: AtomicUsize,
    failures_left: AtomicUsize,
    delay_ms: AtomicU64,
}

pub struct Receiver {
    /// Where to point a webhook.
    pub url: String,
    inbox: Arc<Inbox>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let url = format!("http://{}/hook", listener.local_addr().expect("local address"));
        let inbox = Arc::new(Inbox::default());
        let app = axum::Router::new().route("/hook", post(receive)).with_state(inbox.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, inbox }
    }

    /// Answers the next `count` POSTs with 500.
    pub fn fail_next(&self, count: usize) {
        self.inbox.failures_left.store(count, Ordering::SeqCst);
    }

    /// Waits this long before answering each POST (and keeps it only once it answers).
    pub fn answer_after(&self, delay: Duration) {
        self.inbox.delay_ms.store(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX), Ordering::SeqCst);
    }

    pub fn accepted(&self) -> Vec<Received> {
        self.inbox.accepted.lock().expect("the inbox").clone()
    }

    pub fn hits(&self) -> usize {
        self.inbox.hits.load(Ordering::SeqCst)
    }

    /// The accepted POSTs once there are at least `count`; panics after `within`.
    pub async fn wait_for(&self, count: usize, within: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let accepted = self.accepted();
            if accepted.len() >= count {
                return accepted;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} of {count} deliveries arrived in {within:?}: {accepted:#?}",
                accepted.len()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

async fn receive(State(inbox): State<Arc<Inbox>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    inbox.hits.fetch_add(1, Ordering::SeqCst);
    let delay = inbox.delay_ms.load(Ordering::SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    let failing = inbox.failures_left.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1)).is_ok();
    if failing {
        return StatusCode::INTERNAL_SERVER_ERROR;
    }
    let signature = headers.get(domain::webhook::SIGNATURE_HEADER).and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned();
    let body = String::from_utf8_lossy(&body).into_owned();
    let event = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    inbox.accepted.lock().expect("the inbox").push(Received { signature, body, event });
    StatusCode::NO_CONTENT
}
