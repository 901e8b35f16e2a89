//! `opportunities`: serve the API, create organizations, migrate the database.
//! Machine-readable results go to stdout as JSON lines; logs go to stderr.

#![forbid(unsafe_code)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use clap::{Args, Parser, Subcommand};
use domain::Timestamp;
use domain::session::{LinkPurpose, PublicUrl};
use domain::webhook::{RetryPolicy, TargetPolicy};
use serde_json::json;
use store::service::{self, CreatedOrganization, NewOrganization};
use store::sign_in;
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
    /// Run one pass of the stale sweep now (what serve does every --sweep-interval): moves the
    /// rotted leads of organizations with auto_stale on to stale; prints {"moved_to_stale": N}.
    /// Safe while servers run: they and this skip an organization another is sweeping.
    Sweep(DatabaseArgs),
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
    /// Milliseconds a request waits for a database connection; then it is answered 503
    /// `database_unavailable`. While the database is down, requests take this long.
    #[arg(long, env = "OPPORTUNITIES_ACQUIRE_TIMEOUT_MS", default_value_t = 3_000, value_parser = clap::value_parser!(u64).range(1..))]
    acquire_timeout_ms: u64,
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
    /// Where staff reach the server, such as https://crm.example.com behind a proxy: links to
    /// choose a password are built on it. Defaults to http:// and the listening address.
    #[arg(long, env = "OPPORTUNITIES_PUBLIC_URL")]
    public_url: Option<String>,
    /// Mark session cookies Secure even when the public URL is http (TLS ends at a proxy that
    /// is reached by another name). They are Secure whenever the public URL is https.
    #[arg(long, env = "OPPORTUNITIES_SECURE_COOKIES")]
    secure_cookies: bool,
    /// On an empty database, fill the new organization with a demo med-spa to look around in:
    /// staff, categories, a few hundred leads in every stage with notes and activities, some
    /// clients and a website form. On a database with data, it does nothing but say so.
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    transport: TransportArgs,
    #[command(flatten)]
    webhooks: WebhookArgs,
    /// Seconds between two passes of the stale sweep (organizations with auto_stale on); 0
    /// turns it off in this process. Every replica may sweep: an organization is swept by one
    /// at a time.
    #[arg(long, env = "OPPORTUNITIES_SWEEP_INTERVAL", default_value_t = 900)]
    sweep_interval: u64,
}

/// How webhooks are delivered (see the `webhooks` crate).
#[derive(Args)]
struct WebhookArgs {
    /// Run the webhook worker in this process. Every replica may run one: each delivery is
    /// sent by one of them.
    #[arg(long, env = "OPPORTUNITIES_DELIVER_WEBHOOKS", default_value_t = true, action = clap::ArgAction::Set)]
    deliver_webhooks: bool,
    /// Let webhook URLs point at private, loopback and link-local addresses (tests, a LAN).
    #[arg(long, env = "OPPORTUNITIES_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    webhook_allow_private: bool,
    /// Milliseconds the worker rests when no delivery is due.
    #[arg(long, env = "OPPORTUNITIES_WEBHOOK_INTERVAL_MS", default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    webhook_interval_ms: u64,
    /// Deliveries sent at once by this process.
    #[arg(long, env = "OPPORTUNITIES_WEBHOOK_CONCURRENCY", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..=1000))]
    webhook_concurrency: u64,
    /// Milliseconds a receiver may take to answer.
    #[arg(long, env = "OPPORTUNITIES_WEBHOOK_TIMEOUT_MS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    webhook_timeout_ms: u64,
    /// Milliseconds before the first retry of a failed delivery; each further retry waits
    /// twice as long (with jitter), at most an hour.
    #[arg(long, env = "OPPORTUNITIES_WEBHOOK_FIRST_RETRY_MS", default_value_t = 30_000, value_parser = clap::value_parser!(u64).range(1..))]
    webhook_first_retry_ms: u64,
}

impl WebhookArgs {
    fn targets(&self) -> TargetPolicy {
        TargetPolicy { allow_private: self.webhook_allow_private }
    }

