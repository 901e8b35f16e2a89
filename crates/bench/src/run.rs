//! `run`: drives a running server over HTTP/1.1 keep-alive with a fixed number of connections,
//! and, given the database, the same operations on the store in-process, for the floors.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::activity::CreateNote;
use domain::agenda::{AgendaQuery, Whose};
use domain::auth::Actor;
use domain::calendar::{Day, TimeZone};
use domain::opportunity::{CreateOpportunity, UpdateOpportunity};
use domain::query::{OpportunityFilter, QueryParams, StatsFilter};
use domain::report::ReportQuery;
use domain::stats::PipelineStats;
use domain::{Input, Money, Patch, Timestamp};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, ETAG, HOST, IF_MATCH};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use serde::Serialize;
use serde_json::{Value, json};
use store::Store;
use store::service;
use uuid::Uuid;

use crate::seed::Manifest;
use crate::{data, floor};
use store::demo::rng::{Rng, mix};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scenario {
    Healthz,
    Get,
    StatusPage,
    SearchCommon,
    SearchRare,
    Stats,
    /// The reports (issue 12) over the last 90 days, the dashboard's window.
    Funnel,
    ResponseTimes,
    LostReasons,
    /// Everyone's agenda for the next 7 days (`staff_id=all`), the owner's start page.
    Agenda,
    Create,
    Update,
    Note,
    Mixed,
    Hangup,
}

impl Scenario {
    /// Reads first, so that they see the seeded data; writes grow it; hang-ups last, as a load
    /// tool stopping mid-request does.
    pub const DEFAULT: [Scenario; 14] = [
        Scenario::Get,
        Scenario::StatusPage,
        Scenario::SearchCommon,
        Scenario::SearchRare,
        Scenario::Stats,
        Scenario::Funnel,
        Scenario::ResponseTimes,
        Scenario::LostReasons,
        Scenario::Agenda,
        Scenario::Create,
        Scenario::Update,
        Scenario::Note,
        Scenario::Mixed,
        Scenario::Hangup,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Healthz => "healthz",
            Scenario::Get => "get",
            Scenario::StatusPage => "status_page",
            Scenario::SearchCommon => "search_common",
            Scenario::SearchRare => "search_rare",
            Scenario::Stats => "stats",
            Scenario::Funnel => "report_funnel",
            Scenario::ResponseTimes => "report_response_times",
            Scenario::LostReasons => "report_lost_reasons",
            Scenario::Agenda => "agenda",
            Scenario::Create => "create",
            Scenario::Update => "update",
            Scenario::Note => "note",
            Scenario::Mixed => "mixed",
            Scenario::Hangup => "hangup",
        }
    }

    pub fn parse_list(text: &str) -> Result<Vec<Scenario>, String> {
        let all = [Scenario::Healthz].into_iter().chain(Scenario::DEFAULT);
        let all: Vec<Scenario> = all.collect();
        text.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                all.iter().copied().find(|c| c.name() == s).ok_or_else(|| {
                    let names: Vec<_> = all.iter().map(|c| c.name()).collect();
                    format!("unknown scenario `{s}`: one of {}", names.join(", "))
                })
            })
            .collect()
    }
}

/// `mixed`: 70 % reads, 30 % writes.
const MIX: [(Scenario, u32); 8] = [
    (Scenario::Get, 30),
    (Scenario::StatusPage, 12),
    (Scenario::SearchCommon, 10),
    (Scenario::SearchRare, 6),
    (Scenario::Stats, 12),
    (Scenario::Create, 10),
    (Scenario::Update, 10),
    (Scenario::Note, 10),
];

pub const UPDATE_METHOD: &str = "PATCH with If-Match: each connection updates only its own share of the sample ids, \
    reads an id's ETag once with an untimed GET and then chains the ETags of its PATCH responses; only PATCHes are timed and counted";

/// What a measurement talks to.
#[derive(Clone)]
pub enum Driver {
    /// `authority` is `host:port`; `auth` the whole Authorization header value.
    Http {
        authority: String,
        auth: String,
    },
    Direct {
        store: Arc<dyn Store>,
        actor: Actor,
    },
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub seed: u64,
}

/// The data every connection draws from.
pub struct Workload {
    pub manifest: Manifest,
    rare_query: String,
    filters: HashMap<&'static str, OpportunityFilter>,
}

