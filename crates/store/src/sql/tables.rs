//! One description for each table the store keeps domain values in: its columns in order, how
//! each is bound from the value, whether saving a row that exists changes it, and how a row
//! reads back. The `SELECT` list, the `INSERT … VALUES` and the `ON CONFLICT … DO UPDATE SET`
//! are generated from it, so that a new column is one line here (besides the migrations and the
//! domain type) and nothing must agree by position.

use domain::activity::{Activity, ActivityType, Note};
use domain::auth::{Role, Staff};
use domain::calendar::{Day, TimeZone};
use domain::category::Category;
use domain::client::Client;
use domain::lead_form::LeadForm;
use domain::opportunity::{Opportunity, Stage, StageEntry, Status};
use domain::settings::{PipelineSettings, StageSetting, StageSettings};
use domain::transfer::import::phone_digits;
use domain::webhook::{EventType, Webhook};
use domain::{Money, Result};

use super::rows::{corrupt, parsed};
use super::{Param, RowReader, Statement};

/// A table and the domain type one of its rows holds.
pub(super) struct Table<T: 'static> {
    pub name: &'static str,
    /// The columns an upsert finds an existing row by.
    pub key: &'static str,
    pub columns: &'static [Column<T>],
    pub read: fn(&dyn RowReader) -> Result<T>,
}

pub(super) struct Column<T> {
    name: &'static str,
    bind: fn(&T) -> Param,
    /// False for what a row keeps from its creation (its key, its creator, its creation time).
    updated: bool,
}

/// A column that saving a row writes every time.
const fn set<T>(name: &'static str, bind: fn(&T) -> Param) -> Column<T> {
    Column { name, bind, updated: true }
}

/// A column written when the row is created and kept when it is saved again.
const fn kept<T>(name: &'static str, bind: fn(&T) -> Param) -> Column<T> {
    Column { name, bind, updated: false }
}

impl<T> Table<T> {
    /// Every column, each after `prefix` (a table alias and its dot, or nothing).
    pub fn select_list(&self, prefix: &str) -> String {
        self.columns.iter().map(|column| format!("{prefix}{}", column.name)).collect::<Vec<_>>().join(", ")
    }

    /// Every column of the rows that `condition` (`WHERE …` and what follows) selects.
    pub fn select(&self, condition: &str) -> Statement {
        Statement::new(format!("SELECT {} FROM {} {condition}", self.select_list(""), self.name))
    }

    /// Inserts `value` as a new row.
    pub fn insert(&self, value: &T) -> Statement {
        self.insert_many([value])
    }

    /// Inserts `values` as new rows in one statement (the caller keeps their number within the
    /// database's limit on bound values: see [`Table::rows_per_insert`]).
    pub fn insert_many<'a>(&self, values: impl IntoIterator<Item = &'a T>) -> Statement {
        let mut statement = Statement::new(format!("INSERT INTO {} ({}) VALUES ", self.name, self.select_list("")));
        for (row, value) in values.into_iter().enumerate() {
            statement.push(if row == 0 { "(" } else { ", (" });
            for (i, column) in self.columns.iter().enumerate() {
                statement.push(if i == 0 { "" } else { ", " }).push_bind((column.bind)(value));
            }
            statement.push(")");
        }
        statement
    }

    /// How many rows one [`Table::insert_many`] holds to bind about `values` values.
    pub fn rows_per_insert(&self, values: usize) -> usize {
        (values / self.columns.len()).max(1)
    }

    /// Updates the row of `before`'s key to `after`, writing only the columns whose value
    /// differs; none when nothing does. A column left out of the `SET` list keeps its indexes
    /// untouched and does not fire an `UPDATE OF` trigger, which a full upsert does on SQLite
    /// for every column it names, changed or not.
    pub fn update(&self, before: &T, after: &T) -> Option<Statement> {
        let mut statement = Statement::new(format!("UPDATE {} SET ", self.name));
        let mut changed = 0;
        for column in self.columns.iter().filter(|column| column.updated) {
            let value = (column.bind)(after);
            if value != (column.bind)(before) {
                statement.push(if changed == 0 { "" } else { ", " }).push(column.name).push(" = ").push_bind(value);
                changed += 1;
            }
        }
        if changed == 0 {
            return None;
        }
        for (i, name) in self.key.split(", ").enumerate() {
            let column = self.columns.iter().find(|column| column.name == name).expect("a table's key names its columns");
            statement.push(if i == 0 { " WHERE " } else { " AND " }).push(name).push(" = ").push_bind((column.bind)(before));
        }
        Some(statement)
    }

    /// Inserts `value`, or updates the row with its key to it (but for the kept columns).
    pub fn upsert(&self, value: &T) -> Statement {
        let assignments: Vec<_> =
            self.columns.iter().filter(|column| column.updated).map(|column| format!("{0} = excluded.{0}", column.name)).collect();
        let mut statement = self.insert(value);
        statement.push(&format!(" ON CONFLICT ({}) DO UPDATE SET {}", self.key, assignments.join(", ")));
        statement
    }
}

