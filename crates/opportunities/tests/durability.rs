//! Durability: every write the server acknowledged with 2xx survives `kill -9` at any moment.
//!
//! Concurrent writers create leads, move them to "contacted" and add notes while the server is
//! killed with SIGKILL at a varied moment, several rounds in a row, each time restarted on the
//! same database. Requests cut off by the kill are simply not acknowledged; everything that was
//! acknowledged must be there afterwards, and no status change may be half-written (status
//! without its status_change activity, or the reverse). One body, run on SQLite and PostgreSQL.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::Server;
use serde_json::{Value, json};
use tokio::task::JoinSet;

const TOKEN: &str = "opp_durability_test_owner_token";
const ROUNDS: usize = 6;
const WRITERS: usize = 8;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_writes_survive_kill_9_on_sqlite() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = format!("sqlite://{}/durable.db", dir.path().display());
    acknowledged_writes_survive_kill_9(&database).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
async fn acknowledged_writes_survive_kill_9_on_postgres() {
    let database = store::testing::fresh_postgres_schema("durability").await;
    acknowledged_writes_survive_kill_9(&database).await;
}

/// What the server acknowledged, per lead (keyed by id).
#[derive(Default)]
struct Acked {
    leads: BTreeMap<String, Lead>,
}

#[derive(Default, Clone)]
struct Lead {
    title: String,
    contacted: bool,
    notes: Vec<String>,
}

/// One request; `None` when it was not acknowledged (connection refused or reset, response
/// cut off by the kill). A complete answer that is not 2xx is a failure of the test.
async fn send(http: &reqwest::Client, method: reqwest::Method, url: &str, body: Value) -> Option<Value> {
    let response = http.request(method.clone(), url).bearer_auth(TOKEN).json(&body).send().await.ok()?;
    let status = response.status();
    let body: Value = response.json().await.ok()?;
    assert!(status.is_success(), "{method} {url} answered {status}: {body}");
    assert_eq!(body["success"], true, "{method} {url}: {body}");
    Some(body)
}

/// Create, then PATCH to contacted, then add a note, over and over, until the server is gone.
async fn writer(http: reqwest::Client, base: String, round: usize, writer: usize, acked: Arc<Mutex<Acked>>) -> usize {
    let mut acknowledged = 0;
    for n in 0.. {
        let tag = format!("r{round}-w{writer}-n{n}");
        let lead = json!({"title": format!("Lead {tag}"), "prospect_name": format!("Prospect {tag}")});
        let Some(created) = send(&http, reqwest::Method::POST, &format!("{base}/api/v1/opportunities"), lead).await else { break };
        let id = created["data"]["id"].as_str().expect("an id").to_owned();
        acked.lock().unwrap().leads.insert(id.clone(), Lead { title: format!("Lead {tag}"), ..Lead::default() });
        acknowledged += 1;

        let url = format!("{base}/api/v1/opportunities/{id}");
        if send(&http, reqwest::Method::PATCH, &url, json!({"status": "contacted"})).await.is_none() {
            break;
        }
        acked.lock().unwrap().leads.get_mut(&id).unwrap().contacted = true;
        acknowledged += 1;

        let content = format!("note {tag}");
        if send(&http, reqwest::Method::POST, &format!("{url}/notes"), json!({"content": content})).await.is_none() {
            break;
        }
        acked.lock().unwrap().leads.get_mut(&id).unwrap().notes.push(content);
        acknowledged += 1;
    }
    acknowledged
}

/// The port of a server just (re)started on an existing database: its first line must be the
/// listening line — a bootstrap line would mean the organization (and its token) was lost.
async fn restarted_base(server: &mut Server) -> String {
    let first = server.next_line().await;
    assert!(first.get("token").is_none(), "a restart on an existing database must not bootstrap again: {first}");
    format!("http://{}", first["listening"].as_str().expect("a listening line"))
}