impl Workload {
    pub fn new(manifest: Manifest) -> Result<Self, String> {
        if manifest.sample_ids.is_empty() {
            return Err("the manifest has no sample ids".into());
        }
        let mut filters = HashMap::new();
        for (name, pairs) in [
            ("status_page", vec![("status", "qualified".to_owned())]),
            ("search_common", vec![("search", manifest.common_search.clone())]),
            ("search_rare", vec![("search", manifest.rare_search.clone())]),
        ] {
            let mut pairs: Vec<(String, String)> = pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            pairs.push(("limit".into(), "20".into()));
            let params = QueryParams::new(pairs).map_err(|e| e.to_string())?;
            // None of them asks for `follow_up_due`, so the zone is never read.
            filters.insert(name, OpportunityFilter::parse(params, &TimeZone::utc(), Timestamp::now()).map_err(|e| e.to_string())?);
        }
        let rare_query = format!("/api/v1/opportunities?search={}&limit=20", data::encode(&manifest.rare_search));
        Ok(Workload { manifest, rare_query, filters })
    }
}

/// The result of one scenario on one driver.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Stat {
    /// Successful (2xx) requests in the measured window.
    pub ok: u64,
    pub errors: u64,
    /// Error responses by status (store-direct errors by the status the API would answer).
    pub error_statuses: BTreeMap<String, u64>,
    /// Successful requests per second.
    pub rps: f64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub window_seconds: f64,
    /// TCP connections opened (HTTP only): equal to the connection count unless the server
    /// closed some.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connections_opened: Option<u64>,
}

impl Stat {
    /// A 5xx, a transport failure or an internal store error.
    pub fn server_errors(&self) -> u64 {
        self.error_statuses.iter().filter(|(status, _)| !status.starts_with('4')).map(|(_, n)| n).sum()
    }
}

/// What one connection measured.
#[derive(Default)]
pub struct ConnResult {
    latencies_us: Vec<u32>,
    errors: BTreeMap<String, u64>,
    last_finish: Option<Instant>,
    connections_opened: u64,
}

impl ConnResult {
    /// Counts an operation's outcome when `measured` (it started after the warm-up); a
    /// transport error is told once per connection, whenever it happens.
    pub fn record(&mut self, index: usize, measured: bool, latency: Duration, outcome: Result<(), Failure>, warned: &mut bool) {
        if measured {
            self.last_finish = Some(Instant::now());
            match outcome {
                Ok(()) => self.latencies_us.push(latency.as_micros().min(u128::from(u32::MAX)) as u32),
                Err(failure) => {
                    if let Failure::Transport(message) = &failure
                        && !self.errors.contains_key("transport")
                    {
                        eprintln!("connection {index}: transport error: {message}");
                    }
                    *self.errors.entry(failure.key()).or_default() += 1;
                }
            }
        } else if let Err(Failure::Transport(message)) = outcome
            && !*warned
        {
            eprintln!("connection {index}: transport error during warm-up: {message}");
            *warned = true;
        }
    }

    pub fn merge(&mut self, other: ConnResult) {
        self.connections_opened += other.connections_opened;
        self.latencies_us.extend(other.latencies_us);
        for (key, n) in other.errors {
            *self.errors.entry(key).or_default() += n;
        }
        self.last_finish = self.last_finish.max(other.last_finish);
    }
}

pub enum Failure {
    Status(u16),
    /// The connection failed, or (for the floor) the database driver did.
    Transport(String),
}

impl Failure {
    /// What it is counted as in `error_statuses`.
    fn key(&self) -> String {
        match self {
            Failure::Status(status) => status.to_string(),
            Failure::Transport(_) => "transport".to_owned(),
        }
    }
}

/// One HTTP/1.1 keep-alive connection, reopened only if the server closes it.
pub struct HttpConn {
    authority: String,
    sender: Option<SendRequest<Full<Bytes>>>,
    /// The task that owns the socket: aborting it closes the connection.
    connection: Option<tokio::task::JoinHandle<()>>,
    opened: u64,
}

impl HttpConn {
    pub fn new(authority: &str) -> Self {
        HttpConn { authority: authority.to_owned(), sender: None, connection: None, opened: 0 }
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(&self.authority).await.map_err(|e| format!("connect {}: {e}", self.authority))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        self.connection = Some(tokio::spawn(async move {
            let _ = connection.await;
        }));
        self.sender = Some(sender);
        self.opened += 1;
        Ok(())
    }

    /// Closes the socket at once, whatever is in flight on it.
    fn close(&mut self) {
        self.sender = None;
        if let Some(connection) = self.connection.take() {
            connection.abort();
        }
    }