pub(super) const OPPORTUNITIES: Table<Opportunity> = Table {
    name: "opportunities",
    key: "org_id, id",
    columns: &[
        kept("org_id", |o| o.org_id.into()),
        kept("id", |o| o.id.into()),
        set("client_id", |o| o.client_id.into()),
        set("prospect_name", |o| (&o.prospect_name).into()),
        set("prospect_email", |o| (&o.prospect_email).into()),
        set("prospect_phone", |o| (&o.prospect_phone).into()),
        // Written for finding duplicates (CSV import); derived from `prospect_phone`, so never read.
        set("prospect_phone_digits", |o| o.prospect_phone.as_deref().and_then(phone_digits).into()),
        set("category_id", |o| o.category_id.into()),
        set("title", |o| (&o.title).into()),
        set("description", |o| (&o.description).into()),
        set("estimated_value", |o| o.estimated_value.map(Money::cents).into()),
        set("probability", |o| o.stage.probability().into()),
        set("status", |o| o.stage.status().as_str().into()),
        set("source", |o| (&o.source).into()),
        set("assigned_to", |o| o.assigned_to.into()),
        set("follow_up_date", |o| o.follow_up_date.into()),
        set("follow_up_day", |o| o.follow_up_day.map(Day::number).into()),
        set("closed_at", |o| o.stage.closed_at().into()),
        set("closed_reason", |o| o.stage.closed_reason().map(str::to_owned).into()),
        set("transaction_id", |o| o.stage.transaction_id().into()),
        kept("created_by", |o| o.created_by.into()),
        kept("created_at", |o| o.created_at.into()),
        set("updated_at", |o| o.updated_at.into()),
        set("last_activity_at", |o| o.last_activity_at.into()),
        set("version", |o| o.version.into()),
    ],
    read: |row| {
        Ok(Opportunity {
            id: row.uuid("id")?,
            org_id: row.uuid("org_id")?,
            client_id: row.opt_uuid("client_id")?,
            prospect_name: row.opt_text("prospect_name")?,
            prospect_email: row.opt_text("prospect_email")?,
            prospect_phone: row.opt_text("prospect_phone")?,
            category_id: row.opt_uuid("category_id")?,
            title: row.text("title")?,
            description: row.opt_text("description")?,
            estimated_value: row.opt_int("estimated_value")?.map(Money::from_cents),
            stage: Stage::from_storage(
                parsed(row, "status", Status::parse)?,
                row.int32("probability")?,
                row.opt_timestamp("closed_at")?,
                row.opt_text("closed_reason")?,
                row.opt_uuid("transaction_id")?,
            )
            .map_err(corrupt)?,
            source: row.opt_text("source")?,
            assigned_to: row.opt_uuid("assigned_to")?,
            follow_up_date: row.opt_timestamp("follow_up_date")?,
            follow_up_day: row.opt_int("follow_up_day")?.map(Day::from_number),
            created_by: row.uuid("created_by")?,
            created_at: row.timestamp("created_at")?,
            updated_at: row.timestamp("updated_at")?,
            last_activity_at: row.timestamp("last_activity_at")?,
            version: row.int("version")?,
        })
    },
};

pub(super) const NOTES: Table<Note> = Table {
    name: "notes",
    key: "org_id, id",
    columns: &[
        kept("org_id", |n| n.org_id.into()),
        kept("id", |n| n.id.into()),
        kept("opportunity_id", |n| n.opportunity_id.into()),
        kept("content", |n| (&n.content).into()),
        kept("created_by", |n| n.created_by.into()),
        kept("created_at", |n| n.created_at.into()),
    ],
    read: |row| {
        Ok(Note {
            id: row.uuid("id")?,
            org_id: row.uuid("org_id")?,
            opportunity_id: row.uuid("opportunity_id")?,
            content: row.text("content")?,
            created_by: row.uuid("created_by")?,
            created_at: row.timestamp("created_at")?,
        })
    },
};

