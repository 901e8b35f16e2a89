//! Storage for Opportunities: one [`Store`] trait, one implementation per database, and the
//! use cases in [`service`], written once over the trait so that every backend applies the same
//! rules inside one transaction.

// Only the registration of an SQLite function needs unsafe code; it is allowed there alone.
#![deny(unsafe_code)]

pub mod backup;
pub mod demo;
mod group_commit;
pub mod organization_data;
pub mod passwords;
mod postgres;
pub mod service;
pub mod sign_in;
mod sql;
mod sqlite;
mod sqlite_direct;
#[allow(unsafe_code)]
mod sqlite_functions;
mod sqlite_readers;
#[cfg(feature = "testing")]
pub mod testing;
pub mod tokens;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use domain::activity::{Activity, Note};
use domain::agenda::{AgendaItem, DueWindow};
use domain::auth::{Actor, ApiToken, Staff, TokenInfo};
use domain::calendar::{Day, TimeZone};
use domain::category::Category;
use domain::client::Client;
use domain::duplicates::Candidate;
use domain::lead_form::LeadForm;
use domain::opportunity::{Opportunity, OpportunityView, References, StageEntry, Status};
use domain::query::{ClientFilter, OpportunityFilter, Page, StatsFilter};
use domain::report::{FunnelCounts, LostReason, LostTotal, ReportScope, SourceResponseCounts};
use domain::search::Total;
use domain::session::{PasswordLink, WebSession};
use domain::settings::PipelineSettings;
use domain::stats::PipelineTotals;
use domain::transfer::import::{DuplicateKeys, NewLead};
use domain::webhook::{Attempt, Delivery, Event, Webhook};
use domain::{Error, FieldErrors, Result, Timestamp};
use uuid::Uuid;

/// How to connect: the operator's knobs.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Connections for everything (PostgreSQL), or idle read connections kept (SQLite, which
    /// opens another while every one is running a statement), per process.
    pub pool_size: u32,
    /// The database cancels a statement running longer than this: PostgreSQL's
    /// `statement_timeout`, SQLite's progress handler (see `sqlite_direct`).
    pub statement_timeout: Duration,
    /// How long a request waits for a pooled connection before it is answered 503
    /// `database_unavailable`: while the database is down, this is how long a request takes.
    pub acquire_timeout: Duration,
}

impl Default for OpenOptions {
    fn default() -> Self {
        OpenOptions { pool_size: 16, statement_timeout: Duration::from_secs(10), acquire_timeout: Duration::from_secs(3) }
    }
}

/// How busy the connection pool is, for metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolState {
    pub size: u32,
    pub idle: u32,
}

/// Opens the database named by `url` (`sqlite://PATH` or `postgres://...`), creating an
/// SQLite file if needed, and applies any migrations it lacks.
pub async fn open(url: &str, options: &OpenOptions) -> Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(sqlite::open(url, options).await?));
    }
    if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        return Ok(Arc::new(postgres::open(url, options).await?));
    }
    Err(Error::Conflict(format!("unsupported database URL `{url}`: use sqlite://PATH or postgres://...")))
}

/// What the API reads, and [`Store::begin`] for everything it writes.
#[async_trait]
pub trait Store: Send + Sync {
    /// A transaction that holds the write lock (SQLite) or locks what it reads (PostgreSQL):
    /// what it reads stays true until it commits.
    async fn begin(&self) -> Result<Box<dyn Tx>>;
    /// Succeeds when the database answers a query.
    async fn ping(&self) -> Result<()>;
    fn pool_state(&self) -> PoolState;

