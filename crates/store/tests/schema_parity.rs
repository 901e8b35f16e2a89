//! The two engines' migrations describe one schema: after migrating a fresh database of each,
//! they have the same tables, the same columns (name, kind, nullability), primary keys, unique
//! and plain indexes, and foreign keys. Only each engine's own search machinery differs, and
//! it is named below. What the triggers do is checked by the contract suite (`contract.rs`).

mod common;

use std::collections::BTreeSet;

use common::{Db, Engine};

/// SQLite's word index: a full-text table and the tables FTS5 keeps it in (migration 0007).
const SQLITE_ONLY_TABLES: &str = "opportunity_words";
/// PostgreSQL's searched text (migration 0006), which the row check reads.
const POSTGRES_ONLY_COLUMN: (&str, &str) = ("opportunities", "search_text");
/// PostgreSQL's word index: a B-tree of each lead's words (migration 0027).
const POSTGRES_ONLY_TABLE: &str = "search_words";
/// sqlx's record of applied migrations.
const MIGRATIONS_TABLE: &str = "_sqlx_migrations";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
async fn both_engines_migrate_to_the_same_schema() {
    let (sqlite, postgres) = (Engine::sqlite().await, Engine::postgres().await);
    let (sqlite, postgres) = (schema(&sqlite.db).await, schema(&postgres.db).await);
    assert!(sqlite.iter().any(|fact| fact.starts_with("opportunities: column")), "the SQLite schema was read: {sqlite:#?}");
    let only = |a: &BTreeSet<String>, b: &BTreeSet<String>, engine: &str| {
        a.difference(b).map(|fact| format!("only {engine}: {fact}")).collect::<Vec<_>>()
    };
    let differences = [only(&sqlite, &postgres, "SQLite"), only(&postgres, &sqlite, "PostgreSQL")].concat();
    assert!(differences.is_empty(), "the migrations of the two engines disagree:\n{}", differences.join("\n"));
}

/// What a column holds, as far as both engines can say. SQLite declares only a storage class:
/// the store writes ids and hashes as blobs, and instants (microseconds), flags and amounts as
/// integers, so PostgreSQL's types are compared by the class SQLite stores them in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Text,
    Integer,
    Blob,
}

impl Kind {
    fn of(db: &Db, declared: &str) -> Kind {
        let kind = match db {
            Db::Sqlite(_) => match declared.to_ascii_lowercase().as_str() {
                "text" => Some(Kind::Text),
                "integer" => Some(Kind::Integer),
                "blob" => Some(Kind::Blob),
                _ => None,
            },
            Db::Postgres(_) => match declared {
                "text" => Some(Kind::Text),
                "bigint" | "integer" | "boolean" | "timestamp with time zone" => Some(Kind::Integer),
                "uuid" | "bytea" => Some(Kind::Blob),
                _ => None,
            },
        };
        kind.unwrap_or_else(|| panic!("a column declared `{declared}`: say here which kind it is on each engine"))
    }
}

/// The schema as one line per fact ("opportunities: column title text NOT NULL"), so that a
/// difference reads as the lines only one engine has. Both engines' catalogs are read into
/// rows of the same shape, in the same order.
async fn schema(db: &Db) -> BTreeSet<String> {
    let queries = match db {
        Db::Sqlite(_) => sqlite_queries(),
        Db::Postgres(_) => postgres_queries(),
    };
    let mut facts = BTreeSet::new();
    for (table, column, declared, not_null) in db.rows::<(String, String, String, bool)>(&queries.columns).await {
        if (table.as_str(), column.as_str()) != POSTGRES_ONLY_COLUMN {
            let null = if not_null { "NOT NULL" } else { "NULL" };
            facts.insert(format!("{table}: column {column} {:?} {null}", Kind::of(db, &declared)));
        }
    }
    let indexes = db.rows::<(String, String, bool, bool, String)>(&queries.indexes).await;
    let indexes = indexes.into_iter().map(|(table, index, primary, unique, column)| ((table, index, primary, unique), column));
    for ((table, _, primary, unique), columns) in grouped(indexes) {
        let what = if primary {
            "primary key"
        } else if unique {
            "unique index"
        } else {
            "index"
        };
        facts.insert(format!("{table}: {what} ({})", columns.join(", ")));
    }
    let foreign_keys = db.rows::<(String, String, String, String, String, String)>(&queries.foreign_keys).await;
    let foreign_keys =
        foreign_keys.into_iter().map(|(table, key, to_table, on_delete, from, to)| ((table, key, to_table, on_delete), (from, to)));
    for ((table, _, to_table, on_delete), pairs) in grouped(foreign_keys) {
        let (columns, references): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
        facts.insert(format!(
            "{table}: foreign key ({}) references {to_table} ({}) on delete {on_delete}",
            columns.join(", "),
            references.join(", ")
        ));
    }
    facts
}

