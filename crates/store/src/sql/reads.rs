//! [`Store`] for any [`Backend`]: every read of the service that needs no transaction, once.

use async_trait::async_trait;
use domain::activity::{Activity, Note};
use domain::agenda::{AgendaItem, DueWindow};
use domain::auth::{Actor, Staff, TokenInfo};
use domain::calendar::Day;
use domain::category::Category;
use domain::client::Client;
use domain::duplicates::{Candidate, DuplicateKeys, POSSIBLE_DUPLICATES_MAX};
use domain::lead_form::LeadForm;
use domain::opportunity::{OpportunityView, StageEntry};
use domain::query::{ClientFilter, OpportunityFilter, Page, StatsFilter};
use domain::report::{FunnelCounts, LostReason, LostTotal, ReportScope, SourceResponseCounts};
use domain::search::Total;
use domain::session::WebSession;
use domain::settings::PipelineSettings;
use domain::stats::PipelineTotals;
use domain::webhook::{Attempt, Delivery, Webhook};
use domain::{Result, Timestamp};
use uuid::Uuid;

use super::agenda;
use super::duplicates;
use super::list::{self, totals_scope};
use super::organization;
use super::rows::{self, view_select};
use super::tables::{ACTIVITIES, CATEGORIES, CLIENTS, LEAD_FORMS, NOTES, PIPELINE_SETTINGS, STAFF, STAGE_HISTORY, Table, WEBHOOKS};
use super::writes::SqlTx;
use super::{Backend, Dialect, RowReader, Run, Statement};
use super::{reports, webhooks};
use crate::{AfterAttempt, Claim, DueDelivery, KeyScope, PasswordHolder, Store, Tx};

/// Rows an organization's export reads at once.
const EXPORT_PAGE: i64 = 1_000;

/// Organizations one e-mail may sign in to: each costs a password check per attempt.
const PASSWORD_HOLDERS_MAX: i64 = 5;

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

pub(super) async fn all<R: Run, T>(run: &mut R, statement: Statement, read: fn(&dyn RowReader) -> Result<T>) -> Result<Vec<T>> {
    run.fetch_all(statement).await?.iter().map(|row| read(row)).collect()
}