    /// The active staff member holding the unrevoked token with this hash.
    async fn authenticate(&self, token_hash: &[u8]) -> Result<Option<Actor>>;
    /// Records that the caller's token was used now.
    async fn touch_token(&self, actor: &Actor, now: Timestamp) -> Result<()>;
    /// A staff member's tokens, newest first, without their secrets.
    async fn tokens(&self, org_id: Uuid, staff_id: Uuid) -> Result<Vec<TokenInfo>>;
    async fn categories(&self, org_id: Uuid, include_inactive: bool) -> Result<Vec<Category>>;
    /// One page of the leads the filter matches, in its order, and how many match.
    async fn opportunities(&self, org_id: Uuid, filter: &OpportunityFilter) -> Result<(Vec<OpportunityView>, Total)>;
    async fn opportunity_view(&self, org_id: Uuid, id: Uuid) -> Result<Option<OpportunityView>>;
    /// A page of an opportunity's notes, newest first. Read before the opportunity's counts, the
    /// page never holds more than they say (notes are deleted only with their opportunity).
    async fn notes(&self, org_id: Uuid, opportunity_id: Uuid, page: Page) -> Result<Vec<Note>>;
    /// A page of an opportunity's activities, newest first (like [`Store::notes`]).
    async fn activities(&self, org_id: Uuid, opportunity_id: Uuid, page: Page) -> Result<Vec<Activity>>;
    /// A page of an opportunity's stage history, oldest first, and how many entries it has.
    async fn stage_history(&self, org_id: Uuid, opportunity_id: Uuid, page: Page) -> Result<(Vec<StageEntry>, i64)>;
    /// Read from totals the database keeps current on every write: constant time. Follow-ups
    /// count as due up to `today`, the day in the organization's time zone.
    async fn stats(&self, org_id: Uuid, filter: &StatsFilter, today: Day) -> Result<PipelineTotals>;
    async fn pipeline_settings(&self, org_id: Uuid) -> Result<PipelineSettings>;
    /// The organizations whose leads the stale sweep may move: `auto_stale` on and a stage that
    /// rots.
    async fn sweepable_organizations(&self) -> Result<Vec<Uuid>>;
    /// The funnel of the leads created in the scope (see [`domain::report`]).
    async fn funnel_report(&self, org_id: Uuid, scope: &ReportScope) -> Result<FunnelCounts>;
    /// Per source, how fast the leads created in the scope were first answered.
    async fn response_times_report(&self, org_id: Uuid, scope: &ReportScope) -> Result<Vec<SourceResponseCounts>>;
    /// The leads lost in the scope, by reason: the `limit` most frequent, and the total.
    async fn lost_reasons_report(&self, org_id: Uuid, scope: &ReportScope, limit: i64) -> Result<(Vec<LostReason>, LostTotal)>;
    /// Up to `limit` agenda items due in `window`, earliest first: follow-ups of leads not won
    /// or lost and scheduled activities not completed, of leads assigned to `assignee` (of every
    /// lead when `None`). Indexed reads of at most `limit` rows of each kind.
    async fn agenda(&self, org_id: Uuid, assignee: Option<Uuid>, window: DueWindow, limit: i64) -> Result<Vec<AgendaItem>>;
    async fn clients(&self, org_id: Uuid, filter: &ClientFilter) -> Result<(Vec<Client>, i64)>;
    async fn client(&self, org_id: Uuid, id: Uuid) -> Result<Option<Client>>;
    /// The open leads and the clients with the e-mail or the phone digits of `keys`: a few more
    /// than [`domain::duplicates::POSSIBLE_DUPLICATES_MAX`] of each kind per key, oldest first.
    async fn duplicate_candidates(&self, org_id: Uuid, keys: &DuplicateKeys) -> Result<Vec<Candidate>>;
    /// Up to `limit` of the leads the filter matches (its page and sort aside), in the order of
    /// their ids, after the lead `after` (from the first when `None`): an export's next page.
    async fn export_opportunities(
        &self,
        org_id: Uuid,
        filter: &OpportunityFilter,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<OpportunityView>>;
    /// Like [`Store::export_opportunities`], for clients.
    async fn export_clients(&self, org_id: Uuid, filter: &ClientFilter, after: Option<Uuid>, limit: i64) -> Result<Vec<Client>>;
    async fn staff_members(&self, org_id: Uuid) -> Result<Vec<Staff>>;
    async fn staff(&self, org_id: Uuid, id: Uuid) -> Result<Option<Staff>>;
    async fn lead_forms(&self, org_id: Uuid) -> Result<Vec<LeadForm>>;
    /// The form a public submission names, in whichever organization it is.
    async fn lead_form_by_key(&self, form_key: &str) -> Result<Option<LeadForm>>;
    /// The organization's name, as its website visitors see it (the hosted form's heading).
    async fn organization_name(&self, org_id: Uuid) -> Result<Option<String>>;

    /// The browser session whose secret has this hash, with its staff member, if that member is
    /// active: one indexed read, made by every page's request.
    async fn web_session(&self, session_hash: &[u8]) -> Result<Option<WebSession>>;
    /// Records that the session was used now (for its idle expiry).
    async fn touch_web_session(&self, session_hash: &[u8], now: Timestamp) -> Result<()>;
    /// The active staff members with this e-mail who have a password, in any organization
    /// (at most a few: one per organization the person works for).
    async fn password_holders(&self, email: &str) -> Result<Vec<PasswordHolder>>;

    /// Records that a request with this key and body hash is being processed, unless the key
    /// was used before in the same scope (see [`Claim`]). A claim left unfinished for a minute
    /// (its server died) may be taken over.
    async fn claim_idempotency_key(&self, scope: KeyScope, key: &str, request_hash: &[u8], now: Timestamp) -> Result<Claim>;
    /// Stores the response to replay, or, with `None`, gives the key up so a retry runs anew.
    async fn finish_idempotency_key(&self, scope: KeyScope, key: &str, response: Option<(u16, &[u8])>) -> Result<()>;
    /// Forgets keys claimed before `before`; returns how many.
    async fn purge_idempotency_keys(&self, before: Timestamp) -> Result<u64>;

    async fn webhooks(&self, org_id: Uuid) -> Result<Vec<Webhook>>;
    async fn webhook(&self, org_id: Uuid, id: Uuid) -> Result<Option<Webhook>>;
    /// A page of a webhook's deliveries, newest first, each with its attempts, and how many it has.
    async fn deliveries(&self, org_id: Uuid, webhook_id: Uuid, page: Page) -> Result<(Vec<Delivery>, i64)>;
    /// Takes up to `limit` deliveries that are due, of active webhooks, for this process until
    /// `leased_until`: no other process takes them before then, and one that dies while sending
    /// leaves them to be taken again after it. On PostgreSQL, replicas claiming at once skip
    /// each other's rows (`FOR UPDATE SKIP LOCKED`).
    async fn claim_deliveries(&self, now: Timestamp, leased_until: Timestamp, limit: i64) -> Result<Vec<DueDelivery>>;
    /// Records an attempt at a claimed delivery and what follows it, unless the lease was lost
    /// meanwhile (then only the attempt is recorded: the new holder decides what follows).
    async fn record_attempt(&self, due: &DueDelivery, attempt: &Attempt, next: AfterAttempt) -> Result<()>;
    /// Deletes events created before `before` with nothing left to deliver, with their
    /// deliveries and attempts; returns how many events.
    async fn purge_webhook_events(&self, before: Timestamp) -> Result<u64>;

    /// For the operator (see [`organization_data`]): hands `row` every row of the organization
    /// in the tables an export copies, table by table, parents first, each as its table's name
    /// and a JSON object of its columns. Reads a page at a time, all in one snapshot: rows
    /// written meanwhile are not seen, and writers are not held up.
    async fn export_organization(
        &self,
        org_id: Uuid,
        row: &mut (dyn for<'r> FnMut(&'static str, &'r JsonRow) -> Result<()> + Send),
    ) -> Result<()>;
}

/// A row of a table as a JSON object of its columns (see [`organization_data`]).
pub type JsonRow = serde_json::Map<String, serde_json::Value>;

/// A delivery a worker has claimed, with everything needed to send it.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub org_id: Uuid,
    pub id: Uuid,
    pub webhook_id: Uuid,
    /// Attempts so far, this one included: also the claim's fencing token.
    pub attempts: i64,
    /// When its current run of retries began.
    pub due_since: Timestamp,
    pub url: String,
    pub secret: String,
    pub body: String,
}

/// What follows an attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterAttempt {
    Delivered,
    RetryAt(Timestamp),
    /// Given up: the delivery failed, and the webhook is disabled with this reason.
    GiveUp(String),
}

