//! Database outages, seen from outside. While the database cannot be reached or written,
//! requests that need it are answered 503 `database_unavailable` with `Retry-After` within the
//! acquire timeout, never 500 and never a hang; `/healthz` stays 200. Once the database is back,
//! the service recovers without a restart, every write it acknowledged is there, and no request
//! is half-applied.
//!
//! PostgreSQL: a throwaway cluster the test starts, stops with `pg_ctl -m immediate` (a crash:
//! sessions are cut mid-statement) under concurrent load, and starts again; `/readyz` must say
//! 503 within a second meanwhile. SQLite: the database on a small file system of its own (a
//! tmpfs in a mount namespace of the server's) that the test fills up, a real "disk full";
//! writes must fail with 503 and a log line saying so while reads go on.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BINARY, Server, serve_command};
use serde_json::{Value, json};
use tokio::process::Command;
use tokio::task::JoinSet;

const TOKEN: &str = "opp_outage_test_owner_token";
/// The server's acquire timeout in these tests: how long a request may wait for the database.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(2_000);
/// What a request may take beyond the acquire timeout on a loaded test machine.
const MARGIN: Duration = Duration::from_millis(1_000);
/// `/readyz` and `/healthz` answer within this, whatever the database does.
const PROBE_BOUND: Duration = Duration::from_secs(1);

fn http() -> reqwest::Client {
    // Far above any bound asserted here: a request that hangs shows up as a failed request.
    // Redirects are answers here (a page without a live session redirects to sign-in).
    let client = reqwest::Client::builder().timeout(Duration::from_secs(15)).redirect(reqwest::redirect::Policy::none());
    client.build().expect("an HTTP client")
}

/// What one request got.
#[derive(Debug, Clone)]
struct Sample {
    kind: Kind,
    started: Instant,
    took: Duration,
    /// `None` when the server did not answer (refused, reset, timed out).
    status: Option<u16>,
    /// For a 503: its error code ("a page" for a web page) and whether it carried `Retry-After`.
    refusal: Option<(String, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Create,
    Read,
    /// A web page for a signed-in staff member, with a session the database must look up.
    Page,
    Ready,
    Health,
}

/// Sends a request and records what came back; a created lead's id and title go to `acked`.
async fn sample(kind: Kind, request: reqwest::RequestBuilder) -> (Sample, Option<Value>) {
    let started = Instant::now();
    let (status, refusal, body) = match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let retry_after = response.headers().contains_key("retry-after");
            let body: Option<Value> = response.json().await.ok();
            let refusal = (status == 503).then(|| {
                // A page's refusal is HTML, not the API's envelope.
                let code = body.as_ref().map_or(Some("a page"), |body| body["error"]["code"].as_str()).unwrap_or("no envelope");
                (code.to_owned(), retry_after)
            });
            (Some(status), refusal, body)
        }
        Err(_) => (None, None, None),
    };
    (Sample { kind, started, took: started.elapsed(), status, refusal }, body)
}

fn create(http: &reqwest::Client, base: &str, title: &str) -> reqwest::RequestBuilder {
    http.post(format!("{base}/api/v1/opportunities")).bearer_auth(TOKEN).json(&json!({"title": title, "prospect_name": title}))
}

/// The record of a run: every request's sample, and the leads acknowledged by a 201.
#[derive(Default)]
struct Record {
    samples: Vec<Sample>,
    acked: Vec<(String, String)>,
}

type Shared = Arc<Mutex<Record>>;

fn keep(record: &Shared, sample: Sample, created: Option<(String, String)>) {
    let mut record = record.lock().unwrap();
    record.samples.push(sample);
    record.acked.extend(created);
}