pub(super) const ACTIVITIES: Table<Activity> = Table {
    name: "activities",
    key: "org_id, id",
    columns: &[
        kept("org_id", |a| a.org_id.into()),
        kept("id", |a| a.id.into()),
        kept("opportunity_id", |a| a.opportunity_id.into()),
        kept("activity_type", |a| a.activity_type.as_str().into()),
        set("description", |a| (&a.description).into()),
        set("outcome", |a| (&a.outcome).into()),
        set("scheduled_at", |a| a.scheduled_at.into()),
        set("completed_at", |a| a.completed_at.into()),
        kept("created_by", |a| a.created_by.into()),
        kept("created_at", |a| a.created_at.into()),
    ],
    read: |row| {
        Ok(Activity {
            id: row.uuid("id")?,
            org_id: row.uuid("org_id")?,
            opportunity_id: row.uuid("opportunity_id")?,
            activity_type: parsed(row, "activity_type", ActivityType::parse)?,
            description: row.text("description")?,
            outcome: row.opt_text("outcome")?,
            scheduled_at: row.opt_timestamp("scheduled_at")?,
            completed_at: row.opt_timestamp("completed_at")?,
            created_by: row.uuid("created_by")?,
            created_at: row.timestamp("created_at")?,
        })
    },
};

/// Append-only: an entry is inserted and never saved again; only `left_at` is set, when the
/// next entry is appended ([`super::report_facts`]).
pub(super) const STAGE_HISTORY: Table<StageEntry> = Table {
    name: "stage_history",
    key: "org_id, id",
    columns: &[
        kept("org_id", |e| e.org_id.into()),
        kept("id", |e| e.id.into()),
        kept("opportunity_id", |e| e.opportunity_id.into()),
        kept("status", |e| e.status.as_str().into()),
        kept("entered_at", |e| e.entered_at.into()),
        kept("changed_by", |e| e.changed_by.into()),
        kept("left_at", |e| e.left_at.into()),
        kept("lead_created_at", |e| e.lead_created_at.into()),
    ],
    read: |row| {
        Ok(StageEntry {
            id: row.uuid("id")?,
            org_id: row.uuid("org_id")?,
            opportunity_id: row.uuid("opportunity_id")?,
            status: parsed(row, "status", Status::parse)?,
            entered_at: row.timestamp("entered_at")?,
            changed_by: row.opt_uuid("changed_by")?,
            left_at: row.opt_timestamp("left_at")?,
            lead_created_at: row.timestamp("lead_created_at")?,
        })
    },
};

pub(super) const CLIENTS: Table<Client> = Table {
    name: "clients",
    key: "org_id, id",
    columns: &[
        kept("org_id", |c| c.org_id.into()),
        kept("id", |c| c.id.into()),
        set("name", |c| (&c.name).into()),
        set("email", |c| (&c.email).into()),
        set("phone", |c| (&c.phone).into()),
        // Written for finding possible duplicates; derived from `phone`, so never read.
        set("phone_digits", |c| c.phone.as_deref().and_then(phone_digits).into()),
        kept("created_at", |c| c.created_at.into()),
        set("updated_at", |c| c.updated_at.into()),
    ],
    read: |row| {
        Ok(Client {
            id: row.uuid("id")?,
            org_id: row.uuid("org_id")?,
            name: row.text("name")?,
            email: row.opt_text("email")?,
            phone: row.opt_text("phone")?,
            created_at: row.timestamp("created_at")?,
            updated_at: row.timestamp("updated_at")?,
        })
    },
};

pub(super) const CATEGORIES: Table<Category> = Table {
    name: "categories",
    key: "org_id, id",
    columns: &[
        kept("org_id", |c| c.org_id.into()),
        kept("id", |c| c.id.into()),
        set("name", |c| (&c.name).into()),
        // Written for the unique index and lookups by name; derived from `name`, so never read.
        set("name_key", |c| c.name_key().into()),
        set("color", |c| (&c.color).into()),
        set("sort_order", |c| c.sort_order.into()),
        set("is_active", |c| c.is_active.into()),
        kept("created_at", |c| c.created_at.into()),
        set("updated_at", |c| c.updated_at.into()),
    ],
    read: |row| {
        Ok(Category {
            id: row.uuid("id")?,
            org_id: row.uuid("org_id")?,
            name: row.text("name")?,
            color: row.text("color")?,
            sort_order: row.int32("sort_order")?,
            is_active: row.boolean("is_active")?,
            created_at: row.timestamp("created_at")?,
            updated_at: row.timestamp("updated_at")?,
        })
    },
};

