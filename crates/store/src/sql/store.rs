//! [`Store`] and [`Tx`] for any [`Backend`]: every statement of the service, once.

use async_trait::async_trait;
use domain::activity::{Activity, Note};
use domain::auth::{Actor, ApiToken, Staff, TokenInfo};
use domain::category::Category;
use domain::client::Client;
use domain::lead_form::LeadForm;
use domain::opportunity::{Opportunity, OpportunityView, References};
use domain::query::{ClientFilter, OpportunityFilter, Page, SortKey, StatsFilter};
use domain::search::{EXACT_TOTAL_LIMIT, SearchWords, Total};
use domain::stats::PipelineTotals;
use domain::{FieldErrors, Result, Timestamp};
use uuid::Uuid;

use super::rows::{self, view_of_page, view_select};
use super::tables::{ACTIVITIES, CATEGORIES, CLIENTS, LEAD_FORMS, NOTES, OPPORTUNITIES, STAFF, Table};
use super::{Backend, Dialect, Param, RowReader, Run, Statement, TextSearch};
use crate::{Claim, KeyScope, Store, Tx};

pub(crate) struct SqlStore<B: Backend> {
    pub(super) backend: B,
}

impl<B: Backend> SqlStore<B> {
    pub fn new(backend: B) -> Self {
        SqlStore { backend }
    }

    fn dialect() -> &'static Dialect {
        &B::DIALECT
    }
}

async fn all<R: Run, T>(run: &mut R, statement: Statement, read: fn(&dyn RowReader) -> Result<T>) -> Result<Vec<T>> {
    run.fetch_all(statement).await?.iter().map(|row| read(row)).collect()
}

async fn optional<R: Run, T>(run: &mut R, statement: Statement, read: fn(&dyn RowReader) -> Result<T>) -> Result<Option<T>> {
    run.fetch_optional(statement).await?.as_ref().map(|row| read(row)).transpose()
}

/// A page of an opportunity's notes or activities, newest first.
fn history_page<T>(table: &Table<T>, org_id: Uuid, opportunity_id: Uuid, page: Page) -> Statement {
    table
        .select("WHERE org_id = $1 AND opportunity_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4")
        .bind(org_id)
        .bind(opportunity_id)
        .bind(page.limit)
        .bind(page.offset)
}

/// The row of `table` with this key, read with `suffix` appended (a row lock, or nothing).
fn by_id<T>(table: &Table<T>, suffix: &str, org_id: Uuid, id: Uuid) -> Statement {
    table.select(&format!("WHERE org_id = $1 AND id = $2{suffix}")).bind(org_id).bind(id)
}

#[async_trait]
impl<B: Backend> Store for SqlStore<B> {
    async fn begin(&self) -> Result<Box<dyn Tx>> {
        Ok(Box::new(SqlTx::<B> { tx: self.backend.begin().await? }))
    }

    async fn ping(&self) -> Result<()> {
        self.backend.reader().fetch_one(Statement::new("SELECT 1 AS one")).await.map(drop)
    }

    fn pool_state(&self) -> crate::PoolState {
        self.backend.pool_state()
    }

    async fn authenticate(&self, token_hash: &[u8]) -> Result<Option<Actor>> {
        let statement = Statement::new(
            "SELECT t.id AS token_id, t.last_used_at, s.org_id, s.id AS staff_id, s.name, s.role
             FROM api_tokens t JOIN staff s ON s.org_id = t.org_id AND s.id = t.staff_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND s.is_active = TRUE",
        )
        .bind(token_hash);
        optional(&mut self.backend.reader(), statement, rows::actor).await
    }

    async fn touch_token(&self, actor: &Actor, now: Timestamp) -> Result<()> {
        let mut tx = self.backend.begin().await?;
        let statement = Statement::new("UPDATE api_tokens SET last_used_at = $3 WHERE org_id = $1 AND id = $2");
        tx.execute(statement.bind(actor.org_id).bind(actor.token_id).bind(now)).await?;
        B::commit(tx).await
    }