/// Whose `Idempotency-Key`s these are: the same key sent by two callers is two keys, so no
/// caller can see, replay or block another's. `caller_id` is the staff member for the staff API
/// and the form for public submissions; both are ids the server generated (UUID v7 with 74
/// random bits), so a staff member's and a form's never coincide.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyScope {
    pub org_id: Uuid,
    pub caller_id: Uuid,
}

/// A staff member's stored password, found by e-mail for signing in.
#[derive(Debug, Clone)]
pub struct PasswordHolder {
    pub org_id: Uuid,
    pub staff_id: Uuid,
    /// The argon2id PHC string.
    pub password_hash: String,
}

/// What a request's `Idempotency-Key` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// First use: process the request, then finish the key.
    Fresh,
    /// Another request with the same key is being processed right now.
    InProgress,
    /// Used before for a different request.
    Mismatch,
    /// Done before: answer this again.
    Replay { status: u16, body: Vec<u8> },
}

/// What a new history entry follows: a new lead has no stay to end, which spares a statement
/// on every create.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stays {
    /// The lead is new: this is its first entry.
    None,
    /// The entry ends the lead's current stay.
    Current,
}

/// One write transaction. Dropping it without [`Tx::commit`] rolls everything back.
#[async_trait]
pub trait Tx: Send {
    async fn commit(self: Box<Self>) -> Result<()>;