pub(super) const STAFF: Table<Staff> = Table {
    name: "staff",
    key: "org_id, id",
    columns: &[
        kept("org_id", |s| s.org_id.into()),
        kept("id", |s| s.id.into()),
        set("name", |s| (&s.name).into()),
        set("email", |s| (&s.email).into()),
        set("role", |s| s.role.as_str().into()),
        set("is_active", |s| s.is_active.into()),
        kept("created_at", |s| s.created_at.into()),
        set("updated_at", |s| s.updated_at.into()),
    ],
    read: |row| {
        Ok(Staff {
            id: row.uuid("id")?,
            org_id: row.uuid("org_id")?,
            name: row.text("name")?,
            email: row.text("email")?,
            role: parsed(row, "role", Role::parse)?,
            is_active: row.boolean("is_active")?,
            created_at: row.timestamp("created_at")?,
            updated_at: row.timestamp("updated_at")?,
        })
    },
};

pub(super) const LEAD_FORMS: Table<LeadForm> = Table {
    name: "lead_forms",
    key: "org_id, id",
    columns: &[
        kept("org_id", |f| f.org_id.into()),
        kept("id", |f| f.id.into()),
        kept("form_key", |f| (&f.form_key).into()),
        set("name", |f| (&f.name).into()),
        set("category_id", |f| f.category_id.into()),
        set("assigned_to", |f| f.assigned_to.into()),
        // One a line: a validated origin has no line break.
        set("allowed_origins", |f| f.allowed_origins.join("\n").into()),
        set("thank_you_url", |f| (&f.thank_you_url).into()),
        set("is_active", |f| f.is_active.into()),
        kept("created_by", |f| f.created_by.into()),
        kept("created_at", |f| f.created_at.into()),
        set("updated_at", |f| f.updated_at.into()),
    ],
    read: |row| {
        Ok(LeadForm {
            id: row.uuid("id")?,
            org_id: row.uuid("org_id")?,
            form_key: row.text("form_key")?,
            name: row.text("name")?,
            category_id: row.opt_uuid("category_id")?,
            assigned_to: row.opt_uuid("assigned_to")?,
            allowed_origins: row.text("allowed_origins")?.lines().map(str::to_owned).collect(),
            thank_you_url: row.opt_text("thank_you_url")?,
            is_active: row.boolean("is_active")?,
            created_by: row.uuid("created_by")?,
            created_at: row.timestamp("created_at")?,
            updated_at: row.timestamp("updated_at")?,
        })
    },
};

pub(super) const WEBHOOKS: Table<Webhook> = Table {
    name: "webhooks",
    key: "org_id, id",
    columns: &[
        kept("org_id", |w| w.org_id.into()),
        kept("id", |w| w.id.into()),
        set("url", |w| (&w.url).into()),
        // One a line.
        set("events", |w| w.events.iter().map(|kind| kind.as_str()).collect::<Vec<_>>().join("\n").into()),
        kept("secret", |w| (&w.secret).into()),
        set("is_active", |w| w.active.into()),
        set("disabled_reason", |w| (&w.disabled_reason).into()),
        kept("created_at", |w| w.created_at.into()),
        set("updated_at", |w| w.updated_at.into()),
    ],
    read: |row| {
        let events = row.text("events")?;
        Ok(Webhook {
            id: row.uuid("id")?,
            org_id: row.uuid("org_id")?,
            url: row.text("url")?,
            events: events.lines().map(|kind| EventType::parse(kind).ok_or_else(|| corrupt("events"))).collect::<Result<_>>()?,
            active: row.boolean("is_active")?,
            disabled_reason: row.opt_text("disabled_reason")?,
            secret: row.text("secret")?,
            created_at: row.timestamp("created_at")?,
            updated_at: row.timestamp("updated_at")?,
        })
    },
};

/// One row per organization, made with it; a stage's two settings are two columns.
pub(super) const PIPELINE_SETTINGS: Table<PipelineSettings> = Table {
    name: "pipeline_settings",
    key: "org_id",
    columns: &[
        kept("org_id", |p| p.org_id.into()),
        set("timezone", |p| p.timezone.name().into()),
        set("open_default_probability", |p| p.stages.open.default_probability.into()),
        set("open_rot_after_days", |p| p.stages.open.rot_after_days.into()),
        set("contacted_default_probability", |p| p.stages.contacted.default_probability.into()),
        set("contacted_rot_after_days", |p| p.stages.contacted.rot_after_days.into()),
        set("qualified_default_probability", |p| p.stages.qualified.default_probability.into()),
        set("qualified_rot_after_days", |p| p.stages.qualified.rot_after_days.into()),
        set("proposal_default_probability", |p| p.stages.proposal.default_probability.into()),
        set("proposal_rot_after_days", |p| p.stages.proposal.rot_after_days.into()),
        set("auto_stale", |p| p.auto_stale.into()),
    ],
    read: |row| {
        let stage = |name: &str| -> Result<StageSetting> {
            let rot_after_days = row.opt_int(&format!("{name}_rot_after_days"))?;
            Ok(StageSetting {
                default_probability: row.int32(&format!("{name}_default_probability"))?,
                rot_after_days: rot_after_days.map(|days| i32::try_from(days).map_err(|_| corrupt("rot_after_days"))).transpose()?,
            })
        };
        Ok(PipelineSettings {
            org_id: row.uuid("org_id")?,
            timezone: TimeZone::named(&row.text("timezone")?).ok_or_else(|| corrupt("timezone"))?,
            stages: StageSettings {
                open: stage("open")?,
                contacted: stage("contacted")?,
                qualified: stage("qualified")?,
                proposal: stage("proposal")?,
            },
            auto_stale: row.boolean("auto_stale")?,
        })
    },
};

