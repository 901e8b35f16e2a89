//! HTTP as clients really speak it: sockets that stall, more connections than the server takes,
//! requests hyper cannot parse, and the auth scheme written in any case. Each server here is
//! the real `opportunities_api::serve`, as the binary runs it.

mod common;

use std::time::Duration;

use common::TestApp;
use opportunities_api::ServeLimits;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

suite!(stalled_sockets_are_closed_while_others_are_served, the_bearer_scheme_is_case_insensitive);

/// A hang detector, not a latency bound: far beyond any timeout configured here.
const HANG: Duration = Duration::from_secs(20);

/// Connects to `base` and sends `bytes`, and nothing more.
async fn send(base: &str, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).await.expect("connect");
    stream.write_all(bytes).await.expect("send");
    stream
}

/// All the server sends until it closes the connection (a reset after its answer counts as
/// closing); fails, naming `what` was sent, if it keeps the connection open.
async fn until_closed(mut stream: TcpStream, what: &str) -> Vec<u8> {
    let mut received = Vec::new();
    let closed = tokio::time::timeout(HANG, async {
        let mut chunk = [0; 4096];
        while let Ok(read @ 1..) = stream.read(&mut chunk).await {
            received.extend_from_slice(&chunk[..read]);
        }
    })
    .await;
    assert!(closed.is_ok(), "{what}: the server kept the connection open after answering {:?}", String::from_utf8_lossy(&received));
    received
}

