//! `quick`: a self-contained check for CI. Seeds two temporary SQLite databases of different
//! sizes, serves the real router in-process, measures a few reads and the writes on each, over
//! HTTP, on the store and on the engine's floor, and fails only on a gross regression (a read's
//! latency growing far faster than expected) or on any error response.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use store::OpenOptions;

use crate::run::{self, Report, Scenario, Settings, Workload};
use crate::seed::{self, SeedPlan};

#[derive(Debug, Clone)]
pub struct QuickArgs {
    pub small: u64,
    pub large: u64,
    pub seconds: f64,
    pub warmup: f64,
    pub connections: usize,
    pub max_ratio: f64,
    pub max_ratio_list: f64,
    pub floor_ms: f64,
    pub json: Option<PathBuf>,
}

/// The reads whose growth between the sizes is checked.
pub const SCENARIOS: [Scenario; 5] = [Scenario::Stats, Scenario::Get, Scenario::StatusPage, Scenario::SearchCommon, Scenario::SearchRare];

/// Measured after the reads, for errors only: their latency follows the disk's syncs.
const WRITES: [Scenario; 4] = [Scenario::Create, Scenario::Update, Scenario::Note, Scenario::Hangup];

/// Returns whether the check passed.
pub async fn quick(args: &QuickArgs) -> Result<bool, String> {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let dir = std::env::temp_dir().join(format!("opportunities-bench-quick-{}-{nanos}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let result = measure_sizes(args, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let reports = result?;

    for report in &reports {
        println!("{}", report.markdown());
    }
    let (small, large) = (&reports[0], &reports[1]);
    println!(
        "| scenario | p95 ms @ {} | p95 ms @ {} | growth (each floored at {} ms) | limit | verdict |",
        small.opportunities, large.opportunities, args.floor_ms
    );
    println!("|---|---:|---:|---:|---:|---|");
    let mut passed = true;
    for scenario in SCENARIOS {
        let find = |r: &Report| r.scenarios.iter().find(|s| s.name == scenario.name()).map(|s| s.http.p95_ms).unwrap_or(0.0);
        let (a, b) = (find(small), find(large));
        let growth = b.max(args.floor_ms) / a.max(args.floor_ms);
        let limit = if scenario == Scenario::StatusPage { args.max_ratio_list } else { args.max_ratio };
        let ok = growth <= limit;
        passed &= ok;
        println!("| {} | {a:.2} | {b:.2} | {growth:.2}× | {limit}× | {} |", scenario.name(), if ok { "ok" } else { "REGRESSION" });
    }
    let errors: u64 = reports.iter().map(Report::errors).sum();
    if errors > 0 {
        println!("\n{errors} error responses (see the tables): the API or the benchmark is broken.");
        passed = false;
    }
    if let Some(path) = &args.json {
        let body = serde_json::to_string_pretty(&reports).map_err(|e| e.to_string())?;
        std::fs::write(path, body).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    println!("\nquick: {}", if passed { "PASSED" } else { "FAILED" });
    Ok(passed)
}

async fn measure_sizes(args: &QuickArgs, dir: &std::path::Path) -> Result<Vec<Report>, String> {
    let mut reports = Vec::new();
    for n in [args.small, args.large] {
        let url = format!("sqlite://{}", dir.join(format!("bench-{n}.db")).display());
        let store = store::open(&url, &OpenOptions { pool_size: 8, ..Default::default() }).await.map_err(|error| error.describe())?;
        let plan = SeedPlan {
            opportunities: n,
            organizations: 20,
            per_organization: 20,
            token: "opp_bench_quick".into(),
            seed: 42,
            batch: 5_000,
            notes_mean: 1.0,
            activities_mean: 1.0,
            sample: 500,
            verbose: false,
            fresh_sessions: None,
        };
        let started = Instant::now();
        let manifest = seed::seed(store.clone(), "sqlite", &plan).await?;
        eprintln!("quick: seeded {n} opportunities in {:.1} s", started.elapsed().as_secs_f64());

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(|e| e.to_string())?;
        let base = format!("http://{}", listener.local_addr().map_err(|e| e.to_string())?);
        // Served as deployed: the service's own loop, with its timeouts and connection cap.
        let router = api::router(store.clone());
        let server = tokio::spawn(api::serve(listener, router, api::ServeLimits::default(), std::future::pending()));

        let settings = Settings {
            connections: args.connections,
            warmup: Duration::from_secs_f64(args.warmup),
            duration: Duration::from_secs_f64(args.seconds),
            seed: 1,
        };
        let work = Arc::new(Workload::new(manifest)?);
        // Then writes, and writes whose connections hang up mid-request at the end followed by
        // a write of each kind that must still succeed: checked for errors only, not compared
        // between the sizes. Each beside the store in-process and the engine's floor.
        let scenarios: Vec<Scenario> = SCENARIOS.into_iter().chain(WRITES).collect();
        let beside = run::Beside::new(&url, store.clone(), &plan.token).await?;
        let report = run::run_all(&base, work, &scenarios, &settings, Some(beside), false).await;
        server.abort();
        reports.push(report?);
    }
    Ok(reports)
}
