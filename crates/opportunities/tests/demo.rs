//! `serve --demo` as a newcomer runs it: on an empty database it prints what it made before it
//! listens, and the API's statistics show that clinic; on a database with data it says it did
//! nothing and serves what is there. (The storage contract suite holds the demo's totals to a
//! recount on both engines.)

mod common;

use common::Server;
use serde_json::Value;

#[tokio::test]
async fn serve_demo_fills_an_empty_sqlite_database_once() {
    let dir = tempfile::tempdir().unwrap();
    serve_demo_fills_an_empty_database_once(&format!("sqlite://{}", dir.path().join("demo.db").display())).await;
}

#[tokio::test]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
async fn serve_demo_fills_an_empty_postgres_database_once() {
    serve_demo_fills_an_empty_database_once(&store::testing::fresh_postgres_schema("demo").await).await;
}

async fn serve_demo_fills_an_empty_database_once(database: &str) {
    let mut server = Server::start_with(database, Some("opp_demo_owner_token"), &["--demo"]).await;
    assert!(server.next_line().await.get("token").is_some());
    assert!(server.next_line().await.get("setup_url").is_some());
    let demo = server.next_line().await["demo"].clone();
    let base = server.base_url().await;
    assert_eq!((demo["leads"].as_u64(), demo["categories"].as_u64(), demo["lead_forms"].as_u64()), (Some(300), Some(6), Some(1)), "{demo}");
    assert!(demo["notes"].as_u64() > Some(0) && demo["activities"].as_u64() > Some(0) && demo["clients"].as_u64() > Some(0), "{demo}");

    let stats = get(&base, "/opportunities/stats").await;
    let counts = stats["counts"].as_object().unwrap();
    assert_eq!(stats["total"], demo["leads"]);
    assert_eq!(counts.values().map(|count| count.as_u64().unwrap()).sum::<u64>(), 300);
    assert!(counts.values().all(|count| count.as_u64() > Some(0)), "every stage has leads: {counts:?}");
    assert!(stats["needsFollowUp"].as_u64() > Some(0) && stats["totalValue"].as_f64() > Some(0.0), "{stats}");
    let staff = get(&base, "/staff").await;
    assert_eq!(staff.as_array().map(Vec::len), demo["staff"].as_u64().map(|n| n as usize));
    server.terminate().await;

    let mut again = Server::start_with(database, None, &["--demo"]).await;
    let skipped = again.next_line().await;
    assert!(skipped["demo_skipped"].as_str().is_some_and(|reason| reason.contains("only an empty database")), "{skipped}");
    let base = again.base_url().await;
    assert_eq!(get(&base, "/opportunities/stats").await["total"], 300, "nothing added the second time");
    again.terminate().await;
}

async fn get(base: &str, path: &str) -> Value {
    let response = reqwest::Client::new().get(format!("{base}/api/v1{path}")).bearer_auth("opp_demo_owner_token").send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    response.json::<Value>().await.unwrap()["data"].clone()
}