pub(super) async fn optional<R: Run, T>(run: &mut R, statement: Statement, read: fn(&dyn RowReader) -> Result<T>) -> Result<Option<T>> {
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
pub(super) fn by_id<T>(table: &Table<T>, suffix: &str, org_id: Uuid, id: Uuid) -> Statement {
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
        list::opportunities::<B>(&mut self.backend.reader(), org_id, filter).await
    }

    async fn opportunity_view(&self, org_id: Uuid, id: Uuid) -> Result<Option<OpportunityView>> {
        optional(&mut self.backend.reader(), view_by_id(org_id, id), rows::opportunity_view).await
    }

    async fn sweepable_organizations(&self) -> Result<Vec<Uuid>> {
        let statement = Statement::new(
            "SELECT org_id FROM pipeline_settings WHERE auto_stale = TRUE AND (open_rot_after_days IS NOT NULL
             OR contacted_rot_after_days IS NOT NULL OR qualified_rot_after_days IS NOT NULL OR proposal_rot_after_days IS NOT NULL)
             ORDER BY org_id",
        );
        all(&mut self.backend.reader(), statement, |row| row.uuid("org_id")).await
    }

    async fn notes(&self, org_id: Uuid, opportunity_id: Uuid, page: Page) -> Result<Vec<Note>> {
        let statement = history_page(&NOTES, org_id, opportunity_id, page);
        all(&mut self.backend.reader(), statement, NOTES.read).await
    }

    async fn activities(&self, org_id: Uuid, opportunity_id: Uuid, page: Page) -> Result<Vec<Activity>> {
        let statement = history_page(&ACTIVITIES, org_id, opportunity_id, page);
        all(&mut self.backend.reader(), statement, ACTIVITIES.read).await
    }

    async fn stage_history(&self, org_id: Uuid, opportunity_id: Uuid, page: Page) -> Result<(Vec<StageEntry>, i64)> {
        let condition = "WHERE org_id = $1 AND opportunity_id = $2";
        let mut reader = self.backend.reader();
        let count = Statement::new(format!("SELECT COUNT(*) AS total FROM stage_history {condition}")).bind(org_id).bind(opportunity_id);
        let total = reader.fetch_one(count).await?.int("total")?;
        let statement = STAGE_HISTORY
            .select(&format!("{condition} ORDER BY entered_at, id LIMIT $3 OFFSET $4"))
            .bind(org_id)
            .bind(opportunity_id)
            .bind(page.limit)
            .bind(page.offset);
        Ok((all(&mut reader, statement, STAGE_HISTORY.read).await?, total))
    }

    /// One statement: the follow-ups due are a column of every group's row. With no group there
    /// is no open lead, so nothing is due either.
    async fn stats(&self, org_id: Uuid, filter: &StatsFilter, today: Day) -> Result<PipelineTotals> {
        let scope = totals_scope(filter.assigned_to, filter.category_id);
        let mut statement = Statement::new("");
        let org = statement.param(org_id);
        let follow_ups = statement.subquery(|due| {
            let today = due.param(today.number());
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

    async fn pipeline_settings(&self, org_id: Uuid) -> Result<PipelineSettings> {
        let statement = PIPELINE_SETTINGS.select("WHERE org_id = $1").bind(org_id);
        optional(&mut self.backend.reader(), statement, PIPELINE_SETTINGS.read).await?.ok_or_else(rows::no_pipeline_settings)
    }

    async fn funnel_report(&self, org_id: Uuid, scope: &ReportScope) -> Result<FunnelCounts> {
        reports::funnel(&mut self.backend.reader(), Self::dialect(), org_id, scope).await
    }

    async fn response_times_report(&self, org_id: Uuid, scope: &ReportScope) -> Result<Vec<SourceResponseCounts>> {
        reports::response_times(&mut self.backend.reader(), Self::dialect(), org_id, scope).await
    }

    async fn lost_reasons_report(&self, org_id: Uuid, scope: &ReportScope, limit: i64) -> Result<(Vec<LostReason>, LostTotal)> {
        reports::lost_reasons(&mut self.backend.reader(), Self::dialect(), org_id, scope, limit).await
    }

    async fn agenda(&self, org_id: Uuid, assignee: Option<Uuid>, window: DueWindow, limit: i64) -> Result<Vec<AgendaItem>> {
        agenda::agenda(&mut self.backend.reader(), org_id, assignee, window, limit).await
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

    async fn export_opportunities(
        &self,
        org_id: Uuid,
        filter: &OpportunityFilter,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<OpportunityView>> {
        list::export_page::<B>(&mut self.backend.reader(), org_id, filter, after, limit).await
    }

    async fn export_clients(&self, org_id: Uuid, filter: &ClientFilter, after: Option<Uuid>, limit: i64) -> Result<Vec<Client>> {
        let like = Self::dialect().like;
        let condition = format!(
            "WHERE org_id = $1 AND ($2 IS NULL OR name {like} $2 ESCAPE '\\' OR email {like} $2 ESCAPE '\\'
             OR phone {like} $2 ESCAPE '\\') AND ($3 IS NULL OR id > $3) ORDER BY id LIMIT $4"
        );
        let pattern = filter.search.as_deref().map(like_pattern);
        let page = CLIENTS.select(&condition).bind(org_id).bind(pattern).bind(after).bind(limit);
        all(&mut self.backend.reader(), page, CLIENTS.read).await
    }

    async fn duplicate_candidates(&self, org_id: Uuid, keys: &DuplicateKeys) -> Result<Vec<Candidate>> {
        let (emails, phones) = duplicates::key_lists(keys);
        // One more than is answered: the lead itself is among them.
        let limit = POSSIBLE_DUPLICATES_MAX as i64 + 1;
        duplicates::candidates(&mut self.backend.reader(), org_id, &emails, &phones, 1, Some(limit)).await
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

    async fn web_session(&self, session_hash: &[u8]) -> Result<Option<WebSession>> {
        let statement = Statement::new(
            "SELECT w.org_id, w.staff_id, w.csrf_token, w.created_at, w.last_seen_at, s.name, s.email, s.role
             FROM web_sessions w JOIN staff s ON s.org_id = w.org_id AND s.id = w.staff_id
             WHERE w.session_hash = $1 AND s.is_active = TRUE",
        )
        .bind(session_hash);
        optional(&mut self.backend.reader(), statement, rows::web_session).await
    }

    async fn touch_web_session(&self, session_hash: &[u8], now: Timestamp) -> Result<()> {
        let mut tx = self.backend.begin().await?;
        tx.execute(Statement::new("UPDATE web_sessions SET last_seen_at = $2 WHERE session_hash = $1").bind(session_hash).bind(now))
            .await?;
        B::commit(tx).await
    }

    async fn password_holders(&self, email: &str) -> Result<Vec<PasswordHolder>> {
        let statement = Statement::new(
            "SELECT s.org_id, s.id AS staff_id, p.password_hash
             FROM staff s JOIN staff_passwords p ON p.org_id = s.org_id AND p.staff_id = s.id
             WHERE s.email = $1 AND s.is_active = TRUE ORDER BY s.org_id LIMIT $2",
        )
        .bind(email)
        .bind(PASSWORD_HOLDERS_MAX);
        all(&mut self.backend.reader(), statement, rows::password_holder).await
    }

    async fn organization_name(&self, org_id: Uuid) -> Result<Option<String>> {
        let statement = Statement::new("SELECT name FROM organizations WHERE id = $1").bind(org_id);
        optional(&mut self.backend.reader(), statement, |row| row.text("name")).await
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

    async fn webhooks(&self, org_id: Uuid) -> Result<Vec<Webhook>> {
        all(&mut self.backend.reader(), webhooks_of(org_id), WEBHOOKS.read).await
    }

    async fn webhook(&self, org_id: Uuid, id: Uuid) -> Result<Option<Webhook>> {
        optional(&mut self.backend.reader(), by_id(&WEBHOOKS, "", org_id, id), WEBHOOKS.read).await
    }

    async fn deliveries(&self, org_id: Uuid, webhook_id: Uuid, page: Page) -> Result<(Vec<Delivery>, i64)> {
        webhooks::deliveries(&mut self.backend.reader(), org_id, webhook_id, page).await
    }

    async fn claim_deliveries(&self, now: Timestamp, leased_until: Timestamp, limit: i64) -> Result<Vec<DueDelivery>> {
        webhooks::claim(&self.backend, now, leased_until, limit).await
    }

    async fn record_attempt(&self, due: &DueDelivery, attempt: &Attempt, next: AfterAttempt) -> Result<()> {
        webhooks::record_attempt(&self.backend, due, attempt, next).await
    }

    async fn purge_webhook_events(&self, before: Timestamp) -> Result<u64> {
        let mut tx = self.backend.begin().await?;
        let purged = webhooks::purge_events(&mut tx, before).await?;
        B::commit(tx).await?;
        Ok(purged)
    }

    async fn export_organization(
        &self,
        org_id: Uuid,
        row: &mut (dyn for<'r> FnMut(&'static str, &'r crate::JsonRow) -> Result<()> + Send),
    ) -> Result<()> {
        let mut snapshot = self.backend.snapshot().await?;
        for table in organization::COPIED {
            let mut after = None;
            loop {
                let page = snapshot.fetch_all(table.page(org_id, after, EXPORT_PAGE)).await?;
                for read in &page {
                    row(table.name, &table.to_json(read)?)?;
                }
                match page.last() {
                    Some(last) if page.len() as i64 == EXPORT_PAGE => after = Some(last.uuid(table.key)?),
                    _ => break,
                }
            }
        }
        Ok(())
    }
}

/// One opportunity as the API shows it.
pub(super) fn view_by_id(org_id: Uuid, id: Uuid) -> Statement {
    Statement::new(format!("{} WHERE o.org_id = $1 AND o.id = $2", view_select())).bind(org_id).bind(id)
}

/// An organization's webhooks, oldest first.
pub(super) fn webhooks_of(org_id: Uuid) -> Statement {
    WEBHOOKS.select("WHERE org_id = $1 ORDER BY created_at, id").bind(org_id)
}

/// A claim whose request has not finished after a minute belongs to a server that died.
const ABANDONED_CLAIM_MICROS: i64 = 60_000_000;

/// Binds `$1`, `$2` and `$3` of a statement about one idempotency key.
fn in_scope(statement: Statement, scope: KeyScope, key: &str) -> Statement {
    statement.bind(scope.org_id).bind(scope.caller_id).bind(key)
}

/// ` AND assigned_to = …` and ` AND category_id = …` for the statistics filters given.
fn push_group_filter(statement: &mut Statement, filter: &StatsFilter) {
    for (column, value) in [("assigned_to", filter.assigned_to), ("category_id", filter.category_id)] {
        if let Some(value) = value {
            statement.push(&format!(" AND {column} = ")).push_bind(value);
        }
    }
}

/// `%text%` for LIKE, with LIKE's own wildcards in the text matched literally.
fn like_pattern(text: &str) -> String {
    let escaped = text.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
    format!("%{escaped}%")
}
