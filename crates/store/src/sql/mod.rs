//! The SQL shared by every backend. Statements are written once, in the dialect SQLite and
//! PostgreSQL both accept (`$1` placeholders, `ON CONFLICT`, `FILTER`, `CAST`), with the few
//! differences named in [`Dialect`]. A backend only runs them: it binds [`Param`]s with its
//! own types, reads rows through [`RowReader`], and opens transactions.

mod agenda;
mod duplicates;
mod list;
mod organization;
mod reads;
mod report_facts;
mod reports;
mod rows;
mod tables;
mod webhooks;
mod writes;

use async_trait::async_trait;
use domain::search::{SearchWord, SearchWords};
use domain::{Result, Timestamp};
use uuid::Uuid;

pub(crate) use self::organization::COPIED;
pub(crate) use self::reads::SqlStore;
pub(crate) use self::rows::corrupt;

/// Where the two databases' SQL differs.
pub(crate) struct Dialect {
    /// Case-insensitive `LIKE`.
    pub like: &'static str,
    /// Appended to the reads a write transaction bases its decision on.
    pub for_update: &'static str,
    /// Appended to a read that must stay true until the transaction ends while other
    /// transactions read it too (a [`Dialect::for_update`] elsewhere waits for them).
    pub for_share: &'static str,
    /// Appended to text in `ORDER BY`, so that both databases sort text by code point.
    pub binary_order: &'static str,
    /// How `search` finds opportunities.
    pub text_search: TextSearch,
    /// Appended to the choice of rows a worker claims, so that workers claiming at once take
    /// different rows instead of waiting for each other.
    pub skip_locked: &'static str,
    /// How a sweeper locks an organization's pipeline settings: against another sweeper (which
    /// skips the organization) and a change of the settings, but not the lead writes that read
    /// them (`FOR NO KEY UPDATE SKIP LOCKED` does not conflict with `FOR KEY SHARE`).
    pub sweep_lock: &'static str,
    /// Run first in the bootstrap transaction, so that two servers starting on an empty
    /// database cannot both create the first organization.
    pub bootstrap_lock: Option<&'static str>,
    /// About how many values a statement of many rows or keys binds (a many-row insert, a
    /// look-up of many keys).
    pub values_per_statement: usize,
    /// Whole seconds from the instant `earlier` to `later` (SQL expressions), truncated toward
    /// zero, as a BIGINT: how the reports measure durations.
    pub seconds_between: fn(earlier: &str, later: &str) -> String,
    /// An aggregate: the `percent`-th percentile, nearest-rank, of the non-NULL values of
    /// `value` (a column; see [`domain::report`]), NULL when there are none.
    pub percentile: fn(percent: u8, value: &str) -> String,
}

/// How a backend finds the opportunities a search matches (see [`domain::search`]).
pub(crate) struct TextSearch {
    /// A query, binding its values into `statement`, for up to `limit` of an organization's
    /// leads that the words match, through the text index: one column, `key`. `driver` is the
    /// word the index is read for, where the backend reads it for one word ([`Triage`]).
    pub matching: fn(statement: &mut Statement, org_id: Uuid, words: &SearchWords, driver: usize, limit: i64) -> String,
    /// The column of `o` that `matching`'s keys are.
    pub key: &'static str,
    /// A condition on `o`, checked row by row without the index, true when `word` matches it:
    /// for a search matching so many leads that walking the list's order finds a page sooner.
    pub matches_word: fn(statement: &mut Statement, word: &SearchWord) -> String,
    /// How a list learns, before it reads a page, whether the index or the walk answers sooner.
    pub triage: Triage,
}

/// How a list tells a search matching more than the exact-total limit from one matching fewer
/// (see `sql::list`), before it reads the page.
pub(crate) enum Triage {
    /// The index intersects the words itself (SQLite's full-text index) and answers its first
    /// matches quickly, except for a prefix longer than `cheap_prefix_length` characters, which it
    /// expands into every word starting with it: then the whole words are counted first.
    WholeWordsFirst { cheap_prefix_length: usize },
    /// The index holds each word's leads apart (PostgreSQL's `search_words`): each word's
    /// entries are counted up to one past the limit, the rarest word is read and the others are
    /// checked on its leads; when every word has more entries than that, the list walks.
    /// `entries` is a query for one word's entries, binding its values into `statement`.
    RarestWord { entries: fn(statement: &mut Statement, org_id: Uuid, word: &SearchWord) -> String },
}

