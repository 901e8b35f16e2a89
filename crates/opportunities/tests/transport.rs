//! The transport's limits as an operator sets them: `serve` takes the timeout and connection
//! options and serves through them.

mod common;

use std::time::Duration;

use common::Server;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

#[tokio::test]
async fn serve_applies_the_header_timeout_and_connection_cap_it_is_given() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("clinic.db").display());
    let options = ["--max-connections", "1", "--header-timeout-ms", "300"];
    let mut server = Server::start_with(&database, Some("opp_transport_owner"), &options).await;
    server.next_line().await;
    let base = server.base_url().await;
    let address = base.trim_start_matches("http://");

    // An idle kept-alive connection holds the only slot (the idle timeout is the default 65 s).
    let mut holding = TcpStream::connect(address).await.expect("connect");
    holding.write_all(b"GET /healthz HTTP/1.1\r\nhost: t\r\n\r\n").await.expect("send");
    let mut answer = [0; 1024];
    assert!(holding.read(&mut answer).await.expect("an answer") > 0);

    let me = reqwest::Client::new().get(format!("{base}/api/v1/me")).bearer_auth("opp_transport_owner").send().await.expect("answered");
    assert_eq!(me.status(), 503, "over the cap of one connection");

    // Closed by the 300 ms header timeout; the default (10 s) would outlast this hang detector.
    let mut silent = TcpStream::connect(address).await.expect("connect");
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read(&mut answer)).await;
    assert!(matches!(closed, Ok(Ok(0) | Err(_))), "a silent connection is closed: {closed:?}");
    server.terminate().await;
}
