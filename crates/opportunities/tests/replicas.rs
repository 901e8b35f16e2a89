//! Three stateless replicas on one PostgreSQL database, started at the same moment, under
//! concurrent writes spread across all of them: every acknowledged write is there exactly
//! once, every replica reports the same statistics as a recount, and nothing answers 5xx.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use common::Server;
use serde_json::{Value, json};
use tokio::task::JoinSet;

const TOKEN: &str = "opp_replica_test_owner_token";
const LEADS: usize = 60;

struct Cluster {
    http: reqwest::Client,
    bases: Vec<String>,
}

impl Cluster {
    /// One call to replica `replica % 3`; no call may ever answer 5xx.
    async fn call(&self, replica: usize, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let base = &self.bases[replica % self.bases.len()];
        let mut request = self.http.request(method, format!("{base}/api/v1{path}")).bearer_auth(TOKEN);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the replica answers");
        let status = response.status().as_u16();
        let body: Value = response.json().await.expect("a JSON body");
        assert!(status < 500, "{method_path} answered {status}: {body}", method_path = path);
        (status, body)
    }

    async fn post(&self, replica: usize, path: &str, body: Value) -> Value {
        let (status, body) = self.call(replica, reqwest::Method::POST, path, Some(body)).await;
        assert!(status == 200 || status == 201, "{path}: {status} {body}");
        body
    }

    async fn get(&self, replica: usize, path: &str) -> Value {
        let (status, body) = self.call(replica, reqwest::Method::GET, path, None).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }
}

/// What a lead should look like once its writes are done.
struct Expected {
    status: &'static str,
    converted: bool,
    probability: i64,
}