    async fn tokens(&self, org_id: Uuid, staff_id: Uuid) -> Result<Vec<TokenInfo>> {
        let statement = Statement::new(
            "SELECT id, staff_id, name, created_at, last_used_at, revoked_at FROM api_tokens
             WHERE org_id = $1 AND staff_id = $2 ORDER BY created_at DESC, id DESC",
        );
        all(&mut self.backend.reader(), statement.bind(org_id).bind(staff_id), rows::token_info).await
    }

    async fn categories(&self, org_id: Uuid, include_inactive: bool) -> Result<Vec<Category>> {
        let order = Self::dialect().binary_order;
        let condition = format!("WHERE org_id = $1 AND (is_active = TRUE OR $2) ORDER BY sort_order, name_key{order}, id");
        let statement = CATEGORIES.select(&condition).bind(org_id).bind(include_inactive);
        all(&mut self.backend.reader(), statement, CATEGORIES.read).await
    }

    async fn opportunities(&self, org_id: Uuid, filter: &OpportunityFilter) -> Result<(Vec<OpportunityView>, Total)> {
        let mut reader = self.backend.reader();
        let mut list = ListFilter { dialect: Self::dialect(), org_id, filter, matches: None };
        if let Some(words) = &filter.search {
            if words.is_empty() {
                return Ok((Vec::new(), Total::exact(0)));
            }
            list.matches = Some(if matches_many::<B>(&mut reader, org_id, words).await? { Matches::Many } else { Matches::Indexed });
        }
        match list.page(&mut reader).await? {
            Some(page) => Ok(page),
            None => {
                list.matches = Some(Matches::Many);
                Ok(list.page(&mut reader).await?.expect("a list walking its order always pages"))
            }
        }
    }

    async fn opportunity_view(&self, org_id: Uuid, id: Uuid) -> Result<Option<OpportunityView>> {
        let statement = Statement::new(format!("{} WHERE o.org_id = $1 AND o.id = $2", view_select())).bind(org_id).bind(id);
        optional(&mut self.backend.reader(), statement, rows::opportunity_view).await
    }

    async fn notes(&self, org_id: Uuid, opportunity_id: Uuid, page: Page) -> Result<Vec<Note>> {
        let statement = history_page(&NOTES, org_id, opportunity_id, page);
        all(&mut self.backend.reader(), statement, NOTES.read).await
    }

    async fn activities(&self, org_id: Uuid, opportunity_id: Uuid, page: Page) -> Result<Vec<Activity>> {
        let statement = history_page(&ACTIVITIES, org_id, opportunity_id, page);
        all(&mut self.backend.reader(), statement, ACTIVITIES.read).await
    }

    /// One statement: the follow-ups due are a column of every group's row. With no group there
    /// is no open lead, so nothing is due either.
    async fn stats(&self, org_id: Uuid, filter: &StatsFilter, now: Timestamp) -> Result<PipelineTotals> {
        let scope = totals_scope(filter.assigned_to, filter.category_id);
        let mut statement = Statement::new("");
        let org = statement.param(org_id);
        let follow_ups = statement.subquery(|due| {
            let today = due.param(now.utc_day());
            due.push(&format!(
                "SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS due FROM follow_up_{scope} WHERE org_id = {org} AND day <= {today}"
            ));
            push_group_filter(due, filter);
        });
        statement.push(&format!(
            "SELECT status, source, CAST(SUM(count) AS BIGINT) AS count, CAST(SUM(value_cents) AS BIGINT) AS value_cents,
                    CAST(SUM(weighted) AS BIGINT) AS weighted, ({follow_ups}) AS due
             FROM pipeline_{scope} WHERE org_id = {org}"
        ));
        push_group_filter(&mut statement, filter);
        statement.push(" GROUP BY status, source HAVING SUM(count) > 0");
        let groups = self.backend.reader().fetch_all(statement).await?;
        Ok(PipelineTotals {
            follow_ups_due: groups.first().map_or(Ok(0), |group| group.int("due"))?,
            by_status_and_source: groups.iter().map(|group| rows::status_source_totals(group)).collect::<Result<_>>()?,
        })
    }