#[cfg(test)]
mod tests {
    use domain::Timestamp;
    use uuid::Uuid;

    use super::*;
    use crate::OpenOptions;
    use crate::sql::{Backend, Run, SqlStore};

    fn ann() -> Client {
        let now = Timestamp::from_unix_micros(0).expect("an instant");
        Client {
            id: Uuid::nil(),
            org_id: Uuid::nil(),
            name: "Ann".into(),
            email: None,
            phone: Some("555 010-2030".into()),
            created_at: now,
            updated_at: now,
        }
    }

    #[test]
    fn an_update_writes_only_the_changed_columns_and_finds_the_row_by_its_key() {
        let before = ann();
        let after =
            Client { email: Some("ann@example.org".into()), updated_at: Timestamp::from_unix_micros(1).expect("an instant"), ..ann() };
        let statement = CLIENTS.update(&before, &after).expect("a change");
        assert_eq!(statement.sql, "UPDATE clients SET email = $1, updated_at = $2 WHERE org_id = $3 AND id = $4");
        assert_eq!(statement.params[0], Param::Text(Some("ann@example.org".into())));
        assert_eq!(statement.params[2..], [Param::Uuid(Some(Uuid::nil())), Param::Uuid(Some(Uuid::nil()))]);
        assert!(CLIENTS.update(&before, &ann()).is_none(), "nothing changed, nothing to write");
    }

    #[test]
    fn an_upsert_writes_every_column_and_updates_all_but_the_kept_ones() {
        let client = ann();
        let statement = CLIENTS.upsert(&client);
        assert_eq!(
            statement.sql,
            "INSERT INTO clients (org_id, id, name, email, phone, phone_digits, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (org_id, id) DO UPDATE SET name = excluded.name, email = excluded.email, phone = excluded.phone, \
             phone_digits = excluded.phone_digits, updated_at = excluded.updated_at"
        );
        assert!(matches!(
            &statement.params[..],
            [.., Param::Text(Some(phone)), Param::Text(Some(digits)), Param::Time(_), Param::Time(_)]
                if phone == "555 010-2030" && digits == "5550102030"
        ));
        assert_eq!(statement.params.len(), CLIENTS.columns.len());
    }

    /// Reading no row of each table names every column its description has, so a column that a
    /// migration of either engine lacks (or spells differently) fails here, by name.
    async fn every_described_column_exists<B: Backend>(store: SqlStore<B>) {
        let none = "WHERE 1 = 0";
        let selects = [
            OPPORTUNITIES.select(none),
            NOTES.select(none),
            ACTIVITIES.select(none),
            STAGE_HISTORY.select(none),
            CLIENTS.select(none),
            CATEGORIES.select(none),
            STAFF.select(none),
            LEAD_FORMS.select(none),
            WEBHOOKS.select(none),
            PIPELINE_SETTINGS.select(none),
        ];
        for select in selects {
            let sql = select.sql.clone();
            if let Err(error) = store.backend.reader().fetch_all(select).await {
                panic!("{sql}: {error}");
            }
        }
    }

    #[tokio::test]
    async fn every_described_column_exists_on_sqlite() {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let url = format!("sqlite://{}", dir.path().join("tables.db").display());
        every_described_column_exists(crate::sqlite::open(&url, &OpenOptions::default()).await.expect("open SQLite")).await;
    }

    #[tokio::test]
    #[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
    async fn every_described_column_exists_on_postgres() {
        let url = crate::testing::fresh_postgres_schema("tables").await;
        every_described_column_exists(crate::postgres::open(&url, &OpenOptions::default()).await.expect("open PostgreSQL")).await;
    }
}
