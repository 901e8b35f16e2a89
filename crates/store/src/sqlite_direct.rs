//! SQLite statements on the caller's own thread.
//!
//! sqlx gives every SQLite connection a thread of its own and hands it each statement through
//! a channel, waking one thread and then the other twice per statement: at three statements a
//! lead, most of a `get`'s time went to those hand-offs, in the kernel; and the single writer,
//! whose statements run one after another, spent more of each write waiting for them than
//! running them. A [`Direct`] connection runs each statement where it is asked for: the readers
//! (see [`sqlite_readers`](crate::sqlite_readers)) on the request's thread, the writer (see
//! [`group_commit`](crate::group_commit)) on its task's.
//!
//! What bounds a statement is the statement timeout, as PostgreSQL's `statement_timeout` does
//! there: a progress handler interrupts a statement past it, and the request answers 503.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use domain::{Error, Result, Timestamp};
use rusqlite::config::DbConfig;
use rusqlite::types::{Value, ValueRef};
use rusqlite::{Connection, OpenFlags};
use uuid::Uuid;

use crate::sql::{Param, RowReader, Statement, corrupt};
use crate::sqlite_functions;

/// Virtual machine steps between two looks at the clock: about a tenth of a millisecond.
const STEPS_PER_CHECK: i32 = 10_000;

/// Prepared statements kept per connection: the service's reads are a few dozen texts, the
/// list's filters a few hundred combinations, of which the common ones stay.
const CACHED_STATEMENTS: usize = 256;

/// Pages the log may hold before a commit copies them into the database file (SQLite's
/// default is 1,000). A checkpoint runs inside the writer's `COMMIT`, and the pages that every
/// write touches (totals, the upper levels of each index) are copied once per checkpoint
/// however often they changed in between: at 10,000 (about 40 MB of log) writes went 1.09–1.16×
/// faster at 100K leads. The cost is a longer log to read back after a crash.
const WAL_PAGES_BEFORE_CHECKPOINT: u32 = 10_000;

/// How long a connection waits for another process's write lock (a backup, a `sweep` run).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection whose statements are interrupted past the statement timeout.
pub(crate) struct Direct {
    connection: Connection,
    /// Microseconds after `started` by which the current statement must end, read by the
    /// progress handler.
    deadline: Arc<AtomicU64>,
    started: Instant,
    timeout: Duration,
}

