//! Backups of the embedded SQLite database, taken while servers run, and their restore.
//!
//! A backup is `VACUUM INTO` a temporary name beside the target, checked (`integrity_check`
//! and a row count per table), turned into one self-contained file (rollback journal, no
//! `-wal`), synced, and only then renamed to its final name: a crash never leaves a half
//! file under a backup's name. `VACUUM INTO` reads in one transaction, so the copy is the
//! database as of one moment, and a WAL reader never blocks the server's writer.
//!
//! Servers hold a shared lock on `DB.lock` for their lifetime ([`ServerLock`]); a restore
//! takes it exclusively, so it refuses while any server uses the file and no server starts
//! while it swaps the files.
//!
//! PostgreSQL has `pg_dump` and `pg_restore` for this (docs/operations.md); nothing here
//! replaces them.

use std::collections::BTreeMap;
use std::fs::{File, TryLockError};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::{Duration, Instant};

use domain::Timestamp;
use serde::Serialize;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, SqliteConnection};
use time::OffsetDateTime;
use time::macros::format_description;

/// What goes wrong, in words for the operator running the command.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{0} is not an SQLite database: back PostgreSQL up with `pg_dump -Fc` and restore it with `pg_restore` (see docs/operations.md, Backups)"
    )]
    NotSqlite(String),
    #[error("{0} does not exist")]
    Missing(PathBuf),
    #[error("{0} already exists; a backup never overwrites a file")]
    Exists(PathBuf),
    #[error("a server is using {0} (it holds {0}.lock); stop every server on this database first")]
    InUse(PathBuf),
    #[error("a restore of {0} is in progress (it holds {0}.lock); start the server when it has finished")]
    Restoring(PathBuf),
    #[error("{file} is damaged: integrity_check says {problems}")]
    Damaged { file: PathBuf, problems: String },
    #[error("{0} is not an Opportunities database (it has no opportunities table)")]
    NotOpportunities(PathBuf),
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{what} {}: {source}", path.display())]
    Database {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: sqlx::Error,
    },
}

type Result<T, E = BackupError> = std::result::Result<T, E>;

/// A checked database file: what `backup` prints, and what `restore` checks before it swaps.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    pub file: PathBuf,
    pub bytes: u64,
    /// `ok`: anything else fails the check.
    pub integrity_check: String,
    /// Rows in every table of the file (from its own schema, so tables added later count too).
    pub tables: BTreeMap<String, i64>,
}

/// One backup taken.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    pub source: PathBuf,
    /// When the snapshot's read began: every write acknowledged before then is in it.
    pub started_at: Timestamp,
    pub seconds: f64,
    #[serde(flatten)]
    pub verified: Verified,
}

/// One restore done.
#[derive(Debug, Clone, Serialize)]
pub struct Restored {
    pub database: PathBuf,
    /// Where the database it replaced now is, with its `-wal` beside it (none if there was none).
    pub replaced: Option<PathBuf>,
    #[serde(flatten)]
    pub verified: Verified,
}

/// The SQLite file a `sqlite://` URL names.
pub fn sqlite_path(url: &str) -> Result<PathBuf> {
    if !url.starts_with("sqlite:") {
        return Err(BackupError::NotSqlite(redacted(url)));
    }
    let options = SqliteConnectOptions::from_str(url).map_err(|_| BackupError::NotSqlite(redacted(url)))?;
    Ok(options.get_filename().to_path_buf())
}

/// A URL in an error without its password.
fn redacted(url: &str) -> String {
    match url.split_once('@') {
        Some((_, host)) => format!("{}://…@{host}", url.split(':').next().unwrap_or("database")),
        None => url.to_owned(),
    }
}