    async fn any_organization(&mut self) -> Result<bool>;
    /// Inserts the organization with the standard pipeline settings.
    async fn insert_organization(&mut self, org_id: Uuid, name: &str, now: Timestamp) -> Result<()>;

    /// The organization's pipeline settings, which nobody may change until this transaction
    /// ends. Every write of a lead reads them first: the lead's default probabilities and the
    /// day of its follow-up follow them, so a write must not race a change of the time zone
    /// (PostgreSQL: a key-share lock on the row; SQLite: the one writer).
    async fn pipeline_settings(&mut self, org_id: Uuid) -> Result<PipelineSettings>;
    /// The organization's pipeline settings, locked against every write of its leads (which
    /// read them first) until this transaction ends.
    async fn pipeline_settings_to_change(&mut self, org_id: Uuid) -> Result<PipelineSettings>;
    /// The organization's pipeline settings, locked against another sweeper and a change of
    /// the settings but not against lead writes; `None` while another sweeper holds them
    /// (PostgreSQL; SQLite's one writer serializes sweeps).
    async fn pipeline_settings_to_sweep(&mut self, org_id: Uuid) -> Result<Option<PipelineSettings>>;
    /// Up to `limit` of the organization's leads rotting by `cutoffs` (see
    /// [`PipelineSettings::rot_cutoffs`]), longest quiet first.
    async fn rotted_leads(&mut self, org_id: Uuid, cutoffs: &[(Status, Timestamp)], limit: i64) -> Result<Vec<Uuid>>;
    async fn save_pipeline_settings(&mut self, settings: &PipelineSettings) -> Result<()>;
    /// Counts the organization's follow-ups by their days in `zone`: rewrites the
    /// `follow_up_day` of each lead whose day differs there and moves its count to its new day's
    /// follow-up totals. Only under [`Tx::pipeline_settings_to_change`].
    async fn count_follow_ups_in(&mut self, org_id: Uuid, zone: &TimeZone) -> Result<()>;