    fn config(&self) -> webhooks::Config {
        webhooks::Config {
            interval: Duration::from_millis(self.webhook_interval_ms),
            concurrency: usize::try_from(self.webhook_concurrency).unwrap_or(usize::MAX),
            timeout: Duration::from_millis(self.webhook_timeout_ms),
            retry: RetryPolicy { first_delay: Duration::from_millis(self.webhook_first_retry_ms), ..RetryPolicy::default() },
            targets: self.targets(),
        }
    }
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
        Command::Sweep(database) => {
            let store = open(&database).await?;
            let moved = service::sweep(store.as_ref(), Timestamp::now()).await.map_err(|error| error.describe())?;
            print(json!({ "moved_to_stale": moved }));
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
    let listener =
        tokio::net::TcpListener::bind(&args.listen).await.map_err(|error| format!("cannot listen on {}: {error}", args.listen))?;
    let address = listener.local_addr().map_err(|error| error.to_string())?;
    let public_url = args.public_url.clone().unwrap_or_else(|| format!("http://{address}"));
    let public_url = PublicUrl::parse(&public_url).ok_or_else(|| format!("--public-url {public_url} is not an http(s) URL"))?;
    // The first write: a file the service may read but not write fails here, so say which.
    let url = &args.database.url;
    let created =
        bootstrap(store.as_ref(), args.bootstrap_token, &public_url).await.map_err(|error| format!("cannot start on {url}: {error}"))?;
    if args.demo {
        demo(store.as_ref(), created.as_ref()).await?;
    }
    print(json!({ "listening": address.to_string() }));
    tokio::spawn(purge_idempotency_keys_hourly(store.clone()));
    if args.sweep_interval > 0 {
        tokio::spawn(sweep_periodically(store.clone(), Duration::from_secs(args.sweep_interval)));
    }
    if args.webhooks.deliver_webhooks {
        tokio::spawn(webhooks::run(store.clone(), args.webhooks.config()));
    }
    tracing::info!(%address, "serving");
    let pages = web::router(
        store.clone(),
        web::WebConfig { secure_cookies: args.secure_cookies || public_url.is_https(), public_url: public_url.clone() },
    );
    let options = api::AppOptions {
        webhook_targets: args.webhooks.targets(),
        pages,
        visitor_pages: Some(web::visitor_pages()),
        ..Default::default()
    };
    let router = api::router_with(store, options).layer(Extension(public_url));
    api::serve(listener, router, args.transport.limits(), shutdown_signal()).await;
    Ok(())
}

/// On an empty database, creates the first owner and prints their API token and the link where
/// they choose a password for the web UI; the organization it created, if it did.
async fn bootstrap(store: &dyn Store, token: Option<String>, public_url: &PublicUrl) -> Result<Option<CreatedOrganization>, String> {
    let Some(created) = service::bootstrap(store, token).await.map_err(|error| error.describe())? else { return Ok(None) };
    print(json!(created));
    let link = sign_in::create_password_link(store, created.org_id, created.staff_id, LinkPurpose::Setup)
        .await
        .map_err(|error| error.describe())?;
    print(json!({ "setup_url": public_url.password_link(&link.secret) }));
    Ok(Some(created))
}

/// Fills the organization the bootstrap just created with the demo clinic and prints what it
/// made. A database that was not empty is left alone: the demo would mix made-up leads into
/// real ones, and a second `serve --demo` on the demo's own database should simply serve it.
async fn demo(store: &dyn Store, created: Option<&CreatedOrganization>) -> Result<(), String> {
    let Some(created) = created else {
        let reason = "the database already has an organization; --demo fills only an empty database";
        tracing::warn!("demo skipped: {reason}");
        print(json!({ "demo_skipped": reason }));
        return Ok(());
    };
    let report =
        store::demo::fill(store, created, store::demo::SEED).await.map_err(|error| format!("the demo failed: {}", error.describe()))?;
    print(json!({ "demo": report }));
    Ok(())
}

/// The stale sweep, every `interval`; a failed pass is logged and the next one tries again.
async fn sweep_periodically(store: Arc<dyn Store>, interval: Duration) {
    let mut ticks = tokio::time::interval(interval);
    loop {
        ticks.tick().await;
        match service::sweep(store.as_ref(), Timestamp::now()).await {
            Ok(moved) => tracing::info!(moved, "stale sweep"),
            Err(error) => tracing::warn!(error = %error.describe(), "the stale sweep failed"),
        }
    }
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
    let options = OpenOptions {
        pool_size: database.pool_size,
        statement_timeout: Duration::from_millis(database.statement_timeout_ms),
        acquire_timeout: Duration::from_millis(database.acquire_timeout_ms),
    };
    store::open(&database.url, &options).await.map_err(|error| format!("cannot open {}: {}", database.url, error.describe()))
}

fn print(value: serde_json::Value) {
    println!("{value}");
}
