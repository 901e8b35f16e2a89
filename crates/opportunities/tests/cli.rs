//! The binary as an operator runs it: `serve` bootstraps an empty database and prints the
//! owner's token once, `org create` works against a database a server is using, `migrate`
//! reports, and SIGTERM stops the server cleanly.

mod common;

use common::{BINARY, Server};
use serde_json::Value;
use tokio::process::Command;

async fn me(base: &str, token: &str) -> (u16, Value) {
    let response = reqwest::Client::new().get(format!("{base}/api/v1/me")).bearer_auth(token).send().await.expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.expect("JSON"))
}

async fn run(args: &[&str]) -> Value {
    let output = Command::new(BINARY).args(args).output().await.expect("run the binary");
    assert!(output.status.success(), "{args:?}: {}", String::from_utf8_lossy(&output.stderr));
    serde_json::from_slice(&output.stdout).expect("stdout is JSON")
}

#[tokio::test]
async fn serve_bootstraps_once_and_org_create_works_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("clinic.db").display());

    let mut server = Server::start(&database, Some("opp_first_owner_secret")).await;
    let bootstrap = server.next_line().await;
    assert_eq!(bootstrap["token"], "opp_first_owner_secret");
    let setup = server.next_line().await;
    let base = server.base_url().await;
    let setup_url = setup["setup_url"].as_str().expect("the first serve prints a set-up link beside the token");
    assert!(setup_url.starts_with(&format!("{base}/setup/")), "{setup_url}");
    let (status, owner) = me(&base, "opp_first_owner_secret").await;
    assert_eq!(status, 200);
    assert_eq!((owner["data"]["email"].as_str(), owner["data"]["role"].as_str()), (Some("admin@localhost"), Some("owner")));

    let created = run(&[
        "org",
        "create",
        "--name",
        "Second Clinic",
        "--owner-email",
        "boss@example.com",
        "--owner-name",
        "Boss",
        "--database",
        &database,
    ])
    .await;
    let token = created["token"].as_str().unwrap();
    assert!(token.starts_with("opp_"));
    let (status, boss) = me(&base, token).await;
    assert_eq!(status, 200);
    assert_eq!(boss["data"]["org_id"], created["org_id"]);
    assert_ne!(boss["data"]["org_id"], bootstrap["org_id"]);
    assert_eq!(run(&["migrate", "--database", &database]).await, serde_json::json!({"migrated": true}));

    server.terminate().await;
    let mut restarted = Server::start(&database, Some("opp_ignored_now")).await;
    let first_line = restarted.next_line().await;
    assert!(first_line.get("listening").is_some(), "no second bootstrap: {first_line}");
}

#[tokio::test]
async fn sweep_moves_rotted_leads_to_stale_beside_a_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite://{}", dir.path().join("clinic.db").display());
    let mut server = Server::start(&database, Some("opp_sweep_owner")).await;
    server.next_line().await;
    server.next_line().await;
    let base = server.base_url().await;
    let http = reqwest::Client::new();
    let settings = serde_json::json!({"auto_stale": true, "stages": {"open": {"rot_after_days": 0}}});
    let response =
        http.patch(format!("{base}/api/v1/pipeline-settings")).bearer_auth("opp_sweep_owner").json(&settings).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let lead = serde_json::json!({"title": "Fillers", "prospect_name": "Ann"});
    let response = http.post(format!("{base}/api/v1/opportunities")).bearer_auth("opp_sweep_owner").json(&lead).send().await.unwrap();
    let created: Value = response.json().await.unwrap();
    let id = created["data"]["id"].as_str().unwrap();

    assert_eq!(run(&["sweep", "--database", &database]).await, serde_json::json!({"moved_to_stale": 1}));
    let response = http.get(format!("{base}/api/v1/opportunities/{id}")).bearer_auth("opp_sweep_owner").send().await.unwrap();
    let swept: Value = response.json().await.unwrap();
    assert_eq!(swept["data"]["status"], "stale");
    assert_eq!(run(&["sweep", "--database", &database]).await, serde_json::json!({"moved_to_stale": 0}), "nothing left to move");
    server.terminate().await;
}
