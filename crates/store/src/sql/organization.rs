//! Every table that holds an organization's rows, sorted by what becomes of them when the
//! organization is exported, imported or deleted (see `crate::organization_data`):
//!
//! - [`COPIED`] travel, column by column, as JSON objects, parents before children;
//! - [`REBUILT`] are totals the database's triggers keep: an import rebuilds them from the
//!   copied leads, so they never disagree with a recount;
//! - [`LEFT_BEHIND`] are secrets and sessions, which must not travel.
//!
//! A delete removes the rows of all three. A test (below) reads the database catalogue of both
//! engines and fails when a table with an `org_id` column, or a column of a copied table, is not
//! named here, so that a new table cannot be silently left out of an export or a delete.

use domain::{Error, Result, Timestamp};
use serde_json::{Map, Value};
use uuid::Uuid;

use super::{Param, RowReader, Statement};

/// What a column holds, which decides how it is written in JSON and bound back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// A hyphenated UUID string (a 16-byte blob on SQLite, `uuid` on PostgreSQL).
    Uuid,
    Text,
    /// A JSON integer (money in cents, counts, days).
    Int,
    Bool,
    /// An RFC 3339 string in UTC with microseconds (what both engines store exactly).
    Time,
}

/// A table whose rows travel with the organization.
pub(crate) struct CopiedTable {
    pub name: &'static str,
    /// The column naming the organization: `id` for the organization itself.
    pub owner: &'static str,
    /// The id the rows are read in order of, a page at a time.
    pub key: &'static str,
    columns: &'static [(&'static str, Kind)],
}

use Kind::{Bool, Int, Text, Time, Uuid as Id};

