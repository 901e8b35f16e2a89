//! A real server on a real database for each test: the router served over loopback HTTP,
//! a fresh database per test, and an organization with an owner token to call it with.

#![allow(dead_code)]

use std::num::NonZeroU32;
use std::sync::Arc;

use domain::Timestamp;
use domain::calendar::TimeZone;
use domain::webhook::TargetPolicy;
use opportunities_api::{Clock, IntakeLimits, Refusal, ServeLimits, VisitorPages};

use reqwest::Method;
use serde_json::{Value, json};
use store::Store;
use store::service::{self, NewOrganization};

/// Declares each test once and runs it against every backend. The PostgreSQL half is ignored
/// unless asked for (`-- --include-ignored`, which `scripts/test.sh` passes when it finds one),
/// so that a run without PostgreSQL reports those tests as ignored, not as passed.
#[macro_export]
macro_rules! suite {
    ($($test:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test($crate::common::TestApp::sqlite().await).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                #[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
                async fn $test() {
                    super::$test($crate::common::TestApp::postgres().await).await
                }
            )*
        }
    };
}

pub struct TestApp {
    pub base: String,
    pub store: Arc<dyn Store>,
    /// The owner of the organization every test starts with.
    pub owner: Caller,
    /// What time the server at `base` says it is, when a test pinned it (see [`TestApp::clock_at`]).
    pinned: Option<Timestamp>,
    http: reqwest::Client,
    /// The test's database, for reading or changing what is stored behind the service's back.
    url: String,
    _dir: tempfile::TempDir,
}

/// Someone holding a token: what a test acts as.
#[derive(Clone, Debug)]
pub struct Caller {
    pub token: String,
    pub org_id: String,
    pub staff_id: String,
}

/// A response: its status and its JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn data(&self) -> &Value {
        &self.body["data"]
    }

    pub fn id(&self) -> String {
        self.body["data"]["id"].as_str().expect("response has data.id").to_owned()
    }

    pub fn error_code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Asserts the status, printing the body when it is not the expected one.
    #[track_caller]
    pub fn expect(self, status: u16) -> Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        self
    }

    /// Asserts an error response in the documented envelope.
    #[track_caller]
    pub fn expect_error(self, status: u16, code: &str) -> Self {
        assert_eq!(self.status, status, "unexpected status; body: {}", self.body);
        assert_eq!(self.body["success"], json!(false), "{}", self.body);
        assert_eq!(self.error_code(), code, "{}", self.body);
        assert!(self.body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "{}", self.body);
        self
    }

    /// The fields named in a 422's `details.fields`.
    pub fn bad_fields(&self) -> Vec<String> {
        let fields = self.body["error"]["details"]["fields"].as_object();
        fields.map(|f| f.keys().cloned().collect()).unwrap_or_default()
    }
}

impl TestApp {
    pub async fn sqlite() -> TestApp {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        Self::start(&url, dir).await
    }

    /// A fresh schema in the database `OPPORTUNITIES_TEST_POSTGRES_URL` names; fails the test
    /// when that variable is not set.
    pub async fn postgres() -> TestApp {
        let url = store::testing::fresh_postgres_schema("test").await;
        Self::start(&url, tempfile::tempdir().expect("temporary directory")).await
    }

    async fn start(url: &str, dir: tempfile::TempDir) -> TestApp {
        let options = store::OpenOptions { pool_size: 4, ..Default::default() };
        let store = store::open(url, &options).await.expect("open the test database");
        let base = serve(store.clone(), GENEROUS).await;
        let owner = new_org(store.as_ref(), "Test Clinic").await;
        TestApp { base, store, owner, pinned: None, http: reqwest::Client::new(), url: url.to_owned(), _dir: dir }
    }

    /// From now on, talks to a server on the same database whose clock says `now` (RFC 3339):
    /// what is due today depends on it.
    pub async fn clock_at(&mut self, now: &str) {
        let now = Timestamp::parse(now).expect("an RFC 3339 instant");
        self.base = serve_within(self.store.clone(), GENEROUS, ServeLimits::default(), LOOPBACK_WEBHOOKS, Clock::fixed(now)).await;
        self.pinned = Some(now);
    }

    /// What time the server says it is.
    pub fn now(&self) -> Timestamp {
        self.pinned.unwrap_or_else(Timestamp::now)
    }

    /// The caller's organization's time zone, as its pipeline settings say.
    pub async fn time_zone(&self, caller: &Caller) -> TimeZone {
        let settings = self.get(caller, "/pipeline-settings").await.expect(200);
        TimeZone::named(settings.data()["timezone"].as_str().expect("a time zone")).expect("a zone of the database")
    }