    pub fn request(&self, method: Method, path: &str, auth: Option<&str>, body: Option<&Value>) -> Request<Full<Bytes>> {
        let mut builder = Request::builder().method(method).uri(path).header(HOST, self.authority.as_str());
        if let Some(auth) = auth {
            builder = builder.header(AUTHORIZATION, auth);
        }
        let body = match body {
            Some(value) => {
                builder = builder.header(CONTENT_TYPE, "application/json");
                Bytes::from(serde_json::to_vec(value).unwrap_or_default())
            }
            None => Bytes::new(),
        };
        builder.body(Full::new(body)).expect("a valid request")
    }

    /// Sends on this connection (waiting until it is free), reads the whole body, and times
    /// both. Returns the status, the ETag's version and the body.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> (Duration, Result<(u16, Option<i64>, Bytes), String>) {
        let started = Instant::now();
        let result = self.exchange(request).await;
        (started.elapsed(), result)
    }

    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<(u16, Option<i64>, Bytes), String> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected");
        if let Err(error) = sender.ready().await {
            self.sender = None;
            return Err(error.to_string());
        }
        let response = match sender.send_request(request).await {
            Ok(response) => response,
            Err(error) => {
                self.sender = None;
                return Err(error.to_string());
            }
        };
        let status = response.status().as_u16();
        let version = response
            .headers()
            .get(ETAG)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim_start_matches("W/").trim_matches('"').parse().ok());
        let body = response.into_body().collect().await.map_err(|e| e.to_string())?.to_bytes();
        Ok((status, version, body))
    }
}

/// One benchmark connection and what it remembers.
struct Conn {
    index: usize,
    rng: Rng,
    http: Option<HttpConn>,
    /// The sample ids this connection alone updates, so that If-Match never races another.
    own_ids: Vec<Uuid>,
    versions: HashMap<Uuid, i64>,
    created: u64,
}

pub async fn measure(scenario: Scenario, driver: &Driver, work: &Arc<Workload>, settings: &Settings) -> Result<Stat, String> {
    let connections = settings.connections.max(1);
    let start = Instant::now();
    let measure_from = start + settings.warmup;
    let end = measure_from + settings.duration;
    let mut tasks = Vec::with_capacity(connections);
    for index in 0..connections {
        let mut conn = Conn::new(index, connections, scenario, driver, work, settings);
        let (driver, work) = (driver.clone(), work.clone());
        tasks.push(tokio::spawn(async move {
            let mut result = ConnResult { latencies_us: Vec::with_capacity(1 << 14), ..Default::default() };
            let mut warned = false;
            loop {
                let started = Instant::now();
                if started >= end {
                    break;
                }
                let op = match scenario {
                    Scenario::Mixed => *conn.rng.weighted(&MIX),
                    Scenario::Hangup => Scenario::Create,
                    other => other,
                };
                let (latency, outcome) = conn.execute(op, &driver, &work).await;
                result.record(conn.index, started >= measure_from, latency, outcome, &mut warned);
            }
            result.connections_opened = conn.http.as_ref().map_or(0, |h| h.opened);
            if scenario == Scenario::Hangup {
                for _ in 0..HANG_UPS {
                    conn.hang_up(&driver, &work).await;
                }
            }
            result
        }));
    }
    let mut all = ConnResult::default();
    for task in tasks {
        all.merge(task.await.map_err(|e| e.to_string())?);
    }
    if scenario == Scenario::Hangup {
        for failure in writes_after_hang_ups(driver, work, settings).await {
            *all.errors.entry(failure).or_default() += 1;
        }
    }
    let http = matches!(driver, Driver::Http { .. });
    Ok(summarize(all, measure_from, http))
}

pub fn summarize(mut all: ConnResult, measure_from: Instant, http: bool) -> Stat {
    let window = all.last_finish.map_or(0.0, |t| t.saturating_duration_since(measure_from).as_secs_f64());
    all.latencies_us.sort_unstable();
    let n = all.latencies_us.len();
    let pct = |p: f64| -> f64 {
        if n == 0 {
            return 0.0;
        }
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        ms(all.latencies_us[rank - 1])
    };
    let sum: u64 = all.latencies_us.iter().map(|&l| u64::from(l)).sum();
    let errors = all.errors.values().sum();
    Stat {
        ok: n as u64,
        errors,
        error_statuses: all.errors,
        rps: if window > 0.0 { round1(n as f64 / window) } else { 0.0 },
        mean_ms: if n > 0 { round3(sum as f64 / n as f64 / 1000.0) } else { 0.0 },
        p50_ms: pct(0.50),
        p95_ms: pct(0.95),
        p99_ms: pct(0.99),
        max_ms: all.latencies_us.last().map_or(0.0, |&l| ms(l)),
        window_seconds: round3(window),
        connections_opened: http.then_some(all.connections_opened),
    }
}