    async fn clients(&self, org_id: Uuid, filter: &ClientFilter) -> Result<(Vec<Client>, i64)> {
        let Dialect { like, binary_order, .. } = Self::dialect();
        let condition = format!(
            "WHERE org_id = $1 AND ($2 IS NULL OR name {like} $2 ESCAPE '\\' OR email {like} $2 ESCAPE '\\'
             OR phone {like} $2 ESCAPE '\\')"
        );
        let pattern = filter.search.as_deref().map(like_pattern);
        let mut reader = self.backend.reader();
        let count = Statement::new(format!("SELECT COUNT(*) AS total FROM clients {condition}")).bind(org_id).bind(pattern.clone());
        let total = reader.fetch_one(count).await?.int("total")?;
        let page = CLIENTS
            .select(&format!("{condition} ORDER BY lower(name){binary_order}, id LIMIT $3 OFFSET $4"))
            .bind(org_id)
            .bind(pattern)
            .bind(filter.page.limit)
            .bind(filter.page.offset);
        Ok((all(&mut reader, page, CLIENTS.read).await?, total))
    }

    async fn client(&self, org_id: Uuid, id: Uuid) -> Result<Option<Client>> {
        optional(&mut self.backend.reader(), by_id(&CLIENTS, "", org_id, id), CLIENTS.read).await
    }

    async fn staff_members(&self, org_id: Uuid) -> Result<Vec<Staff>> {
        let order = Self::dialect().binary_order;
        let statement = STAFF.select(&format!("WHERE org_id = $1 ORDER BY lower(name){order}, id")).bind(org_id);
        all(&mut self.backend.reader(), statement, STAFF.read).await
    }

    async fn staff(&self, org_id: Uuid, id: Uuid) -> Result<Option<Staff>> {
        optional(&mut self.backend.reader(), by_id(&STAFF, "", org_id, id), STAFF.read).await
    }

    async fn lead_forms(&self, org_id: Uuid) -> Result<Vec<LeadForm>> {
        let order = Self::dialect().binary_order;
        let statement = LEAD_FORMS.select(&format!("WHERE org_id = $1 ORDER BY lower(name){order}, id")).bind(org_id);
        all(&mut self.backend.reader(), statement, LEAD_FORMS.read).await
    }

    async fn lead_form_by_key(&self, form_key: &str) -> Result<Option<LeadForm>> {
        let statement = LEAD_FORMS.select("WHERE form_key = $1").bind(form_key);
        optional(&mut self.backend.reader(), statement, LEAD_FORMS.read).await
    }

    async fn claim_idempotency_key(&self, scope: KeyScope, key: &str, request_hash: &[u8], now: Timestamp) -> Result<Claim> {
        let mut tx = self.backend.begin().await?;
        let insert = Statement::new(
            "INSERT INTO idempotency_keys (org_id, caller_id, key, request_hash, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (org_id, caller_id, key) DO NOTHING",
        );
        if tx.execute(in_scope(insert, scope, key).bind(request_hash).bind(now)).await? == 1 {
            B::commit(tx).await?;
            return Ok(Claim::Fresh);
        }
        let existing = Statement::new(format!(
            "SELECT request_hash, status, response, created_at FROM idempotency_keys
             WHERE org_id = $1 AND caller_id = $2 AND key = $3{}",
            B::DIALECT.for_update
        ));
        let row = tx.fetch_one(in_scope(existing, scope, key)).await?;
        if row.opt_bytes("request_hash")?.as_deref() != Some(request_hash) {
            return Ok(Claim::Mismatch);
        }
        if let (Some(status), Some(body)) = (row.opt_int("status")?, row.opt_bytes("response")?) {
            let status = u16::try_from(status).map_err(|_| rows::corrupt("status"))?;
            return Ok(Claim::Replay { status, body });
        }
        if row.timestamp("created_at")?.unix_micros() > now.unix_micros() - ABANDONED_CLAIM_MICROS {
            return Ok(Claim::InProgress);
        }
        let take_over = Statement::new("UPDATE idempotency_keys SET created_at = $4 WHERE org_id = $1 AND caller_id = $2 AND key = $3");
        tx.execute(in_scope(take_over, scope, key).bind(now)).await?;
        B::commit(tx).await?;
        Ok(Claim::Fresh)
    }

    async fn finish_idempotency_key(&self, scope: KeyScope, key: &str, response: Option<(u16, &[u8])>) -> Result<()> {
        let mut tx = self.backend.begin().await?;
        let statement = match response {
            Some((status, body)) => in_scope(
                Statement::new("UPDATE idempotency_keys SET status = $4, response = $5 WHERE org_id = $1 AND caller_id = $2 AND key = $3"),
                scope,
                key,
            )
            .bind(i32::from(status))
            .bind(body),
            None => in_scope(Statement::new("DELETE FROM idempotency_keys WHERE org_id = $1 AND caller_id = $2 AND key = $3"), scope, key),
        };
        tx.execute(statement).await?;
        B::commit(tx).await
    }

    async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64> {
        let mut tx = self.backend.begin().await?;
        let purged = tx.execute(Statement::new("DELETE FROM idempotency_keys WHERE created_at < $1").bind(before)).await?;
        B::commit(tx).await?;
        Ok(purged)
    }
}

