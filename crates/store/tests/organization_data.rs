//! One organization's data out, in and gone, below HTTP (the binary's tests drive the same over
//! the API): an export imported into the other engine exports again line for line the same and
//! agrees with a recount; a delete leaves no row of the organization in any table of the
//! database's catalogue, and the other organization's rows exactly as they were.

mod common;

use std::collections::BTreeMap;

use common::{Db, Engine};
use domain::auth::Actor;
use domain::webhook::{Attempt, TargetPolicy};
use domain::{Error, Input, Timestamp};
use opportunities_store::organization_data::{self, FORMAT, VERSION};
use opportunities_store::service::{self, CreatedOrganization, NewOrganization};
use opportunities_store::testing::recount::differences;
use opportunities_store::{AfterAttempt, Store, demo, tokens};
use serde_json::{Value, json};
use uuid::Uuid;

/// An organization with the demo clinic's data (leads in every stage with notes, activities and
/// history, clients, categories, staff, a lead form) and a webhook with events, deliveries and an
/// attempt, so that every copied table has rows.
async fn clinic(store: &dyn Store, name: &str) -> CreatedOrganization {
    let new = NewOrganization { name: name.into(), owner_name: "Olivia".into(), owner_email: "olivia@example.com".into(), token: None };
    let created = service::create_organization(store, new).await.expect("an organization");
    let owner = owner(store, &created.token).await;
    let hook = json!({"url": "http://127.0.0.1:9/hook", "events": ["opportunity.created", "note.created"]});
    let policy = TargetPolicy { allow_private: true };
    service::create_webhook(store, &owner, policy, Input::readable(serde_json::from_value(hook).expect("a webhook")))
        .await
        .expect("a webhook");
    demo::fill(store, &created, demo::SEED).await.expect("the demo clinic");
    let now = Timestamp::now();
    let later = Timestamp::from_unix_micros(now.unix_micros() + 60_000_000).expect("an instant");
    let due = store.claim_deliveries(now, later, 1).await.expect("claim a delivery");
    let attempt =
        Attempt { id: Uuid::now_v7(), started_at: now, duration_ms: 12, response_status: Some(503), error: None, succeeded: false };
    for delivery in &due {
        store.record_attempt(delivery, &attempt, AfterAttempt::RetryAt(later)).await.expect("record an attempt");
    }
    created
}

async fn owner(store: &dyn Store, token: &str) -> Actor {
    store.authenticate(&tokens::hash(token)).await.expect("authenticate").expect("the owner's token")
}

async fn export(store: &dyn Store, org_id: Uuid) -> Vec<Value> {
    let mut out = Vec::new();
    organization_data::export(store, org_id, &mut out).await.expect("export");
    out.split(|byte| *byte == b'\n')
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).expect("a JSON line"))
        .collect()
}

