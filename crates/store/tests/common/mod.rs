//! A freshly migrated database of each engine, opened twice: through the store, as the service
//! uses it, and through a plain connection pool, to read the tables the store keeps.

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;

pub use opportunities_store::testing::recount::Db;
use opportunities_store::{OpenOptions, Store};
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

pub struct Engine {
    pub store: Arc<dyn Store>,
    pub db: Db,
    _dir: tempfile::TempDir,
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