/// A claim whose request has not finished after a minute belongs to a server that died.
const ABANDONED_CLAIM_MICROS: i64 = 60_000_000;

/// Binds `$1`, `$2` and `$3` of a statement about one idempotency key.
fn in_scope(statement: Statement, scope: KeyScope, key: &str) -> Statement {
    statement.bind(scope.org_id).bind(scope.caller_id).bind(key)
}

/// Which maintained totals answer a question: the whole organization's (migration 0008, a few
/// dozen rows) unless it asks about one assignee or category (0005, a row per group).
fn totals_scope(assigned_to: Option<Uuid>, category_id: Option<Uuid>) -> &'static str {
    if assigned_to.is_none() && category_id.is_none() { "org_totals" } else { "totals" }
}

/// ` AND assigned_to = …` and ` AND category_id = …` for the statistics filters given.
fn push_group_filter(statement: &mut Statement, filter: &StatsFilter) {
    for (column, value) in [("assigned_to", filter.assigned_to), ("category_id", filter.category_id)] {
        if let Some(value) = value {
            statement.push(&format!(" AND {column} = ")).push_bind(value);
        }
    }
}

/// How a list finds the leads its search matches.
#[derive(Clone, Copy)]
enum Matches {
    /// Through the text index, inside the page's own statement: the first
    /// [`EXACT_TOTAL_LIMIT`] + 1 matches, which that statement also counts. If there are that
    /// many, the set is incomplete and the list starts over with [`Matches::Many`].
    Indexed,
    /// More than [`EXACT_TOTAL_LIMIT`]: the list walks its own order and checks each lead, which
    /// finds a page of a common word after a few dozen leads.
    Many,
}

/// Whether the search certainly matches more than the exact-total limit, known cheaply: when
/// the last word is a prefix the index answers slowly (it would expand into every word
/// starting with it), a whole-word count is asked first. It matches no more than the search
/// does and the index answers it directly, so a common word like "botox" ends here.
async fn matches_many<B: Backend>(reader: &mut B::Reader, org_id: Uuid, words: &SearchWords) -> Result<bool> {
    let TextSearch { matching, cheap_prefix_length, .. } = B::DIALECT.text_search;
    if !words.0.iter().any(|word| word.prefix && word.text.chars().count() > cheap_prefix_length) {
        return Ok(false);
    }
    let mut count = Statement::new("");
    let whole_words = matching(&mut count, org_id, &words.whole_words(), EXACT_TOTAL_LIMIT + 1);
    count.push(&format!("SELECT COUNT(*) AS matches FROM ({whole_words}) m"));
    Ok(reader.fetch_one(count).await?.int("matches")? > EXACT_TOTAL_LIMIT)
}