fn ms(us: u32) -> f64 {
    round3(f64::from(us) / 1000.0)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// Times each `hangup` connection hangs up at the end, reconnecting in between: a hang-up must
/// land within a few milliseconds of a given await to test it, so one each is too few.
const HANG_UPS: usize = 8;

/// Generous: only tells a server that stopped answering writes from a slow one.
const AFTER_HANG_UPS: Duration = Duration::from_secs(10);

/// After the connections hung up, a write of each kind on a connection of its own must succeed
/// at once. Returns each failure as the key it is counted under: never a 4xx, so `run` fails.
async fn writes_after_hang_ups(driver: &Driver, work: &Arc<Workload>, settings: &Settings) -> Vec<String> {
    let connections = settings.connections.max(1);
    let mut conn = Conn::new(connections, connections + 1, Scenario::Hangup, driver, work, settings);
    let mut failures = Vec::new();
    for op in [Scenario::Create, Scenario::Update, Scenario::Note] {
        let failure = match tokio::time::timeout(AFTER_HANG_UPS, conn.execute(op, driver, work)).await {
            Ok((_, Ok(()))) => continue,
            Ok((_, Err(failure))) => failure.key(),
            Err(_) => "no answer".to_owned(),
        };
        failures.push(format!("{} after hang-ups: {failure}", op.name()));
    }
    failures
}

type Outcome = (Duration, Result<(), Failure>);

/// Connection `index`'s share of the sample ids, which it alone updates, so that If-Match
/// never races another connection.
pub fn own_ids(work: &Workload, index: usize, connections: usize) -> Vec<Uuid> {
    let ids = &work.manifest.sample_ids;
    let mut own: Vec<Uuid> = ids.iter().copied().skip(index).step_by(connections).collect();
    if own.is_empty() {
        own.push(ids[index % ids.len()]);
    }
    own
}

impl Conn {
    /// Connection `index` of `connections`, with its own share of the sample ids to update.
    fn new(index: usize, connections: usize, scenario: Scenario, driver: &Driver, work: &Workload, settings: &Settings) -> Conn {
        let http = match driver {
            Driver::Http { authority, .. } => Some(HttpConn::new(authority)),
            Driver::Direct { .. } => None,
        };
        Conn {
            index,
            rng: Rng::stream(mix(settings.seed ^ scenario as u64), index as u64),
            http,
            own_ids: own_ids(work, index, connections),
            versions: HashMap::new(),
            created: 0,
        }
    }

    /// Sends a create and hangs up 0-30 ms later, answered or not: what a load tool does to the
    /// requests in flight when it stops. Store-direct, the use case's future is dropped.
    async fn hang_up(&mut self, driver: &Driver, work: &Workload) {
        let patience = Duration::from_millis(self.rng.below(31));
        let _ = tokio::time::timeout(patience, self.execute(Scenario::Create, driver, work)).await;
        if let Some(http) = &mut self.http {
            http.close();
        }
    }

    async fn execute(&mut self, op: Scenario, driver: &Driver, work: &Workload) -> Outcome {
        match driver {
            Driver::Http { auth, .. } => self.http(op, auth, work).await,
            Driver::Direct { store, actor } => self.direct(op, store.as_ref(), actor, work).await,
        }
    }

    fn random_id(&mut self, work: &Workload) -> Uuid {
        *self.rng.pick(&work.manifest.sample_ids)
    }

    fn own_id(&mut self) -> Uuid {
        let ids = std::mem::take(&mut self.own_ids);
        let id = *self.rng.pick(&ids);
        self.own_ids = ids;
        id
    }

    fn new_lead(&mut self, work: &Workload) -> CreateOpportunity {
        self.created += 1;
        let rng = &mut self.rng;
        let (treatment, category) = data::treatment(rng);
        let source = *rng.weighted(&data::SOURCES);
        let name = data::person(rng);
        let m = &work.manifest;
        CreateOpportunity {
            title: Some(data::title(rng, Some(source), treatment, &name)),
            prospect_email: Some(format!("new{}-{}-{:x}@example.org", self.index, self.created, rng.next_u64() & 0xffff_ffff)),
            prospect_phone: Some(data::phone(rng)),
            description: Some(data::description(rng, treatment)),
            estimated_value: Some(Money::from_cents(data::value_cents(rng))),
            source: Some(source.to_owned()),
            category_id: m.category_ids.get(category).copied(),
            assigned_to: Some(*rng.pick(&m.staff_ids)),
            follow_up_date: Timestamp::from_unix_micros(Timestamp::now().unix_micros() + rng.range(1, 14) * 86_400_000_000),
            prospect_name: Some(name),
            ..Default::default()
        }
    }

    /// A new value and follow-up date: fields every stage accepts (a won or lost lead refuses
    /// another probability), both of which the maintained totals follow.
    fn change(&mut self) -> (i64, Option<Timestamp>) {
        let follow_up = Timestamp::from_unix_micros(Timestamp::now().unix_micros() + self.rng.range(1, 30) * 86_400_000_000);
        (data::value_cents(&mut self.rng), follow_up)
    }

    fn note_text(&mut self) -> String {
        let (treatment, _) = data::treatment(&mut self.rng);
        data::note_text(&mut self.rng, treatment)
    }

    async fn http(&mut self, op: Scenario, auth: &str, work: &Workload) -> Outcome {
        let path = match op {
            Scenario::Healthz => "/healthz".to_owned(),
            Scenario::Get => format!("/api/v1/opportunities/{}", self.random_id(work)),
            Scenario::StatusPage => "/api/v1/opportunities?status=qualified&limit=20".to_owned(),
            Scenario::SearchCommon => format!("/api/v1/opportunities?search={}&limit=20", data::encode(&work.manifest.common_search)),
            Scenario::SearchRare => work.rare_query.clone(),
            Scenario::Stats => "/api/v1/opportunities/stats".to_owned(),
            Scenario::Funnel => format!("/api/v1/reports/funnel?{}", report_window()),
            Scenario::ResponseTimes => format!("/api/v1/reports/response-times?{}", report_window()),
            Scenario::LostReasons => format!("/api/v1/reports/lost-reasons?{}", report_window()),
            Scenario::Agenda => format!("/api/v1/agenda?staff_id=all&days={AGENDA_DAYS}"),
            Scenario::Create => "/api/v1/opportunities".to_owned(),
            Scenario::Note => format!("/api/v1/opportunities/{}/notes", self.random_id(work)),
            Scenario::Update => return self.http_update(auth).await,
            Scenario::Mixed | Scenario::Hangup => unreachable!("mixed and hangup pick one of the others"),
        };
        let (method, body) = match op {
            Scenario::Create => {
                let lead = self.new_lead(work);
                (Method::POST, Some(lead_json(&lead)))
            }
            Scenario::Note => (Method::POST, Some(json!({ "content": self.note_text() }))),
            _ => (Method::GET, None),
        };
        let auth = (op != Scenario::Healthz).then_some(auth);
        let http = self.http.as_mut().expect("an HTTP connection");
        let request = http.request(method, &path, auth, body.as_ref());
        let (latency, result) = http.send(request).await;
        (latency, check(result).map(drop))
    }

    /// GET once per id (untimed) for its ETag, then PATCH with If-Match, chaining the ETags.
    async fn http_update(&mut self, auth: &str) -> Outcome {
        let id = self.own_id();
        let path = format!("/api/v1/opportunities/{id}");
        let (cents, follow_up) = self.change();
        let http = self.http.as_mut().expect("an HTTP connection");
        let version = match self.versions.get(&id) {
            Some(version) => *version,
            None => {
                let (_, result) = http.send(http.request(Method::GET, &path, Some(auth), None)).await;
                match check(result) {
                    Ok(version) => version.unwrap_or(1),
                    Err(failure) => return (Duration::ZERO, Err(failure)),
                }
            }
        };
        let body = json!({ "estimated_value": Money::from_cents(cents), "follow_up_date": follow_up });
        let mut request = http.request(Method::PATCH, &path, Some(auth), Some(&body));
        request.headers_mut().insert(IF_MATCH, format!("\"{version}\"").parse().expect("a valid header"));
        let (latency, result) = http.send(request).await;
        match check(result) {
            Ok(Some(new_version)) => {
                self.versions.insert(id, new_version);
                (latency, Ok(()))
            }
            Ok(None) => {
                self.versions.remove(&id);
                (latency, Ok(()))
            }
            Err(failure) => {
                self.versions.remove(&id);
                (latency, Err(failure))
            }
        }
    }

    async fn direct(&mut self, op: Scenario, store: &dyn Store, actor: &Actor, work: &Workload) -> Outcome {
        let started = Instant::now();
        let result = match op {
            Scenario::Healthz => store.ping().await.map(drop),
            Scenario::Get => {
                let id = self.random_id(work);
                service::opportunity(store, actor, id).await.map(drop)
            }
            Scenario::StatusPage | Scenario::SearchCommon | Scenario::SearchRare => {
                let filter = &work.filters[op.name()];
                store.opportunities(actor.org_id, filter).await.map(drop)
            }
            Scenario::Stats => {
                let totals = service::stats(store, actor.org_id, &StatsFilter::default(), Timestamp::now()).await;
                totals.map(|t| drop(PipelineStats::from_totals(&t)))
            }
            Scenario::Funnel | Scenario::ResponseTimes | Scenario::LostReasons => {
                let query = report_query();
                match op {
                    Scenario::Funnel => service::funnel_report(store, actor, &query).await.map(drop),
                    Scenario::ResponseTimes => service::response_times_report(store, actor, &query).await.map(drop),
                    _ => service::lost_reasons_report(store, actor, &query).await.map(drop),
                }
            }
            Scenario::Agenda => {
                let query = AgendaQuery { whose: Whose::All, days: AGENDA_DAYS };
                service::agenda(store, actor, query, Timestamp::now()).await.map(drop)
            }
            Scenario::Create => {
                let lead = self.new_lead(work);
                let started = Instant::now();
                let result = service::create_opportunity(store, actor, Input::readable(lead)).await.map(drop);
                return (started.elapsed(), result.map_err(failure));
            }
            Scenario::Note => {
                let id = self.random_id(work);
                let input = CreateNote { content: Some(self.note_text()) };
                let started = Instant::now();
                let result = service::add_note(store, actor, id, Input::readable(input)).await.map(drop);
                return (started.elapsed(), result.map_err(failure));
            }
            Scenario::Update => {
                let id = self.own_id();
                let version = match self.versions.get(&id) {
                    Some(version) => *version,
                    None => match store.opportunity_view(actor.org_id, id).await {
                        Ok(Some(view)) => view.opportunity.version,
                        Ok(None) => return (Duration::ZERO, Err(Failure::Status(404))),
                        Err(error) => return (Duration::ZERO, Err(failure(error))),
                    },
                };
                let (cents, follow_up) = self.change();
                let input = UpdateOpportunity {
                    estimated_value: Patch::Value(Money::from_cents(cents)),
                    follow_up_date: follow_up.map_or(Patch::Null, Patch::Value),
                    ..Default::default()
                };
                let started = Instant::now();
                let result = service::update_opportunity(store, actor, id, Some(version), Input::readable(input)).await;
                let latency = started.elapsed();
                return match result {
                    Ok(view) => {
                        self.versions.insert(id, view.opportunity.version);
                        (latency, Ok(()))
                    }
                    Err(error) => {
                        self.versions.remove(&id);
                        (latency, Err(failure(error)))
                    }
                };
            }
            Scenario::Mixed | Scenario::Hangup => unreachable!("mixed and hangup pick one of the others"),
        };
        (started.elapsed(), result.map_err(failure))
    }
}

/// A 2xx with its ETag version, or why not.
fn check(result: Result<(u16, Option<i64>, Bytes), String>) -> Result<Option<i64>, Failure> {
    match result {
        Ok((status, version, _)) if (200..300).contains(&status) => Ok(version),
        Ok((status, _, _)) => Err(Failure::Status(status)),
        Err(message) => Err(Failure::Transport(message)),
    }
}

/// The status the API would answer for a store error.
fn failure(error: domain::Error) -> Failure {
    use domain::Error as E;
    Failure::Status(match error {
        E::NotFound(_) => 404,
        E::InvalidParameter { .. } => 400,
        E::Validation(_) => 422,
        E::Duplicate { .. } | E::Conflict(_) | E::Contention | E::AlreadyClosed { .. } | E::AlreadyConverted { .. } => 409,
        E::PreconditionFailed { .. } => 412,
        E::Forbidden(_) => 403,
        E::TookTooLong | E::DatabaseUnavailable(_) => 503,
        E::Internal(error) => {
            eprintln!("store error: {error}");
            500
        }
    })
}

fn lead_json(lead: &CreateOpportunity) -> Value {
    json!({
        "title": lead.title,
        "prospect_name": lead.prospect_name,
        "prospect_email": lead.prospect_email,
        "prospect_phone": lead.prospect_phone,
        "description": lead.description,
        "estimated_value": lead.estimated_value,
        "source": lead.source,
        "category_id": lead.category_id,
        "assigned_to": lead.assigned_to,
        "follow_up_date": lead.follow_up_date,
    })
}

// ---- a whole run ------------------------------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct ScenarioReport {
    pub name: String,
    pub http: Stat,
    /// The same operation on the store in-process (no HTTP), when the database was given.
    pub store: Option<Stat>,
    /// The engine alone, through its own driver (see [`crate::floor`]), where it has a floor.
    pub floor: Option<Stat>,
    /// HTTP requests/s ÷ healthz requests/s: the share of bare HTTP throughput reached.
    pub vs_healthz: Option<f64>,
    /// HTTP requests/s ÷ store-direct requests/s: the share of storage throughput HTTP keeps.
    pub vs_store: Option<f64>,
    /// HTTP requests/s ÷ floor requests/s: the share of what the engine can do that the
    /// service delivers.
    pub vs_floor: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub tool: &'static str,
    pub started_at: String,
    pub url: String,
    pub backend: String,
    /// The measured organization's opportunities as seeded (the chart's x axis).
    pub opportunities: u64,
    /// What `GET /opportunities/stats` counted before the first scenario.
    pub opportunities_at_start: Option<i64>,
    pub connections: usize,
    pub seconds: f64,
    pub warmup_seconds: f64,
    pub update_method: &'static str,
    /// `healthz` first: the floor every other scenario is compared with.
    pub scenarios: Vec<ScenarioReport>,
}