    /// Runs SQL on the test's database behind the service's back: `sqlite` or `postgres`,
    /// whichever engine it is.
    pub async fn execute_sql(&self, sqlite: &'static str, postgres: &'static str) {
        use sqlx::Connection;
        if self.url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(&self.url).await.expect("connect to the SQLite file");
            sqlx::raw_sql(sqlite).execute(&mut connection).await.expect("run the SQLite statements");
        } else {
            let mut connection = sqlx::PgConnection::connect(&self.url).await.expect("connect to PostgreSQL");
            sqlx::raw_sql(postgres).execute(&mut connection).await.expect("run the PostgreSQL statements");
        }
    }

    /// The first column of every row `sql` returns, as bytes, read straight from the database:
    /// for checking what the service keeps, not what it answers.
    pub async fn stored_bytes(&self, sql: &str) -> Vec<Vec<u8>> {
        self.stored_column(sql).await
    }

    /// The count that `sql` (a `SELECT COUNT(*) …` written for both engines) returns, read
    /// straight from the database.
    pub async fn stored_count(&self, sql: &str) -> i64 {
        self.stored_column(sql).await.pop().expect("a count")
    }

    async fn stored_column<T>(&self, sql: &str) -> Vec<T>
    where
        T: for<'r> sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
        T: for<'r> sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + Unpin,
    {
        use sqlx::Connection;
        let read = if self.url.starts_with("sqlite:") {
            let mut connection = sqlx::SqliteConnection::connect(&self.url).await.expect("open the test database");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut connection).await
        } else {
            let mut connection = sqlx::PgConnection::connect(&self.url).await.expect("connect to the test database");
            sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).fetch_all(&mut connection).await
        };
        read.expect("the query runs")
    }

    /// A second server on the same database with other limits on public submissions.
    pub async fn server_with_limits(&self, limits: IntakeLimits) -> String {
        serve(self.store.clone(), limits).await
    }

    /// A second server on the same database that refuses webhook URLs on private addresses, as
    /// a server does by default.
    pub async fn server_refusing_private_webhooks(&self) -> String {
        serve_within(self.store.clone(), GENEROUS, ServeLimits::default(), TargetPolicy::default(), Clock::default()).await
    }

    /// A second server on the same database with other timeouts and connection cap.
    pub async fn server_within(&self, transport: ServeLimits) -> String {
        serve_within(self.store.clone(), GENEROUS, transport, LOOPBACK_WEBHOOKS, Clock::default()).await
    }

    /// Another organization with its own owner, for isolation tests.
    pub async fn other_org(&self) -> Caller {
        new_org(self.store.as_ref(), "Other Clinic").await
    }

    /// A new staff member with `role` in the owner's organization, and a token for them.
    pub async fn staff(&self, role: &str) -> Caller {
        self.staff_in(&self.owner, role).await
    }

    pub async fn staff_in(&self, owner: &Caller, role: &str) -> Caller {
        let email = format!("{}@example.com", uuid::Uuid::now_v7());
        let staff = self.post(owner, "/staff", json!({"name": format!("A {role}"), "email": email, "role": role})).await.expect(201);
        let token = self.post(owner, &format!("/staff/{}/tokens", staff.id()), json!({})).await.expect(201);
        Caller { token: token.data()["token"].as_str().unwrap().to_owned(), org_id: owner.org_id.clone(), staff_id: staff.id() }
    }

    pub async fn get(&self, caller: &Caller, path: &str) -> Reply {
        self.call(Some(caller), Method::GET, path, None).await
    }

    pub async fn post(&self, caller: &Caller, path: &str, body: Value) -> Reply {
        self.call(Some(caller), Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, caller: &Caller, path: &str, body: Value) -> Reply {
        self.call(Some(caller), Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, caller: &Caller, path: &str) -> Reply {
        self.call(Some(caller), Method::DELETE, path, None).await
    }

    /// `path` is relative to `/api/v1` unless it starts with `//` (then it is taken from the root).
    pub async fn call(&self, caller: Option<&Caller>, method: Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self.request(method, path);
        if let Some(caller) = caller {
            request = request.bearer_auth(&caller.token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Self::reply(request).await
    }

    pub fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let url = match path.strip_prefix("//") {
            Some(root) => format!("{}/{root}", self.base),
            None => format!("{}/api/v1{path}", self.base),
        };
        self.http.request(method, url)
    }

    pub async fn reply(request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("the server answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("a body");
        Reply { status, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), headers }
    }

    /// A prospect lead with the given extra fields.
    pub async fn lead(&self, caller: &Caller, fields: Value) -> Reply {
        let mut body = json!({"title": "Interested in Botox package", "prospect_name": "Jane Doe"});
        body.as_object_mut().unwrap().extend(fields.as_object().cloned().unwrap_or_default());
        self.post(caller, "/opportunities", body).await
    }

    /// Every lead of the caller's organization, as the list shows them, page by page.
    pub async fn all_leads(&self, caller: &Caller) -> Vec<Value> {
        let mut leads = Vec::new();
        loop {
            let page = self.get(caller, &format!("/opportunities?limit=200&offset={}", leads.len())).await.expect(200);
            let rows = page.data().as_array().expect("a list").clone();
            if rows.is_empty() {
                return leads;
            }
            leads.extend(rows);
        }
    }

    /// Asserts that the statistics for `query` (empty, or `?filter=...`) equal a recount by hand
    /// of the listed `leads` that `keep` selects: the totals the database keeps on every write
    /// must agree with the rows. Follow-ups are due by the end of the server's today in the
    /// organization's time zone.
    pub async fn assert_stats_match_recount(&self, caller: &Caller, query: &str, leads: &[Value], keep: impl Fn(&Value) -> bool) {
        let end_of_today = self.time_zone(caller).await.end_of_day(self.now());
        let counted: Vec<&Value> = leads.iter().filter(|o| keep(o)).collect();
        let stats = self.get(caller, &format!("/opportunities/stats{query}")).await.expect(200);
        let data = stats.data();
        let cents = |o: &Value| o["estimated_value"].as_f64().map_or(0, |v| (v * 100.0).round() as i64);
        let in_pipeline: Vec<&&Value> =
            counted.iter().filter(|o| ["open", "contacted", "qualified", "proposal"].contains(&o["status"].as_str().unwrap())).collect();
        let weighted: i64 = in_pipeline.iter().map(|o| cents(o) * o["probability"].as_i64().unwrap()).sum();
        let due = counted.iter().filter(|o| {
            !["won", "lost"].contains(&o["status"].as_str().unwrap())
                && o["follow_up_date"].as_str().and_then(Timestamp::parse).is_some_and(|d| d <= end_of_today)
        });
        assert_eq!(data["total"], counted.len(), "{query}");
        for status in ["open", "contacted", "qualified", "proposal", "won", "lost", "stale"] {
            assert_eq!(data["counts"][status], counted.iter().filter(|o| o["status"] == status).count(), "{query} {status}");
        }
        assert_eq!(data["totalValue"], in_pipeline.iter().map(|o| cents(o)).sum::<i64>() as f64 / 100.0, "{query}");
        assert_eq!(data["weightedValue"], ((weighted + 50) / 100) as f64 / 100.0, "{query}");
        assert_eq!(data["needsFollowUp"], due.count(), "{query}");
        let sources: usize = data["bySource"].as_array().unwrap().iter().map(|s| s["total"].as_u64().unwrap() as usize).sum();
        assert_eq!(sources, counted.len(), "{query}: every lead in exactly one source group");
    }
}

/// Tests submit to lead forms many times from one address; the rate-limit test sets its own.
const GENEROUS: IntakeLimits =
    IntakeLimits { per_address_per_minute: NonZeroU32::new(10_000).unwrap(), per_form_per_minute: NonZeroU32::new(10_000).unwrap() };

/// Serves the router over loopback HTTP as the binary does (peer addresses, timeouts, the
/// connection cap); returns its base URL.
async fn serve(store: Arc<dyn Store>, limits: IntakeLimits) -> String {
    serve_within(store, limits, ServeLimits::default(), LOOPBACK_WEBHOOKS, Clock::default()).await
}

/// Webhook tests point at receivers on loopback, as OPPORTUNITIES_WEBHOOK_ALLOW_PRIVATE allows.
const LOOPBACK_WEBHOOKS: TargetPolicy = TargetPolicy { allow_private: true };

async fn serve_within(store: Arc<dyn Store>, intake: IntakeLimits, transport: ServeLimits, webhooks: TargetPolicy, clock: Clock) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind a loopback port");
    let base = format!("http://{}", listener.local_addr().expect("local address"));
    let public_url = domain::session::PublicUrl::parse(&base).expect("a loopback URL");
    let options = opportunities_api::AppOptions {
        intake,
        webhook_targets: webhooks,
        visitor_pages: Some(Arc::new(PlainPages)),
        clock,
        ..Default::default()
    };
    let router = opportunities_api::router_with(store, options).layer(axum::Extension(public_url));
    tokio::spawn(opportunities_api::serve(listener, router, transport, std::future::pending()));
    base
}

/// Stands in for the web crate's pages, showing what a browser's refusal page was told.
struct PlainPages;

impl VisitorPages for PlainPages {
    fn refusal(&self, refusal: &Refusal<'_>) -> String {
        let fields: Vec<String> = refusal.fields.iter().map(|(field, message)| format!("{field}: {message}")).collect();
        let name = refusal.submitted.and_then(|submitted| submitted.name.as_deref()).unwrap_or("");
        format!(
            "<p>{} {}</p><p>fields: {}</p><p>name: {name}</p><p>back: {}</p>",
            refusal.status.as_u16(),
            refusal.message,
            fields.join("; "),
            refusal.back.unwrap_or("history")
        )
    }
}

async fn new_org(store: &dyn Store, name: &str) -> Caller {
    let new =
        NewOrganization { name: name.into(), owner_name: "Olivia Owner".into(), owner_email: "owner@example.com".into(), token: None };
    let created = service::create_organization(store, new).await.expect("create an organization");
    Caller { token: created.token, org_id: created.org_id.to_string(), staff_id: created.staff_id.to_string() }
}
