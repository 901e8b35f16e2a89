//! A freshly migrated database of each engine, opened twice: through the store, as the service
//! uses it, and through a plain connection pool, to read the tables the store keeps.

#![allow(dead_code)]

pub mod recount;

use std::str::FromStr;
use std::sync::Arc;

use opportunities_store::{OpenOptions, Store};
use sqlx::postgres::{PgPool, PgPoolOptions, PgRow};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{AssertSqlSafe, FromRow};

pub struct Engine {
    pub store: Arc<dyn Store>,
    pub db: Db,
    _dir: tempfile::TempDir,
}

/// A plain connection to the engine's database, for what no store method answers.
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

impl Engine {
    pub async fn sqlite() -> Engine {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("store.db").display());
        let store = open(&url).await;
        let connect = SqliteConnectOptions::from_str(&url).expect("an SQLite URL").read_only(true);
        // One connection: a temporary table made on it is there for the next statement.
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(connect).await.expect("open the SQLite file");
        Engine { store, db: Db::Sqlite(pool), _dir: dir }
    }

    pub async fn postgres() -> Engine {
        let url = opportunities_store::testing::fresh_postgres_schema("store").await;
        let store = open(&url).await;
        let pool = PgPoolOptions::new().max_connections(1).connect(&url).await.expect("connect to PostgreSQL");
        Engine { store, db: Db::Postgres(pool), _dir: tempfile::tempdir().expect("a temporary directory") }
    }
}

async fn open(url: &str) -> Arc<dyn Store> {
    opportunities_store::open(url, &OpenOptions { pool_size: 2, ..Default::default() }).await.expect("open and migrate the database")
}

impl Db {
    /// Every row `sql` returns, read into `T` the same way on both engines.
    pub async fn rows<T>(&self, sql: &str) -> Vec<T>
    where
        T: for<'r> FromRow<'r, SqliteRow> + for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let rows = match self {
            Db::Sqlite(pool) => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await,
            Db::Postgres(pool) => sqlx::query_as(AssertSqlSafe(sql)).fetch_all(pool).await,
        };
        rows.unwrap_or_else(|error| panic!("{error}\nin: {sql}"))
    }
}