/// The status and JSON body of the answer in `received`; status 0 if there is none.
fn answer(received: &[u8]) -> (u16, Value) {
    let text = String::from_utf8_lossy(received);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|status| status.parse().ok()).unwrap_or(0);
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// On both backends: the stalled bodies belong to authenticated requests, which must not hold a
/// database connection while they wait.
async fn stalled_sockets_are_closed_while_others_are_served(app: TestApp) {
    let (short, long) = (Duration::from_secs(1), 2 * HANG);
    // Heads and bodies time out here, idle connections only on the second server, so that each
    // closing below is the work of the timeout it is meant to test.
    let strict = ServeLimits { header_timeout: short, body_timeout: short, idle_timeout: long, ..ServeLimits::default() };
    let strict = app.server_within(strict).await;
    let idle =
        app.server_within(ServeLimits { header_timeout: long, body_timeout: long, idle_timeout: short, ..ServeLimits::default() }).await;
    let token = &app.owner.token;
    let half_body = format!(
        "POST /api/v1/opportunities HTTP/1.1\r\nhost: t\r\nauthorization: Bearer {token}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{{\"title\":"
    );
    let mut stalled = Vec::new();
    for _ in 0..50 {
        stalled.push(("silent", send(&strict, b"").await));
        stalled.push(("half a request line", send(&strict, b"GET /api/v1/opportun").await));
        stalled.push(("half the headers", send(&strict, b"GET /api/v1/me HTTP/1.1\r\nhost: t\r\nauthori").await));
        stalled.push(("half a body", send(&strict, half_body.as_bytes()).await));
        stalled.push(("half the next request's headers", half_of_the_next_request(&strict).await));
        stalled.push(("idle after an answer", answered(send(&idle, b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").await).await));
    }

    let client = reqwest::Client::builder().timeout(HANG).build().unwrap();
    for base in [&strict, &idle] {
        let me = client.get(format!("{base}/api/v1/me")).bearer_auth(token).send().await.expect("answered while others stall");
        assert_eq!(me.status(), 200);
    }

    for (stall, stream) in stalled {
        let (status, body) = answer(&until_closed(stream, stall).await);
        let expected = if stall == "half a body" { (408, json!("request_timeout")) } else { (0, Value::Null) };
        assert_eq!((status, body["error"]["code"].clone()), expected, "{stall}: {body}");
    }
}

/// A connection that had one request answered and then sends half of the next one's headers.
async fn half_of_the_next_request(base: &str) -> TcpStream {
    let mut stream = answered(send(base, b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").await).await;
    stream.write_all(b"GET /healthz HTTP/1.1\r\nho").await.expect("send");
    stream
}

/// Reads the answer to the request just sent, and keeps the connection.
async fn answered(mut stream: TcpStream) -> TcpStream {
    let mut received = Vec::new();
    while answer(&received).1.is_null() {
        let mut chunk = [0; 4096];
        let read = tokio::time::timeout(HANG, stream.read(&mut chunk)).await.expect("an answer").expect("read");
        assert!(read > 0, "closed before answering");
        received.extend_from_slice(&chunk[..read]);
    }
    stream
}

/// One backend: the cap is applied before a request reaches a handler or the database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_cap_new_connections_get_503_but_healthz_answers() {
    let app = TestApp::sqlite().await;
    let limits = ServeLimits { max_connections: 4, header_timeout: Duration::from_secs(120), ..ServeLimits::default() };
    let base = app.server_within(limits).await;
    // Accepted in the order they connect, so these four take every slot before what follows.
    let mut holding = Vec::new();
    for _ in 0..4 {
        holding.push(send(&base, b"GET /heal").await);
    }
    let me = || reqwest::Client::new().get(format!("{base}/api/v1/me")).bearer_auth(&app.owner.token);

    let refused = TestApp::reply(me()).await.expect_error(503, "overloaded");
    assert_eq!(refused.headers["retry-after"], "1");
    assert_eq!(refused.headers["connection"], "close");
    TestApp::reply(reqwest::Client::new().get(format!("{base}/healthz"))).await.expect(200);

    drop(holding);
    let served = tokio::time::timeout(HANG, async {
        while TestApp::reply(me()).await.status != 200 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    assert!(served.await.is_ok(), "closed connections give their slots back");
}

/// One backend: hyper refuses these before the router, and the router refuses the long target
/// before any handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_hyper_cannot_parse_get_the_envelope() {
    let app = TestApp::sqlite().await;
    let many_headers: String = (0..150).map(|i| format!("x-header-{i}: y\r\n")).collect();
    let cases = [
        ("HELLO\r\n\r\n".to_owned(), 400, "bad_request"),
        ("GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n".to_owned(), 400, "bad_request"),
        (format!("GET /healthz HTTP/1.1\r\n{many_headers}\r\n"), 431, "headers_too_large"),
        (format!("GET /healthz HTTP/1.1\r\nx-big: {}\r\n\r\n", "a".repeat(40_000)), 431, "headers_too_large"),
        (format!("GET /api/v1/{} HTTP/1.1\r\nhost: t\r\nconnection: close\r\n\r\n", "a".repeat(10_000)), 414, "uri_too_long"),
    ];
    for (request, status, code) in cases {
        let received = until_closed(send(&app.base, request.as_bytes()).await, code).await;
        let (got, body) = answer(&received);
        assert_eq!(
            (got, &body["success"], &body["error"]["code"]),
            (status, &json!(false), &json!(code)),
            "{}",
            String::from_utf8_lossy(&received)
        );
        assert!(body["error"]["message"].as_str().is_some_and(|message| !message.is_empty()), "{body}");
    }
}

async fn the_bearer_scheme_is_case_insensitive(app: TestApp) {
    let authorization = |scheme: &str| format!("{scheme} {}", app.owner.token);
    for scheme in ["bearer", "BEARER", "bEaReR"] {
        TestApp::reply(app.request(Method::GET, "/me").header("authorization", authorization(scheme))).await.expect(200);
    }
    // The idempotency check reads the same header: a retry in another case is still a replay.
    let create = |scheme: &str| {
        app.request(Method::POST, "/opportunities")
            .header("authorization", authorization(scheme))
            .header("idempotency-key", "any-case-scheme")
            .json(&json!({"title": "Botox", "prospect_name": "Jane"}))
    };
    let first = TestApp::reply(create("bearer")).await.expect(201);
    let retry = TestApp::reply(create("BEARER")).await.expect(201);
    assert_eq!(retry.headers.get("idempotent-replayed").map(|v| v.as_bytes()), Some(&b"true"[..]));
    assert_eq!(retry.id(), first.id());
}
