//! Group commit for SQLite's single writer. Every commit costs an fsync, so writers that queue
//! for the connection share one: each runs in its own savepoint inside a transaction that stays
//! open while others are waiting, and the last one in line commits for all. A writer hears that
//! its commit succeeded only once that shared COMMIT is on disk, so nothing is acknowledged early;
//! a writer that fails or is abandoned rolls back to its savepoint without touching the others.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use domain::{Error, Result};
use sqlx::SqliteConnection;
use sqlx::sqlite::SqliteRow;
use tokio::sync::{Mutex, OwnedMutexGuard, oneshot};

use crate::DbResult;
use crate::sql::{Run, Statement};

pub(crate) struct GroupWriter {
    state: Arc<Mutex<WriterState>>,
    waiting: Arc<AtomicUsize>,
}

struct WriterState {
    conn: SqliteConnection,
    batch_open: bool,
    unit_open: bool,
    /// Writers whose savepoint was released into the open batch, waiting for its COMMIT.
    pending: Vec<oneshot::Sender<std::result::Result<(), String>>>,
}

/// One writer's unit of work: a savepoint in the shared transaction.
pub(crate) struct GroupTx {
    guard: Option<OwnedMutexGuard<WriterState>>,
    waiting: Arc<AtomicUsize>,
}

impl GroupWriter {
    pub fn new(conn: SqliteConnection) -> Self {
        let state = WriterState { conn, batch_open: false, unit_open: false, pending: Vec::new() };
        GroupWriter { state: Arc::new(Mutex::new(state)), waiting: Arc::new(AtomicUsize::new(0)) }
    }

    pub async fn begin(&self) -> Result<GroupTx> {
        let queued = Queued::join(self.state.clone(), self.waiting.clone());
        let mut guard = self.state.clone().lock_owned().await;
        queued.leave();
        guard.abandon_unit().await?;
        if !guard.batch_open {
            // IMMEDIATE takes the write lock now, so what the transaction reads cannot change
            // under it, and another process writing waits (busy_timeout) instead of failing.
            sqlx::raw_sql("BEGIN IMMEDIATE").execute(&mut guard.conn).await.db()?;
            guard.batch_open = true;
        }
        sqlx::raw_sql("SAVEPOINT unit").execute(&mut guard.conn).await.db()?;
        guard.unit_open = true;
        Ok(GroupTx { guard: Some(guard), waiting: self.waiting.clone() })
    }

    pub async fn commit(mut tx: GroupTx) -> Result<()> {
        let Some(mut guard) = tx.guard.take() else { return Err(Error::Conflict("the transaction is already over".into())) };
        let released = sqlx::raw_sql("RELEASE unit").execute(&mut guard.conn).await.db();
        let durable = released.as_ref().ok().map(|_| {
            guard.unit_open = false;
            let (sender, receiver) = oneshot::channel();
            guard.pending.push(sender);
            receiver
        });
        if tx.waiting.load(Ordering::SeqCst) == 0 {
            guard.finish_batch().await;
        }
        drop(guard);
        released?;
        match durable {
            Some(receiver) => receiver.await.map_err(Error::internal)?.map_err(|why| Error::internal(std::io::Error::other(why))),
            None => Ok(()),
        }
    }
}

impl WriterState {
    /// Rolls back the savepoint of a writer that went away without committing.
    async fn abandon_unit(&mut self) -> Result<()> {
        if self.unit_open {
            sqlx::raw_sql("ROLLBACK TO unit; RELEASE unit").execute(&mut self.conn).await.db()?;
            self.unit_open = false;
        }
        Ok(())
    }

    /// Commits the open batch and tells every writer in it how that went.
    async fn finish_batch(&mut self) {
        let abandoned = self.abandon_unit().await;
        if !self.batch_open {
            return;
        }
        let committed = match abandoned {
            Ok(()) => sqlx::raw_sql("COMMIT").execute(&mut self.conn).await.db().map(drop),
            Err(error) => Err(error),
        };
        if committed.is_err() {
            let _ = sqlx::raw_sql("ROLLBACK").execute(&mut self.conn).await;
        }
        self.batch_open = false;
        let outcome = committed.map_err(|error| error.to_string());
        for writer in self.pending.drain(..) {
            let _ = writer.send(outcome.clone());
        }
    }
}

/// Counts a writer waiting for the connection. One that gives up (its request was dropped)
/// while the batch waits for it must not leave the batch uncommitted.
struct Queued {
    state: Arc<Mutex<WriterState>>,
    waiting: Arc<AtomicUsize>,
    left: bool,
}

impl Queued {
    fn join(state: Arc<Mutex<WriterState>>, waiting: Arc<AtomicUsize>) -> Self {
        waiting.fetch_add(1, Ordering::SeqCst);
        Queued { state, waiting, left: false }
    }

    fn leave(mut self) {
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        self.left = true;
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        if self.left {
            return;
        }
        if self.waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            finish_later(self.state.clone(), self.waiting.clone());
        }
    }
}

impl Drop for GroupTx {
    /// Abandoned without commit (an error or a dropped request): undo this unit, and finish the
    /// batch if nobody else will.
    fn drop(&mut self) {
        if let Some(guard) = self.guard.take() {
            let waiting = self.waiting.clone();
            tokio::spawn(async move {
                let mut guard = guard;
                let _ = guard.abandon_unit().await;
                if waiting.load(Ordering::SeqCst) == 0 {
                    guard.finish_batch().await;
                }
            });
        }
    }
}

fn finish_later(state: Arc<Mutex<WriterState>>, waiting: Arc<AtomicUsize>) {
    tokio::spawn(async move {
        let mut guard = state.lock_owned().await;
        if waiting.load(Ordering::SeqCst) == 0 {
            guard.finish_batch().await;
        }
    });
}

fn conn(tx: &mut GroupTx) -> Result<&mut SqliteConnection> {
    tx.guard.as_mut().map(|guard| &mut guard.conn).ok_or_else(|| Error::Conflict("the transaction is already over".into()))
}

#[async_trait]
impl Run for GroupTx {
    type Row = SqliteRow;

    async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<SqliteRow>> {
        crate::sqlite::query(&statement).fetch_all(conn(self)?).await.db()
    }

    async fn fetch_optional(&mut self, statement: Statement) -> Result<Option<SqliteRow>> {
        crate::sqlite::query(&statement).fetch_optional(conn(self)?).await.db()
    }

    async fn execute(&mut self, statement: Statement) -> Result<u64> {
        Ok(crate::sqlite::query(&statement).execute(conn(self)?).await.db()?.rows_affected())
    }
}
