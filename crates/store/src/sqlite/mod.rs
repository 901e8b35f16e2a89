//! The embedded backend: one SQLite file in WAL mode. Writes go through a single connection
//! (SQLite allows one writer at a time anyway, and queuing in the pool is cheaper than
//! retrying on SQLITE_BUSY); reads use a pool of read-only connections that never wait for it.

mod rows;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use domain::activity::{Activity, Note};
use domain::auth::{Actor, ApiToken, Role, Staff};
use domain::category::Category;
use domain::client::Client;
use domain::opportunity::{Opportunity, OpportunityView, References};
use domain::query::{ClientFilter, OpportunityFilter, SortKey, StatsFilter};
use domain::stats::StatusSourceTotals;
use domain::{Error, FieldErrors, Result, Timestamp};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection, Transaction};
use uuid::Uuid;

use self::rows::*;
use crate::{DbResult, Store, Tx};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

const READERS: u32 = 8;

pub struct SqliteStore {
    reader: SqlitePool,
    writer: SqlitePool,
}

impl SqliteStore {
    /// Durability: WAL with `synchronous=FULL` syncs the log on every commit, so an
    /// acknowledged write survives a crash of the process and a loss of power.
    pub async fn open(url: &str) -> Result<Self> {
        if url.contains(":memory:") || url.contains("mode=memory") {
            return Err(Error::Conflict("an in-memory SQLite database cannot be shared; give a file path".into()));
        }
        let options = SqliteConnectOptions::from_str(url)
            .db()?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await.db()?;
        MIGRATOR.run(&writer).await.map_err(Error::internal)?;
        let reader = SqlitePoolOptions::new().max_connections(READERS).connect_with(options.read_only(true)).await.db()?;
        Ok(SqliteStore { reader, writer })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        // IMMEDIATE takes the write lock now, so what the transaction reads cannot change
        // under it, and another process writing waits (busy_timeout) instead of failing.
        let tx = self.writer.begin_with("BEGIN IMMEDIATE").await.db()?;
        Ok(Box::new(SqliteTx(tx)))
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.reader).await.db().map(drop)
    }

    async fn authenticate(&self, token_hash: &[u8]) -> Result<Option<Actor>> {
        let row = sqlx::query(
            "SELECT t.id AS token_id, s.org_id, s.id AS staff_id, s.name, s.role
             FROM api_tokens t JOIN staff s ON s.org_id = t.org_id AND s.id = t.staff_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND s.is_active = 1",
        )
        .bind(token_hash)
        .fetch_optional(&self.reader)
        .await
        .db()?;
        row.map(|row| {
            Ok(Actor {
                org_id: get(&row, "org_id")?,
                staff_id: get(&row, "staff_id")?,
                name: get(&row, "name")?,
                role: Role::parse(&get::<String>(&row, "role")?).ok_or_else(|| corrupt("role"))?,
                token_id: get(&row, "token_id")?,
            })
        })
        .transpose()
    }

    async fn categories(&self, org_id: Uuid, include_inactive: bool) -> Result<Vec<Category>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            category_columns!(),
            " FROM categories WHERE org_id = $1 AND (is_active = 1 OR $2) ORDER BY sort_order, name_key, id"
        ))
        .bind(org_id)
        .bind(include_inactive)
        .fetch_all(&self.reader)
        .await
        .db()?;
        rows.iter().map(category).collect()
    }

    async fn opportunities(&self, org_id: Uuid, filter: &OpportunityFilter) -> Result<(Vec<OpportunityView>, i64)> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM opportunities o");
        push_filter(&mut count, org_id, filter);
        let total: i64 = count.build_query_scalar().fetch_one(&self.reader).await.db()?;

        let mut list = QueryBuilder::<Sqlite>::new(VIEW_SELECT);
        push_filter(&mut list, org_id, filter);
        push_order(&mut list, filter);
        list.push(" LIMIT ").push_bind(filter.page.limit).push(" OFFSET ").push_bind(filter.page.offset);
        let rows = list.build().fetch_all(&self.reader).await.db()?;
        Ok((rows.iter().map(opportunity_view).collect::<Result<_>>()?, total))
    }

    async fn opportunity_view(&self, org_id: Uuid, id: Uuid) -> Result<Option<OpportunityView>> {
        let row = sqlx::query(concat!(view_select!(), " WHERE o.org_id = $1 AND o.id = $2"))
            .bind(org_id)
            .bind(id)
            .fetch_optional(&self.reader)
            .await
            .db()?;
        row.as_ref().map(opportunity_view).transpose()
    }

    async fn notes(&self, org_id: Uuid, opportunity_id: Uuid) -> Result<Vec<Note>> {
        let rows = sqlx::query(
            "SELECT org_id, id, opportunity_id, content, created_by, created_at FROM notes
             WHERE org_id = $1 AND opportunity_id = $2 ORDER BY created_at DESC, id DESC",
        )
        .bind(org_id)
        .bind(opportunity_id)
        .fetch_all(&self.reader)
        .await
        .db()?;
        rows.iter().map(note).collect()
    }

    async fn activities(&self, org_id: Uuid, opportunity_id: Uuid) -> Result<Vec<Activity>> {
        let rows = sqlx::query(
            "SELECT org_id, id, opportunity_id, activity_type, description, outcome, scheduled_at, completed_at,
                    created_by, created_at
             FROM activities WHERE org_id = $1 AND opportunity_id = $2 ORDER BY created_at DESC, id DESC",
        )
        .bind(org_id)
        .bind(opportunity_id)
        .fetch_all(&self.reader)
        .await
        .db()?;
        rows.iter().map(activity).collect()
    }

    async fn stats(&self, org_id: Uuid, filter: &StatsFilter, now: Timestamp) -> Result<Vec<StatusSourceTotals>> {
        let rows = sqlx::query(
            "SELECT status, source, COUNT(*) AS count,
                    COALESCE(SUM(estimated_value), 0) AS value_cents,
                    COALESCE(SUM(estimated_value * probability), 0) AS weighted,
                    COALESCE(SUM(follow_up_date <= $2), 0) AS follow_up_due
             FROM opportunities
             WHERE org_id = $1 AND ($3 IS NULL OR assigned_to = $3) AND ($4 IS NULL OR category_id = $4)
             GROUP BY status, source",
        )
        .bind(org_id)
        .bind(now.end_of_day().unix_micros())
        .bind(filter.assigned_to)
        .bind(filter.category_id)
        .fetch_all(&self.reader)
        .await
        .db()?;
        rows.iter().map(status_source_totals).collect()
    }

    async fn clients(&self, org_id: Uuid, filter: &ClientFilter) -> Result<(Vec<Client>, i64)> {
        let pattern = filter.search.as_deref().map(like_pattern);
        let condition = "WHERE org_id = $1 AND ($2 IS NULL OR name LIKE $2 ESCAPE '\\' OR email LIKE $2 ESCAPE '\\' OR phone LIKE $2 ESCAPE '\\')";
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM clients {condition}")))
            .bind(org_id)
            .bind(&pattern)
            .fetch_one(&self.reader)
            .await
            .db()?;
        let sql = format!("SELECT {} FROM clients {condition} ORDER BY lower(name), id LIMIT $3 OFFSET $4", client_columns!());
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(org_id)
            .bind(&pattern)
            .bind(filter.page.limit)
            .bind(filter.page.offset)
            .fetch_all(&self.reader)
            .await
            .db()?;
        Ok((rows.iter().map(client).collect::<Result<_>>()?, total))
    }

    async fn client(&self, org_id: Uuid, id: Uuid) -> Result<Option<Client>> {
        fetch_client(&self.reader, org_id, id).await
    }

    async fn staff_members(&self, org_id: Uuid) -> Result<Vec<Staff>> {
        let rows = sqlx::query(concat!("SELECT ", staff_columns!(), " FROM staff WHERE org_id = $1 ORDER BY lower(name), id"))
            .bind(org_id)
            .fetch_all(&self.reader)
            .await
            .db()?;
        rows.iter().map(staff).collect()
    }

    async fn staff(&self, org_id: Uuid, id: Uuid) -> Result<Option<Staff>> {
        fetch_staff(&self.reader, org_id, id).await
    }
}