/// The rows of an export, without its header (which says when it was made) and last line.
fn rows_of(export: &[Value]) -> &[Value] {
    &export[1..export.len() - 1]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
async fn an_export_from_sqlite_imports_into_postgres_unchanged() {
    round_trip(Engine::sqlite().await, Engine::postgres().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
async fn an_export_from_postgres_imports_into_sqlite_unchanged() {
    round_trip(Engine::postgres().await, Engine::sqlite().await).await;
}

async fn round_trip(from: Engine, to: Engine) {
    let created = clinic(from.store.as_ref(), "Lumen Med Spa").await;
    let exported = export(from.store.as_ref(), created.org_id).await;
    assert_eq!(exported[0]["format"], FORMAT);
    assert_eq!(exported[0]["version"], VERSION);
    let tables: BTreeMap<&str, usize> =
        exported.iter().filter_map(|line| line["table"].as_str()).fold(BTreeMap::new(), |mut counts, table| {
            *counts.entry(table).or_default() += 1;
            counts
        });
    for table in [
        "staff",
        "opportunities",
        "notes",
        "activities",
        "stage_history",
        "clients",
        "lead_forms",
        "webhook_deliveries",
        "webhook_attempts",
    ] {
        assert!(tables.get(table).is_some_and(|count| *count > 0), "the export has rows of {table}: {tables:?}");
    }
    for secret in ["api_tokens", "staff_passwords", "web_sessions", "pipeline_totals"] {
        assert!(!tables.contains_key(secret), "{secret} does not travel");
    }

    let mut file = Vec::new();
    organization_data::export(from.store.as_ref(), created.org_id, &mut file).await.expect("export");
    let imported = organization_data::import(to.store.as_ref(), &mut file.as_slice()).await.expect("import");
    assert_eq!(imported.org_id, created.org_id);
    let again = export(to.store.as_ref(), created.org_id).await;
    assert_eq!(rows_of(&again), rows_of(&exported), "the imported organization exports the same rows");
    let wrong = differences(&to.db).await;
    assert!(wrong.is_empty(), "the import left the totals wrong:\n{}", wrong.join("\n"));
    let token = imported.owner_token.expect("a new token for the owner");
    assert_eq!(owner(to.store.as_ref(), &token.token).await.staff_id, created.staff_id);

    let refused = organization_data::import(to.store.as_ref(), &mut file.as_slice()).await;
    assert!(matches!(&refused, Err(Error::Conflict(message)) if message.contains("exists")), "{refused:?}");
    assert_eq!(rows_of(&export(to.store.as_ref(), created.org_id).await), rows_of(&exported), "a refused import wrote nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_reads_one_snapshot_while_writes_go_on_on_sqlite() {
    one_snapshot(Engine::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
async fn an_export_reads_one_snapshot_while_writes_go_on_on_postgres() {
    one_snapshot(Engine::postgres().await).await;
}

/// A lead written (and committed) while the export reads the leads is not in it, nor are its
/// stage history entry and events, which the export reads later: the export is the
/// organization as it was when it began, and the write was not held up.
async fn one_snapshot(engine: Engine) {
    let store = engine.store.as_ref();
    let created = clinic(store, "Busy Clinic").await;
    let owner = owner(store, &created.token).await;
    let before = export(store, created.org_id).await;
    let runtime = tokio::runtime::Handle::current();
    let mut written = None;
    let mut exported = Vec::new();
    store
        .export_organization(created.org_id, &mut |table, row| {
            if table == "opportunities" && written.is_none() {
                let lead = Input::readable(serde_json::from_value(json!({"title": "Walk-in", "prospect_name": "Eve"})).expect("a lead"));
                let write = service::create_opportunity(store, &owner, lead);
                written = Some(tokio::task::block_in_place(|| runtime.block_on(write)).expect("a write during the export").opportunity.id);
            }
            exported.push(json!({"table": table, "row": row}));
            Ok(())
        })
        .await
        .expect("export");
    let lead = written.expect("the export read leads");
    assert!(exported.iter().all(|line| line["row"]["id"] != lead.to_string()), "the lead written meanwhile is not exported");
    let new: Vec<_> = exported.iter().filter(|line| !rows_of(&before).contains(line)).collect();
    assert!(new.is_empty(), "the export has rows written after it began: {new:?}");
    assert_eq!(exported, rows_of(&before), "the export is the organization as it was");
    assert!(store.opportunity_view(created.org_id, lead).await.expect("read").is_some(), "the write committed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_short_or_foreign_file_imports_nothing_on_sqlite() {
    let (from, to) = (Engine::sqlite().await, Engine::sqlite().await);
    let created = clinic(from.store.as_ref(), "Lumen Med Spa").await;
    let mut file = Vec::new();
    organization_data::export(from.store.as_ref(), created.org_id, &mut file).await.expect("export");
    let text = String::from_utf8(file).expect("UTF-8");
    let lines: Vec<&str> = text.lines().collect();

    let cut_short = lines[..lines.len() / 2].join("\n");
    let newer = text.replacen(&format!("\"version\":{VERSION}"), "\"version\":99", 1);
    let other_org = lines.iter().map(|line| line.replacen(&created.org_id.to_string(), &Uuid::now_v7().to_string(), 1)).collect::<Vec<_>>();
    // A row of another organization slipped into the file: the header names one, the rows another.
    let smuggled = [lines[0].to_owned()].into_iter().chain(other_org[1..].iter().cloned()).collect::<Vec<_>>().join("\n");
    let children_first = [lines[0], lines[lines.len() - 2], lines[1]].join("\n");
    let nothing = [lines[0], r#"{"end":{}}"#].join("\n");
    for (what, file) in [
        ("cut short", cut_short),
        ("version 99", newer),
        ("another organization's rows", smuggled),
        ("out of order", children_first),
        ("no organization", nothing),
    ] {
        let refused = organization_data::import(to.store.as_ref(), &mut file.as_bytes()).await;
        assert!(matches!(refused, Err(Error::Conflict(_))), "{what}: {refused:?}");
        assert!(to.store.organization_name(created.org_id).await.expect("read").is_none(), "{what}: nothing imported");
    }
    assert!(counts_by_organization(&to.db).await.is_empty(), "no row of any table was written");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delete_removes_one_organization_and_nothing_else_on_sqlite() {
    delete_one_of_two(Engine::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
async fn a_delete_removes_one_organization_and_nothing_else_on_postgres() {
    delete_one_of_two(Engine::postgres().await).await;
}

async fn delete_one_of_two(engine: Engine) {
    let store = engine.store.as_ref();
    let (gone, kept) = (clinic(store, "Gone Clinic").await, clinic(store, "Kept Clinic").await);
    let kept_before = export(store, kept.org_id).await;
    let counts_before = counts_by_organization(&engine.db).await;
    assert!(counts_before.keys().any(|(_, org_id)| *org_id == gone.org_id));

    let refused = organization_data::delete(store, gone.org_id, "Gone clinic").await;
    assert!(matches!(refused, Err(Error::Conflict(_))), "the name must match exactly: {refused:?}");
    assert_eq!(counts_by_organization(&engine.db).await, counts_before, "a refused delete deletes nothing");

    let deleted = organization_data::delete(store, gone.org_id, "Gone Clinic").await.expect("delete");
    assert_eq!(deleted.rows.get("organizations"), Some(&1));
    let counts_after = counts_by_organization(&engine.db).await;
    let left: Vec<_> = counts_after.iter().filter(|((_, org_id), _)| *org_id == gone.org_id).collect();
    assert!(left.is_empty(), "rows of the deleted organization are left: {left:?}");
    let kept_counts = |counts: &BTreeMap<(String, Uuid), i64>| {
        counts.iter().filter(|((_, org_id), _)| *org_id == kept.org_id).map(|(k, v)| (k.clone(), *v)).collect::<Vec<_>>()
    };
    assert_eq!(kept_counts(&counts_after), kept_counts(&counts_before), "the other organization's rows are all there");
    assert_eq!(rows_of(&export(store, kept.org_id).await), rows_of(&kept_before), "and unchanged");
    let wrong = differences(&engine.db).await;
    assert!(wrong.is_empty(), "the delete left the totals wrong:\n{}", wrong.join("\n"));
    assert!(store.authenticate(&tokens::hash(&gone.token)).await.expect("authenticate").is_none(), "its tokens are gone");
    assert!(matches!(organization_data::delete(store, gone.org_id, "Gone Clinic").await, Err(Error::NotFound(_))));
}

/// How many rows each organization has in each table of the catalogue with an `org_id` column
/// (and `organizations` itself), whichever tables the migrations have made by now.
async fn counts_by_organization(db: &Db) -> BTreeMap<(String, Uuid), i64> {
    let tables = match db {
        Db::Sqlite(_) => {
            "SELECT m.name FROM sqlite_master m WHERE m.type = 'table'
                 AND EXISTS (SELECT 1 FROM pragma_table_info(m.name) c WHERE c.name = 'org_id')"
        }
        Db::Postgres(_) => {
            "SELECT CAST(table_name AS text) FROM information_schema.columns WHERE table_schema = current_schema() AND column_name = 'org_id'"
        }
    };
    let mut counts = BTreeMap::new();
    for (table,) in db.rows::<(String,)>(tables).await {
        for (org_id, count) in db.rows::<(Uuid, i64)>(&format!("SELECT org_id, COUNT(*) FROM {table} GROUP BY org_id")).await {
            counts.insert((table.clone(), org_id), count);
        }
    }
    for (org_id,) in db.rows::<(Uuid,)>("SELECT id FROM organizations").await {
        counts.insert(("organizations".into(), org_id), 1);
    }
    counts
}
