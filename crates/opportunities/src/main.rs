//! `opportunities`: serve the API, create, export, import and delete organizations, migrate the database.
//! Machine-readable results go to stdout as JSON lines; logs go to stderr.

#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use clap::{Args, Parser, Subcommand};
use domain::Timestamp;
use domain::session::{LinkPurpose, PublicUrl};
use domain::webhook::{RetryPolicy, TargetPolicy};
use serde_json::json;
use store::backup::{Schedule, ServerLock};
use store::service::{self, CreatedOrganization, NewOrganization};
use store::{OpenOptions, Store};
use store::{organization_data, sign_in};

/// glibc's allocator took a fifth of the server's time in a `get` (perf, 100K leads); the many
/// short-lived strings and rows of a request are what mimalloc's per-thread pages are made for.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Copy an SQLite database, while servers run, into a new file, check the copy
    /// (integrity_check, rows per table) and print a JSON summary. PostgreSQL: use pg_dump.
    Backup {
        #[arg(long = "database", env = "OPPORTUNITIES_DATABASE_URL", default_value = "sqlite://opportunities.db")]
        url: String,
        /// The backup file to write; it must not exist yet.
        #[arg(long)]
        to: PathBuf,
    },
    /// Replace an SQLite database with a backup, once no server uses it: checks the backup
    /// first and keeps the replaced database as DB.replaced-<UTC time>.
    Restore {
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
        #[arg(long = "database", env = "OPPORTUNITIES_DATABASE_URL", default_value = "sqlite://opportunities.db")]
        url: String,
    },
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
    /// Database connections per process (SQLite: idle read connections kept; there is one writer).
    #[arg(long, env = "OPPORTUNITIES_POOL_SIZE", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pool_size: u32,
    /// The database cancels any statement running longer than this many milliseconds.
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
    #[command(flatten)]
    backups: BackupArgs,
}

/// Backups on a schedule (SQLite only; see `opportunities backup`).
#[derive(Args)]
struct BackupArgs {
    /// Take a backup of the SQLite database into this directory on a schedule, named
    /// <database name>-backup-<UTC time>.db. Off unless given.
    #[arg(long, env = "OPPORTUNITIES_BACKUP_DIR")]
    backup_dir: Option<PathBuf>,
    /// How often: a number and a unit, s, m, h or d (30m, 1h, 1d).
    #[arg(long, env = "OPPORTUNITIES_BACKUP_EVERY", default_value = "1h", value_parser = parse_interval)]
    backup_every: Duration,
    /// How many backups to keep in the directory; older ones are deleted after each backup.
    #[arg(long, env = "OPPORTUNITIES_BACKUP_KEEP", default_value_t = 48, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    backup_keep: u32,
}

/// `30s`, `15m`, `1h`, `1d`: at least a second, at most 30 days.
fn parse_interval(text: &str) -> Result<Duration, String> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len());
    let (number, unit) = text.split_at(unit_at);
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err("use a number and a unit, s, m, h or d: 30m, 1h, 1d".into()),
    };
    let seconds = number.parse::<u64>().ok().and_then(|number| number.checked_mul(seconds)).filter(|s| (1..=30 * 86_400).contains(s));
    seconds.map(Duration::from_secs).ok_or_else(|| "must be between 1s and 30d".into())
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
    /// Write every record of an organization (secrets, tokens and sessions aside) to FILE as JSON
    /// lines; prints {"org_id","rows"}. Export an organization nobody is changing.
    Export {
        #[arg(long = "org")]
        org_id: uuid::Uuid,
        #[arg(long = "to")]
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Recreate an exported organization, ids kept, in one transaction; refuses an organization
    /// or record the database has already. Prints {"org_id","rows","owner_token"}: a new API
    /// token of its first active owner, since tokens and passwords do not travel.
    Import {
        #[arg(long = "from")]
        file: PathBuf,
        #[command(flatten)]
        database: DatabaseArgs,
    },
    /// Delete every record of an organization, in one transaction; prints what it deleted.
    Delete {
        #[arg(long = "org")]
        org_id: uuid::Uuid,
        /// The organization's name, exactly.
        #[arg(long)]
        confirm: String,
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
        Command::Backup { url, to } => {
            let backup = store::backup::backup(&url, &to).await.map_err(|error| format!("backup failed: {error}"))?;
            print(json!({ "backup": backup }));
            Ok(())
        }
        Command::Restore { from, url } => {
            let restored = store::backup::restore(&from, &url).await.map_err(|error| format!("restore refused: {error}"))?;
            print(json!({ "restored": restored }));
            Ok(())
        }
        Command::Org { command } => org(command).await,
    }
}

