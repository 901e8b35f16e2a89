//! One signed POST to a webhook's URL, to a public address only, with no redirects followed and
//! a time limit on the whole exchange.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use domain::webhook::{SIGNATURE_HEADER, TargetPolicy, signature};
use http_body_util::Full;
use hyper::Request;
use hyper::header::{CONTENT_TYPE, USER_AGENT};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::rt::TokioExecutor;

/// The longest error text an attempt records.
const ERROR_MAX: usize = 500;

/// What came of one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Answer {
    /// The receiver's status, if it answered.
    pub status: Option<u16>,
    /// Why it counts as a failure, if it does.
    pub error: Option<String>,
}

impl Answer {
    fn failed(error: impl ToString) -> Answer {
        Answer { status: None, error: Some(bounded(error.to_string())) }
    }
}

pub(crate) struct Sender {
    client: Client<HttpsConnector<HttpConnector<PublicResolver>>, Full<Bytes>>,
    policy: TargetPolicy,
    timeout: Duration,
}

impl Sender {
    pub fn new(policy: TargetPolicy, timeout: Duration) -> Sender {
        let mut http = HttpConnector::new_with_resolver(PublicResolver { policy });
        http.enforce_http(false);
        http.set_connect_timeout(Some(timeout));
        let provider = rustls::crypto::ring::default_provider();
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_webpki_roots(provider)
            .expect("ring supports rustls's default protocol versions")
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        // Connections are not kept: a delivery's receiver is rarely the next one's.
        let client = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(https);
        Sender { client, policy, timeout }
    }

    /// POSTs `body` to `url`, signed with `secret` at the current time. A 2xx answer is a
    /// success; anything else, a redirect included, is a failure to retry.
    pub async fn send(&self, url: &str, secret: &str, body: &str, unix_seconds: i64) -> Answer {
        // The URL was checked when it was saved, but the policy may have changed since.
        if let Err(message) = self.policy.check_url(url) {
            return Answer::failed(format!("the URL {message}"));
        }
        let request = Request::post(url)
            .header(CONTENT_TYPE, "application/json")
            .header(USER_AGENT, concat!("Opportunities-Webhooks/", env!("CARGO_PKG_VERSION")))
            .header(SIGNATURE_HEADER, signature(secret, unix_seconds, body))
            .body(Full::new(Bytes::from(body.to_owned())));
        let request = match request {
            Ok(request) => request,
            Err(error) => return Answer::failed(error),
        };
        match tokio::time::timeout(self.timeout, self.client.request(request)).await {
            Err(_) => Answer::failed(format!("no answer within {} ms", self.timeout.as_millis())),
            Ok(Err(error)) => Answer::failed(describe(&error)),
            Ok(Ok(response)) if response.status().is_success() => Answer { status: Some(response.status().as_u16()), error: None },
            Ok(Ok(response)) => {
                let status = response.status();
                Answer { status: Some(status.as_u16()), error: Some(format!("answered {status}")) }
            }
        }
    }
}

/// The error with its causes, which say what actually went wrong (refused, reset, a bad
/// certificate, a private address).
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn bounded(mut text: String) -> String {
    if text.len() > ERROR_MAX {
        let end = (0..=ERROR_MAX).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
        text.truncate(end);
    }
    text
}

/// Resolves a target's name and keeps only the addresses the policy allows, so that a name
/// pointing at a private address (or changed to point at one after it was checked) is not
/// reached: the check is on the very addresses connected to.
#[derive(Clone)]
struct PublicResolver {
    policy: TargetPolicy,
}

type Addresses = std::vec::IntoIter<SocketAddr>;

impl tower_service::Service<Name> for PublicResolver {
    type Response = Addresses;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<Addresses>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Self::Future {
        let policy = self.policy;
        Box::pin(async move {
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed: Vec<SocketAddr> = resolved.iter().copied().filter(|address| policy.check_address(address.ip()).is_ok()).collect();
            match (allowed.is_empty(), resolved.first()) {
                (true, Some(refused)) => {
                    Err(io::Error::other(format!("{name} resolves to {}, a private, loopback or link-local address", refused.ip())))
                }
                _ => Ok(allowed.into_iter()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use tower_service::Service;

    use super::*;

    /// `localhost` resolves (through /etc/hosts) to loopback, which a strict policy refuses
    /// after resolving, whatever the name looks like.
    #[tokio::test]
    async fn a_name_resolving_to_a_private_address_is_not_reached() {
        let name = Name::from_str("localhost").expect("a name");
        let refused = PublicResolver { policy: TargetPolicy::default() }.call(name.clone()).await;
        assert!(refused.is_err_and(|error| error.to_string().contains("loopback")));
        let allowed = PublicResolver { policy: TargetPolicy { allow_private: true } }.call(name).await.expect("resolves");
        assert!(allowed.count() > 0);
    }

    #[tokio::test]
    async fn a_redirect_is_a_failure_not_followed() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        tokio::spawn(async move {
            use tokio::io::{AsyncReadExt, AsyncWriteExt};
            let (mut socket, _) = listener.accept().await.expect("a connection");
            let mut request = [0u8; 4096];
            let _ = socket.read(&mut request).await;
            let answer = "HTTP/1.1 302 Found\r\nLocation: http://169.254.169.254/\r\nContent-Length: 0\r\n\r\n";
            socket.write_all(answer.as_bytes()).await.expect("answer");
        });
        let sender = Sender::new(TargetPolicy { allow_private: true }, Duration::from_secs(5));
        let answer = sender.send(&url, "whsec_test", "{}", 0).await;
        assert_eq!(answer.status, Some(302));
        assert!(answer.error.is_some_and(|error| error.contains("302")));
    }

    #[tokio::test]
    async fn a_slow_receiver_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("address"));
        // Accepts and never answers.
        tokio::spawn(async move {
            let _held = listener.accept().await;
            std::future::pending::<()>().await;
        });
        let sender = Sender::new(TargetPolicy { allow_private: true }, Duration::from_millis(300));
        let started = std::time::Instant::now();
        let answer = sender.send(&url, "whsec_test", "{}", 0).await;
        assert!(started.elapsed() < Duration::from_secs(3));
        assert!(answer.error.is_some_and(|error| error.contains("no answer within 300 ms")));
    }
}
