//! [`Tx`] for any [`Backend`]: every statement of a write transaction, once.

use std::collections::BTreeMap;

use async_trait::async_trait;
use domain::activity::{Activity, Note};
use domain::auth::{ApiToken, Staff};
use domain::calendar::TimeZone;
use domain::category::Category;
use domain::client::Client;
use domain::duplicates::Candidate;
use domain::lead_form::LeadForm;
use domain::opportunity::{Opportunity, OpportunityView, References, StageEntry, Status};
use domain::session::{PasswordLink, WebSession};
use domain::settings::PipelineSettings;
use domain::transfer::import::{DuplicateKeys, NewLead};
use domain::webhook::{Event, Webhook};
use domain::{FieldErrors, Result, Timestamp};
use uuid::Uuid;

use super::duplicates;
use super::list::{push_in, push_rotting};
use super::organization;
use super::reads::{all, by_id, optional, view_by_id, webhooks_of};
use super::report_facts;
use super::rows;
use super::tables::{
    ACTIVITIES, CATEGORIES, CLIENTS, LEAD_FORMS, NOTES, OPPORTUNITIES, PIPELINE_SETTINGS, STAFF, STAGE_HISTORY, Table, WEBHOOKS,
};
use super::webhooks;
use super::{Backend, RowReader, Run, Statement};
use crate::{Stays, Tx};

pub(super) struct SqlTx<B: Backend> {
    pub(super) tx: B::Tx,
}

impl<B: Backend> SqlTx<B> {
    async fn run(&mut self, statement: Statement) -> Result<()> {
        self.tx.execute(statement).await.map(drop)
    }

    /// Inserts the rows, as many to a statement as the backend binds well.
    async fn insert_all<'a, T: Sync + 'static>(&mut self, table: &Table<T>, rows: impl Iterator<Item = &'a T>) -> Result<()> {
        let rows: Vec<&T> = rows.collect();
        for chunk in rows.chunks(table.rows_per_insert(B::DIALECT.values_per_statement)) {
            self.run(table.insert_many(chunk.iter().copied())).await?;
        }
        Ok(())
    }

    /// [`report_facts::recomputed`], as many leads to a statement as the backend binds well.
    async fn recompute_report_facts(&mut self, org_id: Uuid, ids: &[Uuid]) -> Result<()> {
        for ids in ids.chunks(B::DIALECT.values_per_statement) {
            for statement in report_facts::recomputed(org_id, ids) {
                self.run(statement).await?;
            }
        }
        Ok(())
    }

    fn locked(&self) -> &'static str {
        B::DIALECT.for_update
    }

    async fn settings_row(&mut self, org_id: Uuid, lock: &str) -> Result<PipelineSettings> {
        let statement = PIPELINE_SETTINGS.select(&format!("WHERE org_id = $1{lock}")).bind(org_id);
        optional(&mut self.tx, statement, PIPELINE_SETTINGS.read).await?.ok_or_else(rows::no_pipeline_settings)
    }

    /// The organization's leads whose follow-up falls on another day in `zone` than the stored
    /// one, read a page at a time by id.
    async fn follow_ups_moving_in(&mut self, org_id: Uuid, zone: &TimeZone) -> Result<MovedFollowUps> {
        let mut moved = MovedFollowUps::default();
        let mut after = Uuid::nil();
        loop {
            let page = Statement::new(
                "SELECT id, follow_up_date, follow_up_day, status, assigned_to, category_id FROM opportunities
                 WHERE org_id = $1 AND id > $2 AND follow_up_date IS NOT NULL ORDER BY id LIMIT $3",
            );
            let leads = self.tx.fetch_all(page.bind(org_id).bind(after).bind(FOLLOW_UPS_PER_PAGE)).await?;
            let Some(last) = leads.last() else { return Ok(moved) };
            after = last.uuid("id")?;
            for row in &leads {
                let from = row.opt_int("follow_up_day")?.ok_or_else(|| rows::corrupt("follow_up_day"))?;
                let to = zone.day_of(row.timestamp("follow_up_date")?).number();
                if from == to {
                    continue;
                }
                moved.leads.entry(to).or_default().push(row.uuid("id")?);
                if !rows::parsed(row, "status", Status::parse)?.is_closed() {
                    let group = |day| -> Result<_> {
                        Ok((day, row.opt_uuid("assigned_to")?.unwrap_or_default(), row.opt_uuid("category_id")?.unwrap_or_default()))
                    };
                    *moved.counts.entry(group(from)?).or_default() -= 1;
                    *moved.counts.entry(group(to)?).or_default() += 1;
                }
            }
        }
    }
}