/// A value bound to a statement.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Param {
    Uuid(Option<Uuid>),
    Text(Option<String>),
    Int(Option<i64>),
    Int32(i32),
    Bool(bool),
    Time(Option<Timestamp>),
    Bytes(Vec<u8>),
}

macro_rules! param_from {
    ($($t:ty => $variant:ident($convert:expr)),* $(,)?) => {
        $(impl From<$t> for Param {
            fn from(value: $t) -> Param {
                Param::$variant($convert(value))
            }
        })*
    };
}

param_from! {
    Uuid => Uuid(Some),
    Option<Uuid> => Uuid(|v| v),
    &str => Text(|v: &str| Some(v.to_owned())),
    String => Text(Some),
    &String => Text(|v: &String| Some(v.clone())),
    &Option<String> => Text(Clone::clone),
    Option<String> => Text(|v| v),
    i64 => Int(Some),
    Option<i64> => Int(|v| v),
    i32 => Int32(|v| v),
    Option<i32> => Int(|v: Option<i32>| v.map(i64::from)),
    bool => Bool(|v| v),
    Timestamp => Time(Some),
    Option<Timestamp> => Time(|v| v),
    &[u8] => Bytes(<[u8]>::to_vec),
}

/// SQL text and the values for its `$n` placeholders.
#[derive(Debug, Clone)]
pub(crate) struct Statement {
    pub sql: String,
    pub params: Vec<Param>,
}

impl Statement {
    pub fn new(sql: impl Into<String>) -> Self {
        Statement { sql: sql.into(), params: Vec::new() }
    }

    /// Adds the value for the next `$n` already written in the text.
    pub fn bind(mut self, value: impl Into<Param>) -> Self {
        self.params.push(value.into());
        self
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    /// Binds a new value and returns its placeholder, for text that refers to it.
    pub fn param(&mut self, value: impl Into<Param>) -> String {
        self.params.push(value.into());
        format!("${}", self.params.len())
    }

    /// Writes the placeholder for a new value and binds it.
    pub fn push_bind(&mut self, value: impl Into<Param>) -> &mut Self {
        let placeholder = self.param(value);
        self.push(&placeholder)
    }

    /// A query that `write` writes for this statement to embed: its values are bound here, after
    /// those bound so far, and its text is returned for the caller to place.
    pub fn subquery(&mut self, write: impl FnOnce(&mut Statement)) -> String {
        let outer = std::mem::take(&mut self.sql);
        write(self);
        std::mem::replace(&mut self.sql, outer)
    }
}

/// Reads one column of a result row as a domain value.
pub(crate) trait RowReader: Send + Sync {
    fn uuid(&self, column: &str) -> Result<Uuid>;
    fn opt_uuid(&self, column: &str) -> Result<Option<Uuid>>;
    fn text(&self, column: &str) -> Result<String>;
    fn opt_text(&self, column: &str) -> Result<Option<String>>;
    fn int(&self, column: &str) -> Result<i64>;
    fn opt_int(&self, column: &str) -> Result<Option<i64>>;
    fn int32(&self, column: &str) -> Result<i32>;
    fn boolean(&self, column: &str) -> Result<bool>;
    fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>>;
    fn opt_timestamp(&self, column: &str) -> Result<Option<Timestamp>>;

    fn timestamp(&self, column: &str) -> Result<Timestamp> {
        self.opt_timestamp(column)?.ok_or_else(|| rows::corrupt(column))
    }
}

/// Something statements run on: a backend's pool, or one of its transactions.
#[async_trait]
pub(crate) trait Run: Send {
    type Row: RowReader;
    async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<Self::Row>>;
    async fn fetch_optional(&mut self, statement: Statement) -> Result<Option<Self::Row>>;
    /// The number of rows the statement changed.
    async fn execute(&mut self, statement: Statement) -> Result<u64>;

    async fn fetch_one(&mut self, statement: Statement) -> Result<Self::Row> {
        let sql = statement.sql.clone();
        self.fetch_optional(statement).await?.ok_or_else(|| rows::corrupt(&format!("no row from {sql}")))
    }
}

/// A database the shared SQL runs on.
#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    type Reader: Run + Clone + Sync;
    type Tx: Run + Sync + 'static;
    /// A read-only transaction that sees the database as it was when it began, whatever is
    /// written meanwhile, and holds up no writer: what an organization's export reads through.
    type Snapshot: Run + Sync + 'static;
    const DIALECT: Dialect;