/// Creates leads one after another until `until` passes.
async fn writer(http: reqwest::Client, base: String, writer: usize, record: Shared, until: Arc<Mutex<Option<Instant>>>) {
    for n in 0.. {
        if until.lock().unwrap().is_some_and(|until| Instant::now() >= until) {
            return;
        }
        let title = format!("Outage lead w{writer}-n{n}");
        let (sample, body) = sample(Kind::Create, create(&http, &base, &title)).await;
        let created = (sample.status == Some(201)).then(|| {
            let id = body.as_ref().and_then(|body| body["data"]["id"].as_str()).expect("a created lead's id");
            (id.to_owned(), title)
        });
        keep(&record, sample, created);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Sends the same GET every `pause` until `until` passes.
async fn poller(
    kind: Kind,
    request: impl Fn() -> reqwest::RequestBuilder,
    pause: Duration,
    record: Shared,
    until: Arc<Mutex<Option<Instant>>>,
) {
    loop {
        if until.lock().unwrap().is_some_and(|until| Instant::now() >= until) {
            return;
        }
        let (sample, _) = sample(kind, request()).await;
        keep(&record, sample, None);
        tokio::time::sleep(pause).await;
    }
}

/// A throwaway PostgreSQL cluster in a temporary directory, on a free port.
struct Cluster {
    bin: PathBuf,
    data: tempfile::TempDir,
    port: u16,
    /// The user and group the server runs as when the test runs as root (PostgreSQL refuses root).
    owner: Option<(u32, u32)>,
}

impl Cluster {
    async fn create() -> Cluster {
        let bin = postgres_bin();
        let data = tempfile::tempdir().expect("a temporary directory");
        let owner = if id(&["-u"]).await == 0 { Some((id(&["-u", "postgres"]).await, id(&["-g", "postgres"]).await)) } else { None };
        if let Some((uid, gid)) = owner {
            std::os::unix::fs::chown(data.path(), Some(uid), Some(gid)).expect("give the cluster's directory to postgres");
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().unwrap().port();
        let cluster = Cluster { bin, data, port, owner };
        let pgdata = cluster.pgdata();
        cluster.run("initdb", &["-D", &pgdata, "-A", "trust", "-U", "postgres"]).await;
        cluster
    }

    fn pgdata(&self) -> String {
        self.data.path().join("pgdata").display().to_string()
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    async fn start(&self) {
        let (pgdata, log) = (self.pgdata(), self.data.path().join("server.log").display().to_string());
        // fsync=off: what is tested is the server process dying, after which the kernel still
        // holds everything written; a power cut is not.
        let options = format!("-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off", self.port, self.data.path().display());
        self.run("pg_ctl", &["-D", &pgdata, "-l", &log, "-o", &options, "-w", "-t", "60", "start"]).await;
    }

    /// `-m immediate`: every server process quits at once, without a checkpoint, cutting the
    /// sessions mid-statement; the next start recovers from the log, as after a crash.
    async fn stop_immediately(&self) {
        self.run("pg_ctl", &["-D", &self.pgdata(), "-m", "immediate", "-w", "stop"]).await;
    }

    async fn run(&self, program: &str, args: &[&str]) {
        let mut command = Command::new(self.bin.join(program));
        command.args(args).current_dir(self.data.path());
        if let Some((uid, gid)) = self.owner {
            command.uid(uid).gid(gid);
        }
        let output = command.output().await.unwrap_or_else(|error| panic!("run {program}: {error}"));
        assert!(
            output.status.success(),
            "{program} {args:?} failed: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let mut command = std::process::Command::new(self.bin.join("pg_ctl"));
        command
            .args(["-D", &self.pgdata(), "-m", "immediate", "stop"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        if let Some((uid, gid)) = self.owner {
            std::os::unix::process::CommandExt::uid(&mut command, uid);
            std::os::unix::process::CommandExt::gid(&mut command, gid);
        }
        let _ = command.status();
    }
}

/// The newest PostgreSQL server binaries of Debian's layout, or a failure that says what is
/// missing: the test was asked to run, and passing without running would be a lie.
fn postgres_bin() -> PathBuf {
    let installed = std::fs::read_dir("/usr/lib/postgresql").into_iter().flatten().flatten().map(|entry| entry.path().join("bin"));
    let mut found: Vec<PathBuf> = installed.filter(|bin| bin.join("initdb").exists() && bin.join("pg_ctl").exists()).collect();
    found.sort_by_key(|bin| bin.parent().and_then(|version| version.file_name()?.to_str()?.parse::<u32>().ok()));
    found.pop().unwrap_or_else(|| {
        panic!("this test starts a PostgreSQL cluster of its own and needs initdb and pg_ctl under /usr/lib/postgresql/VERSION/bin (apt-get install postgresql)")
    })
}

/// A number `id` prints, such as the current user's id.
async fn id(args: &[&str]) -> u32 {
    let output = Command::new("id").args(args).output().await.expect("run id");
    assert!(output.status.success(), "id {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8_lossy(&output.stdout).trim().parse().expect("id prints a number")
}

/// The moments that divide a run into phases.
struct Timeline {
    stop_begun: Instant,
    stopped: Instant,
    start_begun: Instant,
    started: Instant,
}

const PHASES: [&str; 5] = ["before", "stopping", "down", "starting", "after"];

impl Timeline {
    /// The phase a request belongs to by when it was sent.
    fn phase(&self, sent: Instant) -> &'static str {
        let index = [self.stop_begun, self.stopped, self.start_begun, self.started].iter().filter(|&&moment| sent >= moment).count();
        PHASES[index]
    }
}

/// Counts per phase and kind, each as "status×count", with the slowest answer.
fn report(samples: &[Sample], timeline: &Timeline) -> String {
    let mut counts: BTreeMap<(usize, Kind), (BTreeMap<String, usize>, Duration)> = BTreeMap::new();
    for sample in samples {
        let phase = PHASES.iter().position(|&phase| phase == timeline.phase(sample.started)).unwrap();
        let (statuses, slowest) = counts.entry((phase, sample.kind)).or_default();
        *statuses.entry(sample.status.map_or("no answer".into(), |status| status.to_string())).or_default() += 1;
        *slowest = (*slowest).max(sample.took);
    }
    let mut lines = vec![format!("{:<9} {:<9} statuses (count), slowest", "phase", "request")];
    for ((phase, kind), (statuses, slowest)) in counts {
        let statuses: Vec<String> = statuses.iter().map(|(status, count)| format!("{status}×{count}")).collect();
        lines.push(format!("{:<9} {:<9} {}, {} ms", PHASES[phase], format!("{kind:?}"), statuses.join(" "), slowest.as_millis()));
    }
    lines.join("\n")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL's server binaries: scripts/test.sh runs it when it finds PostgreSQL"]
async fn a_postgres_restart_under_load_is_answered_503_and_loses_no_acknowledged_write() {
    let cluster = Cluster::create().await;
    cluster.start().await;
    let acquire = ACQUIRE_TIMEOUT.as_millis().to_string();
    let mut server = Server::start_with(&cluster.url(), Some(TOKEN), &["--acquire-timeout-ms", &acquire]).await;
    let bootstrap = server.next_line().await;
    assert_eq!(bootstrap["token"], TOKEN, "{bootstrap}");
    let base = server.base_url().await;
    let http = http();

    let record = Shared::default();
    let until = Arc::new(Mutex::new(None));
    let mut load = JoinSet::new();
    for w in 0..6 {
        load.spawn(writer(http.clone(), base.clone(), w, record.clone(), until.clone()));
    }
    let pollers: [(Kind, String, Duration); 5] = [
        (Kind::Read, format!("{base}/api/v1/opportunities?limit=5"), Duration::from_millis(10)),
        (Kind::Read, format!("{base}/api/v1/opportunities/stats"), Duration::from_millis(10)),
        (Kind::Page, format!("{base}/board"), Duration::from_millis(50)),
        (Kind::Ready, format!("{base}/readyz"), Duration::from_millis(100)),
        (Kind::Health, format!("{base}/healthz"), Duration::from_millis(100)),
    ];
    for (kind, url, pause) in pollers {
        let http = http.clone();
        let request = move || http.get(&url).bearer_auth(TOKEN).header("cookie", "opp_session=not-a-live-session");
        load.spawn(poller(kind, request, pause, record.clone(), until.clone()));
    }

    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let stop_begun = Instant::now();
    cluster.stop_immediately().await;
    let stopped = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let start_begun = Instant::now();
    cluster.start().await;
    let started = Instant::now();
    let timeline = Timeline { stop_begun, stopped, start_begun, started };

    // Load goes on until a write sent after the restart is acknowledged, and a while longer.
    let recovered = loop {
        let first = record
            .lock()
            .unwrap()
            .samples
            .iter()
            .filter(|s| s.kind == Kind::Create && s.status == Some(201) && s.started >= started)
            .map(|s| s.started + s.took)
            .min();
        if let Some(first) = first {
            break first;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "no write acknowledged within 30 s of the restart");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    *until.lock().unwrap() = Some(Instant::now() + Duration::from_millis(1_500));
    load.join_all().await;

    let record = Arc::into_inner(record).unwrap().into_inner().unwrap();
    let first_ready = record
        .samples
        .iter()
        .filter(|s| s.kind == Kind::Ready && s.status == Some(200) && s.started >= started)
        .map(|s| s.started + s.took)
        .min();
    eprintln!(
        "PostgreSQL stopped with -m immediate for {} ms under load (acquire timeout {} ms); pg_ctl start took {} ms; \
         first acknowledged write {} ms and /readyz 200 {} ms after it returned; {} writes acknowledged\n{}",
        (start_begun - stopped).as_millis(),
        ACQUIRE_TIMEOUT.as_millis(),
        (started - start_begun).as_millis(),
        recovered.saturating_duration_since(started).as_millis(),
        first_ready.map_or("(never)".into(), |ready| ready.saturating_duration_since(started).as_millis().to_string()),
        record.acked.len(),
        report(&record.samples, &timeline),
    );
    check_outage_answers(&record.samples, &timeline);
    check_everything_acknowledged_is_whole(&http, &base, &record.acked).await;
    server.terminate().await;
}

/// What the service must answer around an outage, request by request.
fn check_outage_answers(samples: &[Sample], timeline: &Timeline) {
    for sample in samples {
        let phase = timeline.phase(sample.started);
        let status = sample.status.unwrap_or_else(|| panic!("the server always answers: {sample:?} ({phase})"));
        assert!(sample.took <= ACQUIRE_TIMEOUT + MARGIN, "answered within the acquire timeout: {sample:?} ({phase})");
        if let Some((code, retry_after)) = &sample.refusal {
            let expected = match sample.kind {
                Kind::Ready => "not_ready",
                Kind::Page => "a page",
                _ => "database_unavailable",
            };
            assert_eq!(code, expected, "{sample:?} ({phase})");
            assert!(retry_after, "a 503 says when to retry: {sample:?} ({phase})");
        }
        let (healthy, refused) = match sample.kind {
            Kind::Create => (201, 503),
            Kind::Read | Kind::Ready => (200, 503),
            Kind::Page => (303, 503),
            Kind::Health => (200, 200),
        };
        assert!(status == healthy || status == refused, "only {healthy} or {refused}, never a 500: {sample:?} ({phase})");
        // A request in flight when the server died, or waiting when it came back, may go either way.
        let answered = sample.started + sample.took;
        if answered < timeline.stop_begun {
            assert_eq!(status, healthy, "before the outage: {sample:?}");
        }
        if sample.started >= timeline.stopped && answered < timeline.start_begun {
            assert_eq!(status, refused, "while the database is down: {sample:?}");
        }
        if matches!(sample.kind, Kind::Ready | Kind::Health) {
            assert!(sample.took < PROBE_BOUND, "{:?} answers within {PROBE_BOUND:?}: {sample:?} ({phase})", sample.kind);
        }
    }
    for kind in [Kind::Create, Kind::Read, Kind::Page, Kind::Ready] {
        let refused = samples.iter().filter(|s| s.kind == kind && timeline.phase(s.started) == "down" && s.status == Some(503)).count();
        assert!(refused > 0, "{kind:?} was refused while the database was down");
    }
    let mut last: Vec<&Sample> = samples.iter().filter(|s| s.kind == Kind::Create).collect();
    last.sort_by_key(|s| s.started);
    assert_eq!(last.last().and_then(|s| s.status), Some(201), "writes succeed again after the restart, without restarting the service");
}

/// Every acknowledged lead is there with its title, and no lead is half-written (acknowledged
/// or not): each has its first stage in the history, and the totals the statistics read agree
/// with the leads that exist.
async fn check_everything_acknowledged_is_whole(http: &reqwest::Client, base: &str, acked: &[(String, String)]) {
    let acked: Arc<[(String, String)]> = acked.into();
    let mut leads = Vec::new();
    for offset in (0..).step_by(200) {
        let page = get(http, &format!("{base}/api/v1/opportunities?limit=200&offset={offset}")).await;
        let page: Vec<Value> = page["data"].as_array().expect("a list").clone();
        let done = page.len() < 200;
        leads.extend(page.into_iter().map(|lead| lead["id"].as_str().expect("an id").to_owned()));
        if done {
            break;
        }
    }
    let stats = get(http, &format!("{base}/api/v1/opportunities/stats")).await;
    assert_eq!(stats["data"]["total"], leads.len(), "the statistics count every lead that exists, and only those");
    let present: std::collections::BTreeSet<&String> = leads.iter().collect();
    for (id, title) in acked.iter() {
        assert!(present.contains(id), "acknowledged lead {id} ({title}) is listed");
    }
    let leads: Arc<[String]> = leads.into();
    let mut checkers = JoinSet::new();
    for c in 0..8 {
        let (http, base, acked, leads) = (http.clone(), base.to_owned(), acked.clone(), leads.clone());
        checkers.spawn(async move {
            for (id, title) in acked.iter().skip(c).step_by(8) {
                let lead = get(&http, &format!("{base}/api/v1/opportunities/{id}")).await;
                assert_eq!(lead["data"]["title"], title.as_str(), "acknowledged lead {id}");
            }
            for id in leads.iter().skip(c).step_by(8) {
                let history = get(&http, &format!("{base}/api/v1/opportunities/{id}/history")).await;
                assert_eq!(history["meta"]["total"], 1, "lead {id} was written whole, with its first stage: {history}");
            }
        });
    }
    checkers.join_all().await;
}

async fn get(http: &reqwest::Client, url: &str) -> Value {
    let response = http.get(url).bearer_auth(TOKEN).send().await.expect("the server answers");
    let status = response.status();
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(status, 200, "GET {url}: {body}");
    body
}

/// The file system the SQLite test's database lives on: small, so the test can fill it.
const TMPFS_SIZE: &str = "16m";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_full_disk_under_sqlite_fails_writes_with_503_and_keeps_reads() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mount = dir.path().join("disk");
    std::fs::create_dir(&mount).expect("a mount point");
    let log = tempfile::NamedTempFile::new().expect("a log file");
    let database = format!("sqlite://{}/outage.db", mount.display());
    // The server runs in a mount namespace of its own (unprivileged through a user namespace
    // where the kernel allows it) with a small tmpfs on `mount`: filling that fills its disk,
    // and the mount goes away with the process.
    let mut wrapper = Command::new("unshare");
    wrapper.args([
        "--user",
        "--map-root-user",
        "--mount",
        "sh",
        "-c",
        r#"mount -t tmpfs -o size="$1" tmpfs "$2" && shift 2 && exec "$@""#,
        "sh",
    ]);
    wrapper.args([TMPFS_SIZE, &mount.display().to_string(), BINARY]);
    let mut command = serve_command(wrapper, &database, Some(TOKEN), &["--acquire-timeout-ms", &ACQUIRE_TIMEOUT.as_millis().to_string()]);
    command.stderr(log.reopen().expect("the log file"));
    let mut server = Server::spawn(command);
    let bootstrap = server.next_line().await;
    assert_eq!(bootstrap["token"], TOKEN, "{bootstrap}");
    let base = server.base_url().await;
    let http = http();

    let mut acked = Vec::new();
    for n in 0..5 {
        let title = format!("Before the disk filled {n}");
        let (sample, body) = sample(Kind::Create, create(&http, &base, &title)).await;
        assert_eq!(sample.status, Some(201), "{body:?}");
        acked.push((body.unwrap()["data"]["id"].as_str().unwrap().to_owned(), title));
    }

    // The server's view of its disk, reached through its root directory in /proc.
    let pid = server.child.id().expect("running");
    let disk = PathBuf::from(format!("/proc/{pid}/root")).join(mount.strip_prefix("/").unwrap());
    let filler = fill(&disk);

    let mut writes = JoinSet::new();
    for n in 0..8 {
        let request = create(&http, &base, &format!("While the disk is full {n}"));
        writes.spawn(sample(Kind::Create, request));
    }
    for (sample, body) in writes.join_all().await {
        assert_eq!(sample.status, Some(503), "a write to a full disk: {body:?}");
        assert_eq!(sample.refusal, Some(("database_unavailable".to_owned(), true)), "{body:?}");
        assert!(sample.took <= ACQUIRE_TIMEOUT + MARGIN, "{sample:?}");
    }
    for (id, title) in &acked {
        let lead = get(&http, &format!("{base}/api/v1/opportunities/{id}")).await;
        assert_eq!(lead["data"]["title"], title.as_str(), "reads go on while the disk is full");
    }
    get(&http, &format!("{base}/api/v1/opportunities/stats")).await;
    // Ready: reads are served, and there is no other replica a balancer could prefer.
    get(&http, &format!("{base}/readyz")).await;
    get(&http, &format!("{base}/healthz")).await;

    std::fs::remove_file(&filler).expect("free the disk");
    let title = "After the disk was freed".to_owned();
    let (sample, body) = sample(Kind::Create, create(&http, &base, &title)).await;
    assert_eq!(sample.status, Some(201), "writes succeed again without a restart: {body:?}");
    acked.push((body.unwrap()["data"]["id"].as_str().unwrap().to_owned(), title));

    let list = get(&http, &format!("{base}/api/v1/opportunities?limit=200")).await;
    assert_eq!(list["meta"]["total"], acked.len(), "the refused writes left nothing behind: {list}");
    check_everything_acknowledged_is_whole(&http, &base, &acked).await;
    server.terminate().await;

    let log = std::fs::read_to_string(log.path()).expect("the server's log");
    let line = log.lines().find(|line| line.contains("database unavailable")).unwrap_or_else(|| panic!("a log line says why: {log}"));
    assert!(line.contains("database or disk is full"), "the log line names the cause: {line}");
}

/// Fills the file system under `disk` with one file, up to the last byte it takes.
fn fill(disk: &Path) -> PathBuf {
    use std::io::Write;
    let path = disk.join("filler");
    let mut file = std::fs::File::create(&path).expect("create the filler");
    let chunk = vec![0u8; 64 * 1024];
    let mut size = chunk.len();
    loop {
        match file.write(&chunk[..size]) {
            Ok(0) => break,
            Ok(_) => {}
            Err(error) if error.raw_os_error() == Some(28) && size > 1 => size /= 2, // ENOSPC
            Err(error) if error.raw_os_error() == Some(28) => break,
            Err(error) => panic!("fill the disk: {error}"),
        }
    }
    path
}