/// The operator's commands on organizations: only whoever can reach the database runs them
/// (see `store::organization_data`).
async fn org(command: OrgCommand) -> Result<(), String> {
    let failed = |error: domain::Error| error.describe();
    match command {
        OrgCommand::Create { name, owner_email, owner_name, database } => {
            let store = open(&database).await?;
            let new = NewOrganization { name, owner_name, owner_email, token: None };
            print(json!(service::create_organization(store.as_ref(), new).await.map_err(failed)?));
        }
        OrgCommand::Export { org_id, file, database } => {
            let store = open(&database).await?;
            let exported = export(store.as_ref(), org_id, &file).await;
            if exported.is_err() {
                // No file is better than one that ends part-way (which an import would refuse anyway).
                let _ = std::fs::remove_file(&file);
            }
            print(json!(exported?));
        }
        OrgCommand::Import { file, database } => {
            let input = std::fs::File::open(&file).map_err(|error| format!("cannot read {}: {error}", file.display()))?;
            let store = open(&database).await?;
            let imported = organization_data::import(store.as_ref(), &mut std::io::BufReader::new(input)).await.map_err(failed)?;
            print(json!(imported));
        }
        OrgCommand::Delete { org_id, confirm, database } => {
            let store = open(&database).await?;
            print(json!(organization_data::delete(store.as_ref(), org_id, &confirm).await.map_err(failed)?));
        }
    }
    Ok(())
}

/// Writes the organization's export to `file`, on disk when this returns.
async fn export(store: &dyn Store, org_id: uuid::Uuid, file: &Path) -> Result<organization_data::Exported, String> {
    let cannot = |error: std::io::Error| format!("cannot write {}: {error}", file.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(file).map_err(cannot)?);
    let exported = organization_data::export(store, org_id, &mut out).await.map_err(|error| error.describe())?;
    out.into_inner().map_err(|error| cannot(error.into_error()))?.sync_all().map_err(cannot)?;
    Ok(exported)
}

async fn serve(args: ServeArgs) -> Result<(), String> {
    // Held until the server stops, so that `restore` refuses to swap the file under it.
    let _lock = ServerLock::acquire(&args.database.url).map_err(|error| error.to_string())?;
    let schedule = backup_schedule(&args)?;
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
    let backups = schedule.map(|schedule| {
        let health = Arc::new(api::BackupHealth::default());
        tokio::spawn(take_backups(schedule, health.clone()));
        health
    });
    tracing::info!(%address, "serving");
    let pages = web::router(
        store.clone(),
        web::WebConfig { secure_cookies: args.secure_cookies || public_url.is_https(), public_url: public_url.clone() },
    );
    let options = api::AppOptions {
        webhook_targets: args.webhooks.targets(),
        pages,
        visitor_pages: Some(web::visitor_pages()),
        backups,
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

/// The backup schedule `serve` was asked for, if any; only an SQLite database has one.
fn backup_schedule(args: &ServeArgs) -> Result<Option<Schedule>, String> {
    let Some(dir) = args.backups.backup_dir.clone() else { return Ok(None) };
    let url = args.database.url.clone();
    store::backup::sqlite_path(&url).map_err(|error| format!("--backup-dir: {error}"))?;
    Ok(Some(Schedule { url, dir, every: args.backups.backup_every, keep: args.backups.backup_keep as usize }))
}

/// Takes a backup whenever one is due, for as long as the server runs. A failure is logged as
/// an error and counted (see `api::BackupHealth`), and the next attempt comes a full interval
/// later: retrying at once would likely fail the same way and fill the log.
async fn take_backups(schedule: Schedule, health: Arc<api::BackupHealth>) {
    loop {
        let wait = schedule.due_in().unwrap_or(Duration::ZERO);
        tokio::time::sleep(wait).await;
        match schedule.run().await {
            Ok((backup, deleted)) => {
                health.succeeded(backup.started_at, backup.verified.bytes, backup.seconds);
                tracing::info!(file = %backup.verified.file.display(), bytes = backup.verified.bytes, seconds = backup.seconds,
                    deleted = deleted.len(), "backup taken and checked");
            }
            Err(error) => {
                health.failed(domain::Timestamp::now());
                tracing::error!(dir = %schedule.dir.display(), %error, "BACKUP FAILED: the database was not backed up");
                tokio::time::sleep(schedule.every).await;
            }
        }
    }
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