impl Report {
    pub fn server_errors(&self) -> u64 {
        self.stats().map(Stat::server_errors).sum()
    }

    pub fn errors(&self) -> u64 {
        self.stats().map(|stat| stat.errors).sum()
    }

    /// Every measurement: over HTTP, on the store and on the floor.
    fn stats(&self) -> impl Iterator<Item = &Stat> {
        self.scenarios.iter().flat_map(|s| std::iter::once(&s.http).chain(&s.store).chain(&s.floor))
    }

    pub fn markdown(&self) -> String {
        let mut out = format!(
            "{} opportunities on {} ({} at start), {} connections, {} s per scenario after {} s warm-up\n\n",
            self.opportunities,
            self.backend,
            self.opportunities_at_start.map_or("?".into(), |n| n.to_string()),
            self.connections,
            self.seconds,
            self.warmup_seconds
        );
        out.push_str(
            "| scenario | req/s | p50 ms | p95 ms | p99 ms | errors | store req/s | store p95 ms | floor req/s | floor p95 ms | ÷ healthz | ÷ store | ÷ floor |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for s in &self.scenarios {
            let errors = if s.http.errors == 0 {
                "0".to_owned()
            } else {
                let detail: Vec<String> = s.http.error_statuses.iter().map(|(k, n)| format!("{n}×{k}")).collect();
                detail.join(" ")
            };
            out.push_str(&format!(
                "| {} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} |\n",
                s.name,
                s.http.rps,
                s.http.p50_ms,
                s.http.p95_ms,
                s.http.p99_ms,
                errors,
                throughput(s.store.as_ref()),
                throughput(s.floor.as_ref()),
                show_ratio(s.vs_healthz),
                show_ratio(s.vs_store),
                show_ratio(s.vs_floor),
            ));
        }
        for s in &self.scenarios {
            if let Some(opened) = s.http.connections_opened.filter(|n| *n != self.connections as u64) {
                out.push_str(&format!(
                    "\nnote: {} opened {opened} TCP connections, not {}: the server closed or refused some\n",
                    s.name, self.connections
                ));
            }
        }
        out
    }
}