/// The `WHERE` clause of an opportunity list, shared by the page and its total.
fn push_filter(query: &mut QueryBuilder<Sqlite>, org_id: Uuid, filter: &OpportunityFilter) {
    query.push(" WHERE o.org_id = ").push_bind(org_id);
    if !filter.statuses.is_empty() {
        query.push(" AND o.status IN (");
        let mut statuses = query.separated(", ");
        for status in &filter.statuses {
            statuses.push_bind(status.as_str());
        }
        query.push(")");
    }
    for (column, value) in [("o.assigned_to", filter.assigned_to), ("o.category_id", filter.category_id), ("o.client_id", filter.client_id)] {
        if let Some(value) = value {
            query.push(format_args!(" AND {column} = ")).push_bind(value);
        }
    }
    if let Some(source) = &filter.source {
        query.push(" AND o.source = ").push_bind(source.clone());
    }
    if let Some(due_by) = filter.follow_up_due_by {
        query.push(" AND o.status NOT IN ('won', 'lost') AND o.follow_up_date <= ").push_bind(due_by.unix_micros());
    }
    if let Some(search) = &filter.search {
        let pattern = like_pattern(search);
        query.push(" AND (");
        let mut columns = query.separated(" OR ");
        for column in ["o.title", "o.description", "o.prospect_name", "o.prospect_email", "o.prospect_phone"] {
            columns.push(format_args!("{column} LIKE ")).push_bind_unseparated(pattern.clone()).push_unseparated(" ESCAPE '\\'");
        }
        query.push(")");
    }
}

