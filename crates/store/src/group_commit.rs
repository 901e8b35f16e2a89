//! Group commit for SQLite's single writer. Every commit costs an fsync, so writers that queue
//! for the connection share one: each runs in its own savepoint inside a transaction that stays
//! open while others are queued, and the batch commits once nobody is (or once it reached its
//! [`Bound`]). A writer hears that its commit succeeded only once that shared COMMIT is on disk,
//! so nothing is acknowledged early; a writer that fails or is abandoned rolls back to its
//! savepoint without touching the others.
//!
//! The connection and the batch belong to one spawned task, the writer, which nothing cancels.
//! A request can vanish at any await (its client hung up and the server dropped its handler),
//! so no request ever holds the connection: it queues a unit of work and talks to the writer
//! over channels. Whatever point it vanished at, the writer only sees a channel close and
//! undoes that unit; the connection's state and the batch's never depend on a request finishing.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use domain::{Error, Result};
use tokio::sync::{mpsc, oneshot};

use crate::sql::{Run, Statement};
use crate::sqlite_direct::{Direct, Record};

#[cfg(test)]
mod tests;

/// How far a batch may grow while writers keep queuing. Every unit in a batch waits for its
/// COMMIT, so under sustained load an unbounded batch would delay every acknowledgement behind
/// an ever longer transaction (and keep other processes on the file out for as long).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    /// Units of work in one batch.
    pub units: usize,
    /// Time from a batch's BEGIN after which no further unit joins it.
    pub age: Duration,
}

impl Bound {
    /// A unit of work takes a fraction of a millisecond and a commit's fsync about as long or
    /// longer, so a 10 ms batch still shares each fsync among dozens of writers while adding at
    /// most 10 ms to any one writer's wait; 64 units cap it when units are faster still.
    pub const SERVICE: Bound = Bound { units: 64, age: Duration::from_millis(10) };
}

/// Units queued for the writer at most. Enough that the writer sees every request a busy server
/// has waiting (a batch only grows by what is queued); beyond it, writers wait to queue.
const QUEUE: usize = 1024;

/// The handle requests use to reach the writer task.
pub(crate) struct GroupWriter {
    queue: mpsc::Sender<Unit>,
}

/// One writer's unit of work: a savepoint in the writer's shared transaction. Dropping it without
/// [`GroupWriter::commit`] rolls the savepoint back.
pub(crate) struct GroupTx {
    calls: mpsc::Sender<Call>,
}

type Reply<T> = oneshot::Sender<Result<T>>;
/// How a batch, or one of its transaction statements, went. A failure is shared: every unit
/// waiting for the batch hears the same one.
type Outcome = std::result::Result<(), Arc<Error>>;

/// A unit of work as the writer receives it.
struct Unit {
    calls: mpsc::Receiver<Call>,
    /// Told when the unit's savepoint is open, so that `begin` holds the write lock when it returns.
    ready: Reply<()>,
}

/// A request from a unit of work to the writer.
enum Call {
    FetchAll(Statement, Reply<Vec<Record>>),
    FetchOptional(Statement, Reply<Option<Record>>),
    Execute(Statement, Reply<u64>),
    Commit(oneshot::Sender<Outcome>),
}

impl GroupWriter {
    /// Starts the writer task, which owns `conn` until every handle is dropped.
    pub fn new(conn: Direct, bound: Bound) -> Self {
        let (queue, queued) = mpsc::channel(QUEUE);
        tokio::spawn(Writer { conn: Arc::new(Mutex::new(conn)), queued, bound }.run());
        GroupWriter { queue }
    }

    /// Queues a unit of work and waits until the writer opens it. Dropped before that, the unit
    /// is skipped or rolled back when its turn comes.
    pub async fn begin(&self) -> Result<GroupTx> {
        let (calls, unit_calls) = mpsc::channel(1);
        let (ready, opened) = oneshot::channel();
        self.queue.send(Unit { calls: unit_calls, ready }).await.map_err(|_| stopped())?;
        opened.await.map_err(|_| stopped())??;
        Ok(GroupTx { calls })
    }

    /// Succeeds once the batch holding the unit is committed. Dropped after asking, the unit
    /// still commits with its batch (or not, with it); only the answer is lost.
    pub async fn commit(tx: GroupTx) -> Result<()> {
        let (reply, outcome) = oneshot::channel();
        tx.calls.send(Call::Commit(reply)).await.map_err(|_| stopped())?;
        outcome.await.map_err(|_| stopped())?.map_err(shared)
    }
}

impl GroupTx {
    async fn ask<T: Send>(&self, call: impl FnOnce(Reply<T>) -> Call + Send) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.calls.send(call(reply)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

/// A batch's failure as each of its units hears it. A file that cannot be written (a full
/// disk) stays [`Error::DatabaseUnavailable`], so every request in the batch is answered 503
/// and none 500.
fn shared(error: Arc<Error>) -> Error {
    let unavailable = matches!(*error, Error::DatabaseUnavailable(_));
    let failed = BatchFailed(error);
    if unavailable { Error::unavailable(failed) } else { Error::internal(failed) }
}

/// The shared failure. Its cause is the shared error's own cause, since the unit's error
/// already says what the shared one does ("the database is unavailable", "internal error").
#[derive(Debug)]
struct BatchFailed(Arc<Error>);

impl std::fmt::Display for BatchFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the write batch failed")
    }
}