/// Takes a snapshot of the database at `url` into `to`, which must not exist yet.
pub async fn backup(url: &str, to: &Path) -> Result<Backup> {
    let source = sqlite_path(url)?;
    if !source.exists() {
        return Err(BackupError::Missing(source));
    }
    if to.exists() {
        return Err(BackupError::Exists(to.to_path_buf()));
    }
    let partial = partial_name(to);
    remove_if_present(&partial)?;
    let clock = Instant::now();
    let started_at = Timestamp::now();
    let verified = async {
        snapshot(&source, &partial).await?;
        self_contained(&partial).await
    };
    let verified = match verified.await {
        Ok(verified) => verified,
        Err(error) => {
            // The partial file is worthless; leaving it would only fill the disk.
            let _ = std::fs::remove_file(&partial);
            return Err(error);
        }
    };
    sync_file(&partial)?;
    std::fs::rename(&partial, to).map_err(io("cannot rename the finished backup to", to))?;
    sync_parent(to)?;
    let verified = Verified { file: to.to_path_buf(), ..verified };
    Ok(Backup { source, started_at, seconds: clock.elapsed().as_secs_f64(), verified })
}

/// `VACUUM INTO`: one read transaction over the source, written page by page into `into`.
async fn snapshot(source: &Path, into: &Path) -> Result<()> {
    let mut connection = connect(source).await?;
    let Some(into_text) = into.to_str() else {
        return Err(io("cannot name", into)(std::io::Error::other("the path is not valid UTF-8")));
    };
    sqlx::query("VACUUM INTO $1").bind(into_text).execute(&mut connection).await.map_err(db("cannot copy", source))?;
    connection.close().await.map_err(db("cannot close", source))
}

/// Makes the copy one file that needs no `-wal` (a WAL database's copy keeps its WAL mode),
/// then checks it.
async fn self_contained(file: &Path) -> Result<Verified> {
    let mut connection = connect(file).await?;
    sqlx::query("PRAGMA journal_mode = DELETE").execute(&mut connection).await.map_err(db("cannot set the journal mode of", file))?;
    let verified = check(&mut connection, file).await;
    connection.close().await.map_err(db("cannot close", file))?;
    verified
}

/// Checks a database file without changing it: `integrity_check`, the `opportunities` table, and
/// a row count per table.
pub async fn verify(file: &Path) -> Result<Verified> {
    if !file.exists() {
        return Err(BackupError::Missing(file.to_path_buf()));
    }
    let options = SqliteConnectOptions::new().filename(file).read_only(true);
    let mut connection = SqliteConnection::connect_with(&options).await.map_err(db("cannot open", file))?;
    let verified = check(&mut connection, file).await;
    connection.close().await.map_err(db("cannot close", file))?;
    verified
}

async fn check(connection: &mut SqliteConnection, file: &Path) -> Result<Verified> {
    let damaged = |error: sqlx::Error| BackupError::Damaged { file: file.to_path_buf(), problems: error.to_string() };
    // At most 20 problems: enough to tell what is wrong, bounded for the log.
    let problems: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check(20)").fetch_all(&mut *connection).await.map_err(damaged)?;
    if problems != ["ok"] {
        return Err(BackupError::Damaged { file: file.to_path_buf(), problems: problems.join("; ") });
    }
    // Shadow tables (the word index's storage) are counted through their virtual table.
    let names: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'virtual') AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(&mut *connection)
    .await
    .map_err(damaged)?;
    if !names.iter().any(|name| name == "opportunities") {
        return Err(BackupError::NotOpportunities(file.to_path_buf()));
    }
    let mut tables = BTreeMap::new();
    for name in names {
        // The name comes from the file's own schema; quoting keeps any name one identifier.
        let count = format!("SELECT count(*) FROM \"{}\"", name.replace('"', "\"\""));
        let rows: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(count)).fetch_one(&mut *connection).await.map_err(damaged)?;
        tables.insert(name, rows);
    }
    let bytes = std::fs::metadata(file).map_err(io("cannot read the size of", file))?.len();
    Ok(Verified { file: file.to_path_buf(), bytes, integrity_check: "ok".into(), tables })
}