/// Nulls sort last in either direction: a lead with no follow-up date is not the most urgent.
fn push_order(query: &mut QueryBuilder<Sqlite>, filter: &OpportunityFilter) {
    let column = match filter.sort.key {
        SortKey::CreatedAt => "o.created_at",
        SortKey::UpdatedAt => "o.updated_at",
        SortKey::FollowUpDate => "o.follow_up_date",
        SortKey::EstimatedValue => "o.estimated_value",
    };
    let direction = if filter.sort.descending { "DESC" } else { "ASC" };
    query.push(format_args!(" ORDER BY {column} IS NULL, {column} {direction}, o.id {direction}"));
}

/// `%text%` for LIKE, with LIKE's own wildcards in the text matched literally.
/// LIKE ignores case for ASCII letters only; that is SQLite's own limit.
fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

async fn fetch_client<'e>(executor: impl sqlx::SqliteExecutor<'e>, org_id: Uuid, id: Uuid) -> Result<Option<Client>> {
    let row = sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(executor)
        .await
        .db()?;
    row.as_ref().map(client).transpose()
}

async fn fetch_staff<'e>(executor: impl sqlx::SqliteExecutor<'e>, org_id: Uuid, id: Uuid) -> Result<Option<Staff>> {
    let row = sqlx::query(concat!("SELECT ", staff_columns!(), " FROM staff WHERE org_id = $1 AND id = $2"))
        .bind(org_id)
        .bind(id)
        .fetch_optional(executor)
        .await
        .db()?;
    row.as_ref().map(staff).transpose()
}

