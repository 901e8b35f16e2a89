//! What every crate's tests need to run against PostgreSQL (feature `testing`, for tests only).
//!
//! A PostgreSQL test is marked `#[ignore]`, so that a run without a database lists it as
//! ignored instead of counting it as passed; `scripts/test.sh` finds a database and runs those
//! tests with `-- --include-ignored`. A PostgreSQL test asked to run without one fails here.

pub mod recount;

use sqlx::{Connection, PgConnection};

/// The variable naming a PostgreSQL database the tests may create schemas in.
pub const POSTGRES_URL: &str = "OPPORTUNITIES_TEST_POSTGRES_URL";

/// A URL for a new, empty schema (named `{prefix}_…`) in the database [`POSTGRES_URL`] names,
/// so that tests running at once never see each other's tables.
///
/// # Panics
/// When [`POSTGRES_URL`] is not set or the database cannot be reached: the test was asked to
/// run on PostgreSQL, and skipping it would report a pass for something that did not run.
pub async fn fresh_postgres_schema(prefix: &str) -> String {
    let url = std::env::var(POSTGRES_URL).unwrap_or_else(|_| {
        panic!("{POSTGRES_URL} is not set: this PostgreSQL test cannot run (scripts/test.sh sets it when it finds a database)")
    });
    let schema = format!("{prefix}_{}", uuid::Uuid::now_v7().simple());
    let mut admin = PgConnection::connect(&url).await.unwrap_or_else(|error| panic!("cannot connect to {POSTGRES_URL}: {error}"));
    let create = format!("CREATE SCHEMA {schema}");
    sqlx::query(sqlx::AssertSqlSafe(create)).execute(&mut admin).await.expect("create a schema");
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options[search_path]={schema}")
}