/// Replaces the database at `url` with the backup `from`, once no server holds it and the
/// backup passes [`verify`]. The database it replaces is kept as `DB.replaced-<UTC time>`,
/// with its `-wal` and `-shm` renamed alike so that it still opens with every write it had.
pub async fn restore(from: &Path, url: &str) -> Result<Restored> {
    let database = sqlite_path(url)?;
    let _exclusive = lock(&database, Lock::Exclusive)?;
    let verified = verify(from).await?;
    let incoming = sibling(&database, ".restoring");
    remove_if_present(&incoming)?;
    std::fs::copy(from, &incoming).map_err(io("cannot copy the backup to", &incoming))?;
    sync_file(&incoming)?;
    let replaced = set_aside(&database)?;
    std::fs::rename(&incoming, &database).map_err(io("cannot move the restored database to", &database))?;
    sync_parent(&database)?;
    Ok(Restored { database: database.clone(), replaced, verified: Verified { file: from.to_path_buf(), ..verified } })
}

/// Renames the database and each of its companion files that exists (a `-wal` left without
/// its database by an interrupted restore too: beside the restored file, SQLite would replay
/// it into it). The database's name, if it existed.
fn set_aside(database: &Path) -> Result<Option<PathBuf>> {
    let aside = sibling(database, &format!(".replaced-{}", stamp(OffsetDateTime::now_utc())));
    for suffix in ["-wal", "-shm", "-journal"] {
        let (companion, moved) = (sibling(database, suffix), sibling(&aside, suffix));
        if companion.exists() {
            std::fs::rename(&companion, &moved).map_err(io("cannot set aside", &companion))?;
        }
    }
    if !database.exists() {
        return Ok(None);
    }
    std::fs::rename(database, &aside).map_err(io("cannot set aside", database))?;
    Ok(Some(aside))
}

/// What a server holds while it runs on an SQLite file: a shared lock on `DB.lock`, released
/// when the process ends however it ends (the kernel drops it with the file descriptor).
pub struct ServerLock {
    _held: File,
}

impl ServerLock {
    /// The lock for the database at `url`; none for PostgreSQL, which needs none.
    pub fn acquire(url: &str) -> Result<Option<ServerLock>> {
        if !url.starts_with("sqlite:") {
            return Ok(None);
        }
        lock(&sqlite_path(url)?, Lock::Shared).map(|file| Some(ServerLock { _held: file }))
    }
}

enum Lock {
    Shared,
    Exclusive,
}

fn lock(database: &Path, kind: Lock) -> Result<File> {
    let path = sibling(database, ".lock");
    let file = File::options().create(true).truncate(false).write(true).open(&path).map_err(io("cannot open the lock file", &path))?;
    let taken = match kind {
        Lock::Shared => file.try_lock_shared(),
        Lock::Exclusive => file.try_lock(),
    };
    match (taken, kind) {
        (Ok(()), _) => Ok(file),
        (Err(TryLockError::WouldBlock), Lock::Shared) => Err(BackupError::Restoring(database.to_path_buf())),
        (Err(TryLockError::WouldBlock), Lock::Exclusive) => Err(BackupError::InUse(database.to_path_buf())),
        (Err(TryLockError::Error(error)), _) => Err(io("cannot lock", &path)(error)),
    }
}

// ---- scheduled backups --------------------------------------------------------------------

/// The backups a server takes on a schedule into one directory: `<stem>-backup-<UTC time>.db`,
/// so that names sort by age and retention touches nothing else.
pub struct Schedule {
    pub url: String,
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

impl Schedule {
    /// The name a backup taken at `at` gets.
    pub fn file_at(&self, at: OffsetDateTime) -> Result<PathBuf> {
        Ok(self.dir.join(format!("{}{}.db", self.prefix()?, stamp(at))))
    }

    /// How long to wait for the next backup: `every` after the newest one in the directory
    /// (at once if there is none), so that a server restarted more often than `every` still
    /// takes them, and one restarted often does not take one at each start. At most `every`,
    /// whatever time a file's name claims.
    pub fn due_in(&self) -> Result<Duration> {
        let newest = self.existing()?.pop();
        let due = newest
            .map_or(Duration::ZERO, |(taken, _)| (taken + self.every - OffsetDateTime::now_utc()).try_into().unwrap_or(Duration::ZERO));
        Ok(due.min(self.every))
    }

