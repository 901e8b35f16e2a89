//! The shared backend: PostgreSQL, for several stateless replicas over one database.
//! Transactions run at READ COMMITTED and lock the rows they decide on (`FOR UPDATE`).

use std::str::FromStr;

use async_trait::async_trait;
use domain::report::rank_sql;
use domain::search::{SearchWord, SearchWords};
use domain::{Error, Result, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::sql::{Backend, Dialect, Param, SqlStore, Statement, TextSearch, Triage, sqlx_plumbing};
use crate::{DbResult, OpenOptions, PoolState};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) struct Postgres15 {
    pool: PgPool,
}

/// Connects and migrates. sqlx holds an advisory lock while migrating, so replicas that start
/// together apply each migration exactly once. Migrations run on a connection of their own
/// without the statement timeout, which is for requests: rewriting a large table takes longer.
pub(crate) async fn open(url: &str, options: &OpenOptions) -> Result<SqlStore<Postgres15>> {
    let connect = PgConnectOptions::from_str(url).db()?;
    let mut migrating = PgConnection::connect_with(&connect).await.db()?;
    MIGRATOR.run(&mut migrating).await.map_err(Error::internal)?;
    migrating.close().await.db()?;
    let timeout = format!("{}ms", options.statement_timeout.as_millis());
    let connect = connect.options([("statement_timeout", timeout.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(options.pool_size)
        .acquire_timeout(options.acquire_timeout)
        .connect_with(connect)
        .await
        .db()?;
    Ok(SqlStore::new(Postgres15 { pool }))
}

/// The word as a regular expression over `search_text`. `[:alnum:]` follows the database's
/// character classes, which in a UTF-8 locale are Unicode letters and digits, as on SQLite.
fn word_pattern(word: &SearchWord) -> String {
    let end = if word.prefix { "" } else { "($|[^[:alnum:]])" };
    format!("(^|[^[:alnum:]]){}{end}", word.text)
}

/// The row check of `word`: `search_matches` (migration 0026) hides the regular expression
/// from the planner, which would take common words for rare ones.
fn matches_on_row(statement: &mut Statement, word: &SearchWord) -> String {
    format!("search_matches(o.search_text, {})", statement.param(word_pattern(word)))
}

/// How many characters of a word `search_words` keeps (migration 0027).
const STORED_WORD_CHARACTERS: usize = 64;

/// The entries of `search_words` that `word` finds, in the index's order: one word, or the range
/// of the words it begins. A word longer than the index keeps is looked up by what it keeps,
/// which may find more than the word: the row check settles it.
fn word_entries(statement: &mut Statement, org_id: Uuid, word: &SearchWord) -> String {
    let kept: String = word.text.chars().take(STORED_WORD_CHARACTERS).collect();
    let org_id = statement.param(org_id);
    let condition = if word.prefix && kept.len() == word.text.len() {
        // In the bytes' order (`COLLATE "C"`), every word that begins with `kept` sorts before
        // `kept` followed by the last code point.
        let after = format!("{kept}{}", char::MAX);
        format!("w.word >= {} AND w.word < {}", statement.param(kept), statement.param(after))
    } else {
        format!("w.word = {}", statement.param(kept))
    };
    format!("SELECT w.opportunity_id FROM search_words w WHERE w.org_id = {org_id} AND {condition}")
}

/// Up to `limit` leads of the organization that the search matches: the leads of the `driver`
/// word's entries, each checked for every word (the driver's too, which may have been cut).
fn matching(statement: &mut Statement, org_id: Uuid, words: &SearchWords, driver: usize, limit: i64) -> String {
    let entries = word_entries(statement, org_id, &words.0[driver]);
    let mut query = format!("SELECT o.id AS key FROM opportunities o WHERE o.org_id = {} AND o.id IN ({entries})", statement.param(org_id));
    for word in &words.0 {
        query.push_str(&format!(" AND {}", matches_on_row(statement, word)));
    }
    format!("{query} LIMIT {}", statement.param(limit))
}

#[async_trait]
impl Backend for Postgres15 {
    type Reader = PgPool;
    type Tx = Transaction<'static, Postgres>;
    type Snapshot = Transaction<'static, Postgres>;
    const DIALECT: Dialect = Dialect {
        like: "ILIKE",
        for_update: " FOR UPDATE",
        // The weakest lock that `FOR UPDATE` waits for (and that waits for it): the writers
        // holding it do not wait for each other.
        for_share: " FOR KEY SHARE",
        binary_order: " COLLATE \"C\"",
        text_search: TextSearch {
            matching,
            key: "o.id",
            matches_word: matches_on_row,
            triage: Triage::RarestWord { entries: word_entries },
        },
        sweep_lock: " FOR NO KEY UPDATE SKIP LOCKED",
        skip_locked: " FOR UPDATE SKIP LOCKED",
        bootstrap_lock: Some("SELECT pg_advisory_xact_lock(7460211945) IS NULL AS locked"),
        // Within the 65,535 a statement may bind; fewer statements, fewer round trips (and fewer
        // scans when the planner has not yet seen a big import's rows).
        values_per_statement: 30_000,
        seconds_between: |earlier, later| format!("CAST(TRUNC(EXTRACT(EPOCH FROM ({later}) - ({earlier}))) AS BIGINT)"),
        // The rank in integer arithmetic: `percentile_disc` computes it in floating point, which
        // ranks 64th of 70 values for the 90th percentile, where the rule says 63rd.
        percentile: |percent, value| {
            let rank = rank_sql(percent, &format!("COUNT({value})"));
            format!("(ARRAY_AGG({value} ORDER BY {value}) FILTER (WHERE {value} IS NOT NULL))[{rank}]")
        },
    };

    fn reader(&self) -> PgPool {
        self.pool.clone()
    }

    async fn begin(&self) -> Result<Self::Tx> {
        self.pool.begin().await.db()
    }

    async fn commit(tx: Self::Tx) -> Result<()> {
        tx.commit().await.db()
    }

    /// READ COMMITTED would see each statement's own moment; REPEATABLE READ keeps the first
    /// one's for the whole transaction.
    async fn snapshot(&self) -> Result<Self::Snapshot> {
        let mut tx = self.pool.begin().await.db()?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await.db()?;
        Ok(tx)
    }

    fn pool_state(&self) -> PoolState {
        PoolState { size: self.pool.size(), idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX) }
    }
}

sqlx_plumbing!(db: Postgres, pool: PgPool, tx: Transaction<'static, Postgres>, row: PgRow,
    instant: OffsetDateTime, from: |at| Some(Timestamp::from_datetime(at)), into: Timestamp::datetime);