/// A store or floor measurement's req/s and p95 columns (with its errors), or dashes.
fn throughput(stat: Option<&Stat>) -> String {
    match stat {
        Some(stat) => {
            let errors = if stat.errors > 0 { format!(" ({} err)", stat.errors) } else { String::new() };
            format!("{:.0}{errors} | {:.2}", stat.rps, stat.p95_ms)
        }
        None => "— | —".into(),
    }
}

/// The `agenda` scenario's `days`: the route's default.
const AGENDA_DAYS: i64 = 7;

/// a ÷ b to three significant digits (two decimals at least).
/// The reports' window: the last 90 days, today included (the seeded organizations count their
/// days in UTC).
fn report_query() -> ReportQuery {
    let today = TimeZone::utc().day_of(Timestamp::now());
    let from = Day::from_number(today.number() - 89);
    ReportQuery { from, to: today, assigned_to: None, category_id: None, source: None }
}

fn report_window() -> String {
    let query = report_query();
    let date = |day: Day| day.date().map(|date| date.to_string()).unwrap_or_default();
    format!("from={}&to={}", date(query.from), date(query.to))
}

pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b > 0.0).then(|| {
        let r = a / b;
        let scale = 10f64.powi(ratio_decimals(r) as i32);
        (r * scale).round() / scale
    })
}

