//! What the web crate's black-box tests share: the binary's router on a loopback port over a
//! fresh database of either backend, an organization with its owner, sessions, and requests as
//! a browser sends them.
// Each test file compiles this module on its own and uses a part of it.
#![allow(dead_code)]

use std::num::NonZeroU32;
use std::sync::Arc;

use axum::Extension;
use domain::Timestamp;
use domain::auth::Role;
use domain::session::{LinkPurpose, PasswordLink, PublicUrl, WebSession};
use opportunities_web::{self as web, SignInLimits, WebConfig};
use reqwest::redirect::Policy;
use store::service::{self, NewOrganization};
use store::{Store, sign_in, tokens};
use uuid::Uuid;

pub struct App {
    pub base: String,
    pub store: Arc<dyn Store>,
    pub org_id: Uuid,
    pub owner_id: Uuid,
    pub token: String,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// A signed-in browser: the `Cookie` header it sends and the CSRF token its forms carry.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
    http: reqwest::Client,
    base: String,
}

pub const PASSWORD: &str = "a long enough password";

/// Three sign-in attempts a minute per e-mail and five per address: small, so tests reach them.
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

    /// A session of `staff_id` in `org_id`, last seen at `last_seen_at`, written straight to the
    /// database (signing in is tested on its own).
    pub async fn session(&self, org_id: Uuid, staff_id: Uuid, role: Role, last_seen_at: Timestamp) -> Browser {
        let secret = tokens::generate();
        let session = WebSession {
            org_id,
            staff_id,
            name: String::new(),
            email: String::new(),
            role,
            csrf_token: tokens::generate(),
            created_at: last_seen_at,
            last_seen_at,
        };
        let mut tx = self.store.begin().await.expect("a transaction");
        tx.insert_web_session(&tokens::hash(&secret), &session).await.expect("insert");
        tx.commit().await.expect("commit");
        Browser { cookie: format!("opp_session={secret}"), csrf: session.csrf_token, http: self.http.clone(), base: self.base.clone() }
    }

    /// A set-up link for the owner, expiring as the rules say or at `expires_at`.
    pub async fn link(&self, expires_at: Option<Timestamp>) -> String {
        match expires_at {
            None => {
                sign_in::create_password_link(self.store.as_ref(), self.org_id, self.owner_id, LinkPurpose::Setup)
                    .await
                    .expect("a link")
                    .secret
            }
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

    pub async fn choose_password(&self, secret: &str) -> reqwest::Response {
        form(self.http.post(format!("{}/setup/{secret}", self.base)), &[("password", PASSWORD)]).send().await.expect("a response")
    }

    pub async fn sign_in(&self, email: &str, password: &str) -> reqwest::StatusCode {
        let fields = [("email", email), ("password", password)];
        form(self.http.post(format!("{}/sign-in", self.base)), &fields).send().await.expect("a response").status()
    }

    pub async fn board_with(&self, cookie: &str) -> reqwest::Response {
        self.http.get(format!("{}/board", self.base)).header("cookie", cookie).send().await.expect("a response")
    }

    /// The owner, signed in through a set-up link.
    pub async fn owner_browser(&self) -> Browser {
        let response = self.choose_password(&self.link(None).await).await;
        self.browser(session_cookie(&response).0).await
    }

    /// A new staff member with `role`, invited through the API, who has chosen a password:
    /// their id and browser.
    pub async fn staff_browser(&self, email: &str, role: &str) -> (Uuid, Browser) {
        let created = self.api_body("POST", "/staff", serde_json::json!({ "name": email, "email": email, "role": role })).await;
        let id = created["data"]["id"].as_str().expect("an id").to_owned();
        let invitation = self.api_body("POST", &format!("/staff/{id}/invite"), serde_json::Value::Null).await;
        let secret = invitation["data"]["url"].as_str().expect("a link").rsplit('/').next().expect("a secret").to_owned();
        let response = self.choose_password(&secret).await;
        (id.parse().expect("a UUID"), self.browser(session_cookie(&response).0).await)
    }

    async fn browser(&self, cookie: String) -> Browser {
        let board = self.board_with(&cookie).await.text().await.expect("a page");
        Browser { cookie, csrf: hidden_value(&board, "csrf").expect("a CSRF field"), http: self.http.clone(), base: self.base.clone() }
    }

    /// A call to the JSON API as the owner; its whole body.
    pub async fn api_body(&self, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut request = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(&self.token);
        if !body.is_null() {
            request = request.json(&body);
        }
        let response = request.send().await.expect("a response");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json().await.expect("JSON")
    }

    /// A page (path and query) as the browser holding `cookie` gets it.
    pub async fn page_as(&self, path: &str, cookie: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).header("cookie", cookie).send().await.expect("a response")
    }

    /// A call to the JSON API with the owner's token; the answer's `data`.
    pub async fn api_data(&self, method: reqwest::Method, path: &str, body: serde_json::Value) -> serde_json::Value {
        let request = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(&self.token);
        let request = if body.is_null() { request } else { request.json(&body) };
        let response = request.send().await.expect("a response");
        assert!(response.status().is_success(), "{path}: {}", response.status());
        response.json::<serde_json::Value>().await.expect("json")["data"].take()
    }
}

impl Browser {
    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(format!("{}{path}", self.base)).header("cookie", &self.cookie).send().await.expect("a response")
    }

    /// Posts a form of a signed-in page: `fields` and the session's CSRF token.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &self.csrf));
        form(self.http.post(format!("{}{path}", self.base)), &fields).header("cookie", &self.cookie).send().await.expect("a response")
    }
}

/// `opp_session=…` from a response's Set-Cookie, and the whole header.
pub fn session_cookie(response: &reqwest::Response) -> (String, String) {
    let header = response.headers().get("set-cookie").expect("a cookie").to_str().expect("text").to_owned();
    (header.split(';').next().expect("name=value").to_owned(), header)
}

/// The value of the first input named `name` in a page.
pub fn hidden_value(page: &str, name: &str) -> Option<String> {
    let after = page.split(&format!("name=\"{name}\" value=\"")).nth(1)?;
    Some(after.split('"').next()?.to_owned())
}

/// A request with a form body, as a browser posts one.
pub fn form(request: reqwest::RequestBuilder, fields: &[(&str, &str)]) -> reqwest::RequestBuilder {
    let body = serde_urlencoded::to_string(fields).expect("a form");
    request.header("content-type", "application/x-www-form-urlencoded").body(body)
}

/// Runs each test on SQLite, and on PostgreSQL when scripts/test.sh finds one.
macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    let dir = tempfile::tempdir().expect("a directory");
                    let url = format!("sqlite://{}", dir.path().join("test.db").display());
                    super::$test(super::support::App::start(&url, dir, None).await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
                async fn $test() {
                    let url = store::testing::fresh_postgres_schema("web").await;
                    super::$test(super::support::App::start(&url, tempfile::tempdir().expect("a directory"), None).await).await
                }
            )*
        }
    };
}
