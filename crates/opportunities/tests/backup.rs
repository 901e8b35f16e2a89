//! Backups of the SQLite database, driven through the binary as an operator would:
//! `opportunities backup` while writers keep writing, `opportunities restore` refused while a
//! server holds the database and done after it stops, and `serve --backup-dir` taking them on
//! a schedule with retention and reporting a failure. (PostgreSQL is backed up with
//! `pg_dump`; the command only says so.)

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{BINARY, Server};
use serde_json::{Value, json};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use store::testing::recount::{Db, differences};
use tokio::process::Command;

const TOKEN: &str = "opp_backup_test_owner_token";
const WRITERS: usize = 4;
const BACKUPS: usize = 3;

/// What a command printed and how it ended.
struct Ran {
    success: bool,
    stdout: Value,
    stderr: String,
}

async fn opportunities(args: &[&str]) -> Ran {
    let output = Command::new(BINARY).args(args).env("RUST_LOG", "warn").output().await.expect("run opportunities");
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ran {
        success: output.status.success(),
        stdout: serde_json::from_str(stdout.trim()).unwrap_or(Value::Null),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Creates leads until told to stop; every lead the server acknowledged goes into `acked`.
async fn writer(base: String, n: usize, stop: Arc<AtomicBool>, acked: Arc<Mutex<Vec<String>>>) {
    let http = reqwest::Client::new();
    for i in 0.. {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        let status = ["open", "contacted", "qualified"][i % 3];
        let lead = json!({
            "title": format!("Lead w{n}-{i}"), "prospect_name": format!("Prospect w{n}-{i}"),
            "source": if i % 2 == 0 { "website" } else { "referral" },
            "estimated_value": format!("{}.50", 100 + i), "status": status,
        });
        let response = http.post(format!("{base}/api/v1/opportunities")).bearer_auth(TOKEN).json(&lead).send().await.expect("send");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        assert_eq!(status, 201, "a write during backups: {body}");
        acked.lock().unwrap().push(body["data"]["id"].as_str().expect("an id").to_owned());
    }
}

/// A read-only connection to an SQLite file, as the recount reads it.
async fn plain(file: &Path) -> Db {
    let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", file.display())).expect("a path").read_only(true);
    Db::Sqlite(SqlitePoolOptions::new().max_connections(1).connect_with(options).await.expect("open the file"))
}

async fn lead_ids(file: &Path) -> BTreeSet<String> {
    let ids = plain(file).await.rows::<(uuid::Uuid,)>("SELECT id FROM opportunities").await;
    ids.into_iter().map(|(id,)| id.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn backups_under_writes_hold_every_earlier_write_and_one_restores_whole() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let live = dir.path().join("live.db");
    let database = format!("sqlite://{}", live.display());
    let mut server = Server::start(&database, Some(TOKEN)).await;
    let base = server.base_url().await;

    let (stop, acked) = (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())));
    let writers: Vec<_> = (0..WRITERS).map(|n| tokio::spawn(writer(base.clone(), n, stop.clone(), acked.clone()))).collect();
    let mut backups = Vec::new();
    for i in 0..BACKUPS {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let file = dir.path().join(format!("backup-{i}.db"));
        let before: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
        let ran = opportunities(&["backup", "--database", &database, "--to", file.to_str().unwrap()]).await;
        assert!(ran.success, "backup {i} failed: {}", ran.stderr);
        let summary = &ran.stdout["backup"];
        assert_eq!(summary["integrity_check"], "ok", "{summary}");
        assert!(summary["bytes"].as_u64().unwrap() > 0 && summary["tables"]["organizations"] == 1, "{summary}");
        backups.push((file, before, summary["tables"]["opportunities"].as_u64().unwrap()));
    }
    let written_during = acked.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("a writer");
    }
    let all: BTreeSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(all.len() > written_during, "writes went on after the last backup");

    for (file, before, counted) in &backups {
        let held = lead_ids(file).await;
        assert_eq!(held.len() as u64, *counted, "the summary counts what the file holds");
        let missing: Vec<_> = before.difference(&held).collect();
        assert!(missing.is_empty(), "{}: writes acknowledged before the backup began are missing: {missing:?}", file.display());
        assert!(differences(&plain(file).await).await.is_empty(), "{}: totals disagree with a recount", file.display());
    }

    // The server is killed, not stopped: its last writes are in the -wal, which must go aside
    // with the database it belongs to and must not be replayed into the restored file.
    let (chosen, _, _) = &backups[1];
    let refused = opportunities(&["restore", "--from", chosen.to_str().unwrap(), "--database", &database]).await;
    assert!(!refused.success && refused.stderr.contains("a server is using"), "restore while serving: {}", refused.stderr);
    server.kill().await;
    let restored = opportunities(&["restore", "--from", chosen.to_str().unwrap(), "--database", &database]).await;
    assert!(restored.success, "restore after the server stopped: {}", restored.stderr);
    let replaced = Path::new(restored.stdout["restored"]["replaced"].as_str().expect("the replaced database")).to_path_buf();
    assert!(replaced.file_name().unwrap().to_str().unwrap().starts_with("live.db.replaced-"), "{replaced:?}");
    assert_eq!(lead_ids(&replaced).await, all, "the replaced database, with its WAL, keeps every acknowledged write");
    assert_eq!(lead_ids(&live).await, lead_ids(chosen).await, "the database is now the backup");

    // The restored database serves: a lead from the backup is there, one written later is not.
    let mut server = Server::start(&database, Some(TOKEN)).await;
    let base = server.base_url().await;
    let http = reqwest::Client::new();
    let in_backup = lead_ids(chosen).await.into_iter().next().expect("a lead in the backup");
    let later = all.difference(&lead_ids(chosen).await).next().cloned().expect("a lead written after the backup");
    for (id, status) in [(in_backup, 200), (later, 404)] {
        let response = http.get(format!("{base}/api/v1/opportunities/{id}")).bearer_auth(TOKEN).send().await.expect("send");
        assert_eq!(response.status(), status, "lead {id}");
    }
    assert!(differences(&plain(&live).await).await.is_empty(), "the restored database agrees with a recount");
    server.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_checks_the_backup_first_and_touches_nothing_when_it_is_bad() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let live = dir.path().join("live.db");
    let database = format!("sqlite://{}", live.display());
    assert!(opportunities(&["migrate", "--database", &database]).await.success);
    let bad = dir.path().join("bad.db");
    std::fs::write(&bad, vec![7u8; 8192]).expect("write a file");
    let ran = opportunities(&["restore", "--from", bad.to_str().unwrap(), "--database", &database]).await;
    assert!(!ran.success, "a damaged backup is refused");
    let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    assert!(!names.iter().any(|name| name.contains("replaced")), "nothing was set aside: {names:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_takes_backups_on_a_schedule_and_keeps_the_newest() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = format!("sqlite://{}/live.db", dir.path().display());
    let backups = dir.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    // Retention deletes only this schedule's backups, whatever else the directory holds.
    let foreign = ["notes.txt", "live-backup-keep-me.db", "other-backup-20200101T000000Z.db"];
    for name in foreign {
        std::fs::write(backups.join(name), "not a backup of live.db").unwrap();
    }
    let options = ["--backup-dir", backups.to_str().unwrap(), "--backup-every", "1s", "--backup-keep", "2"];
    let mut server = Server::start_with(&database, Some(TOKEN), &options).await;
    let base = server.base_url().await;
    let state = wait_for_backups(&base, |state| state["successes_total"].as_u64() >= Some(4)).await;
    assert_eq!(state["consecutive_failures"], 0, "{state}");
    let mut names: Vec<_> = std::fs::read_dir(&backups).unwrap().map(|entry| entry.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    let taken: Vec<_> = names.iter().filter(|name| !foreign.contains(&name.as_str())).collect();
    assert_eq!(taken.len(), 2, "two kept, besides the foreign files: {names:?}");
    assert!(taken.iter().all(|name| name.starts_with("live-backup-2") && name.ends_with("Z.db")), "{names:?}");
    assert!(foreign.iter().all(|name| names.contains(&(*name).to_owned())), "{names:?}");
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(metrics.contains("backup_last_success_timestamp_seconds") && metrics.contains("backup_failures_total 0"), "{metrics}");
    server.terminate().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_scheduled_backup_shows_in_readyz_and_metrics() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = format!("sqlite://{}/live.db", dir.path().display());
    // A directory that cannot be made: its parent is a file.
    std::fs::write(dir.path().join("a-file"), "").unwrap();
    let unusable = dir.path().join("a-file").join("backups");
    let options = ["--backup-dir", unusable.to_str().unwrap(), "--backup-every", "1s"];
    let mut server = Server::start_with(&database, Some(TOKEN), &options).await;
    let base = server.base_url().await;
    let state = wait_for_backups(&base, |state| state["consecutive_failures"].as_u64() >= Some(1)).await;
    assert!(state["last_success_at"].is_null() && state["last_failure_at"].is_string(), "{state}");
    let metrics = reqwest::get(format!("{base}/metrics")).await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("backup_failures_total 0") && metrics.contains("backup_failures_total"), "{metrics}");
    server.terminate().await;
}

#[tokio::test]
async fn backup_of_postgres_points_to_pg_dump() {
    let ran = opportunities(&["backup", "--database", "postgres://postgres:secret@127.0.0.1/opportunities", "--to", "/tmp/never.db"]).await;
    assert!(!ran.success && ran.stderr.contains("pg_dump") && !ran.stderr.contains("secret"), "{}", ran.stderr);
}

/// `/readyz`'s backup summary once `done` holds (within 30 s); readiness stays 200 throughout.
async fn wait_for_backups(base: &str, done: impl Fn(&Value) -> bool) -> Value {
    let started = Instant::now();
    loop {
        let response = reqwest::get(format!("{base}/readyz")).await.expect("readyz");
        assert_eq!(response.status(), 200, "backups never make the replica unready");
        let body: Value = response.json().await.expect("JSON");
        let state = body["data"]["backups"].clone();
        if done(&state) {
            return state;
        }
        assert!(started.elapsed() < Duration::from_secs(30), "backups did not get there in 30 s: {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