struct SqliteTx(Transaction<'static, Sqlite>);

impl SqliteTx {
    fn conn(&mut self) -> &mut SqliteConnection {
        &mut self.0
    }
}

#[async_trait]
impl Tx for SqliteTx {
    async fn commit(self: Box<Self>) -> Result<()> {
        self.0.commit().await.db()
    }

    async fn any_organization(&mut self) -> Result<bool> {
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM organizations)").fetch_one(self.conn()).await.db()
    }

    async fn insert_organization(&mut self, org_id: Uuid, name: &str, now: Timestamp) -> Result<()> {
        sqlx::query("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(org_id)
            .bind(name)
            .bind(now.unix_micros())
            .execute(self.conn())
            .await
            .db()
            .map(drop)
    }

    async fn opportunity(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Opportunity>> {
        let row = sqlx::query(concat!("SELECT ", opportunity_columns!(), " FROM opportunities o WHERE o.org_id = $1 AND o.id = $2"))
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .db()?;
        row.as_ref().map(opportunity).transpose()
    }

    async fn save_opportunity(&mut self, o: &Opportunity) -> Result<()> {
        sqlx::query(
            "INSERT INTO opportunities (org_id, id, client_id, prospect_name, prospect_email, prospect_phone, category_id,
                 title, description, estimated_value, probability, status, source, assigned_to, follow_up_date,
                 closed_at, closed_reason, transaction_id, created_by, created_at, updated_at, version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22)
             ON CONFLICT (org_id, id) DO UPDATE SET
                 client_id = excluded.client_id, prospect_name = excluded.prospect_name,
                 prospect_email = excluded.prospect_email, prospect_phone = excluded.prospect_phone,
                 category_id = excluded.category_id, title = excluded.title, description = excluded.description,
                 estimated_value = excluded.estimated_value, probability = excluded.probability,
                 status = excluded.status, source = excluded.source, assigned_to = excluded.assigned_to,
                 follow_up_date = excluded.follow_up_date, closed_at = excluded.closed_at,
                 closed_reason = excluded.closed_reason, transaction_id = excluded.transaction_id,
                 updated_at = excluded.updated_at, version = excluded.version",
        )
        .bind(o.org_id)
        .bind(o.id)
        .bind(o.client_id)
        .bind(&o.prospect_name)
        .bind(&o.prospect_email)
        .bind(&o.prospect_phone)
        .bind(o.category_id)
        .bind(&o.title)
        .bind(&o.description)
        .bind(o.estimated_value.map(|v| v.cents()))
        .bind(o.probability)
        .bind(o.status.as_str())
        .bind(&o.source)
        .bind(o.assigned_to)
        .bind(micros(o.follow_up_date))
        .bind(micros(o.closed_at))
        .bind(&o.closed_reason)
        .bind(o.transaction_id)
        .bind(o.created_by)
        .bind(o.created_at.unix_micros())
        .bind(o.updated_at.unix_micros())
        .bind(o.version)
        .execute(self.conn())
        .await
        .db()
        .map(drop)
    }

    async fn delete_opportunity(&mut self, org_id: Uuid, id: Uuid) -> Result<bool> {
        let done = sqlx::query("DELETE FROM opportunities WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(id)
            .execute(self.conn())
            .await
            .db()?;
        Ok(done.rows_affected() > 0)
    }

    async fn insert_note(&mut self, n: &Note) -> Result<()> {
        sqlx::query(
            "INSERT INTO notes (org_id, id, opportunity_id, content, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(n.org_id)
        .bind(n.id)
        .bind(n.opportunity_id)
        .bind(&n.content)
        .bind(n.created_by)
        .bind(n.created_at.unix_micros())
        .execute(self.conn())
        .await
        .db()
        .map(drop)
    }

    async fn insert_activity(&mut self, a: &Activity) -> Result<()> {
        sqlx::query(
            "INSERT INTO activities (org_id, id, opportunity_id, activity_type, description, outcome, scheduled_at,
                 completed_at, created_by, created_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(a.org_id)
        .bind(a.id)
        .bind(a.opportunity_id)
        .bind(a.activity_type.as_str())
        .bind(&a.description)
        .bind(&a.outcome)
        .bind(micros(a.scheduled_at))
        .bind(micros(a.completed_at))
        .bind(a.created_by)
        .bind(a.created_at.unix_micros())
        .execute(self.conn())
        .await
        .db()
        .map(drop)
    }

    async fn unusable_references(&mut self, org_id: Uuid, references: &References) -> Result<FieldErrors> {
        let checks = [
            ("client_id", references.client_id, "SELECT 1 FROM clients WHERE org_id = $1 AND id = $2", "no client with this id"),
            (
                "category_id",
                references.category_id,
                "SELECT 1 FROM categories WHERE org_id = $1 AND id = $2 AND is_active = 1",
                "no active category with this id",
            ),
            (
                "assigned_to",
                references.assigned_to,
                "SELECT 1 FROM staff WHERE org_id = $1 AND id = $2 AND is_active = 1",
                "no active staff member with this id",
            ),
        ];
        let mut errors = FieldErrors::default();
        for (field, id, sql, message) in checks {
            let Some(id) = id else { continue };
            let found = sqlx::query(sql).bind(org_id).bind(id).fetch_optional(self.conn()).await.db()?;
            if found.is_none() {
                errors.add(field, message);
            }
        }
        Ok(errors)
    }

    async fn client(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Client>> {
        fetch_client(self.conn(), org_id, id).await
    }

    async fn client_by_email(&mut self, org_id: Uuid, email: &str) -> Result<Option<Client>> {
        let row = sqlx::query(concat!("SELECT ", client_columns!(), " FROM clients WHERE org_id = $1 AND email = $2"))
            .bind(org_id)
            .bind(email)
            .fetch_optional(self.conn())
            .await
            .db()?;
        row.as_ref().map(client).transpose()
    }

    async fn save_client(&mut self, c: &Client) -> Result<()> {
        sqlx::query(
            "INSERT INTO clients (org_id, id, name, email, phone, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
             ON CONFLICT (org_id, id) DO UPDATE SET
                 name = excluded.name, email = excluded.email, phone = excluded.phone, updated_at = excluded.updated_at",
        )
        .bind(c.org_id)
        .bind(c.id)
        .bind(&c.name)
        .bind(&c.email)
        .bind(&c.phone)
        .bind(c.created_at.unix_micros())
        .bind(c.updated_at.unix_micros())
        .execute(self.conn())
        .await
        .db()
        .map(drop)
    }

    async fn category(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Category>> {
        let row = sqlx::query(concat!("SELECT ", category_columns!(), " FROM categories WHERE org_id = $1 AND id = $2"))
            .bind(org_id)
            .bind(id)
            .fetch_optional(self.conn())
            .await
            .db()?;
        row.as_ref().map(category).transpose()
    }

    async fn category_by_name(&mut self, org_id: Uuid, name_key: &str) -> Result<Option<Category>> {
        let row = sqlx::query(concat!("SELECT ", category_columns!(), " FROM categories WHERE org_id = $1 AND name_key = $2"))
            .bind(org_id)
            .bind(name_key)
            .fetch_optional(self.conn())
            .await
            .db()?;
        row.as_ref().map(category).transpose()
    }

    async fn save_category(&mut self, c: &Category) -> Result<()> {
        sqlx::query(
            "INSERT INTO categories (org_id, id, name, name_key, color, sort_order, is_active, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
             ON CONFLICT (org_id, id) DO UPDATE SET
                 name = excluded.name, name_key = excluded.name_key, color = excluded.color,
                 sort_order = excluded.sort_order, is_active = excluded.is_active, updated_at = excluded.updated_at",
        )
        .bind(c.org_id)
        .bind(c.id)
        .bind(&c.name)
        .bind(c.name_key())
        .bind(&c.color)
        .bind(c.sort_order)
        .bind(c.is_active)
        .bind(c.created_at.unix_micros())
        .bind(c.updated_at.unix_micros())
        .execute(self.conn())
        .await
        .db()
        .map(drop)
    }

    async fn staff(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Staff>> {
        fetch_staff(self.conn(), org_id, id).await
    }

    async fn staff_by_email(&mut self, org_id: Uuid, email: &str) -> Result<Option<Staff>> {
        let row = sqlx::query(concat!("SELECT ", staff_columns!(), " FROM staff WHERE org_id = $1 AND email = $2"))
            .bind(org_id)
            .bind(email)
            .fetch_optional(self.conn())
            .await
            .db()?;
        row.as_ref().map(staff).transpose()
    }

    async fn save_staff(&mut self, s: &Staff) -> Result<()> {
        sqlx::query(
            "INSERT INTO staff (org_id, id, name, email, role, is_active, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (org_id, id) DO UPDATE SET
                 name = excluded.name, email = excluded.email, role = excluded.role,
                 is_active = excluded.is_active, updated_at = excluded.updated_at",
        )
        .bind(s.org_id)
        .bind(s.id)
        .bind(&s.name)
        .bind(&s.email)
        .bind(s.role.as_str())
        .bind(s.is_active)
        .bind(s.created_at.unix_micros())
        .bind(s.updated_at.unix_micros())
        .execute(self.conn())
        .await
        .db()
        .map(drop)
    }

    async fn active_owners(&mut self, org_id: Uuid) -> Result<i64> {
        sqlx::query_scalar("SELECT COUNT(*) FROM staff WHERE org_id = $1 AND role = 'owner' AND is_active = 1")
            .bind(org_id)
            .fetch_one(self.conn())
            .await
            .db()
    }

    async fn insert_token(&mut self, t: &ApiToken) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (org_id, id, staff_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(t.org_id)
        .bind(t.id)
        .bind(t.staff_id)
        .bind(&t.name)
        .bind(&t.hash)
        .bind(t.created_at.unix_micros())
        .execute(self.conn())
        .await
        .db()
        .map(drop)
    }

    async fn token_holder(&mut self, org_id: Uuid, token_id: Uuid) -> Result<Option<Uuid>> {
        sqlx::query_scalar("SELECT staff_id FROM api_tokens WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(org_id)
            .bind(token_id)
            .fetch_optional(self.conn())
            .await
            .db()
    }

    async fn revoke_token(&mut self, org_id: Uuid, token_id: Uuid, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET revoked_at = $3 WHERE org_id = $1 AND id = $2")
            .bind(org_id)
            .bind(token_id)
            .bind(now.unix_micros())
            .execute(self.conn())
            .await
            .db()
            .map(drop)
    }
}