    /// A handle for reads that need no transaction.
    fn reader(&self) -> Self::Reader;
    async fn begin(&self) -> Result<Self::Tx>;
    async fn commit(tx: Self::Tx) -> Result<()>;
    async fn snapshot(&self) -> Result<Self::Snapshot>;
    fn pool_state(&self) -> crate::PoolState;
}

/// The part of a backend that is the same text for every sqlx driver: running statements on
/// its pool and its transactions, binding a [`Statement`]'s parameters, and reading columns,
/// given the driver's types and how it stores an instant. PostgreSQL's; SQLite's statements
/// run on rusqlite instead (see [`crate::sqlite_direct`]).
macro_rules! sqlx_plumbing {
    (db: $db:ty, pool: $pool:ty, $(tx: $tx:ty,)? row: $row:ty,
     instant: $instant:ty, from: $to_timestamp:expr, into: $from_timestamp:expr) => {
        /// The statement with its parameters bound as this driver's types.
        pub(crate) fn query(statement: &Statement) -> sqlx::query::Query<'_, $db, <$db as sqlx::Database>::Arguments> {
            statement.params.iter().fold(sqlx::query(sqlx::AssertSqlSafe(statement.sql.as_str())), |query, param| match param {
                Param::Uuid(value) => query.bind(*value),
                Param::Text(value) => query.bind(value.clone()),
                Param::Int(value) => query.bind(*value),
                Param::Int32(value) => query.bind(*value),
                Param::Bool(value) => query.bind(*value),
                Param::Time(value) => query.bind(value.map($from_timestamp)),
                Param::Bytes(value) => query.bind(value.clone()),
            })
        }

        #[async_trait::async_trait]
        impl $crate::sql::Run for $pool {
            type Row = $row;

            async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<$row>> {
                query(&statement).fetch_all(&*self).await.db()
            }

            async fn fetch_optional(&mut self, statement: Statement) -> Result<Option<$row>> {
                query(&statement).fetch_optional(&*self).await.db()
            }

            async fn execute(&mut self, statement: Statement) -> Result<u64> {
                Ok(query(&statement).execute(&*self).await.db()?.rows_affected())
            }
        }

        $(
        #[async_trait::async_trait]
        impl $crate::sql::Run for $tx {
            type Row = $row;

            async fn fetch_all(&mut self, statement: Statement) -> Result<Vec<$row>> {
                query(&statement).fetch_all(&mut **self).await.db()
            }

            async fn fetch_optional(&mut self, statement: Statement) -> Result<Option<$row>> {
                query(&statement).fetch_optional(&mut **self).await.db()
            }

            async fn execute(&mut self, statement: Statement) -> Result<u64> {
                Ok(query(&statement).execute(&mut **self).await.db()?.rows_affected())
            }
        }
        )?

        impl $crate::sql::RowReader for $row {
            fn uuid(&self, column: &str) -> Result<uuid::Uuid> {
                sqlx::Row::try_get(self, column).db()
            }
            fn opt_uuid(&self, column: &str) -> Result<Option<uuid::Uuid>> {
                sqlx::Row::try_get(self, column).db()
            }
            fn text(&self, column: &str) -> Result<String> {
                sqlx::Row::try_get(self, column).db()
            }
            fn opt_text(&self, column: &str) -> Result<Option<String>> {
                sqlx::Row::try_get(self, column).db()
            }
            fn int(&self, column: &str) -> Result<i64> {
                sqlx::Row::try_get(self, column).db()
            }
            fn opt_int(&self, column: &str) -> Result<Option<i64>> {
                sqlx::Row::try_get(self, column).db()
            }
            fn int32(&self, column: &str) -> Result<i32> {
                sqlx::Row::try_get(self, column).db()
            }
            fn boolean(&self, column: &str) -> Result<bool> {
                sqlx::Row::try_get(self, column).db()
            }
            fn opt_bytes(&self, column: &str) -> Result<Option<Vec<u8>>> {
                sqlx::Row::try_get(self, column).db()
            }
            fn opt_timestamp(&self, column: &str) -> Result<Option<Timestamp>> {
                let instant: Option<$instant> = sqlx::Row::try_get(self, column).db()?;
                instant.map(|value| $to_timestamp(value).ok_or_else(|| $crate::sql::corrupt(column))).transpose()
            }
        }
    };
}

pub(crate) use sqlx_plumbing;