fn plan(i: usize) -> Expected {
    let (status, converted) = match i % 4 {
        0 => ("won", false),
        1 => ("lost", false),
        2 => ("won", true),
        _ => ("contacted", false),
    };
    let probability = match status {
        "won" => 100,
        "lost" => 0,
        _ => (i % 90) as i64 + 5,
    };
    Expected { status, converted, probability }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
async fn three_replicas_on_one_database_lose_nothing() {
    let database = store::testing::fresh_postgres_schema("replicas").await;
    let mut servers: Vec<Server> = Vec::new();
    for _ in 0..3 {
        servers.push(Server::start(&database, Some(TOKEN)).await);
    }
    let (mut bases, mut bootstraps) = (Vec::new(), 0);
    for server in &mut servers {
        let first = server.next_line().await;
        if first.get("token").is_some() {
            bootstraps += 1;
            bases.push(server.base_url().await);
        } else {
            bases.push(format!("http://{}", first["listening"].as_str().expect("listening line")));
        }
    }
    assert_eq!(bootstraps, 1, "exactly one replica creates the first organization");
    let cluster = Arc::new(Cluster { http: reqwest::Client::new(), bases });

    let mut creates = JoinSet::new();
    for i in 0..LEADS {
        let cluster = cluster.clone();
        creates.spawn(async move {
            let body = json!({
                "title": format!("Lead {i}"), "prospect_name": format!("Prospect {i}"),
                "prospect_email": format!("lead{i}@example.com"), "source": if i % 2 == 0 { "website" } else { "referral" },
                "estimated_value": format!("{}.{:02}", (i + 1) * 1_050 / 100, (i + 1) * 1_050 % 100),
            });
            let created = cluster.post(i, "/opportunities", body).await;
            (i, created["data"]["id"].as_str().expect("an id").to_owned())
        });
    }
    let ids: BTreeMap<usize, String> = creates.join_all().await.into_iter().collect();
    assert_eq!(ids.len(), LEADS);

    // A retry that lands on another replica is answered from the first response.
    let mut replies = Vec::new();
    for replica in 0..3 {
        let request = cluster.http.post(format!("{}/api/v1/clients", cluster.bases[replica])).bearer_auth(TOKEN);
        let request = request.header("idempotency-key", "import-42").json(&json!({"name": "Imported Client"}));
        let response = request.send().await.expect("the replica answers");
        assert_eq!(response.status(), 201);
        replies.push(response.json::<Value>().await.expect("JSON"));
    }
    assert!(replies.iter().all(|reply| reply == &replies[0]), "one client, whichever replica the retry reached");

    let mut work = JoinSet::new();
    for (&i, id) in &ids {
        let (cluster, id) = (cluster.clone(), id.clone());
        work.spawn(async move {
            let expected = plan(i);
            let path = format!("/opportunities/{id}");
            let update = json!({"status": "contacted", "probability": (i % 90) + 5});
            let (status, body) = cluster.call(i + 1, reqwest::Method::PATCH, &path, Some(update)).await;
            assert_eq!(status, 200, "{body}");
            // Two notes at the same moment through two other replicas.
            let notes = format!("{path}/notes");
            tokio::join!(
                cluster.post(i + 2, &notes, json!({"content": "first call"})),
                cluster.post(i + 3, &notes, json!({"content": "second call"})),
            );
            if expected.converted {
                cluster.post(i, &format!("{path}/convert"), json!({})).await;
            }
            if expected.status != "contacted" {
                cluster.post(i + 1, &format!("{path}/close"), json!({"won": expected.status == "won"})).await;
            }
        });
    }
    work.join_all().await;

    let mut listed = Vec::new();
    for replica in 0..3 {
        let page = cluster.get(replica, "/opportunities?limit=200").await;
        assert_eq!(page["meta"]["total"], LEADS, "replica {replica}");
        let seen: Vec<String> = page["data"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(seen.len(), LEADS, "each lead listed exactly once");
        assert_eq!(seen.iter().collect::<BTreeSet<_>>(), ids.values().collect::<BTreeSet<_>>());
        listed = page["data"].as_array().unwrap().clone();
    }
    for (&i, id) in &ids {
        let expected = plan(i);
        let detail = cluster.get(i + 2, &format!("/opportunities/{id}")).await;
        let data = &detail["data"];
        assert_eq!(data["status"], expected.status, "lead {i}");
        assert_eq!(data["notes_count"], 2, "lead {i}: both notes kept");
        assert_eq!(data["client_id"].is_string(), expected.converted, "lead {i}");
        assert_eq!(data["probability"], expected.probability, "lead {i}");
    }
    let clients = cluster.get(0, "/clients?limit=200").await;
    assert_eq!(clients["meta"]["total"], 1 + ids.keys().filter(|&&i| plan(i).converted).count());

    let recount = recount(&listed);
    for replica in 0..3 {
        let stats = cluster.get(replica, "/opportunities/stats").await;
        assert_eq!(stats["data"], recount, "replica {replica} agrees with a recount");
    }
    for server in &mut servers {
        server.terminate().await;
    }
}

/// The statistics computed by hand from the listed leads.
fn recount(leads: &[Value]) -> Value {
    let count = |status: &str| leads.iter().filter(|o| o["status"] == status).count();
    let cents = |o: &Value| (o["estimated_value"].as_f64().unwrap() * 100.0).round() as i64;
    let open: Vec<&Value> = leads.iter().filter(|o| o["status"] == "contacted").collect();
    let total_cents: i64 = open.iter().map(|o| cents(o)).sum();
    let weighted: i64 = open.iter().map(|o| cents(o) * o["probability"].as_i64().unwrap()).sum();
    let (won, lost) = (count("won"), count("lost"));
    let by_source: Vec<Value> = ["referral", "website"]
        .iter()
        .map(|source| {
            let of = |status: &str| leads.iter().filter(|o| o["source"] == *source && o["status"] == status).count();
            let won_cents: i64 = leads.iter().filter(|o| o["source"] == *source && o["status"] == "won").map(cents).sum();
            let (w, l) = (of("won"), of("lost"));
            json!({"source": source, "total": leads.iter().filter(|o| o["source"] == *source).count(), "won": w, "lost": l,
                   "winRate": w as f64 / (w + l) as f64, "wonValue": won_cents as f64 / 100.0})
        })
        .collect();
    json!({
        "counts": {"open": 0, "contacted": count("contacted"), "qualified": 0, "proposal": 0, "won": won, "lost": lost, "stale": 0},
        "total": leads.len(),
        "totalValue": total_cents as f64 / 100.0,
        "weightedValue": ((weighted + 50) / 100) as f64 / 100.0,
        "needsFollowUp": 0,
        "winRate": won as f64 / (won + lost) as f64,
        "bySource": by_source,
    })
}
