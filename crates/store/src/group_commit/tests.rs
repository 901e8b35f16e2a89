//! The group commit on a real SQLite file: units dropped at each await, a failing unit among
//! others, and batches under load that stop growing at their bound.
//!
//! A unit's place in its batch is measured, not timed: inside the unit, the rows the writer's
//! transaction sees minus the rows already committed (seen by a reader) are the units of the
//! batch so far, its own included. No other batch can commit while the unit is open.

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::timeout;

use super::{Bound, GroupTx, GroupWriter};
use crate::sql::{RowReader, Run, Statement};
use crate::sqlite_direct::Direct;
use crate::sqlite_readers::Readers;
use domain::{Error, Result};

/// Only a hang detector: nothing here comes near it unless the writer is stuck.
const HANG: Duration = Duration::from_secs(30);

/// A bound that never ends a batch before the queue is empty.
const UNBOUNDED: Bound = Bound { units: usize::MAX, age: Duration::from_secs(3600) };

struct Db {
    writer: GroupWriter,
    reader: Readers,
    _dir: tempfile::TempDir,
}

impl Db {
    async fn open(bound: Bound) -> Db {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let path = dir.path().join("group.db");
        let conn = Direct::writer(&path, HANG).expect("open the database");
        conn.batch("CREATE TABLE t (v TEXT PRIMARY KEY)").expect("create a table");
        let reader = Readers::open(&path, 1, HANG).expect("open a reader");
        Db { writer: GroupWriter::new(conn, bound), reader, _dir: dir }
    }

    /// The committed rows, in order.
    async fn rows(&self) -> Vec<String> {
        let rows = self.reader.clone().fetch_all(Statement::new("SELECT v FROM t ORDER BY v")).await.expect("read");
        rows.iter().map(|row| row.text("v").expect("text")).collect()
    }

    /// Writes `values` in one unit; returns the unit's place in its batch (1 for the first).
    async fn write(&self, values: &[&str]) -> Result<usize> {
        let mut tx = self.writer.begin().await?;
        for value in values {
            tx.execute(insert(value)).await?;
        }
        let place = self.place(&mut tx).await?;
        GroupWriter::commit(tx).await?;
        Ok(place)
    }

    /// The units in the open unit's batch so far, its own included (see the module's comment).
    async fn place(&self, tx: &mut GroupTx) -> Result<usize> {
        let count = || Statement::new("SELECT count(*) AS n FROM t");
        let seen = tx.fetch_one(count()).await?.int("n")?;
        let committed = self.reader.clone().fetch_one(count()).await?.int("n")?;
        usize::try_from(seen - committed).map_err(Error::internal)
    }
}

fn insert(value: &str) -> Statement {
    Statement::new("INSERT INTO t (v) VALUES ($1)").bind(value)
}

/// Polls `future` exactly once: far enough to queue a unit or to send a call, not to hear the
/// answer. Passed by value, the future is then dropped there, as a server drops the handler of
/// a request whose client hung up.
async fn poll_once<F: Future + Unpin>(mut future: F) {
    std::future::poll_fn(|context| {
        let _ = Pin::new(&mut future).poll(context);
        Poll::Ready(())
    })
    .await
}

#[tokio::test]
async fn units_dropped_before_committing_leave_nothing_and_the_writer_goes_on() {
    let db = Db::open(UNBOUNDED).await;
    let mut abandoned = db.writer.begin().await.unwrap();
    abandoned.execute(insert("abandoned")).await.unwrap();
    drop(abandoned);

    let mut mid_statement = db.writer.begin().await.unwrap();
    poll_once(Box::pin(mid_statement.execute(insert("mid-statement")))).await;
    drop(mid_statement);

    let mut open = db.writer.begin().await.unwrap();
    poll_once(Box::pin(db.write(&["queued"]))).await;
    open.execute(insert("open")).await.unwrap();
    GroupWriter::commit(open).await.unwrap();

    assert_eq!(db.write(&["after"]).await.unwrap(), 1);
    assert_eq!(db.rows().await, ["after", "open"]);
}

#[tokio::test]
async fn a_unit_dropped_during_the_shared_commit_leaves_its_batch_whole_and_answered() {
    let db = Db::open(UNBOUNDED).await;
    let mut first = db.writer.begin().await.unwrap();
    first.execute(insert("first")).await.unwrap();
    let mut second = pin!(async {
        let mut tx = db.writer.begin().await?;
        tx.execute(insert("second")).await?;
        Ok::<_, Error>(tx)
    });
    poll_once(&mut second).await;
    // `second` is queued, so the batch stays open for it and `first` waits for its COMMIT.
    let first_committed = GroupWriter::commit(first);
    let second_vanishes = async {
        let second = second.await.unwrap();
        // Last in line, `second` commits the batch, and vanishes while that COMMIT runs.
        poll_once(Box::pin(GroupWriter::commit(second))).await;
    };
    let (first_committed, ()) = timeout(HANG, async { tokio::join!(first_committed, second_vanishes) }).await.expect("the batch commits");
    first_committed.expect("the unit still waiting hears that its batch committed");
    assert_eq!(db.rows().await, ["first", "second"]);
    assert_eq!(db.write(&["third"]).await.unwrap(), 1, "the writer goes on");
}