impl Direct {
    /// A read-only connection, with the service's SQL functions.
    pub fn reader(path: &Path, timeout: Duration) -> Result<Direct> {
        let connection =
            Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX).map_err(sqlite_error)?;
        sqlite_functions::register(&connection).map_err(sqlite_error)?;
        Direct::new(connection, timeout)
    }

    /// The read-write connection. Durability: WAL with `synchronous=FULL` syncs the log on every
    /// commit, so an acknowledged write survives a crash of the process and a loss of power.
    pub fn writer(path: &Path, timeout: Duration) -> Result<Direct> {
        let connection = Connection::open(path).map_err(sqlite_error)?;
        connection
            .execute_batch(&format!(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;
                 PRAGMA wal_autocheckpoint = {WAL_PAGES_BEFORE_CHECKPOINT}"
            ))
            .map_err(sqlite_error)?;
        Direct::new(connection, timeout)
    }

    fn new(connection: Connection, timeout: Duration) -> Result<Direct> {
        connection.busy_timeout(BUSY_TIMEOUT).map_err(sqlite_error)?;
        // Without the planner's stability guarantee, a statement whose plan looked at a bound
        // value (any `LIMIT $n`) is compiled again each time a value is bound: half a `get`'s
        // time went to parsing its notes and activities statements anew.
        connection.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true).map_err(sqlite_error)?;
        connection.set_prepared_statement_cache_capacity(CACHED_STATEMENTS);
        let (deadline, started) = (Arc::new(AtomicU64::new(u64::MAX)), Instant::now());
        let watched = deadline.clone();
        connection
            .progress_handler(STEPS_PER_CHECK, Some(move || micros_since(started) > watched.load(Ordering::Relaxed)))
            .map_err(sqlite_error)?;
        Ok(Direct { connection, deadline, started, timeout })
    }

    /// Runs the statement to its end (or its `limit`-th row).
    pub fn rows(&self, statement: &Statement, limit: usize) -> Result<Vec<Record>> {
        self.start_the_clock();
        let mut prepared = self.connection.prepare_cached(&statement.sql).map_err(sqlite_error)?;
        bind(&mut prepared, &statement.params)?;
        let columns: Arc<[String]> = prepared.column_names().into_iter().map(str::to_owned).collect();
        let mut records = Vec::new();
        let mut rows = prepared.raw_query();
        while records.len() < limit
            && let Some(row) = rows.next().map_err(sqlite_error)?
        {
            let values = (0..columns.len()).map(|i| row.get::<_, Value>(i)).collect::<rusqlite::Result<_>>();
            records.push(Record { columns: columns.clone(), values: values.map_err(sqlite_error)? });
        }
        Ok(records)
    }

    /// The number of rows the statement changed.
    pub fn execute(&self, statement: &Statement) -> Result<u64> {
        self.start_the_clock();
        let mut prepared = self.connection.prepare_cached(&statement.sql).map_err(sqlite_error)?;
        bind(&mut prepared, &statement.params)?;
        Ok(prepared.raw_execute().map_err(sqlite_error)? as u64)
    }

    /// Statements without parameters or results, such as `BEGIN` or `COMMIT`.
    pub fn batch(&self, sql: &str) -> Result<()> {
        self.start_the_clock();
        self.connection.execute_batch(sql).map_err(sqlite_error)
    }

    /// Whether no transaction is open.
    pub fn is_autocommit(&self) -> bool {
        self.connection.is_autocommit()
    }

    fn start_the_clock(&self) {
        self.deadline.store(micros_since(self.started).saturating_add(micros(self.timeout)), Ordering::Relaxed);
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX)
}

fn micros_since(started: Instant) -> u64 {
    micros(started.elapsed())
}

/// Binds each `$n` by its name: the shared SQL may name a later value before an earlier one,
/// and SQLite numbers named parameters in the order they first appear.
fn bind(prepared: &mut rusqlite::CachedStatement<'_>, params: &[Param]) -> Result<()> {
    for (n, param) in params.iter().enumerate() {
        let Some(index) = prepared.parameter_index(&format!("${}", n + 1)).map_err(sqlite_error)? else { continue };
        let value = match param {
            Param::Uuid(value) => value.map(|id| Value::Blob(id.as_bytes().to_vec())),
            Param::Text(value) => value.clone().map(Value::Text),
            Param::Int(value) => value.map(Value::Integer),
            Param::Int32(value) => Some(Value::Integer(i64::from(*value))),
            Param::Bool(value) => Some(Value::Integer(i64::from(*value))),
            Param::Time(value) => value.map(|t| Value::Integer(t.unix_micros())),
            Param::Bytes(value) => Some(Value::Blob(value.clone())),
        };
        prepared.raw_bind_parameter(index, value.unwrap_or(Value::Null)).map_err(sqlite_error)?;
    }
    Ok(())
}

/// SQLite's extended codes for a unique value taken: a look-up-then-insert that lost to a
/// concurrent insert, which the use cases run again (see [`crate::DbResult`]).
const UNIQUE_VIOLATIONS: [i32; 2] = [rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE, rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY];

