//! `import`: times a CSV import of many leads through the real router, served in-process on
//! loopback, into a new organization of the given database; then the same file again, which
//! finds every row a duplicate. Prints both times and the reports' counts.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use serde_json::Value;
use store::OpenOptions;
use store::service::{self, NewOrganization};

use crate::run::HttpConn;

const OWNER_EMAIL: &str = "import-bench@example.com";
const STAGES: [&str; 7] = ["open", "contacted", "qualified", "proposal", "won", "lost", "stale"];

pub async fn import(database: &str, rows: u64) -> Result<(), String> {
    let options = OpenOptions { pool_size: 4, statement_timeout: Duration::from_secs(600), ..Default::default() };
    let store = store::open(database, &options).await.map_err(|e| format!("cannot open {database}: {}", e.describe()))?;
    let organization = NewOrganization {
        name: format!("Import benchmark {}", uuid::Uuid::now_v7()),
        owner_name: "Importer".into(),
        owner_email: OWNER_EMAIL.into(),
        token: None,
    };
    let owner = service::create_organization(store.as_ref(), organization).await.map_err(|e| e.describe())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
    let authority = listener.local_addr().map_err(|e| e.to_string())?.to_string();
    let limits = api::ServeLimits { body_timeout: Duration::from_secs(600), ..api::ServeLimits::default() };
    let server = tokio::spawn(api::serve(listener, api::router(store), limits, std::future::pending()));

    let file = Bytes::from(spreadsheet(rows));
    println!("import: {rows} rows, {:.1} MB, into {}", file.len() as f64 / 1e6, crate::seed::backend_name(database));
    let mut http = HttpConn::new(&authority);
    for attempt in ["first import", "same file again (every row a duplicate)"] {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/api/v1/imports/opportunities")
            .header(HOST, authority.as_str())
            .header(AUTHORIZATION, format!("Bearer {}", owner.token))
            .header(CONTENT_TYPE, "text/csv")
            .body(Full::new(file.clone()))
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let (_, result) = http.send(request).await;
        let seconds = started.elapsed().as_secs_f64();
        let (status, _, body) = result?;
        let report: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status != 200 {
            return Err(format!("{attempt}: status {status}: {report}"));
        }
        let data = &report["data"];
        println!(
            "{attempt}: {seconds:.2} s ({:.0} rows/s): created {}, updated {}, skipped {}, failed {}",
            rows as f64 / seconds,
            data["created"],
            data["updated"],
            data["skipped"],
            data["failed"]
        );
        if let Some(error) = data["errors"].get(0) {
            println!("  first error: {error}");
        }
    }
    server.abort();
    Ok(())
}

/// A spreadsheet as a clinic might export one, headers with aliases: every stage, amounts,
/// owners, creation and closing dates, and a note on every third row.
fn spreadsheet(rows: u64) -> String {
    let mut file = String::from("Full name,E-mail,Phone,Stage,Amount,Source,Owner,Created,Closed at,Closed reason,Notes,Title\r\n");
    for i in 0..rows {
        let stage = STAGES[(i % 7) as usize];
        let closed = matches!(stage, "won" | "lost");
        let created = format!("2025-{:02}-{:02}T09:{:02}:00Z", 1 + i % 12, 1 + i % 28, i % 60);
        let (closed_at, reason) = if closed { ("2026-01-15", "decided") } else { ("", "") };
        let notes = if i % 3 == 0 { "Called; asked about prices" } else { "" };
        let _ = write!(
            file,
            "Person {i},person{i}@example.com,+1 555 {i:07},{stage},{}.{:02},{},{OWNER_EMAIL},{created},{closed_at},{reason},{notes},Treatment {}\r\n",
            100 + i % 5_000,
            i % 100,
            ["website", "referral", "walk-in"][(i % 3) as usize],
            i % 40
        );
    }
    file
}