/// One opportunity list: its filter, and how its search (if any) is answered.
struct ListFilter<'a> {
    dialect: &'static Dialect,
    org_id: Uuid,
    filter: &'a OpportunityFilter,
    matches: Option<Matches>,
}

impl ListFilter<'_> {
    /// The page and its total in one statement: the page's rows carry the counts the total needs
    /// as columns (only a page past the end asks for them on its own). `None` when the text
    /// index found more matches than it was asked for, so the list must walk its order instead.
    async fn page<R: Run>(&self, reader: &mut R) -> Result<Option<(Vec<OpportunityView>, Total)>> {
        let filter = self.filter;
        let mut statement = Statement::new("");
        let page = statement.subquery(|page| {
            page.push("SELECT o.org_id, o.id");
            self.push_from_where(page);
            page.push(&order_by(filter));
            page.push(" LIMIT ").push_bind(filter.page.limit).push(" OFFSET ").push_bind(filter.page.offset);
        });
        let counts: String = self.count_columns(&mut statement).iter().map(|column| format!("{column}, ")).collect();
        statement.push(&view_of_page(&page, &counts)).push(&order_by(filter));
        let rows = reader.fetch_all(statement).await?;

        let (search_matches, list_total) = match rows.first() {
            Some(row) => self.read_counts(row)?,
            None if counts.is_empty() => (None, None),
            None => {
                let mut alone = Statement::new("");
                let columns = self.count_columns(&mut alone).join(", ");
                alone.push(&format!("SELECT {columns}"));
                self.read_counts(&reader.fetch_one(alone).await?)?
            }
        };
        if search_matches.is_some_and(|matches| matches > EXACT_TOTAL_LIMIT) {
            return Ok(None);
        }
        let total = match (self.matches, list_total.or(search_matches)) {
            (Some(Matches::Many), Some(count)) => Total::capped(count),
            (_, Some(count)) => Total::exact(count),
            (_, None) => Total::more_than_limit(),
        };
        Ok(Some((rows.iter().map(|row| rows::opportunity_view(row)).collect::<Result<_>>()?, total)))
    }

    /// Whether the page counts the text index's matches (`search_matches`), and whether it
    /// counts the list (`list_total`). A search with no other filter needs no list count: its
    /// total is the index's count, or "more than the limit" when there are many.
    fn counted(&self) -> (bool, bool) {
        let narrowed = self.filter.narrows_beyond_search();
        match self.matches {
            None => (false, true),
            Some(Matches::Indexed) => (true, narrowed),
            Some(Matches::Many) => (false, narrowed),
        }
    }

    /// The counting columns of [`Self::counted`], binding their values into `statement`.
    fn count_columns(&self, statement: &mut Statement) -> Vec<String> {
        let (search_matches, list_total) = self.counted();
        let mut columns = Vec::new();
        if let (true, Some(words)) = (search_matches, &self.filter.search) {
            let matching = (self.dialect.text_search.matching)(statement, self.org_id, words, EXACT_TOTAL_LIMIT + 1);
            columns.push(format!("(SELECT COUNT(*) FROM ({matching}) m) AS search_matches"));
        }
        if list_total {
            let count = statement.subquery(|count| self.push_count(count));
            columns.push(format!("({count}) AS list_total"));
        }
        columns
    }

    fn read_counts(&self, row: &impl RowReader) -> Result<(Option<i64>, Option<i64>)> {
        let (search_matches, list_total) = self.counted();
        let read = |wanted: bool, column: &str| if wanted { row.int(column).map(Some) } else { Ok(None) };
        Ok((read(search_matches, "search_matches")?, read(list_total, "list_total")?))
    }

    /// How many opportunities the list has (column `total`): from the maintained totals when
    /// the filter is only by status, source, assignee or category (constant time); for a search
    /// matching more than the exact-total limit, counted up to one past it; else by counting rows.
    fn push_count(&self, statement: &mut Statement) {
        let filter = self.filter;
        if let Some(Matches::Many) = self.matches {
            statement.push("SELECT COUNT(*) AS total FROM (SELECT 1");
            self.push_from_where(statement);
            statement.push(" LIMIT ").push_bind(EXACT_TOTAL_LIMIT + 1).push(") matches");
        } else if filter.search.is_some() || filter.client_id.is_some() || filter.follow_up_due_by.is_some() {
            statement.push("SELECT COUNT(*) AS total");
            self.push_from_where(statement);
        } else {
            let scope = totals_scope(filter.assigned_to, filter.category_id);
            statement.push(&format!("SELECT CAST(COALESCE(SUM(count), 0) AS BIGINT) AS total FROM pipeline_{scope} o"));
            self.push_where(statement);
        }
    }

    /// ` FROM … WHERE …` over the opportunities. The text index's matches, when they are known
    /// to be few, come first and the opportunities are looked up by key: written as a CROSS
    /// JOIN, which SQLite always runs in the order written (it would otherwise walk the list's
    /// order through every lead to find the one that matches) and PostgreSQL plans as it likes.
    fn push_from_where(&self, statement: &mut Statement) {
        match (self.matches, &self.filter.search) {
            (Some(Matches::Indexed), Some(words)) => {
                let TextSearch { matching, key, .. } = self.dialect.text_search;
                let matching = matching(statement, self.org_id, words, EXACT_TOTAL_LIMIT + 1);
                statement.push(&format!(" FROM ({matching}) m CROSS JOIN opportunities o"));
                self.push_where(statement);
                statement.push(&format!(" AND {key} = m.key"));
            }
            _ => {
                statement.push(" FROM opportunities o");
                self.push_where(statement);
            }
        }
    }

    fn push_where(&self, statement: &mut Statement) {
        let filter = self.filter;
        statement.push(" WHERE o.org_id = ").push_bind(self.org_id);
        if !filter.statuses.is_empty() {
            push_in(statement, "o.status", filter.statuses.iter().map(|status| status.as_str()));
        }
        for (column, value) in
            [("o.assigned_to", filter.assigned_to), ("o.category_id", filter.category_id), ("o.client_id", filter.client_id)]
        {
            if let Some(value) = value {
                statement.push(&format!(" AND {column} = ")).push_bind(value);
            }
        }
        if let Some(source) = &filter.source {
            statement.push(" AND o.source = ").push_bind(source);
        }
        if let Some(due_by) = filter.follow_up_due_by {
            statement.push(" AND o.status NOT IN ('won', 'lost') AND o.follow_up_date <= ").push_bind(due_by);
        }
        if let (Some(Matches::Many), Some(words)) = (self.matches, &filter.search) {
            for word in &words.0 {
                let condition = (self.dialect.text_search.matches_word)(statement, word);
                statement.push(" AND ").push(&condition);
            }
        }
    }
}