impl std::error::Error for BatchFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let shared: &(dyn std::error::Error + 'static) = self.0.as_ref();
        Some(shared.source().unwrap_or(shared))
    }
}

/// The writer task is gone: only when the runtime is shutting down.
fn stopped() -> Error {
    Error::internal(std::io::Error::other("the SQLite writer has stopped"))
}

#[async_trait]
impl Run for GroupTx {
    type Row = Record;

    async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<Record>> {
        self.ask(|reply| Call::FetchAll(statement, reply)).await
    }

    async fn fetch_optional(&mut self, statement: Statement) -> Result<Option<Record>> {
        self.ask(|reply| Call::FetchOptional(statement, reply)).await
    }

    async fn execute(&mut self, statement: Statement) -> Result<u64> {
        self.ask(|reply| Call::Execute(statement, reply)).await
    }
}

/// The task that owns the connection and runs every batch to its end. A unit's statements run
/// on the task's own thread (see [`crate::sqlite_direct`]): they take microseconds, and a
/// unit's next statement waits for its request's task, which the runtime runs on the same
/// thread when it can. What may wait on the disk or on another process, `BEGIN IMMEDIATE` and
/// `COMMIT`, runs on a blocking thread, once per batch.
struct Writer {
    /// Locked only by the task and the blocking thread it waits for.
    conn: Arc<Mutex<Direct>>,
    queued: mpsc::Receiver<Unit>,
    bound: Bound,
}

impl Writer {
    async fn run(mut self) {
        while let Some(unit) = self.queued.recv().await {
            self.batch(unit).await;
        }
    }

    /// One transaction: `first` and the units queued behind it, up to the bound. Then COMMIT,
    /// and every unit that asked to commit hears how that went.
    async fn batch(&mut self, first: Unit) {
        let began = Instant::now();
        // IMMEDIATE takes the write lock now, so what the transaction reads cannot change under
        // it, and another process writing waits (busy_timeout) instead of failing.
        if let Err(error) = self.blocking("BEGIN IMMEDIATE").await {
            let _ = first.ready.send(Err(shared(error)));
            return;
        }
        let (mut unit, mut units, mut committing) = (first, 0, Vec::new());
        let ended = loop {
            units += 1;
            if let Err(error) = self.add(unit, &mut committing).await {
                break Err(error);
            }
            if units >= self.bound.units || began.elapsed() >= self.bound.age {
                break Ok(());
            }
            match self.queued.try_recv() {
                Ok(next) => unit = next,
                Err(_) => break Ok(()),
            }
        };
        let outcome = match ended {
            Ok(()) => self.blocking("COMMIT").await,
            Err(error) => Err(error),
        };
        if outcome.is_err() && !self.conn().is_autocommit() {
            let _ = self.sql("ROLLBACK");
        }
        for reply in committing {
            let _ = reply.send(outcome.clone());
        }
    }

    /// Runs one unit in its own savepoint of the open batch. An error means a savepoint statement
    /// failed, so what the transaction holds is unknown and the whole batch must roll back.
    async fn add(&mut self, unit: Unit, committing: &mut Vec<oneshot::Sender<Outcome>>) -> Outcome {
        if unit.ready.is_closed() {
            return Ok(()); // Its request vanished while queued: nothing to do or undo.
        }
        if let Err(error) = self.sql("SAVEPOINT unit") {
            let _ = unit.ready.send(Err(shared(error.clone())));
            return Err(error);
        }
        // If the request vanished just now, the send fails and so does its first call, below.
        let _ = unit.ready.send(Ok(()));
        match self.serve(unit.calls).await {
            Some(reply) => {
                committing.push(reply);
                self.sql("RELEASE unit")
            }
            None => self.sql("ROLLBACK TO unit; RELEASE unit"),
        }
    }

    /// Answers a unit's statements until it asks to commit (the channel to answer that on) or
    /// its handle is dropped (`None`): it failed, or its request vanished.
    async fn serve(&mut self, mut calls: mpsc::Receiver<Call>) -> Option<oneshot::Sender<Outcome>> {
        while let Some(call) = calls.recv().await {
            match call {
                Call::FetchAll(statement, reply) => answer(reply, self.conn().rows(&statement, usize::MAX)),
                Call::FetchOptional(statement, reply) => answer(reply, self.conn().rows(&statement, 1).map(|mut rows| rows.pop())),
                Call::Execute(statement, reply) => answer(reply, self.conn().execute(&statement)),
                Call::Commit(reply) => return Some(reply),
            }
        }
        None
    }

    fn conn(&self) -> MutexGuard<'_, Direct> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn sql(&self, sql: &'static str) -> Outcome {
        self.conn().batch(sql).map_err(Arc::new)
    }

    /// Runs `sql` on a blocking thread, for as long as the disk or another process makes it wait.
    async fn blocking(&self, sql: &'static str) -> Outcome {
        let conn = self.conn.clone();
        let ran = tokio::task::spawn_blocking(move || conn.lock().unwrap_or_else(PoisonError::into_inner).batch(sql)).await;
        ran.unwrap_or_else(|panicked| Err(Error::internal(panicked))).map_err(Arc::new)
    }
}

/// An answer nobody waits for any more (its request vanished) is dropped: the unit's end, which
/// the writer sees next, is what matters.
fn answer<T>(reply: Reply<T>, result: Result<T>) {
    let _ = reply.send(result);
}