    /// Takes a backup now, then deletes the oldest backups beyond `keep`; the backup and the
    /// files deleted.
    pub async fn run(&self) -> Result<(Backup, Vec<PathBuf>)> {
        std::fs::create_dir_all(&self.dir).map_err(io("cannot create the backup directory", &self.dir))?;
        let backup = backup(&self.url, &self.file_at(OffsetDateTime::now_utc())?).await?;
        let mut existing = self.existing()?;
        let excess = existing.len().saturating_sub(self.keep);
        let mut deleted = Vec::new();
        for (_, file) in existing.drain(..excess) {
            std::fs::remove_file(&file).map_err(io("cannot delete the old backup", &file))?;
            deleted.push(file);
        }
        Ok((backup, deleted))
    }

    /// This schedule's backups in the directory, oldest first, by the time in their names.
    fn existing(&self) -> Result<Vec<(OffsetDateTime, PathBuf)>> {
        let prefix = self.prefix()?;
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(error) => return Err(io("cannot list", &self.dir)(error)),
        };
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(io("cannot list", &self.dir))?;
            let name = entry.file_name();
            let taken = name.to_str().and_then(|name| name.strip_prefix(&prefix)?.strip_suffix(".db")).and_then(parse_stamp);
            if let Some(taken) = taken {
                found.push((taken, entry.path()));
            }
        }
        found.sort();
        Ok(found)
    }

    fn prefix(&self) -> Result<String> {
        let database = sqlite_path(&self.url)?;
        let stem = database.file_stem().and_then(|stem| stem.to_str()).unwrap_or("opportunities");
        Ok(format!("{stem}-backup-"))
    }
}

const STAMP: &[time::format_description::BorrowedFormatItem<'static>] = format_description!("[year][month][day]T[hour][minute][second]Z");

fn stamp(at: OffsetDateTime) -> String {
    at.format(STAMP).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

fn parse_stamp(text: &str) -> Option<OffsetDateTime> {
    time::PrimitiveDateTime::parse(text, STAMP).ok().map(time::PrimitiveDateTime::assume_utc)
}

// ---- files --------------------------------------------------------------------------------

async fn connect(file: &Path) -> Result<SqliteConnection> {
    // Never create: a mistyped path must fail, not back up a new empty database.
    let options = SqliteConnectOptions::new().filename(file).create_if_missing(false).busy_timeout(Duration::from_secs(30));
    SqliteConnection::connect_with(&options).await.map_err(db("cannot open", file))
}

/// `path` with `suffix` appended to its file name.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn partial_name(to: &Path) -> PathBuf {
    sibling(to, ".partial")
}

fn remove_if_present(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() != std::io::ErrorKind::NotFound => Err(io("cannot remove", path)(error)),
        _ => Ok(()),
    }
}

fn sync_file(path: &Path) -> Result<()> {
    File::open(path).and_then(|file| file.sync_all()).map_err(io("cannot sync", path))
}

/// Syncs the directory holding `path`, so that a rename into it survives a power loss.
fn sync_parent(path: &Path) -> Result<()> {
    let parent = path.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(parent).and_then(|dir| dir.sync_all()).map_err(io("cannot sync", parent))
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_path_buf();
    move |source| BackupError::Io { what, path, source }
}

fn db(what: &'static str, path: &Path) -> impl FnOnce(sqlx::Error) -> BackupError {
    let path = path.to_path_buf();
    move |source| BackupError::Database { what, path, source }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_sort_as_times_and_read_back() {
        let at = time::macros::datetime!(2026-12-01 03:04:05 UTC);
        assert_eq!(stamp(at), "20261201T030405Z");
        assert_eq!(parse_stamp("20261201T030405Z"), Some(at));
        assert_eq!(parse_stamp("20261201T030405Z.partial"), None);
    }

    #[test]
    fn a_postgres_url_points_to_pg_dump_without_its_password() {
        let error = sqlite_path("postgres://user:secret@db.example/opportunities").expect_err("not SQLite").to_string();
        assert!(error.contains("pg_dump") && !error.contains("secret"), "{error}");
    }
}