/// ` AND column IN (values…)`, for a non-empty list of values.
fn push_in<T: Into<Param>>(statement: &mut Statement, column: &str, values: impl Iterator<Item = T>) {
    statement.push(&format!(" AND {column} IN ("));
    for (i, value) in values.enumerate() {
        statement.push(if i == 0 { "" } else { ", " }).push_bind(value);
    }
    statement.push(")");
}

/// Nulls sort last in either direction: a lead with no follow-up date is not the most urgent.
/// Columns that are never null sort plainly, so their index gives the order.
fn order_by(filter: &OpportunityFilter) -> String {
    let (column, nullable) = match filter.sort.key {
        SortKey::CreatedAt => ("o.created_at", false),
        SortKey::UpdatedAt => ("o.updated_at", false),
        SortKey::FollowUpDate => ("o.follow_up_date", true),
        SortKey::EstimatedValue => ("o.estimated_value", true),
    };
    let direction = if filter.sort.descending { "DESC" } else { "ASC" };
    let nulls_last = if nullable { format!("({column} IS NULL), ") } else { String::new() };
    format!(" ORDER BY {nulls_last}{column} {direction}, o.id {direction}")
}

/// `%text%` for LIKE, with LIKE's own wildcards in the text matched literally.
fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}

struct SqlTx<B: Backend> {
    tx: B::Tx,
}