#[tokio::test]
async fn a_failing_unit_rolls_back_alone_while_its_batch_commits() {
    let db = Db::open(UNBOUNDED).await;
    let mut first = db.writer.begin().await.unwrap();
    first.execute(insert("first")).await.unwrap();
    // Queued behind `first`, so all three share a batch; the middle one writes a row, then
    // breaks the primary key (a unique violation: contention, which a use case would run again).
    let mut failing = pin!(db.write(&["half", "first"]));
    let mut last = pin!(db.write(&["last"]));
    poll_once(&mut failing).await;
    poll_once(&mut last).await;

    let (first, failing, last) = tokio::join!(GroupWriter::commit(first), failing, last);
    first.unwrap();
    assert!(matches!(failing, Err(Error::Contention)), "{failing:?}");
    assert_eq!(last.unwrap(), 2, "same batch as the first unit, and nothing of the failed one");
    assert_eq!(db.rows().await, ["first", "last"]);
}

/// `units` units queued behind an open one, each written by a task of its own; returns the
/// place of each of the `units + 1` in its batch, in the order they queued.
async fn places_behind_an_open_unit(db: Arc<Db>, units: usize) -> Vec<usize> {
    let mut open = db.writer.begin().await.unwrap();
    open.execute(insert("open")).await.unwrap();
    let mut places = vec![db.place(&mut open).await.unwrap()];
    let mut queued = Vec::new();
    for n in 0..units {
        let db = db.clone();
        let mut unit = Box::pin(async move { db.write(&[&format!("{n:03}")]).await });
        poll_once(&mut unit).await;
        queued.push(tokio::spawn(unit));
    }
    GroupWriter::commit(open).await.unwrap();
    for unit in queued {
        places.push(unit.await.unwrap().unwrap());
    }
    places
}

#[tokio::test]
async fn a_batch_stops_growing_at_its_bound_of_units() {
    let db = Arc::new(Db::open(Bound { units: 4, ..UNBOUNDED }).await);
    assert_eq!(places_behind_an_open_unit(db.clone(), 10).await, [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 3]);
    assert_eq!(db.rows().await.len(), 11);
}

#[tokio::test]
async fn a_batch_stops_growing_at_its_bound_of_age() {
    let db = Arc::new(Db::open(Bound { age: Duration::ZERO, ..UNBOUNDED }).await);
    assert_eq!(places_behind_an_open_unit(db, 5).await, [1; 6]);
}

/// How a write under load ended.
#[derive(Debug, PartialEq)]
enum Ended {
    /// Acknowledged: it must be there.
    Acknowledged,
    /// Dropped before it asked to commit: it must not be there.
    Abandoned,
    /// Dropped while waiting for its batch's commit: there or not, but whole.
    Unanswered,
}

/// Writes `value` and ends the way `n` picks: mostly acknowledged, or dropped while queued,
/// inside its unit, or while waiting for the shared commit.
async fn write_or_vanish(db: &Db, value: &str, n: usize) -> Ended {
    match n % 8 {
        5 => poll_once(Box::pin(db.write(&[value]))).await,
        6 => {
            let mut tx = db.writer.begin().await.unwrap();
            tx.execute(insert(value)).await.unwrap();
        }
        7 => {
            let mut tx = db.writer.begin().await.unwrap();
            tx.execute(insert(value)).await.unwrap();
            poll_once(Box::pin(GroupWriter::commit(tx))).await;
            return Ended::Unanswered;
        }
        _ => {
            let place = db.write(&[value]).await.unwrap();
            assert!(place <= BOUND, "a unit at place {place} of a batch bounded to {BOUND}");
            return Ended::Acknowledged;
        }
    }
    Ended::Abandoned
}

const BOUND: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_sustained_load_every_acknowledged_write_is_kept_and_no_batch_outgrows_its_bound() {
    const WRITERS: usize = 16;
    const WRITES: usize = 32;
    let db = Arc::new(Db::open(Bound { units: BOUND, ..UNBOUNDED }).await);
    let mut writers = JoinSet::new();
    for writer in 0..WRITERS {
        let db = db.clone();
        writers.spawn(async move {
            let mut ended = Vec::new();
            for n in 0..WRITES {
                let value = format!("{writer:02}-{n:02}");
                ended.push((write_or_vanish(&db, &value, n + writer).await, value));
            }
            ended
        });
    }
    let ended: Vec<(Ended, String)> = writers.join_all().await.into_iter().flatten().collect();
    let rows = db.rows().await;
    for (how, value) in &ended {
        let kept = rows.contains(value);
        match how {
            Ended::Acknowledged => assert!(kept, "acknowledged {value} is missing"),
            Ended::Abandoned => assert!(!kept, "abandoned {value} was written"),
            Ended::Unanswered => {}
        }
    }
}