/// Catalog queries whose rows are
/// - columns: table, column, declared type, NOT NULL;
/// - indexes: table, index, primary, unique, one column, in the index's order;
/// - foreign keys: table, key, referenced table, ON DELETE action, one column and the column
///   it references, in the key's order.
struct Queries {
    columns: String,
    indexes: String,
    foreign_keys: String,
}

fn sqlite_queries() -> Queries {
    // The tables, less the word index's, sqlx's and SQLite's own.
    let tables = format!(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT GLOB 'sqlite_*' \
         AND name <> '{MIGRATIONS_TABLE}' AND name NOT GLOB '{SQLITE_ONLY_TABLES}*'"
    );
    Queries {
        columns: format!("SELECT t.name, c.name, c.type, c.\"notnull\" FROM ({tables}) t JOIN pragma_table_info(t.name) c"),
        indexes: format!(
            "SELECT t.name, i.name, i.origin = 'pk', i.\"unique\", c.name FROM ({tables}) t \
             JOIN pragma_index_list(t.name) i JOIN pragma_index_info(i.name) c ORDER BY t.name, i.name, c.seqno"
        ),
        foreign_keys: format!(
            "SELECT t.name, CAST(f.id AS TEXT), f.\"table\", f.on_delete, f.\"from\", f.\"to\" FROM ({tables}) t \
             JOIN pragma_foreign_key_list(t.name) f ORDER BY t.name, f.id, f.seq"
        ),
    }
}

fn postgres_queries() -> Queries {
    let tables = format!(
        "t.relnamespace = current_schema()::regnamespace AND t.relkind = 'r' \
         AND t.relname NOT IN ('{MIGRATIONS_TABLE}', '{POSTGRES_ONLY_TABLE}')"
    );
    let column =
        |number: &str, table: &str| format!("(SELECT attname::text FROM pg_attribute WHERE attrelid = {table} AND attnum = {number})");
    Queries {
        columns: format!(
            "SELECT t.relname::text, a.attname::text, format_type(a.atttypid, NULL), a.attnotnull FROM pg_class t \
             JOIN pg_attribute a ON a.attrelid = t.oid WHERE {tables} AND a.attnum > 0 AND NOT a.attisdropped"
        ),
        // An expression (number 0) has no column name, which fails the test: none is expected.
        indexes: format!(
            "SELECT t.relname::text, x.relname::text, i.indisprimary, i.indisunique, {} FROM pg_index i \
             JOIN pg_class t ON t.oid = i.indrelid JOIN pg_class x ON x.oid = i.indexrelid \
             CROSS JOIN unnest(i.indkey::int2[]) WITH ORDINALITY k(number, position) WHERE {tables} \
             ORDER BY t.relname, x.relname, k.position",
            column("k.number", "t.oid")
        ),
        foreign_keys: format!(
            "SELECT t.relname::text, c.conname::text, r.relname::text, \
             CASE c.confdeltype WHEN 'a' THEN 'NO ACTION' WHEN 'r' THEN 'RESTRICT' WHEN 'c' THEN 'CASCADE' \
                                WHEN 'n' THEN 'SET NULL' WHEN 'd' THEN 'SET DEFAULT' END, {}, {} \
             FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_class r ON r.oid = c.confrelid \
             CROSS JOIN unnest(c.conkey, c.confkey) WITH ORDINALITY k(number, referenced, position) \
             WHERE c.contype = 'f' AND {tables} ORDER BY t.relname, c.conname, k.position",
            column("k.number", "c.conrelid"),
            column("k.referenced", "c.confrelid")
        ),
    }
}

/// Consecutive rows with the same key, as one entry each: (key, values in order).
fn grouped<K: PartialEq, V>(rows: impl IntoIterator<Item = (K, V)>) -> Vec<(K, Vec<V>)> {
    let mut groups: Vec<(K, Vec<V>)> = Vec::new();
    for (key, value) in rows {
        match groups.last_mut() {
            Some((last, values)) if *last == key => values.push(value),
            _ => groups.push((key, vec![value])),
        }
    }
    groups
}