/// Parents before children, so that an import satisfies every foreign key as it goes.
pub(crate) const COPIED: &[CopiedTable] = &[
    CopiedTable { name: "organizations", owner: "id", key: "id", columns: &[("id", Id), ("name", Text), ("created_at", Time)] },
    CopiedTable {
        name: "pipeline_settings",
        owner: "org_id",
        key: "org_id",
        columns: &[
            ("org_id", Id),
            ("timezone", Text),
            ("open_default_probability", Int),
            ("open_rot_after_days", Int),
            ("contacted_default_probability", Int),
            ("contacted_rot_after_days", Int),
            ("qualified_default_probability", Int),
            ("qualified_rot_after_days", Int),
            ("proposal_default_probability", Int),
            ("proposal_rot_after_days", Int),
            ("auto_stale", Bool),
        ],
    },
    CopiedTable {
        name: "staff",
        owner: "org_id",
        key: "id",
        columns: &[
            ("org_id", Id),
            ("id", Id),
            ("name", Text),
            ("email", Text),
            ("role", Text),
            ("is_active", Bool),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    CopiedTable {
        name: "categories",
        owner: "org_id",
        key: "id",
        columns: &[
            ("org_id", Id),
            ("id", Id),
            ("name", Text),
            ("name_key", Text),
            ("color", Text),
            ("sort_order", Int),
            ("is_active", Bool),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    CopiedTable {
        name: "clients",
        owner: "org_id",
        key: "id",
        columns: &[
            ("org_id", Id),
            ("id", Id),
            ("name", Text),
            ("email", Text),
            ("phone", Text),
            ("phone_digits", Text),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    CopiedTable {
        name: "opportunities",
        owner: "org_id",
        key: "id",
        // PostgreSQL's `search_text` is generated from these, so it is not written.
        columns: &[
            ("org_id", Id),
            ("id", Id),
            ("client_id", Id),
            ("prospect_name", Text),
            ("prospect_email", Text),
            ("prospect_phone", Text),
            ("prospect_phone_digits", Text),
            ("category_id", Id),
            ("title", Text),
            ("description", Text),
            ("estimated_value", Int),
            ("probability", Int),
            ("status", Text),
            ("source", Text),
            ("assigned_to", Id),
            ("follow_up_date", Time),
            ("follow_up_day", Int),
            ("closed_at", Time),
            ("closed_reason", Text),
            ("transaction_id", Id),
            ("created_by", Id),
            ("created_at", Time),
            ("updated_at", Time),
            ("last_activity_at", Time),
            ("version", Int),
            ("stages_reached", Int),
            ("stages_advanced", Int),
            ("first_response_at", Time),
        ],
    },
    CopiedTable {
        name: "notes",
        owner: "org_id",
        key: "id",
        columns: &[("org_id", Id), ("id", Id), ("opportunity_id", Id), ("content", Text), ("created_by", Id), ("created_at", Time)],
    },
    CopiedTable {
        name: "activities",
        owner: "org_id",
        key: "id",
        columns: &[
            ("org_id", Id),
            ("id", Id),
            ("opportunity_id", Id),
            ("activity_type", Text),
            ("description", Text),
            ("outcome", Text),
            ("scheduled_at", Time),
            ("completed_at", Time),
            ("created_by", Id),
            ("created_at", Time),
        ],
    },
    CopiedTable {
        name: "stage_history",
        owner: "org_id",
        key: "id",
        columns: &[
            ("org_id", Id),
            ("id", Id),
            ("opportunity_id", Id),
            ("status", Text),
            ("entered_at", Time),
            ("changed_by", Id),
            ("left_at", Time),
            ("lead_created_at", Time),
        ],
    },
    CopiedTable {
        name: "lead_forms",
        owner: "org_id",
        key: "id",
        columns: &[
            ("org_id", Id),
            ("id", Id),
            ("form_key", Text),
            ("name", Text),
            ("category_id", Id),
            ("assigned_to", Id),
            ("allowed_origins", Text),
            ("thank_you_url", Text),
            ("is_active", Bool),
            ("created_by", Id),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    // The signing secret travels: the receivers check signatures with it, and a moved
    // organization's webhooks must keep working without each receiver being told a new one.
    CopiedTable {
        name: "webhooks",
        owner: "org_id",
        key: "id",
        columns: &[
            ("org_id", Id),
            ("id", Id),
            ("url", Text),
            ("events", Text),
            ("secret", Text),
            ("is_active", Bool),
            ("disabled_reason", Text),
            ("created_at", Time),
            ("updated_at", Time),
        ],
    },
    CopiedTable {
        name: "webhook_events",
        owner: "org_id",
        key: "id",
        columns: &[("org_id", Id), ("id", Id), ("type", Text), ("body", Text), ("created_at", Time)],
    },
    CopiedTable {
        name: "webhook_deliveries",
        owner: "org_id",
        key: "id",
        columns: &[
            ("org_id", Id),
            ("id", Id),
            ("webhook_id", Id),
            ("event_id", Id),
            ("state", Text),
            ("attempts", Int),
            ("next_attempt_at", Time),
            ("leased_until", Time),
            ("due_since", Time),
            ("created_at", Time),
        ],
    },
    CopiedTable {
        name: "webhook_attempts",
        owner: "org_id",
        key: "id",
        columns: &[
            ("org_id", Id),
            ("id", Id),
            ("delivery_id", Id),
            ("started_at", Time),
            ("duration_ms", Int),
            ("response_status", Int),
            ("error", Text),
            ("succeeded", Bool),
        ],
    },
];

/// Totals kept by triggers on `opportunities` (and on each other): filled again by the import's
/// inserts of leads. (The word indexes follow the leads the same way, row by row, so neither
/// is listed: SQLite's has no `org_id` column, and PostgreSQL's `search_words` exists on that
/// engine alone.)
pub(crate) const REBUILT: &[&str] = &["pipeline_totals", "follow_up_totals", "pipeline_org_totals", "follow_up_org_totals"];

/// Secrets and what only makes sense in the database that issued it: API tokens, passwords,
/// password links, browser sessions, and the responses kept for `Idempotency-Key` retries.
/// Listed first because they refer to staff members.
pub(crate) const LEFT_BEHIND: &[&str] = &["api_tokens", "staff_passwords", "password_links", "web_sessions", "idempotency_keys"];

/// The copied table with this name.
pub(crate) fn copied(name: &str) -> Result<&'static CopiedTable> {
    COPIED.iter().find(|table| table.name == name).ok_or_else(|| Error::Conflict(format!("unknown table `{name}`")))
}

impl CopiedTable {
    /// Up to `limit` of the organization's rows after the one whose key is `after`, in key order.
    pub fn page(&self, org_id: Uuid, after: Option<Uuid>, limit: i64) -> Statement {
        let columns: Vec<_> = self
            .columns
            .iter()
            .map(|&(name, kind)| match kind {
                // PostgreSQL keeps some as `integer`, which its driver will not read as a 64-bit one.
                Int => format!("CAST({name} AS BIGINT) AS {name}"),
                _ => name.to_owned(),
            })
            .collect();
        let mut statement =
            Statement::new(format!("SELECT {} FROM {} WHERE {} = $1", columns.join(", "), self.name, self.owner)).bind(org_id);
        if let Some(after) = after {
            let placeholder = statement.param(after);
            statement.push(&format!(" AND {} > {placeholder}", self.key));
        }
        let placeholder = statement.param(limit);
        statement.push(&format!(" ORDER BY {} LIMIT {placeholder}", self.key));
        statement
    }

    /// The row as a JSON object of its columns.
    pub fn to_json(&self, row: &dyn RowReader) -> Result<Map<String, Value>> {
        let mut object = Map::new();
        for &(name, kind) in self.columns {
            let value = match kind {
                Id => row.opt_uuid(name)?.map_or(Value::Null, |id| Value::String(id.to_string())),
                Text => row.opt_text(name)?.map_or(Value::Null, Value::String),
                Int => row.opt_int(name)?.map_or(Value::Null, Value::from),
                Bool => Value::Bool(row.boolean(name)?),
                Time => row.opt_timestamp(name)?.map_or(Value::Null, |at| Value::String(at.to_string())),
            };
            object.insert(name.to_owned(), value);
        }
        Ok(object)
    }

    /// The row's key, for reading the next page after it.
    pub fn key_of(&self, row: &Map<String, Value>) -> Result<Uuid> {
        uuid_of(row.get(self.key).unwrap_or(&Value::Null)).and_then(|id| id.ok_or_else(|| self.bad(self.key, "has no value")))
    }

    /// How many rows one [`CopiedTable::insert`] holds to bind about `values` values.
    pub fn rows_per_insert(&self, values: usize) -> usize {
        (values / self.columns.len()).max(1)
    }

    /// Inserts the rows (JSON objects as [`CopiedTable::to_json`] makes them) in one statement.
    /// A column the table lacks is refused; a column the object lacks is null.
    pub fn insert(&self, rows: &[Map<String, Value>]) -> Result<Statement> {
        let names: Vec<_> = self.columns.iter().map(|(name, _)| *name).collect();
        let mut statement = Statement::new(format!("INSERT INTO {} ({}) VALUES ", self.name, names.join(", ")));
        for (i, row) in rows.iter().enumerate() {
            if let Some(unknown) = row.keys().find(|key| !names.contains(&key.as_str())) {
                return Err(self.bad(unknown, "is not a column of this table"));
            }
            statement.push(if i == 0 { "(" } else { ", (" });
            for (j, &(name, kind)) in self.columns.iter().enumerate() {
                let param = self.param(name, kind, row.get(name).unwrap_or(&Value::Null))?;
                statement.push(if j == 0 { "" } else { ", " }).push_bind(param);
            }
            statement.push(")");
        }
        Ok(statement)
    }

    fn param(&self, name: &str, kind: Kind, value: &Value) -> Result<Param> {
        let wrong = || self.bad(name, &format!("must be {kind:?}, not {value}"));
        Ok(match (kind, value) {
            (Id, _) => Param::Uuid(uuid_of(value).map_err(|_| wrong())?),
            (Text, Value::Null) => Param::Text(None),
            (Text, Value::String(text)) => Param::Text(Some(text.clone())),
            (Int, Value::Null) => Param::Int(None),
            (Int, Value::Number(number)) => Param::Int(Some(number.as_i64().ok_or_else(wrong)?)),
            (Bool, Value::Bool(flag)) => Param::Bool(*flag),
            (Time, Value::Null) => Param::Time(None),
            (Time, Value::String(text)) => Param::Time(Some(Timestamp::parse(text).ok_or_else(wrong)?)),
            _ => return Err(wrong()),
        })
    }

    fn bad(&self, column: &str, message: &str) -> Error {
        Error::Conflict(format!("{}.{column} {message}", self.name))
    }
}

fn uuid_of(value: &Value) -> Result<Option<Uuid>> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) => Uuid::parse_str(text).map(Some).map_err(|_| Error::Conflict(format!("`{text}` is not a UUID"))),
        other => Err(Error::Conflict(format!("{other} is not a UUID"))),
    }
}

/// Statements deleting every row of the organization, children before parents: what refers
/// to staff members, the copied tables from the last, the totals (which the deletes of leads
/// update on their way), and the organization itself.
pub(crate) fn delete_statements(org_id: Uuid) -> Vec<(&'static str, Statement)> {
    let delete = |table: &'static str, owner: &str| (table, Statement::new(format!("DELETE FROM {table} WHERE {owner} = $1")).bind(org_id));
    let (organization, children) = COPIED.split_first().expect("the organization is copied");
    let mut statements: Vec<_> = LEFT_BEHIND.iter().map(|table| delete(table, "org_id")).collect();
    statements.extend(children.iter().rev().map(|table| delete(table.name, table.owner)));
    statements.extend(REBUILT.iter().map(|table| delete(table, "org_id")));
    statements.push(delete(organization.name, organization.owner));
    statements
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::OpenOptions;
    use crate::sql::{Backend, Run, SqlStore};

    /// Every table with an `org_id` column, with its columns (PostgreSQL's generated ones aside:
    /// they cannot be written), from the database's own catalogue.
    async fn catalogue<B: Backend>(store: &SqlStore<B>, sql: &str) -> BTreeSet<(String, String)> {
        let rows = store.backend.reader().fetch_all(Statement::new(sql)).await.expect("read the catalogue");
        rows.iter().map(|row| (row.text("table_name").expect("a table"), row.text("column_name").expect("a column"))).collect()
    }

    const SQLITE_CATALOGUE: &str = "SELECT m.name AS table_name, c.name AS column_name
        FROM sqlite_master m, pragma_table_info(m.name) c
        WHERE m.type = 'table' AND (m.name = 'organizations'
            OR EXISTS (SELECT 1 FROM pragma_table_info(m.name) o WHERE o.name = 'org_id'))";

    const POSTGRES_CATALOGUE: &str = "SELECT CAST(c.table_name AS text) AS table_name, CAST(c.column_name AS text) AS column_name
        FROM information_schema.columns c
        WHERE c.table_schema = current_schema() AND c.is_generated = 'NEVER' AND c.table_name <> 'search_words'
          AND (c.table_name = 'organizations'
            OR EXISTS (SELECT 1 FROM information_schema.columns o
                       WHERE o.table_schema = c.table_schema AND o.table_name = c.table_name AND o.column_name = 'org_id'))";

    /// The guard: a table holding an organization's rows that is not sorted above, or a column
    /// of a copied table that is not described, fails here by name. Copy it (add it to
    /// [`COPIED`] in its place among parents and children), or say why not ([`REBUILT`],
    /// [`LEFT_BEHIND`]).
    async fn every_table_of_an_organization_is_sorted<B: Backend>(store: SqlStore<B>, sql: &str) {
        let found = catalogue(&store, sql).await;
        let tables: BTreeSet<&str> = found.iter().map(|(table, _)| table.as_str()).collect();
        let sorted: BTreeSet<&str> =
            COPIED.iter().map(|table| table.name).chain(REBUILT.iter().copied()).chain(LEFT_BEHIND.iter().copied()).collect();
        assert_eq!(
            tables, sorted,
            "tables holding an organization's rows (left) and those crates/store/src/sql/organization.rs sorts (right) differ"
        );
        for table in COPIED {
            let columns: BTreeSet<&str> = found.iter().filter(|(name, _)| name == table.name).map(|(_, column)| column.as_str()).collect();
            let described: BTreeSet<&str> = table.columns.iter().map(|(name, _)| *name).collect();
            assert_eq!(columns, described, "the columns of {} (left) and those copied (right) differ", table.name);
        }
    }

    #[tokio::test]
    async fn every_table_of_an_organization_is_sorted_on_sqlite() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("guard.db").display());
        let store = crate::sqlite::open(&url, &OpenOptions::default()).await.expect("open SQLite");
        every_table_of_an_organization_is_sorted(store, SQLITE_CATALOGUE).await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
    async fn every_table_of_an_organization_is_sorted_on_postgres() {
        let url = crate::testing::fresh_postgres_schema("guard").await;
        let store = crate::postgres::open(&url, &OpenOptions::default()).await.expect("open PostgreSQL");
        every_table_of_an_organization_is_sorted(store, POSTGRES_CATALOGUE).await;
    }

    #[test]
    fn a_delete_removes_the_organization_last_and_every_sorted_table() {
        let statements = delete_statements(Uuid::nil());
        assert_eq!(statements.last().map(|(table, _)| *table), Some("organizations"));
        assert_eq!(statements.len(), COPIED.len() + REBUILT.len() + LEFT_BEHIND.len());
    }
}
