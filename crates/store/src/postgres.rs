//! The shared backend: PostgreSQL, for several stateless replicas over one database.
//! Transactions run at READ COMMITTED and lock the rows they decide on (`FOR UPDATE`).

use std::str::FromStr;

use async_trait::async_trait;
use domain::report::rank_sql;
use domain::search::SearchWord;
use domain::{Error, Result, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, PgConnection, Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::sql::{Backend, Dialect, Param, SqlStore, Statement, TextSearch, sqlx_plumbing};
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

/// The word as a regular expression over `search_text`, checked row by row. `[:alnum:]` follows
/// the database's character classes, which in a UTF-8 locale are Unicode letters and digits, as
/// on SQLite.
fn word_pattern(word: &SearchWord) -> String {
    let end = if word.prefix { "" } else { "($|[^[:alnum:]])" };
    format!("(^|[^[:alnum:]]){}{end}", word.text)
}

/// How many characters of a word a lead's terms keep, and the prefix lengths they keep of it:
/// 1 to 3, then every multiple of 3 up to 63 (migration 0026).
const WORD_TERM_CHARACTERS: usize = 64;
const PREFIX_TERM_STEP: usize = 3;
const PREFIX_TERM_CHARACTERS: usize = 63;

/// The term of the organization's word index a lead must hold for `word` to match, and whether
/// holding it is enough (otherwise the row is checked too): a prefix's term is its longest kept
/// prefix; a word's is its first 64 characters, which a longer word cut to 64 shares.
fn search_term(org_id: Uuid, word: &SearchWord) -> (String, bool) {
    let length = word.text.chars().count();
    let (separator, kept, exact) = if word.prefix {
        let kept = if length <= PREFIX_TERM_STEP { length } else { (length - length % PREFIX_TERM_STEP).min(PREFIX_TERM_CHARACTERS) };
        ('\u{1}', kept, kept == length)
    } else {
        (':', WORD_TERM_CHARACTERS, length < WORD_TERM_CHARACTERS)
    };
    let term: String = word.text.chars().take(kept).collect();
    (format!("{org_id}{separator}{term}"), exact)
}

/// The row check of `word`: `search_matches` (migration 0026) hides the regular expression
/// from the planner, which would take a common word for a rare one.
fn matches_on_row(statement: &mut Statement, row: &str, word: &SearchWord) -> String {
    format!("search_matches({row}.search_text, {})", statement.param(word_pattern(word)))
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
            // The leads holding every word's term, through the GIN index over `search_terms`;
            // what a term does not say exactly is checked on the row. The terms name the
            // organization, so the index alone answers for it (the lists around this also ask for
            // `o.org_id`): a condition on `m.org_id` here made the generic plan of a prepared
            // search AND the index with all of the organization's leads (50 ms against 0.1 ms).
            matching: |statement, org_id, words, limit| {
                let terms: Vec<(String, bool)> = words.0.iter().map(|word| search_term(org_id, word)).collect();
                let bound: Vec<String> = terms.iter().map(|(term, _)| statement.param(term.as_str())).collect();
                let mut query =
                    format!("SELECT m.id AS key FROM opportunities m WHERE m.search_terms @> ARRAY[{}]::text[]", bound.join(", "));
                for (word, _) in words.0.iter().zip(&terms).filter(|(_, (_, exact))| !exact) {
                    query.push_str(&format!(" AND {}", matches_on_row(statement, "m", word)));
                }
                format!("{query} LIMIT {}", statement.param(limit))
            },
            key: "o.id",
            matches_word: |statement, word| matches_on_row(statement, "o", word),
            // Prefixes of 1 to 3 characters are kept whole; a longer one is checked on the rows
            // of its longest kept prefix.
            cheap_prefix_length: PREFIX_TERM_STEP,
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