fn ratio_decimals(r: f64) -> usize {
    if r >= 0.1 || r <= 0.0 { 2 } else { (2 - r.log10().floor() as i32).clamp(2, 8) as usize }
}

fn show_ratio(r: Option<f64>) -> String {
    r.map_or("—".into(), |r| format!("{r:.*}", ratio_decimals(r)))
}

/// The server's database, for the measurements beside HTTP: the store in-process, the floor.
pub struct Beside {
    pub database: String,
    pub store: Arc<dyn Store>,
    pub actor: Actor,
}

impl Beside {
    /// `store` (on `database`), acting as the owner whose token the manifest holds.
    pub async fn new(database: &str, store: Arc<dyn Store>, token: &str) -> Result<Beside, String> {
        let actor = store
            .authenticate(&store::tokens::hash(token))
            .await
            .map_err(|error| error.describe())?
            .ok_or("the manifest's token is unknown in the database: is it the database the server uses?")?;
        Ok(Beside { database: database.to_owned(), store, actor })
    }
}

/// Runs every scenario over HTTP (and on the store and its floor when `beside` is given),
/// healthz first.
pub async fn run_all(
    url: &str,
    work: Arc<Workload>,
    scenarios: &[Scenario],
    settings: &Settings,
    beside: Option<Beside>,
    verbose: bool,
) -> Result<Report, String> {
    let base = url.trim_end_matches('/').to_owned();
    let authority = base
        .strip_prefix("http://")
        .filter(|rest| !rest.contains('/'))
        .ok_or_else(|| format!("--url must be http://HOST:PORT (plain HTTP, no path), not {url}"))?
        .to_owned();
    let auth = format!("Bearer {}", work.manifest.token);
    let opportunities_at_start = preflight(&authority, &auth).await?;
    let http = Driver::Http { authority, auth };
    let mut list = vec![Scenario::Healthz];
    list.extend(scenarios.iter().copied().filter(|s| *s != Scenario::Healthz));
    let mut reports: Vec<ScenarioReport> = Vec::new();
    for scenario in list {
        if verbose {
            eprintln!("{} over HTTP…", scenario.name());
        }
        let http_stat = measure(scenario, &http, &work, settings).await?;
        let (mut store_stat, mut floor_stat) = (None, None);
        if let Some(beside) = beside.as_ref().filter(|_| scenario != Scenario::Healthz) {
            if verbose {
                eprintln!("{} on the store…", scenario.name());
            }
            let direct = Driver::Direct { store: beside.store.clone(), actor: beside.actor.clone() };
            store_stat = Some(measure(scenario, &direct, &work, settings).await?);
            if floor::covers(scenario) {
                if verbose {
                    eprintln!("{} on the floor…", scenario.name());
                }
                floor_stat = Some(floor::measure(scenario, &beside.database, &work, settings).await?);
            }
        }
        let healthz_rps = reports.first().map_or(http_stat.rps, |h| h.http.rps);
        reports.push(ScenarioReport {
            name: scenario.name().to_owned(),
            vs_healthz: ratio(http_stat.rps, healthz_rps),
            vs_store: store_stat.as_ref().and_then(|st| ratio(http_stat.rps, st.rps)),
            vs_floor: floor_stat.as_ref().and_then(|st| ratio(http_stat.rps, st.rps)),
            http: http_stat,
            store: store_stat,
            floor: floor_stat,
        });
    }
    Ok(Report {
        tool: "opportunities-bench",
        started_at: Timestamp::now().to_string(),
        url: base,
        backend: work.manifest.backend.clone(),
        opportunities: work.manifest.opportunities,
        opportunities_at_start,
        connections: settings.connections,
        seconds: settings.duration.as_secs_f64(),
        warmup_seconds: settings.warmup.as_secs_f64(),
        update_method: UPDATE_METHOD,
        scenarios: reports,
    })
}

/// Checks the server answers and accepts the token; returns the organization's total.
async fn preflight(authority: &str, auth: &str) -> Result<Option<i64>, String> {
    let mut http = HttpConn::new(authority);
    let (_, health) = http.send(http.request(Method::GET, "/healthz", None, None)).await;
    match health {
        Ok((200, _, _)) => {}
        Ok((status, _, _)) => return Err(format!("http://{authority}/healthz answered {status}")),
        Err(error) => return Err(format!("cannot reach http://{authority}: {error}")),
    }
    let (_, stats) = http.send(http.request(Method::GET, "/api/v1/opportunities/stats", Some(auth), None)).await;
    let (status, _, body) = stats?;
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    if status != 200 {
        return Err(format!(
            "GET /api/v1/opportunities/stats answered {status} with the manifest's token: is the server running on the seeded database? {body}"
        ));
    }
    Ok(body["data"]["total"].as_i64())
}
