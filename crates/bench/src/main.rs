//! `opportunities-bench`: seed a large pipeline, drive a running server, chart how latency
//! grows with the data, and a quick self-contained check for CI. See BENCHMARKS.md.

#![forbid(unsafe_code)]

mod board;
mod chart;
mod data;
mod floor;
mod import;
mod quick;
mod run;
mod seed;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use store::OpenOptions;

use crate::run::{Beside, Scenario, Settings, Workload};
use crate::seed::{Manifest, SeedPlan};

#[derive(Parser)]
#[command(name = "opportunities-bench", about = "Benchmark harness for Opportunities (see BENCHMARKS.md)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a large organization (and small ones beside it) straight into an empty database.
    Seed {
        /// sqlite://PATH or postgres://USER@HOST/DATABASE (must hold no organization yet)
        #[arg(long)]
        database: String,
        /// Opportunities in the measured organization.
        #[arg(long)]
        opportunities: u64,
        /// Small organizations beside it.
        #[arg(long, default_value_t = 300)]
        organizations: u64,
        /// Opportunities in each small organization.
        #[arg(long, default_value_t = 20)]
        per_organization: u64,
        /// The measured organization's owner token (stored hashed).
        #[arg(long, default_value = "opp_bench_token")]
        token: String,
        /// PRNG seed: the same seed gives the same data.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Opportunities per transaction [default: 5000 on SQLite; 1000 on PostgreSQL, each
        /// through a new session]
        #[arg(long)]
        batch: Option<u64>,
        /// Mean notes per opportunity.
        #[arg(long, default_value_t = 2.0)]
        notes: f64,
        /// Mean activities per opportunity.
        #[arg(long, default_value_t = 3.0)]
        activities: f64,
        /// Opportunity ids to put in the manifest.
        #[arg(long, default_value_t = 1_000)]
        sample: u64,
        /// Write the manifest here instead of stdout.
        #[arg(long)]
        manifest: Option<PathBuf>,
    },
    /// Drive a running server with a fixed number of keep-alive connections.
    Run {
        /// The server's base URL, e.g. http://127.0.0.1:8080
        #[arg(long)]
        url: String,
        /// What `seed` wrote.
        #[arg(long)]
        manifest: PathBuf,
        /// Concurrent HTTP/1.1 connections (one in-flight request each).
        #[arg(long, default_value_t = 32)]
        connections: usize,
        /// Measured seconds per scenario.
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
        /// Unmeasured seconds before each scenario (connections open, caches warm).
        #[arg(long, default_value_t = 1.0)]
        warmup: f64,
        /// Comma-separated; default all: get,status_page,search_common,search_rare,stats,report_funnel,
        /// report_response_times,report_lost_reasons,agenda,create,update,note,mixed,hangup
        #[arg(long)]
        scenarios: Option<String>,
        /// The server's database: also measure the same operations on the store in-process,
        /// and on the engine alone (the floor).
        #[arg(long)]
        database: Option<String>,
        /// Store-direct connection pool (as the server's --pool-size).
        #[arg(long, default_value_t = 16)]
        pool_size: u32,
        /// Write the report as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
        /// PRNG seed for the choice of ids and of generated bodies.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Draw run reports at different sizes as an SVG line chart.
    Chart {
        /// Comma-separated run JSON files.
        #[arg(long, value_delimiter = ',', required = true)]
        input: Vec<PathBuf>,
        #[arg(long)]
        output: PathBuf,
        /// p95 (latency in ms, the default) or rps (requests per second).
        #[arg(long, default_value = "p95")]
        metric: String,
        /// A linear y axis instead of a logarithmic one.
        #[arg(long)]
        linear_y: bool,
    },
    /// Time the web UI's board for the seeded organization's owner (in-process, one request at a time).
    Board {
        /// The seeded database (the board signs the owner in: it sets their password).
        #[arg(long)]
        database: String,
        /// The measured organization's owner token, as seeded.
        #[arg(long, default_value = "opp_bench_token")]
        token: String,
        /// Requests per board view.
        #[arg(long, default_value_t = 20)]
        repeat: usize,
    },
    /// Time a CSV import of many leads into a new organization of a database, through the real
    /// router served in-process; then the same file again (all duplicates).
    Import {
        /// sqlite://PATH or postgres://USER@HOST/DATABASE (migrated if needed; may hold data)
        #[arg(long)]
        database: String,
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
    },
    /// A few seconds' self-contained check for CI: fails only on a gross regression or an error.
    Quick {
        #[arg(long, default_value_t = 2_000)]
        small: u64,
        #[arg(long, default_value_t = 20_000)]
        large: u64,
        #[arg(long, default_value_t = 1.0)]
        seconds: f64,
        #[arg(long, default_value_t = 0.2)]
        warmup: f64,
        #[arg(long, default_value_t = 4)]
        connections: usize,
        /// Fail when stats' or get's p95 at the large size exceeds this multiple of its p95 at the small one.
        #[arg(long, default_value_t = 10.0)]
        max_ratio: f64,
        /// The same for status_page, whose total is a COUNT of the matching rows (linear in them today).
        #[arg(long, default_value_t = 20.0)]
        max_ratio_list: f64,
        /// p95 values below this many ms count as this (timer noise at tiny values).
        #[arg(long, default_value_t = 2.0)]
        floor_ms: f64,
        /// Also write both reports as JSON here.
        #[arg(long)]
        json: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command)) {
        Ok(code) => code,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn dispatch(command: Command) -> Result<ExitCode, String> {
    match command {
        Command::Seed {
            database,
            opportunities,
            organizations,
            per_organization,
            token,
            seed,
            batch,
            notes,
            activities,
            sample,
            manifest,
        } => {
            let backend = seed::backend_name(&database);
            let options = OpenOptions { pool_size: 2, statement_timeout: Duration::from_secs(600), ..Default::default() };
            let store = store::open(&database, &options).await.map_err(|e| format!("cannot open {database}: {}", e.describe()))?;
            let plan = SeedPlan {
                opportunities,
                organizations,
                per_organization,
                token,
                seed,
                batch: batch.unwrap_or(if backend == "postgres" { 1_000 } else { 5_000 }),
                notes_mean: notes,
                activities_mean: activities,
                sample,
                verbose: true,
                fresh_sessions: (backend == "postgres").then(|| database.clone()),
            };
            let result = seed::seed(store, backend, &plan).await?;
            eprintln!(
                "seeded {} opportunities, {} notes, {} activities, {} clients in {:.1} s ({:.0} opportunities/s)",
                result.opportunities, result.notes, result.activities, result.clients, result.seed_seconds, result.opportunities_per_second
            );
            let body = serde_json::to_string_pretty(&result).map_err(|e| e.to_string())?;
            match manifest {
                Some(path) => std::fs::write(&path, body + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))?,
                None => println!("{body}"),
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Run { url, manifest, connections, seconds, warmup, scenarios, database, pool_size, json, seed } => {
            let text = std::fs::read_to_string(&manifest).map_err(|e| format!("cannot read {}: {e}", manifest.display()))?;
            let manifest: Manifest = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", manifest.display()))?;
            let scenarios = match scenarios {
                Some(list) => Scenario::parse_list(&list)?,
                None => Scenario::DEFAULT.to_vec(),
            };
            let beside = match database {
                Some(url) => {
                    let options = OpenOptions { pool_size, ..Default::default() };
                    let store = store::open(&url, &options).await.map_err(|e| format!("cannot open {url}: {}", e.describe()))?;
                    Some(Beside::new(&url, store, &manifest.token).await?)
                }
                None => None,
            };
            let settings =
                Settings { connections, warmup: Duration::from_secs_f64(warmup), duration: Duration::from_secs_f64(seconds), seed };
            let work = Arc::new(Workload::new(manifest)?);
            let report = run::run_all(&url, work, &scenarios, &settings, beside, true).await?;
            println!("{}", report.markdown());
            println!("update: {}", report.update_method);
            if let Some(path) = json {
                let body = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
                std::fs::write(&path, body + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))?;
            }
            let (errors, server_errors) = (report.errors(), report.server_errors());
            if server_errors > 0 {
                eprintln!("FAILED: {server_errors} server errors (5xx, transport or internal store errors)");
                return Ok(ExitCode::FAILURE);
            }
            if errors > 0 {
                eprintln!("WARNING: {errors} non-2xx responses (see the errors column)");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Chart { input, output, metric, linear_y } => {
            let metric = match metric.as_str() {
                "p95" => chart::Metric::P95,
                "rps" => chart::Metric::Rps,
                other => return Err(format!("--metric must be p95 or rps, not {other}")),
            };
            let mut reports = Vec::new();
            for path in &input {
                let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                match serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))? {
                    // `quick --json` writes both of its reports in one array.
                    serde_json::Value::Array(many) => reports.extend(many),
                    one => reports.push(one),
                }
            }
            let svg = chart::svg(&reports, metric, !linear_y)?;
            if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
            }
            std::fs::write(&output, svg).map_err(|e| format!("cannot write {}: {e}", output.display()))?;
            eprintln!("wrote {}", output.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Board { database, token, repeat } => {
            board::board(&database, &token, repeat.max(1)).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Import { database, rows } => {
            import::import(&database, rows).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Quick { small, large, seconds, warmup, connections, max_ratio, max_ratio_list, floor_ms, json } => {
            let args = quick::QuickArgs { small, large, seconds, warmup, connections, max_ratio, max_ratio_list, floor_ms, json };
            let passed = quick::quick(&args).await?;
            Ok(if passed { ExitCode::SUCCESS } else { ExitCode::FAILURE })
        }
    }
}