    async fn opportunity(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Opportunity>>;
    /// Saves the opportunity: a new one when there is nothing `before`, otherwise the row as it
    /// was read under this transaction, whose changed fields alone are written.
    async fn save_opportunity(&mut self, before: Option<&Opportunity>, opportunity: &Opportunity) -> Result<()>;
    /// Deletes it with its notes, activities and stage history.
    async fn delete_opportunity(&mut self, org_id: Uuid, id: Uuid) -> Result<()>;
    async fn insert_note(&mut self, note: &Note) -> Result<()>;
    async fn insert_activity(&mut self, activity: &Activity) -> Result<()>;
    /// The activity of this opportunity with this id.
    async fn activity(&mut self, org_id: Uuid, opportunity_id: Uuid, id: Uuid) -> Result<Option<Activity>>;
    /// Writes an existing activity's description, outcome, schedule and completion.
    async fn save_activity(&mut self, activity: &Activity) -> Result<()>;
    /// Appends to the lead's stage history, ending its current stay unless `entry` is a new
    /// lead's first.
    async fn insert_stage_entry(&mut self, entry: &StageEntry, after: Stays) -> Result<()>;
    /// A message for each referenced record that does not exist in the organization or may not
    /// be used (an inactive category, an inactive staff member).
    /// The organization's leads with one of these e-mails or phone digits, each with its keys
    /// (any number of keys: the backend splits them into statements).
    async fn leads_matching(&mut self, org_id: Uuid, emails: &[String], phone_digits: &[String]) -> Result<Vec<(Uuid, DuplicateKeys)>>;
    /// The open leads and the clients with one of these e-mails or phone digits, each with its
    /// keys (any number of keys, like [`Tx::leads_matching`]).
    async fn duplicate_candidates(&mut self, org_id: Uuid, emails: &[String], phone_digits: &[String]) -> Result<Vec<Candidate>>;
    /// Moves the notes, activities and stage history of the lead `from` to the lead `into`.
    async fn move_lead_records(&mut self, org_id: Uuid, from: Uuid, into: Uuid) -> Result<()>;
    /// The latest entry of the lead's stage history (by time).
    async fn latest_stage_entry(&mut self, org_id: Uuid, opportunity_id: Uuid) -> Result<Option<StageEntry>>;
    /// Inserts new leads with their stage history, activities and notes, many to a statement.
    async fn insert_leads(&mut self, leads: &[NewLead]) -> Result<()>;
    async fn unusable_references(&mut self, org_id: Uuid, references: &References) -> Result<FieldErrors>;

    async fn client(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Client>>;
    async fn client_by_email(&mut self, org_id: Uuid, email: &str) -> Result<Option<Client>>;
    async fn save_client(&mut self, client: &Client) -> Result<()>;

    async fn category(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Category>>;
    /// Every category of the organization, active or not, in the order lists show them; locked
    /// until the transaction ends.
    async fn categories(&mut self, org_id: Uuid) -> Result<Vec<Category>>;
    async fn category_by_name(&mut self, org_id: Uuid, name_key: &str) -> Result<Option<Category>>;
    async fn save_category(&mut self, category: &Category) -> Result<()>;

    async fn staff(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Staff>>;
    async fn staff_by_email(&mut self, org_id: Uuid, email: &str) -> Result<Option<Staff>>;
    async fn save_staff(&mut self, staff: &Staff) -> Result<()>;
    /// How many active owners the organization has, with their rows locked in the order of
    /// their ids, so that two transactions counting them never wait for each other in a cycle.
    async fn active_owners(&mut self, org_id: Uuid) -> Result<i64>;

    async fn lead_form(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<LeadForm>>;
    async fn save_lead_form(&mut self, form: &LeadForm) -> Result<()>;

    async fn insert_token(&mut self, token: &ApiToken) -> Result<()>;
    /// The staff member a live token belongs to.
    async fn token_holder(&mut self, org_id: Uuid, token_id: Uuid) -> Result<Option<Uuid>>;
    async fn revoke_token(&mut self, org_id: Uuid, token_id: Uuid, now: Timestamp) -> Result<()>;
    /// Revokes every live token of the staff member.
    async fn revoke_tokens_of(&mut self, org_id: Uuid, staff_id: Uuid, now: Timestamp) -> Result<()>;

    /// The opportunity as the API shows it, as this transaction sees it.
    async fn opportunity_view(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<OpportunityView>>;
    async fn webhooks(&mut self, org_id: Uuid) -> Result<Vec<Webhook>>;
    async fn webhook(&mut self, org_id: Uuid, id: Uuid) -> Result<Option<Webhook>>;
    async fn save_webhook(&mut self, webhook: &Webhook) -> Result<()>;
    /// Deletes it with its deliveries and their attempts.
    async fn delete_webhook(&mut self, org_id: Uuid, id: Uuid) -> Result<()>;
    /// Writes the event to the outbox with a delivery, due now, to each of the webhooks.
    async fn insert_event(&mut self, org_id: Uuid, event: &Event, webhook_ids: &[Uuid]) -> Result<()>;
    /// Makes the delivery due again now, with a new day of retries; false if there is none.
    async fn redeliver(&mut self, org_id: Uuid, webhook_id: Uuid, delivery_id: Uuid, now: Timestamp) -> Result<bool>;
    async fn insert_password_link(&mut self, link_hash: &[u8], link: &PasswordLink) -> Result<()>;
    /// The link with this hash, locked until the transaction ends.
    async fn password_link(&mut self, link_hash: &[u8]) -> Result<Option<PasswordLink>>;
    async fn use_password_link(&mut self, link_hash: &[u8], now: Timestamp) -> Result<()>;
    async fn has_password(&mut self, org_id: Uuid, staff_id: Uuid) -> Result<bool>;
    async fn save_password(&mut self, org_id: Uuid, staff_id: Uuid, password_hash: &str, now: Timestamp) -> Result<()>;
    async fn insert_web_session(&mut self, session_hash: &[u8], session: &WebSession) -> Result<()>;
    async fn delete_web_session(&mut self, session_hash: &[u8]) -> Result<()>;
    /// Ends every session of the staff member.
    async fn delete_web_sessions_of(&mut self, org_id: Uuid, staff_id: Uuid) -> Result<()>;

    /// The organization's name, its row locked until the transaction ends.
    async fn organization_name(&mut self, org_id: Uuid) -> Result<Option<String>>;
    /// Inserts rows of one of the tables an export copies, as [`Store::organization_rows`]
    /// reads them.
    async fn insert_organization_rows(&mut self, table: &str, rows: &[JsonRow]) -> Result<()>;
    /// Deletes every row of the organization in every table; how many each table lost.
    async fn delete_organization(&mut self, org_id: Uuid) -> Result<Vec<(&'static str, u64)>>;
}

/// Turns a database error into the service's error. A transaction that lost a race with
/// another one is [`Error::Contention`], which the use cases run again (see
/// [`service`](crate::service)); a database that cannot be reached or written is
/// [`Error::DatabaseUnavailable`]; anything else is internal.
pub(crate) trait DbResult<T> {
    fn db(self) -> Result<T>;
}

impl<T> DbResult<T> for std::result::Result<T, sqlx::Error> {
    fn db(self) -> Result<T> {
        self.map_err(|error| match &error {
            sqlx::Error::Database(db) if lost_a_race(db.as_ref()) => Error::Contention,
            sqlx::Error::Database(db) if db.code().as_deref() == Some(QUERY_CANCELED) => Error::TookTooLong,
            _ if unavailable(&error) => Error::unavailable(error),
            _ => Error::internal(error),
        })
    }
}

/// PostgreSQL's SQLSTATE for a statement its `statement_timeout` cancelled.
const QUERY_CANCELED: &str = "57014";

/// PostgreSQL's SQLSTATEs for a server that is going away or not there yet: `admin_shutdown`
/// (a fast or immediate stop ended the session), `crash_shutdown` (another backend crashed and
/// the server restarts), `cannot_connect_now` (starting up or recovering); and
/// `read_only_sql_transaction`, the answer of a standby to a write, which is what a replica
/// reaches while a failover is still moving the primary. Class 08 (connection exceptions)
/// counts as well.
const POSTGRES_UNAVAILABLE: [&str; 4] = ["57P01", "57P02", "57P03", "25006"];

/// SQLite's primary result codes for a file that cannot be written or read: `SQLITE_READONLY`
/// (permissions, a read-only mount), `SQLITE_IOERR`, `SQLITE_FULL` (the disk is full) and
/// `SQLITE_CANTOPEN`. sqlx reports the extended code, whose low byte is the primary one.
const SQLITE_UNAVAILABLE: [i32; 4] = [8, 10, 13, 14];

/// Whether the database could not be reached or written, as opposed to refusing this request:
/// the same request can succeed once the database is back, so it is answered 503, not 500.
fn unavailable(error: &sqlx::Error) -> bool {
    match error {
        // No connection within the acquire timeout: the server refuses connections (stopped,
        // restarting) or every connection stayed busy that long. Or the process is shutting down.
        sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
        // The connection broke (the server died, the network dropped it) or could not be made.
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) => true,
        sqlx::Error::Database(db) => {
            let Some(code) = db.code() else { return false };
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                code.parse::<i32>().is_ok_and(|code| SQLITE_UNAVAILABLE.contains(&(code & 0xff)))
            } else {
                code.starts_with("08") || POSTGRES_UNAVAILABLE.contains(&code.as_ref())
            }
        }
        _ => false,
    }
}

/// PostgreSQL's SQLSTATEs for "run the transaction again": a serialization failure and a deadlock.
const RETRYABLE_STATES: [&str; 2] = ["40001", "40P01"];

/// Whether running the whole transaction again can succeed where this attempt failed. A unique
/// value counts: when a look-up-then-insert lost to a concurrent insert of the same value, the
/// next attempt sees the other's row and decides as if the two had run one after the other.
fn lost_a_race(error: &dyn sqlx::error::DatabaseError) -> bool {
    error.is_unique_violation() || error.code().is_some_and(|code| RETRYABLE_STATES.contains(&code.as_ref()))
}

#[cfg(test)]
pub(crate) mod tests {
    use std::borrow::Cow;

    use sqlx::error::{DatabaseError, ErrorKind};

    use super::*;

    /// A database error with only a SQLSTATE, as a driver reports one.
    #[derive(Debug, thiserror::Error)]
    #[error("state {0}")]
    struct State(&'static str);

    impl DatabaseError for State {
        fn message(&self) -> &str {
            self.0
        }
        fn code(&self) -> Option<Cow<'_, str>> {
            Some(Cow::Borrowed(self.0))
        }
        fn as_error(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn as_error_mut(&mut self) -> &mut (dyn std::error::Error + Send + Sync + 'static) {
            self
        }
        fn into_error(self: Box<Self>) -> Box<dyn std::error::Error + Send + Sync + 'static> {
            self
        }
        fn kind(&self) -> ErrorKind {
            if self.0 == "23505" { ErrorKind::UniqueViolation } else { ErrorKind::Other }
        }
    }

    /// The service's error for a database error with this SQLSTATE.
    pub(crate) fn mapped(state: &'static str) -> Error {
        match Err::<(), _>(sqlx::Error::Database(Box::new(State(state)))).db() {
            Err(error) => error,
            Ok(()) => unreachable!("an error maps to an error"),
        }
    }

    #[test]
    fn deadlocks_serialization_failures_and_unique_races_are_contention() {
        for state in ["40P01", "40001", "23505"] {
            assert!(matches!(mapped(state), Error::Contention), "{state}");
        }
        assert!(matches!(mapped("57014"), Error::TookTooLong), "a cancelled statement is not an internal error");
        for state in ["23503", "40002", "57P04", "25001"] {
            assert!(matches!(mapped(state), Error::Internal(_)), "{state}");
        }
    }

    #[test]
    fn a_server_going_away_or_a_standby_is_unavailable_not_internal() {
        for state in ["57P01", "57P02", "57P03", "25006", "08006", "08001", "08P01"] {
            assert!(matches!(mapped(state), Error::DatabaseUnavailable(_)), "{state}");
        }
        for error in [sqlx::Error::PoolTimedOut, sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into())] {
            let description = error.to_string();
            assert!(matches!(Err::<(), _>(error).db(), Err(Error::DatabaseUnavailable(_))), "{description}");
        }
    }
}
