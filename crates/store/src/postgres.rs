//! The shared backend: PostgreSQL, for several stateless replicas over one database.
//! Transactions run at READ COMMITTED and lock the rows they decide on (`FOR UPDATE`).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use domain::search::{SearchWord, SearchWords};
use domain::{Error, Result, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::{Postgres, Transaction};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::sql::{Backend, Dialect, Param, SqlStore, Statement, TextSearch, sqlx_plumbing};
use crate::{DbResult, OpenOptions, PoolState};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

pub(crate) struct Postgres15 {
    pool: PgPool,
}

/// Connects and migrates. sqlx holds an advisory lock while migrating, so replicas that start
/// together apply each migration exactly once.
pub(crate) async fn open(url: &str, options: &OpenOptions) -> Result<SqlStore<Postgres15>> {
    let timeout = format!("{}ms", options.statement_timeout.as_millis());
    let connect = PgConnectOptions::from_str(url).db()?.options([("statement_timeout", timeout.as_str())]);
    let pool = PgPoolOptions::new()
        .max_connections(options.pool_size)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(connect)
        .await
        .db()?;
    MIGRATOR.run(&pool).await.map_err(Error::internal)?;
    Ok(SqlStore::new(Postgres15 { pool }))
}

/// Up to `limit` of an organization's leads containing the words, through the trigram index
/// on `search_text` (migration 0006), which serves regular expressions.
fn indexed_matches(select: &str, org_id: Uuid, words: &SearchWords, limit: i64) -> Statement {
    let mut statement = Statement::new(format!("{select} FROM opportunities o WHERE o.org_id = $1")).bind(org_id);
    for word in &words.0 {
        let pattern = statement.param(word_pattern(word));
        statement.push(&format!(" AND o.search_text ~* {pattern}"));
    }
    statement.push(" LIMIT ").push_bind(limit);
    statement
}

/// The word as a regular expression over `search_text`. `[:alnum:]` follows the database's
/// character classes, which in a UTF-8 locale are Unicode letters and digits, as on SQLite.
fn word_pattern(word: &SearchWord) -> String {
    let end = if word.prefix { "" } else { "($|[^[:alnum:]])" };
    format!("(^|[^[:alnum:]]){}{end}", word.text)
}

#[async_trait]
impl Backend for Postgres15 {
    type Reader = PgPool;
    type Tx = Transaction<'static, Postgres>;
    const DIALECT: Dialect = Dialect {
        like: "ILIKE",
        for_update: " FOR UPDATE",
        binary_order: " COLLATE \"C\"",
        text_search: TextSearch {
            count: |org_id, words, limit| {
                let mut count = indexed_matches("SELECT COUNT(*) AS matches FROM (SELECT 1", org_id, words, limit);
                count.push(") m");
                count
            },
            ids: |org_id, words, limit| indexed_matches("SELECT o.id", org_id, words, limit),
            // Appending '' hides the column from its index: this check is for walking rows.
            matches_word: |statement, word| format!("(o.search_text || '') ~* {}", statement.param(word_pattern(word))),
            // The trigram index answers a prefix as cheaply as a whole word.
            cheap_prefix_length: usize::MAX,
        },
        bootstrap_lock: Some("SELECT pg_advisory_xact_lock(7460211945) IS NULL AS locked"),
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

    fn pool_state(&self) -> PoolState {
        PoolState { size: self.pool.size(), idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX) }
    }
}

sqlx_plumbing!(db: Postgres, pool: PgPool, tx: Transaction<'static, Postgres>, row: PgRow,
    instant: OffsetDateTime, from: |at| Some(Timestamp::from_datetime(at)), into: Timestamp::datetime);