/// SQLite's error as the service's, as [`crate::DbResult`] maps sqlx's: a unique value taken
/// is contention, a statement past the timeout took too long, a file that cannot be read or
/// written is unavailable; anything else is internal.
pub(crate) fn sqlite_error(error: rusqlite::Error) -> Error {
    use rusqlite::ErrorCode as Code;
    let extended = match &error {
        rusqlite::Error::SqliteFailure(failure, _) => Some(failure.extended_code),
        _ => None,
    };
    match error.sqlite_error_code() {
        Some(Code::ConstraintViolation) if extended.is_some_and(|code| UNIQUE_VIOLATIONS.contains(&code)) => Error::Contention,
        Some(Code::OperationInterrupted) => Error::TookTooLong,
        Some(Code::ReadOnly | Code::SystemIoFailure | Code::DiskFull | Code::CannotOpen) => Error::unavailable(error),
        _ => Error::internal(error),
    }
}

/// One result row, its values copied out of SQLite, read by column name.
pub(crate) struct Record {
    columns: Arc<[String]>,
    values: Box<[Value]>,
}

impl Record {
    fn value(&self, column: &str) -> Result<ValueRef<'_>> {
        let index = self.columns.iter().position(|name| name == column).ok_or_else(|| corrupt(column))?;
        Ok(ValueRef::from(&self.values[index]))
    }

    /// The value unless NULL, converted; a value of another type is corrupt, as sqlx has it.
    fn optional<T>(&self, column: &str, convert: impl FnOnce(ValueRef<'_>) -> Option<T>) -> Result<Option<T>> {
        match self.value(column)? {
            ValueRef::Null => Ok(None),
            value => convert(value).map(Some).ok_or_else(|| corrupt(column)),
        }
    }

    fn required<T>(&self, column: &str, convert: impl FnOnce(ValueRef<'_>) -> Option<T>) -> Result<T> {
        self.optional(column, convert)?.ok_or_else(|| corrupt(column))
    }
}

fn integer(value: ValueRef<'_>) -> Option<i64> {
    match value {
        ValueRef::Integer(n) => Some(n),
        _ => None,
    }
}

fn uuid(value: ValueRef<'_>) -> Option<Uuid> {
    value.as_blob().ok().and_then(|bytes| Uuid::from_slice(bytes).ok())
}

fn text(value: ValueRef<'_>) -> Option<String> {
    value.as_str().ok().map(str::to_owned)
}

impl RowReader for Record {
    fn uuid(&self, column: &str) -> Result<Uuid> {
        self.required(column, uuid)
    }
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>> {
        self.optional(column, uuid)
    }
    fn text(&self, column: &str) -> Result<String> {
        self.required(column, text)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>> {
        self.optional(column, text)
    }
    fn int(&self, column: &str) -> Result<i64> {
        self.required(column, integer)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>> {
        self.optional(column, integer)
    }
    fn int32(&self, column: &str) -> Result<i32> {
        self.required(column, |value| integer(value).and_then(|n| i32::try_from(n).ok()))
    }
    fn boolean(&self, column: &str) -> Result<bool> {
        self.required(column, |value| integer(value).map(|n| n != 0))
    }
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>> {
        self.optional(column, |value| value.as_blob().ok().map(<[u8]>::to_vec))
    }
    fn opt_timestamp(&self, column: &str) -> Result<Option<Timestamp>> {
        self.optional(column, |value| integer(value).and_then(Timestamp::from_unix_micros))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A unique value taken is contention, which the use cases run again; another constraint
    /// is not.
    #[test]
    fn a_taken_unique_value_is_contention() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let writer = Direct::writer(&dir.path().join("unique.db"), Duration::from_secs(1)).expect("open the file");
        writer.batch("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT UNIQUE, n INTEGER CHECK (n > 0))").expect("create a table");
        let insert = |k: i64, v: &str, n: i64| writer.execute(&Statement::new("INSERT INTO t VALUES ($1, $2, $3)").bind(k).bind(v).bind(n));
        insert(1, "a", 1).expect("the first row");
        assert!(matches!(insert(1, "b", 1), Err(Error::Contention)), "a taken primary key");
        assert!(matches!(insert(2, "a", 1), Err(Error::Contention)), "a taken unique value");
        assert!(matches!(insert(3, "c", 0), Err(Error::Internal(_))), "a failed check");
    }
}