async fn acknowledged_writes_survive_kill_9(database: &str) {
    let started = Instant::now();
    let backend = database.split(':').next().unwrap_or("?");
    let mut server = Server::start(database, Some(TOKEN)).await;
    let bootstrap = server.next_line().await;
    assert_eq!(bootstrap["token"], TOKEN, "first start bootstraps the owner: {bootstrap}");
    let mut base = server.base_url().await;
    let acked = Arc::new(Mutex::new(Acked::default()));
    let mut total_acknowledged = 0;

    for round in 0..ROUNDS {
        // A fresh client per server: nothing pooled from the killed one is reused.
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
        let mut writers = JoinSet::new();
        for w in 0..WRITERS {
            writers.spawn(writer(http.clone(), base.clone(), round, w, acked.clone()));
        }
        // Varied, deterministic kill moments between 150 and 600 ms after the round's first
        // acknowledged write (a loaded machine may take a while to answer the first one).
        let before = acked.lock().unwrap().leads.len();
        let started = tokio::time::Instant::now();
        while acked.lock().unwrap().leads.len() == before {
            assert!(started.elapsed() < Duration::from_secs(30), "round {round}: no write acknowledged within 30 s");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let delay = Duration::from_millis(150 + ((round * 277 + 91) % 451) as u64);
        tokio::time::sleep(delay).await;
        server.kill().await;
        let counts = tokio::time::timeout(Duration::from_secs(20), writers.join_all()).await.expect("writers stop once the server is gone");
        let acknowledged: usize = counts.iter().sum();
        assert!(acknowledged > 0, "round {round}: the writers got something done in {delay:?}");
        total_acknowledged += acknowledged;
        eprintln!("{backend} round {round}: killed after {delay:?}, {acknowledged} writes acknowledged");

        server = Server::start(database, None).await;
        base = restarted_base(&mut server).await;
    }

    // Every acknowledged write is there; no status change is half-written, acknowledged or not.
    let leads: Vec<(String, Lead)> = acked.lock().unwrap().leads.iter().map(|(id, lead)| (id.clone(), lead.clone())).collect();
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let leads = Arc::new(leads);
    let mut checkers = JoinSet::new();
    for c in 0..WRITERS {
        let (http, base, leads) = (http.clone(), base.clone(), leads.clone());
        checkers.spawn(async move {
            let mut checked = 0;
            for (id, lead) in leads.iter().skip(c).step_by(WRITERS) {
                let response =
                    http.get(format!("{base}/api/v1/opportunities/{id}")).bearer_auth(TOKEN).send().await.expect("the server answers");
                let status = response.status();
                let body: Value = response.json().await.expect("a JSON body");
                assert_eq!(status, 200, "acknowledged lead {id} ({}) is there: {body}", lead.title);
                let data = &body["data"];
                assert_eq!(data["title"], lead.title.as_str(), "lead {id}");
                let status_changes =
                    data["activities"].as_array().expect("activities").iter().filter(|a| a["activity_type"] == "status_change").count();
                let contacted = data["status"] == "contacted";
                if lead.contacted {
                    assert!(contacted, "acknowledged PATCH of {} kept: {data}", lead.title);
                } else {
                    assert!(contacted || data["status"] == "open", "{}: {data}", lead.title);
                }
                assert_eq!(
                    status_changes,
                    usize::from(contacted),
                    "{}: the status and its status_change activity go together: {data}",
                    lead.title
                );
                let notes: Vec<&str> = data["notes"].as_array().expect("notes").iter().map(|n| n["content"].as_str().unwrap()).collect();
                for note in &lead.notes {
                    assert_eq!(notes.iter().filter(|&&n| n == note).count(), 1, "acknowledged note {note:?} kept once: {data}");
                }
                assert!(notes.len() <= 1, "{}: at most the one note written: {data}", lead.title);
                checked += 1 + usize::from(lead.contacted) + lead.notes.len();
            }
            checked
        });
    }
    let checked: usize = checkers.join_all().await.iter().sum();
    assert_eq!(checked, total_acknowledged, "every acknowledged write was checked");
    eprintln!("{backend}: {total_acknowledged} acknowledged writes over {ROUNDS} kills, all there, in {:?}", started.elapsed());
    server.terminate().await;
}
