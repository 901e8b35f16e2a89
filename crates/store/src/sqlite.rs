//! The embedded backend: one SQLite file in WAL mode. Writes go through a single connection
//! (SQLite allows one writer at a time anyway, and queuing in the pool is cheaper than
//! retrying on SQLITE_BUSY); reads use read-only connections that never wait for it, each
//! statement on the thread that asks for it (see [`sqlite_readers`](crate::sqlite_readers)).

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use domain::search::SearchWords;
use domain::{Error, Result};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, SqliteConnection};
use uuid::Uuid;

use crate::group_commit::{Bound, GroupTx, GroupWriter};
use crate::sql::{Backend, Dialect, SqlStore, TextSearch, Triage};
use crate::sqlite_direct::Direct;
use crate::sqlite_readers::{Readers, Snapshot};
use crate::{DbResult, OpenOptions, PoolState};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

pub(crate) struct Sqlite3 {
    reader: Readers,
    writer: GroupWriter,
}

/// Opens (creating if needed) and migrates the database file named by `url`.
/// Durability: WAL with `synchronous=FULL` syncs the log on every commit, so an acknowledged
/// write survives a crash of the process and a loss of power. Writers that queue share a commit
/// (see [`GroupWriter`]), which is what makes many durable writes per second possible.
pub(crate) async fn open(url: &str, options: &OpenOptions) -> Result<SqlStore<Sqlite3>> {
    if url.contains(":memory:") || url.contains("mode=memory") {
        return Err(Error::Conflict("an in-memory SQLite database cannot be shared; give a file path".into()));
    }
    let connect = SqliteConnectOptions::from_str(url)
        .db()?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    let mut migrating = SqliteConnection::connect_with(&connect).await.db()?;
    MIGRATOR.run(&mut migrating).await.map_err(Error::internal)?;
    migrating.close().await.db()?;
    let writer = GroupWriter::new(Direct::writer(connect.get_filename(), options.statement_timeout)?, Bound::SERVICE);
    let pool_size = usize::try_from(options.pool_size).unwrap_or(usize::MAX);
    let reader = Readers::open(connect.get_filename(), pool_size, options.statement_timeout)?;
    Ok(SqlStore::new(Sqlite3 { reader, writer }))
}

/// What the word index holds for each opportunity, joined by a line break (see migration 0007).
const SEARCHED_COLUMNS: &str = "o.title, o.description, o.prospect_name, o.prospect_email, o.prospect_phone";

/// The word index query for an organization's leads containing the words: the organization's
/// id is a token of its own column, so the index itself keeps organizations apart.
fn words_query(org_id: Uuid, words: &SearchWords) -> String {
    // A word is made of word characters only, so it needs no escaping inside quotes.
    let terms: Vec<_> = words.0.iter().map(|word| format!("\"{}\"{}", word.text, if word.prefix { "*" } else { "" })).collect();
    format!("org : \"{}\" AND words : ({})", org_id.simple(), terms.join(" AND "))
}

#[async_trait]
impl Backend for Sqlite3 {
    type Reader = Readers;
    type Tx = GroupTx;
    type Snapshot = Snapshot;
    const DIALECT: Dialect = Dialect {
        like: "LIKE",
        // The write transaction already holds the database's only write lock.
        for_update: "",
        for_share: "",
        binary_order: "",
        text_search: TextSearch {
            matching: |statement, org_id, words, _driver, limit| {
                let (query, limit) = (statement.param(words_query(org_id, words)), statement.param(limit));
                format!("SELECT rowid AS key FROM opportunity_words WHERE opportunity_words MATCH {query} LIMIT {limit}")
            },
            key: "o.rowid",
            matches_word: |statement, word| {
                let (text, prefix) = (statement.param(word.text.as_str()), statement.param(word.prefix));
                format!("has_word({text}, {prefix}, concat_ws(char(10), {SEARCHED_COLUMNS}))")
            },
            // The word index keeps prefix indexes of 1 to 3 characters (migration 0007).
            triage: Triage::WholeWordsFirst { cheap_prefix_length: 3 },
        },
        sweep_lock: "",
        skip_locked: "",
        bootstrap_lock: None,
        // Binding `$n` parameters costs the square of their number on SQLite, which looks each
        // name up in a list of all of them: 1,400 leads in one statement took 2–4 s, 20 take
        // a fraction of a millisecond.
        values_per_statement: 500,
        // Instants are integer microseconds.
        seconds_between: |earlier, later| format!("((({later}) - ({earlier})) / 1000000)"),
        // Registered on every reading connection (`sqlite_functions`).
        percentile: |percent, value| format!("nearest_rank({value}, {percent})"),
    };

    fn reader(&self) -> Readers {
        self.reader.clone()
    }

    async fn begin(&self) -> Result<Self::Tx> {
        self.writer.begin().await
    }

    async fn commit(tx: Self::Tx) -> Result<()> {
        GroupWriter::commit(tx).await
    }

    /// A transaction on a read connection: in WAL mode its first read fixes what it sees until
    /// it ends, while the writer goes on.
    async fn snapshot(&self) -> Result<Self::Snapshot> {
        self.reader.snapshot()
    }

    fn pool_state(&self) -> PoolState {
        self.reader.state()
    }
}