impl<B: Backend> SqlTx<B> {
    async fn run(&mut self, statement: Statement) -> Result<()> {
        self.tx.execute(statement).await.map(drop)
    }

    fn locked(&self) -> &'static str {
        B::DIALECT.for_update
    }
}

#[async_trait]
impl<B: Backend> Tx for SqlTx<B> {
    async fn commit(self: Box<Self>) -> Result<()> {
        B::commit(self.tx).await
    }

    async fn any_organization(&mut self) -> Result<bool> {
        if let Some(lock) = B::DIALECT.bootstrap_lock {
            self.tx.fetch_one(Statement::new(lock)).await?;
        }
        let row = self.tx.fetch_one(Statement::new("SELECT EXISTS (SELECT 1 FROM organizations) AS found")).await?;
        row.boolean("found")
    }

    async fn insert_organization(&mut self, org_id: Uuid, name: &str, now: Timestamp) -> Result<()> {
        self.run(Statement::new("INSERT INTO organizations (id, name, created_at) VALUES ($1, $2, $3)").bind(org_id).bind(name).bind(now))
            .await
    }

    async fn opportunity(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Opportunity>> {
        let statement = by_id(&OPPORTUNITIES, self.locked(), org_id, id);
        optional(&mut self.tx, statement, OPPORTUNITIES.read).await
    }

    async fn save_opportunity(&mut self, o: &Opportunity) -> Result<()> {
        self.run(OPPORTUNITIES.upsert(o)).await
    }

    async fn delete_opportunity(&mut self, org_id: Uuid, id: Uuid) -> Result<()> {
        self.run(Statement::new("DELETE FROM opportunities WHERE org_id = $1 AND id = $2").bind(org_id).bind(id)).await
    }

    async fn insert_note(&mut self, n: &Note) -> Result<()> {
        self.run(NOTES.insert(n)).await
    }

    async fn insert_activity(&mut self, a: &Activity) -> Result<()> {
        self.run(ACTIVITIES.insert(a)).await
    }

    /// One statement for all the references given: each is a column, 0 when it is unusable.
    async fn unusable_references(&mut self, org_id: Uuid, references: &References) -> Result<FieldErrors> {
        let checks = [
            ("client_id", references.client_id, "clients", "", "no client with this id"),
            ("category_id", references.category_id, "categories", " AND is_active = TRUE", "no active category with this id"),
            ("assigned_to", references.assigned_to, "staff", " AND is_active = TRUE", "no active staff member with this id"),
        ];
        let given: Vec<_> =
            checks.into_iter().filter_map(|(field, id, table, condition, message)| Some((field, id?, table, condition, message))).collect();
        let mut errors = FieldErrors::default();
        if given.is_empty() {
            return Ok(errors);
        }
        let mut statement = Statement::new("SELECT ");
        for (i, (field, id, table, condition, _)) in given.iter().enumerate() {
            let (org_id, id) = (statement.param(org_id), statement.param(*id));
            let separator = if i == 0 { "" } else { ", " };
            statement
                .push(&format!("{separator}(SELECT COUNT(*) FROM {table} WHERE org_id = {org_id} AND id = {id}{condition}) AS {field}"));
        }
        let row = self.tx.fetch_one(statement).await?;
        for (field, _, _, _, message) in given {
            if row.int(field)? == 0 {
                errors.add(field, message);
            }
        }
        Ok(errors)
    }

    async fn client(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Client>> {
        let statement = by_id(&CLIENTS, self.locked(), org_id, id);
        optional(&mut self.tx, statement, CLIENTS.read).await
    }

    async fn client_by_email(&mut self, org_id: Uuid, email: &str) -> Result<Option<Client>> {
        let statement = CLIENTS.select("WHERE org_id = $1 AND email = $2").bind(org_id).bind(email);
        optional(&mut self.tx, statement, CLIENTS.read).await
    }

    async fn save_client(&mut self, c: &Client) -> Result<()> {
        self.run(CLIENTS.upsert(c)).await
    }

    async fn category(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Category>> {
        let statement = by_id(&CATEGORIES, self.locked(), org_id, id);
        optional(&mut self.tx, statement, CATEGORIES.read).await
    }

    async fn category_by_name(&mut self, org_id: Uuid, name_key: &str) -> Result<Option<Category>> {
        let statement = CATEGORIES.select("WHERE org_id = $1 AND name_key = $2").bind(org_id).bind(name_key);
        optional(&mut self.tx, statement, CATEGORIES.read).await
    }

    async fn save_category(&mut self, c: &Category) -> Result<()> {
        self.run(CATEGORIES.upsert(c)).await
    }

    async fn staff(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Staff>> {
        let statement = by_id(&STAFF, self.locked(), org_id, id);
        optional(&mut self.tx, statement, STAFF.read).await
    }

    async fn staff_by_email(&mut self, org_id: Uuid, email: &str) -> Result<Option<Staff>> {
        let statement = STAFF.select("WHERE org_id = $1 AND email = $2").bind(org_id).bind(email);
        optional(&mut self.tx, statement, STAFF.read).await
    }

    async fn save_staff(&mut self, s: &Staff) -> Result<()> {
        self.run(STAFF.upsert(s)).await
    }

    async fn active_owners(&mut self, org_id: Uuid) -> Result<i64> {
        let statement = Statement::new(format!(
            "SELECT COUNT(*) AS owners FROM
             (SELECT id FROM staff WHERE org_id = $1 AND role = 'owner' AND is_active = TRUE ORDER BY id{}) owners",
            self.locked()
        ))
        .bind(org_id);
        self.tx.fetch_one(statement).await?.int("owners")
    }

    async fn lead_form(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<LeadForm>> {
        let statement = by_id(&LEAD_FORMS, self.locked(), org_id, id);
        optional(&mut self.tx, statement, LEAD_FORMS.read).await
    }

    async fn save_lead_form(&mut self, f: &LeadForm) -> Result<()> {
        self.run(LEAD_FORMS.upsert(f)).await
    }

    async fn insert_token(&mut self, t: &ApiToken) -> Result<()> {
        let statement =
            Statement::new("INSERT INTO api_tokens (org_id, id, staff_id, name, token_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
                .bind(t.org_id)
                .bind(t.id)
                .bind(t.staff_id)
                .bind(&t.name)
                .bind(t.hash.as_slice())
                .bind(t.created_at);
        self.run(statement).await
    }

    async fn token_holder(&mut self, org_id: Uuid, token_id: Uuid) -> Result<Option<Uuid>> {
        let statement = Statement::new("SELECT staff_id FROM api_tokens WHERE org_id = $1 AND id = $2 AND revoked_at IS NULL")
            .bind(org_id)
            .bind(token_id);
        self.tx.fetch_optional(statement).await?.map(|row| row.uuid("staff_id")).transpose()
    }

    async fn revoke_token(&mut self, org_id: Uuid, token_id: Uuid, now: Timestamp) -> Result<()> {
        self.run(
            Statement::new("UPDATE api_tokens SET revoked_at = $3 WHERE org_id = $1 AND id = $2").bind(org_id).bind(token_id).bind(now),
        )
        .await
    }

    async fn revoke_tokens_of(&mut self, org_id: Uuid, staff_id: Uuid, now: Timestamp) -> Result<()> {
        let statement = Statement::new("UPDATE api_tokens SET revoked_at = $3 WHERE org_id = $1 AND staff_id = $2 AND revoked_at IS NULL");
        self.run(statement.bind(org_id).bind(staff_id).bind(now)).await
    }
}