/// What a change of time zone changes: the leads given each new day, and the change of each
/// follow-up totals group (day, assignee, category; none is the nil id, as in the table).
#[derive(Default)]
struct MovedFollowUps {
    leads: BTreeMap<i64, Vec<Uuid>>,
    counts: BTreeMap<(i64, Uuid, Uuid), i64>,
}

/// How many leads a change of time zone reads at once.
const FOLLOW_UPS_PER_PAGE: i64 = 5_000;

/// How many leads one statement gives a new follow-up day: on PostgreSQL each is a new version of
/// the row in every index, about 40 µs, so a statement stays well within the statement timeout.
const FOLLOW_UP_DAYS_PER_UPDATE: usize = 5_000;

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
            .await?;
        self.run(PIPELINE_SETTINGS.insert(&PipelineSettings::standard(org_id))).await
    }

    async fn pipeline_settings(&mut self, org_id: Uuid) -> Result<PipelineSettings> {
        self.settings_row(org_id, B::DIALECT.for_share).await
    }

    async fn pipeline_settings_to_change(&mut self, org_id: Uuid) -> Result<PipelineSettings> {
        self.settings_row(org_id, B::DIALECT.for_update).await
    }

    async fn pipeline_settings_to_sweep(&mut self, org_id: Uuid) -> Result<Option<PipelineSettings>> {
        let statement = PIPELINE_SETTINGS.select(&format!("WHERE org_id = $1{}", B::DIALECT.sweep_lock)).bind(org_id);
        optional(&mut self.tx, statement, PIPELINE_SETTINGS.read).await
    }

    /// By the index on (org_id, status, last_activity_at): a range per stage that rots.
    async fn rotted_leads(&mut self, org_id: Uuid, cutoffs: &[(Status, Timestamp)], limit: i64) -> Result<Vec<Uuid>> {
        if cutoffs.is_empty() {
            return Ok(Vec::new());
        }
        let mut statement = Statement::new("SELECT o.id FROM opportunities o WHERE o.org_id = ");
        statement.push_bind(org_id).push(" AND ");
        push_rotting(&mut statement, cutoffs);
        statement.push(" ORDER BY o.last_activity_at, o.id LIMIT ").push_bind(limit);
        self.tx.fetch_all(statement).await?.iter().map(|row| row.uuid("id")).collect()
    }

    async fn save_pipeline_settings(&mut self, settings: &PipelineSettings) -> Result<()> {
        self.run(PIPELINE_SETTINGS.upsert(settings)).await
    }

    /// The triggers keep the totals by `follow_up_date`'s changes, and a change of zone leaves it
    /// alone, so this moves the counts itself, as the triggers would for a follow-up moved to
    /// another day. The organization's settings are locked, so none of its leads changes
    /// meanwhile. Every statement is bounded, however many leads the organization has.
    async fn count_follow_ups_in(&mut self, org_id: Uuid, zone: &TimeZone) -> Result<()> {
        let moved = self.follow_ups_moving_in(org_id, zone).await?;
        for (day, leads) in &moved.leads {
            for chunk in leads.chunks(B::DIALECT.values_per_statement.min(FOLLOW_UP_DAYS_PER_UPDATE)) {
                let mut update = Statement::new("UPDATE opportunities SET follow_up_day = $1 WHERE org_id = $2").bind(*day).bind(org_id);
                push_in(&mut update, "id", chunk.iter().copied());
                self.run(update).await?;
            }
        }
        // In the order of their keys, as the triggers write them (migration 0011); the roll-up
        // triggers (0008) carry each change to the organization's rows.
        let changes: Vec<_> = moved.counts.into_iter().filter(|(_, change)| *change != 0).collect();
        for chunk in changes.chunks(B::DIALECT.values_per_statement / 5) {
            let mut upsert = Statement::new("INSERT INTO follow_up_totals (org_id, day, assigned_to, category_id, count) VALUES ");
            for (i, ((day, assignee, category), change)) in chunk.iter().enumerate() {
                upsert.push(if i == 0 { "(" } else { ", (" }).push_bind(org_id);
                upsert.push(", ").push_bind(*day).push(", ").push_bind(*assignee).push(", ").push_bind(*category);
                upsert.push(", ").push_bind(*change).push(")");
            }
            upsert
                .push(" ON CONFLICT (org_id, day, assigned_to, category_id) DO UPDATE SET count = follow_up_totals.count + excluded.count");
            self.run(upsert).await?;
        }
        Ok(())
    }

    async fn opportunity(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Opportunity>> {
        let statement = by_id(&OPPORTUNITIES, self.locked(), org_id, id);
        optional(&mut self.tx, statement, OPPORTUNITIES.read).await
    }

    async fn save_opportunity(&mut self, before: Option<&Opportunity>, o: &Opportunity) -> Result<()> {
        match before {
            None => self.run(OPPORTUNITIES.upsert(o)).await,
            Some(before) => match OPPORTUNITIES.update(before, o) {
                Some(statement) => self.run(statement).await,
                None => Ok(()),
            },
        }
    }

    async fn delete_opportunity(&mut self, org_id: Uuid, id: Uuid) -> Result<()> {
        self.run(Statement::new("DELETE FROM opportunities WHERE org_id = $1 AND id = $2").bind(org_id).bind(id)).await
    }

    async fn insert_note(&mut self, n: &Note) -> Result<()> {
        self.run(NOTES.insert(n)).await?;
        self.run(report_facts::activity_logged(n.org_id, n.opportunity_id, n.created_at, None)).await
    }

    async fn insert_activity(&mut self, a: &Activity) -> Result<()> {
        self.run(ACTIVITIES.insert(a)).await?;
        self.run(report_facts::activity_logged(a.org_id, a.opportunity_id, a.created_at, Some(a.activity_type))).await
    }

    async fn activity(&mut self, org_id: Uuid, opportunity_id: Uuid, id: Uuid) -> Result<Option<Activity>> {
        let statement =
            ACTIVITIES.select("WHERE org_id = $1 AND id = $2 AND opportunity_id = $3").bind(org_id).bind(id).bind(opportunity_id);
        optional(&mut self.tx, statement, ACTIVITIES.read).await
    }

    async fn save_activity(&mut self, a: &Activity) -> Result<()> {
        self.run(ACTIVITIES.upsert(a)).await
    }

    async fn insert_stage_entry(&mut self, e: &StageEntry, after: Stays) -> Result<()> {
        if after == Stays::Current {
            self.run(report_facts::end_current_stay(e)).await?;
        }
        self.run(STAGE_HISTORY.insert(e)).await?;
        self.run(report_facts::stage_entered(e)).await
    }

    /// A statement per few hundred keys on SQLite, per tens of thousands on PostgreSQL.
    async fn leads_matching(&mut self, org_id: Uuid, emails: &[String], phone_digits: &[String]) -> Result<Vec<(Uuid, DuplicateKeys)>> {
        let mut found = Vec::new();
        for (column, keys) in [("prospect_email", emails), ("prospect_phone_digits", phone_digits)] {
            for keys in keys.chunks(B::DIALECT.values_per_statement) {
                let mut statement = Statement::new("SELECT id, prospect_email, prospect_phone_digits FROM opportunities WHERE org_id = ");
                statement.push_bind(org_id);
                push_in(&mut statement, column, keys.iter());
                for row in self.tx.fetch_all(statement).await? {
                    let keys =
                        DuplicateKeys { email: row.opt_text("prospect_email")?, phone_digits: row.opt_text("prospect_phone_digits")? };
                    found.push((row.uuid("id")?, keys));
                }
            }
        }
        Ok(found)
    }

    async fn duplicate_candidates(&mut self, org_id: Uuid, emails: &[String], phone_digits: &[String]) -> Result<Vec<Candidate>> {
        duplicates::candidates(&mut self.tx, org_id, emails, phone_digits, B::DIALECT.values_per_statement, None).await
    }

    async fn move_lead_records(&mut self, org_id: Uuid, from: Uuid, into: Uuid) -> Result<()> {
        for table in [NOTES.name, ACTIVITIES.name, STAGE_HISTORY.name] {
            let statement = format!("UPDATE {table} SET opportunity_id = $3 WHERE org_id = $1 AND opportunity_id = $2");
            self.run(Statement::new(statement).bind(org_id).bind(from).bind(into)).await?;
        }
        self.recompute_report_facts(org_id, &[into]).await
    }

    async fn latest_stage_entry(&mut self, org_id: Uuid, opportunity_id: Uuid) -> Result<Option<StageEntry>> {
        let condition = "WHERE org_id = $1 AND opportunity_id = $2 ORDER BY entered_at DESC, id DESC LIMIT 1";
        optional(&mut self.tx, STAGE_HISTORY.select(condition).bind(org_id).bind(opportunity_id), STAGE_HISTORY.read).await
    }

    async fn insert_leads(&mut self, leads: &[NewLead]) -> Result<()> {
        self.insert_all(&OPPORTUNITIES, leads.iter().map(|lead| &lead.opportunity)).await?;
        self.insert_all(&STAGE_HISTORY, leads.iter().flat_map(|lead| &lead.entries)).await?;
        self.insert_all(&ACTIVITIES, leads.iter().flat_map(|lead| &lead.activities)).await?;
        self.insert_all(&NOTES, leads.iter().flat_map(|lead| &lead.notes)).await?;
        // An import is one organization's, and brings each lead with its history at once.
        let Some(org_id) = leads.first().map(|lead| lead.opportunity.org_id) else { return Ok(()) };
        let ids: Vec<Uuid> = leads.iter().map(|lead| lead.opportunity.id).collect();
        self.recompute_report_facts(org_id, &ids).await
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

    async fn categories(&mut self, org_id: Uuid) -> Result<Vec<Category>> {
        let order = B::DIALECT.binary_order;
        let condition = format!("WHERE org_id = $1 ORDER BY sort_order, name_key{order}, id{}", self.locked());
        all(&mut self.tx, CATEGORIES.select(&condition).bind(org_id), CATEGORIES.read).await
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

    async fn opportunity_view(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<OpportunityView>> {
        optional(&mut self.tx, view_by_id(org_id, id), rows::opportunity_view).await
    }

    async fn webhooks(&mut self, org_id: Uuid) -> Result<Vec<Webhook>> {
        all(&mut self.tx, webhooks_of(org_id), WEBHOOKS.read).await
    }

    async fn webhook(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Webhook>> {
        let statement = by_id(&WEBHOOKS, self.locked(), org_id, id);
        optional(&mut self.tx, statement, WEBHOOKS.read).await
    }

    async fn save_webhook(&mut self, w: &Webhook) -> Result<()> {
        self.run(WEBHOOKS.upsert(w)).await
    }

    async fn delete_webhook(&mut self, org_id: Uuid, id: Uuid) -> Result<()> {
        self.run(Statement::new("DELETE FROM webhooks WHERE org_id = $1 AND id = $2").bind(org_id).bind(id)).await
    }

    async fn insert_event(&mut self, org_id: Uuid, event: &Event, webhook_ids: &[Uuid]) -> Result<()> {
        webhooks::insert_event(&mut self.tx, org_id, event, webhook_ids).await
    }

    async fn redeliver(&mut self, org_id: Uuid, webhook_id: Uuid, delivery_id: Uuid, now: Timestamp) -> Result<bool> {
        webhooks::redeliver(&mut self.tx, org_id, webhook_id, delivery_id, now).await
    }

    async fn insert_password_link(&mut self, link_hash: &[u8], link: &PasswordLink) -> Result<()> {
        let statement = Statement::new(
            "INSERT INTO password_links (link_hash, org_id, staff_id, purpose, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)",
        );
        self.run(
            statement
                .bind(link_hash)
                .bind(link.org_id)
                .bind(link.staff_id)
                .bind(link.purpose.as_str())
                .bind(link.created_at)
                .bind(link.expires_at),
        )
        .await
    }

    async fn password_link(&mut self, link_hash: &[u8]) -> Result<Option<PasswordLink>> {
        let statement = Statement::new(format!(
            "SELECT org_id, staff_id, purpose, created_at, expires_at, used_at FROM password_links WHERE link_hash = $1{}",
            self.locked()
        ));
        optional(&mut self.tx, statement.bind(link_hash), rows::password_link).await
    }

    async fn use_password_link(&mut self, link_hash: &[u8], now: Timestamp) -> Result<()> {
        self.run(Statement::new("UPDATE password_links SET used_at = $2 WHERE link_hash = $1").bind(link_hash).bind(now)).await
    }

    async fn has_password(&mut self, org_id: Uuid, staff_id: Uuid) -> Result<bool> {
        let statement = Statement::new("SELECT EXISTS (SELECT 1 FROM staff_passwords WHERE org_id = $1 AND staff_id = $2) AS found");
        self.tx.fetch_one(statement.bind(org_id).bind(staff_id)).await?.boolean("found")
    }

    async fn save_password(&mut self, org_id: Uuid, staff_id: Uuid, password_hash: &str, now: Timestamp) -> Result<()> {
        let statement = Statement::new(
            "INSERT INTO staff_passwords (org_id, staff_id, password_hash, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (org_id, staff_id) DO UPDATE SET password_hash = excluded.password_hash, updated_at = excluded.updated_at",
        );
        self.run(statement.bind(org_id).bind(staff_id).bind(password_hash).bind(now)).await
    }

    async fn insert_web_session(&mut self, session_hash: &[u8], session: &WebSession) -> Result<()> {
        let statement = Statement::new(
            "INSERT INTO web_sessions (session_hash, org_id, staff_id, csrf_token, created_at, last_seen_at) VALUES ($1, $2, $3, $4, $5, $6)",
        );
        self.run(
            statement
                .bind(session_hash)
                .bind(session.org_id)
                .bind(session.staff_id)
                .bind(&session.csrf_token)
                .bind(session.created_at)
                .bind(session.last_seen_at),
        )
        .await
    }

    async fn delete_web_session(&mut self, session_hash: &[u8]) -> Result<()> {
        self.run(Statement::new("DELETE FROM web_sessions WHERE session_hash = $1").bind(session_hash)).await
    }

    async fn delete_web_sessions_of(&mut self, org_id: Uuid, staff_id: Uuid) -> Result<()> {
        self.run(Statement::new("DELETE FROM web_sessions WHERE org_id = $1 AND staff_id = $2").bind(org_id).bind(staff_id)).await
    }

    async fn organization_name(&mut self, org_id: Uuid) -> Result<Option<String>> {
        let statement = Statement::new(format!("SELECT name FROM organizations WHERE id = $1{}", self.locked())).bind(org_id);
        optional(&mut self.tx, statement, |row| row.text("name")).await
    }

    async fn insert_organization_rows(&mut self, table: &str, rows: &[crate::JsonRow]) -> Result<()> {
        let table = organization::copied(table)?;
        for chunk in rows.chunks(table.rows_per_insert(B::DIALECT.values_per_statement)) {
            self.run(table.insert(chunk)?).await?;
        }
        Ok(())
    }

    async fn delete_organization(&mut self, org_id: Uuid) -> Result<Vec<(&'static str, u64)>> {
        let mut deleted = Vec::new();
        for (table, statement) in organization::delete_statements(org_id) {
            deleted.push((table, self.tx.execute(statement).await?));
        }
        Ok(deleted)
    }
}
