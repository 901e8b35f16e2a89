//! `opportunities`: serve the API, create organizations, migrate the database.
//! Machine-readable results go to stdout as JSON lines; logs go to stderr.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde_json::json;
use store::service::{self, NewOrganization};
use store::{OpenOptions, Store};

#[derive(Parser)]
#[command(name = "opportunities", version, about = "Sales pipeline service for small service businesses")]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines on stderr as text or as JSON objects (one per line).
    #[arg(long, env = "OPPORTUNITIES_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API. On an empty database, first creates the "Default" organization with
    /// the owner admin@localhost and prints that owner's token once.
    Serve(ServeArgs),
    /// Manage organizations.
    Org {
        #[command(subcommand)]
        command: OrgCommand,
    },
    /// Apply pending database migrations (serve does this too).
    Migrate(DatabaseArgs),
}

#[derive(Args)]
struct DatabaseArgs {
    /// sqlite://PATH or postgres://USER@HOST/DATABASE
    #[arg(long = "database", env = "OPPORTUNITIES_DATABASE_URL", default_value = "sqlite://opportunities.db")]
    url: String,
    /// Database connections per process (SQLite: read connections; there is one writer).
    #[arg(long, env = "OPPORTUNITIES_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pool_size: u32,
    /// PostgreSQL cancels any statement running longer than this many milliseconds.
    #[arg(long, env = "OPPORTUNITIES_STATEMENT_TIMEOUT_MS", default_value_t = 10_000)]
    statement_timeout_ms: u64,
}

#[derive(Args)]
struct ServeArgs {
    #[arg(long, env = "OPPORTUNITIES_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    database: DatabaseArgs,
    /// The first owner's token on an empty database, instead of a random one.
    #[arg(long, env = "OPPORTUNITIES_BOOTSTRAP_TOKEN", hide_env_values = true)]
    bootstrap_token: Option<String>,
    #[command(flatten)]
    transport: TransportArgs,
}

/// How long a client may take and how many are served at once (see `api::ServeLimits`).
#[derive(Args)]
struct TransportArgs {
    /// Milliseconds a client may take to send a request's line and headers, from connecting or
    /// from the request's first byte; then the connection is closed.
    #[arg(long, env = "OPPORTUNITIES_HEADER_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    header_timeout_ms: u64,
    /// Milliseconds a client may take to send a request's body, from when the server starts
    /// reading it; then the answer is 408.
    #[arg(long, env = "OPPORTUNITIES_BODY_TIMEOUT_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    body_timeout_ms: u64,
    /// Milliseconds a kept-alive connection may wait for its next request.
    #[arg(long, env = "OPPORTUNITIES_IDLE_TIMEOUT_MS", default_value_t = 65_000, value_parser = clap::value_parser!(u64).range(1..))]
    idle_timeout_ms: u64,
    /// Connections served at once; further ones are answered 503 (but /healthz). Default: half
    /// the process's open-file limit, at most 1024.
    #[arg(long, env = "OPPORTUNITIES_MAX_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..))]
    max_connections: Option<u32>,
}

impl TransportArgs {
    fn limits(&self) -> api::ServeLimits {
        api::ServeLimits {
            header_timeout: Duration::from_millis(self.header_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            idle_timeout: Duration::from_millis(self.idle_timeout_ms),
            max_connections: self.max_connections.map_or_else(default_max_connections, |max| max as usize),
        }
    }
}

/// Half the open-file limit leaves the other half for the overflow answered 503, the database
/// and the log, so the connection cap is reached before accepting fails for want of files.
fn default_max_connections() -> usize {
    open_file_limit().map_or(1024, |files| (files / 2).clamp(1, 1024))
}

/// The soft limit on open files from `/proc/self/limits` (Linux), if it is known and finite.
fn open_file_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|line| line.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[derive(Subcommand)]
enum OrgCommand {
    /// Create an organization with its first owner; prints {"org_id","staff_id","token"}.
    Create {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
        #[arg(long)]
        owner_name: String,
        #[command(flatten)]
        database: DatabaseArgs,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let logs = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr);
    match cli.log_format {
        LogFormat::Text => logs.init(),
        LogFormat::Json => logs.json().init(),
    }
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tracing::error!("{message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Migrate(database) => {
            open(&database).await?;
            print(json!({ "migrated": true }));
            Ok(())
        }
        Command::Org { command: OrgCommand::Create { name, owner_email, owner_name, database } } => {
            let store = open(&database).await?;
            let new = NewOrganization { name, owner_name, owner_email, token: None };
            let created = service::create_organization(store.as_ref(), new).await.map_err(|error| error.describe())?;
            print(json!(created));
            Ok(())
        }
    }
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    let store = open(&args.database).await?;
    if let Some(created) = service::bootstrap(store.as_ref(), args.bootstrap_token).await.map_err(|error| error.describe())? {
        print(json!(created));
    }
    let listener =
        tokio::net::TcpListener::bind(&args.listen).await.map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    print(json!({ "listening": address.to_string() }));
    tokio::spawn(purge_idempotency_keys_hourly(store.clone()));
    tracing::info!(%address, "serving");
    let router = api::router_with(store.clone(), api::IntakeLimits::default(), web::router(store), Some(web::visitor_pages()));
    api::serve(listener, router, args.transport.limits(), shutdown_signal()).await;
    Ok(())
}

async fn purge_idempotency_keys_hourly(store: Arc<dyn Store>) {
    let mut hourly = tokio::time::interval(Duration::from_secs(3600));
    loop {
        hourly.tick().await;
        match service::purge_expired_idempotency_keys(store.as_ref()).await {
            Ok(purged) => tracing::debug!(purged, "purged expired idempotency keys"),
            Err(error) => tracing::warn!(error = %error.describe(), "could not purge expired idempotency keys"),
        }
    }
}

/// Ctrl-C or SIGTERM: stop accepting, let in-flight requests finish, then exit.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
    tracing::info!("shutting down: finishing in-flight requests");
}

async fn open(database: &DatabaseArgs) -> Result<Arc<dyn Store>, String> {
    let options = OpenOptions { pool_size: database.pool_size, statement_timeout: Duration::from_millis(database.statement_timeout_ms) };
    store::open(&database.url, &options).await.map_err(|error| format!("cannot open {}: {}", database.url, error.describe()))
}

fn print(value: serde_json::Value) {
    println!("{value}");
}
