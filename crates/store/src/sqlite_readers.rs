//! SQLite's read connections: each statement runs on the thread that asks for it (see
//! [`sqlite_direct`](crate::sqlite_direct)), on a connection taken from an idle list and put
//! back at once. A read in WAL mode never waits for the writer, and the service's reads take
//! microseconds to milliseconds; the statement timeout bounds the rest.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use domain::Result;

use crate::PoolState;
use crate::sql::{Run, Statement, corrupt};
use crate::sqlite_direct::{Direct, Record};

/// The read connections of one database file: a handle that every clone shares.
#[derive(Clone)]
pub(crate) struct Readers {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    idle: Mutex<Vec<Direct>>,
    /// Idle connections beyond this many are closed when put back.
    keep: usize,
    /// Connections open, idle or in use.
    open: AtomicU64,
    statement_timeout: Duration,
}

impl Readers {
    /// Opens one connection at once, so that a file that cannot be read fails here.
    pub fn open(path: &Path, keep: usize, statement_timeout: Duration) -> Result<Readers> {
        let shared =
            Shared { path: path.to_owned(), idle: Mutex::new(Vec::new()), keep: keep.max(1), open: AtomicU64::new(0), statement_timeout };
        let readers = Readers { shared: Arc::new(shared) };
        let first = readers.take()?;
        readers.put_back(first);
        Ok(readers)
    }

    pub fn state(&self) -> PoolState {
        let idle = self.idle().len();
        let size = self.shared.open.load(Ordering::Relaxed);
        PoolState { size: u32::try_from(size).unwrap_or(u32::MAX), idle: u32::try_from(idle).unwrap_or(u32::MAX) }
    }

    /// A read transaction: its first statement fixes what it sees until it is dropped.
    pub fn snapshot(&self) -> Result<Snapshot> {
        let reader = self.take()?;
        reader.batch("BEGIN")?;
        Ok(Snapshot { reader: Mutex::new(Some(reader)), home: self.clone() })
    }

    fn idle(&self) -> MutexGuard<'_, Vec<Direct>> {
        self.shared.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An idle connection, or a new one when every connection is in use: only as many are in
    /// use as threads are running a statement, since none is held across an await.
    fn take(&self) -> Result<Direct> {
        if let Some(reader) = self.idle().pop() {
            return Ok(reader);
        }
        let reader = Direct::reader(&self.shared.path, self.shared.statement_timeout)?;
        self.shared.open.fetch_add(1, Ordering::Relaxed);
        Ok(reader)
    }

    fn put_back(&self, reader: Direct) {
        let mut idle = self.idle();
        if idle.len() < self.shared.keep {
            idle.push(reader);
        } else {
            drop(idle);
            self.shared.open.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

impl Connection for Readers {
    /// Runs `work` on an idle connection, which goes back whatever the outcome.
    fn with<T>(&self, work: impl FnOnce(&Direct) -> Result<T>) -> Result<T> {
        let reader = self.take()?;
        let result = work(&reader);
        self.put_back(reader);
        result
    }
}

/// Where a statement finds its connection: any idle one, or a snapshot's own.
trait Connection: Send + Sync {
    fn with<T>(&self, work: impl FnOnce(&Direct) -> Result<T>) -> Result<T>;
}

#[async_trait]
impl<C: Connection> Run for C {
    type Row = Record;

    async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<Record>> {
        self.with(|reader| reader.rows(&statement, usize::MAX))
    }

    async fn fetch_optional(&mut self, statement: Statement) -> Result<Option<Record>> {
        Ok(self.with(|reader| reader.rows(&statement, 1))?.pop())
    }

    async fn execute(&mut self, statement: Statement) -> Result<u64> {
        self.with(|reader| reader.execute(&statement))
    }
}

/// A read transaction on one connection (see [`Readers::snapshot`]), rolled back and put back
/// when dropped.
pub(crate) struct Snapshot {
    /// Behind a lock only because a connection may move between threads but not be shared.
    reader: Mutex<Option<Direct>>,
    home: Readers,
}

impl Connection for Snapshot {
    fn with<T>(&self, work: impl FnOnce(&Direct) -> Result<T>) -> Result<T> {
        let reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        work(reader.as_ref().ok_or_else(|| corrupt("a snapshot used after its end"))?)
    }
}

impl Drop for Snapshot {
    fn drop(&mut self) {
        let reader = self.reader.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(reader) = reader {
            // A connection whose transaction would not end is closed instead of reused.
            if reader.is_autocommit() || reader.batch("ROLLBACK").is_ok() {
                self.home.put_back(reader);
            } else {
                self.home.shared.open.fetch_sub(1, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use domain::Error;
    use rusqlite::Connection;

    use super::*;
    use crate::sql::RowReader;

    /// One idle reader of a new database file, which lives as long as the directory.
    fn readers_of_a_new_file(statement_timeout: Duration) -> (tempfile::TempDir, Readers) {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("readers.db");
        Connection::open(&path).and_then(|c| c.execute_batch("CREATE TABLE t (x INTEGER)")).expect("create the file");
        let readers = Readers::open(&path, 1, statement_timeout).expect("open the readers");
        (dir, readers)
    }

    /// A statement that counts for many seconds is interrupted at the timeout, and the
    /// connection serves the next one.
    #[tokio::test]
    async fn a_statement_past_the_timeout_is_interrupted() {
        let (_dir, mut readers) = readers_of_a_new_file(Duration::from_millis(50));
        let endless = Statement::new(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 100000000) SELECT count(*) AS c FROM n",
        );
        let started = Instant::now();
        let result = readers.fetch_optional(endless).await;
        assert!(matches!(result, Err(Error::TookTooLong)), "expected a timeout, got {:?}", result.map(|r| r.is_some()));
        assert!(started.elapsed() < Duration::from_secs(5), "the interruption took {:?}", started.elapsed());
        let one = readers.fetch_one(Statement::new("SELECT $1 AS one").bind(1_i64)).await.expect("the next statement runs");
        assert_eq!(one.int("one").expect("an integer"), 1);
        assert_eq!(readers.state(), PoolState { size: 1, idle: 1 });
    }

    /// Placeholders bind by their number wherever they stand in the text.
    #[tokio::test]
    async fn parameters_bind_by_number() {
        let (_dir, mut readers) = readers_of_a_new_file(Duration::from_secs(1));
        let statement = Statement::new("SELECT $2 AS second, $1 AS first").bind("a").bind("b");
        let row = readers.fetch_one(statement).await.expect("a row");
        assert_eq!((row.text("first").expect("text"), row.text("second").expect("text")), ("a".to_owned(), "b".to_owned()));
    }
}
