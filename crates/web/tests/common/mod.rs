//! What the web crate's HTTP tests share: the binary's router (API and pages) on a real
//! database, an organization with its owner, a client that shows redirects, sessions made through
//! set-up links, and `suite!`, which runs each test on SQLite and PostgreSQL.

#![allow(dead_code)] // Each test file uses its own part.

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Extension;
use domain::Timestamp;
use domain::session::{LinkPurpose, PasswordLink, PublicUrl};
use opportunities_web::{self as web, SignInLimits, WebConfig};
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use store::service::{self, NewOrganization};
use store::{Store, sign_in, tokens};
use uuid::Uuid;

pub const PASSWORD: &str = "a long enough password";

pub struct App {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub org_id: Uuid,
    pub owner_id: Uuid,
    pub token: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Three attempts a minute per e-mail and five per address: small, so tests reach them.
fn tight_limits() -> SignInLimits {
    SignInLimits::new(NonZeroU32::new(3).expect("non-zero"), NonZeroU32::new(5).expect("non-zero"))
}

impl App {
    pub async fn start(url: &str, dir: tempfile::TempDir, public_url: Option<&str>) -> App {
        let store = store::open(url, &store::OpenOptions { pool_size: 4, ..Default::default() }).await.expect("open the database");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let public_url = PublicUrl::parse(public_url.unwrap_or(&base)).expect("a URL");
        let config = WebConfig { secure_cookies: public_url.is_https(), public_url: public_url.clone() };
        let pages = web::router_with_limits(store.clone(), config, tight_limits());
        let router = api::router_with(store.clone(), api::AppOptions { pages, ..Default::default() }).layer(Extension(public_url));
        tokio::spawn(api::serve(listener, router, api::ServeLimits::default(), std::future::pending()));
        let new = NewOrganization {
            name: "Clinic".into(),
            owner_name: "Olivia Owner".into(),
            owner_email: "owner@example.com".into(),
            token: None,
        };
        let created = service::create_organization(store.as_ref(), new).await.expect("an organization");
        let http = reqwest::Client::builder().redirect(Policy::none()).build().expect("a client");
        App { base, store, org_id: created.org_id, owner_id: created.staff_id, token: created.token, http, _dir: dir }
    }

    /// A set-up link for the owner, expiring as the rules say or at `expires_at`.
    pub async fn link(&self, expires_at: Option<Timestamp>) -> String {
        match expires_at {
            None => self.link_for(self.owner_id).await,
            Some(expires_at) => {
                let secret = tokens::generate();
                let link =
                    PasswordLink { expires_at, ..PasswordLink::new(self.org_id, self.owner_id, LinkPurpose::Setup, Timestamp::now()) };
                let mut tx = self.store.begin().await.expect("a transaction");
                tx.insert_password_link(&tokens::hash(&secret), &link).await.expect("insert");
                tx.commit().await.expect("commit");
                secret
            }
        }
    }

    /// A set-up link for a staff member of the organization.
    pub async fn link_for(&self, staff_id: Uuid) -> String {
        sign_in::create_password_link(self.store.as_ref(), self.org_id, staff_id, LinkPurpose::Setup).await.expect("a link").secret
    }

    pub async fn choose_password(&self, secret: &str) -> reqwest::Response {
        form(self.http.post(format!("{}/setup/{secret}", self.base)), &[("password", PASSWORD)]).send().await.expect("a response")
    }

    /// The cookie of a new session of the staff member, who chooses a password to get it.
    pub async fn session_of(&self, staff_id: Uuid) -> String {
        session_cookie(&self.choose_password(&self.link_for(staff_id).await).await).0
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> StatusCode {
        let fields = [("email", email), ("password", password)];
        form(self.http.post(format!("{}/sign-in", self.base)), &fields).send().await.expect("a response").status()
    }

    /// A page (path and query) as the browser holding `cookie` gets it.
    pub async fn page(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).header("cookie", cookie).send().await.expect("a response")
    }

    /// A call to the JSON API with the owner's token; the answer's `data`.
    pub async fn api(&self, method: reqwest::Method, path: &str, body: serde_json::Value) -> serde_json::Value {
        let request = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(&self.token);
        let request = if body.is_null() { request } else { request.json(&body) };
        let response = request.send().await.expect("a response");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json::<serde_json::Value>().await.expect("json")["data"].take()
    }
}

/// A request with a form body, as a browser posts one.
pub fn form(request: reqwest::RequestBuilder, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body = serde_urlencoded::to_string(fields).expect("a form");
    request.header("content-type", "application/x-www-form-urlencoded").body(body)
}

/// `opp_session=…` from a response's Set-Cookie, and the whole header.
pub fn session_cookie(response: &reqwest::Response) -> (String, String) {
    let header = response.headers().get("set-cookie").expect("a cookie").to_str().expect("text").to_owned();
    (header.split(';').next().expect("name=value").to_owned(), header)
}

/// Runs each test, a function taking an [`App`], on SQLite and (ignored unless scripts/test.sh
/// finds a server) on PostgreSQL.
macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let dir = tempfile::tempdir().expect("a directory");
                    let url = format!("sqlite://{}", dir.path().join("test.db").display());
                    super::$test(crate::common::App::start(&url, dir, None).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
                async fn $test() {
                    let url = store::testing::fresh_postgres_schema("web").await;
                    super::$test(crate::common::App::start(&url, tempfile::tempdir().expect("a directory"), None).await).await
                }
            )*
        }
    };
}
