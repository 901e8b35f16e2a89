//! The stage history (issue 12, item 3): every status a lead enters is appended, by whichever
//! path moved it, and `GET …/history` answers it oldest first with how long each stage lasted.

mod common;

use common::{Caller, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

suite!(
    a_new_lead_enters_its_first_stage_by_its_creator,
    every_status_move_is_entered_in_order_and_other_edits_are_not,
    a_website_lead_enters_its_first_stage_by_the_system,
    deleting_a_lead_deletes_its_history,
    another_organizations_lead_has_no_history_to_read,
    migration_0014_gives_each_existing_lead_its_current_stage,
);

async fn history(app: &TestApp, caller: &Caller, path: &str, query: &str) -> Value {
    app.get(caller, &format!("{path}/history{query}")).await.expect(200).body
}

fn entries(body: &Value) -> Vec<Value> {
    body["data"].as_array().expect("a list").clone()
}

fn instant(value: &Value) -> time::OffsetDateTime {
    let text = value.as_str().expect("a timestamp");
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("RFC 3339")
}

/// Each stage ends when the next begins and lasted the whole seconds between; the last one is
/// the current stage.
fn assert_chained(entries: &[Value]) {
    for pair in entries.windows(2) {
        assert_eq!(pair[0]["left_at"], pair[1]["entered_at"], "{pair:?}");
        let lasted = (instant(&pair[1]["entered_at"]) - instant(&pair[0]["entered_at"])).whole_seconds();
        assert_eq!(pair[0]["seconds_in_stage"], lasted, "{pair:?}");
    }
    let current = entries.last().expect("an entry");
    assert_eq!(current["left_at"], Value::Null, "{current}");
    assert!(current["seconds_in_stage"].as_i64().is_some_and(|s| s >= 0), "{current}");
}

fn statuses(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|entry| entry["status"].as_str().expect("a status")).collect()
}

async fn a_new_lead_enters_its_first_stage_by_its_creator(app: TestApp) {
    let member = app.staff("member").await;
    let lead = app.lead(&member, json!({"status": "qualified"})).await.expect(201);
    let body = history(&app, &app.owner, &format!("/opportunities/{}", lead.id()), "").await;
    let entries = entries(&body);
    assert_eq!(statuses(&entries), ["qualified"]);
    assert_eq!(entries[0]["entered_at"], lead.data()["created_at"]);
    assert_eq!(entries[0]["changed_by"], json!(member.staff_id));
    assert_chained(&entries);
    assert_eq!(body["meta"]["total"], 1);
}

async fn every_status_move_is_entered_in_order_and_other_edits_are_not(app: TestApp) {
    let member = app.staff("member").await;
    let path = format!("/opportunities/{}", app.lead(&app.owner, json!({})).await.expect(201).id());
    app.patch(&member, &path, json!({"status": "contacted"})).await.expect(200);
    app.patch(&app.owner, &path, json!({"title": "Botox, two areas", "status": "contacted"})).await.expect(200);
    app.post(&app.owner, &format!("{path}/close"), json!({"won": true})).await.expect(200);
    app.patch(&app.owner, &path, json!({"status": "qualified"})).await.expect(200);
    app.post(&member, &format!("{path}/close"), json!({"won": false, "reason": "price"})).await.expect(200);

    let body = history(&app, &app.owner, &path, "").await;
    let all = entries(&body);
    assert_eq!(statuses(&all), ["open", "contacted", "won", "qualified", "lost"], "an edit that keeps the status adds nothing");
    let movers: Vec<_> = all.iter().map(|entry| entry["changed_by"].as_str().unwrap().to_owned()).collect();
    let (owner, member) = (app.owner.staff_id.clone(), member.staff_id);
    assert_eq!(movers, [owner.clone(), member.clone(), owner.clone(), owner, member]);
    assert_chained(&all);
    let lead = app.get(&app.owner, &path).await.expect(200);
    assert_eq!(all[4]["entered_at"], lead.data()["closed_at"]);
    assert_eq!(body["meta"]["total"], 5);

    let page = history(&app, &app.owner, &path, "?limit=2&offset=1").await;
    assert_eq!(entries(&page), all[1..3], "a page's last stage ends when the next page's first begins");
    assert_eq!((page["meta"]["total"].clone(), page["meta"]["limit"].clone()), (json!(5), json!(2)));
}

async fn a_website_lead_enters_its_first_stage_by_the_system(app: TestApp) {
    let form = app.post(&app.owner, "/lead-forms", json!({"name": "Botox inquiries"})).await.expect(201);
    let submissions = format!("/public/lead-forms/{}/submissions", form.data()["form_key"].as_str().unwrap());
    TestApp::reply(app.request(Method::POST, &submissions).json(&json!({"name": "Jane", "email": "jane@example.com"}))).await.expect(201);
    let lead = app.all_leads(&app.owner).await.pop().expect("the website lead");
    let entries = entries(&history(&app, &app.owner, &format!("/opportunities/{}", lead["id"].as_str().unwrap()), "").await);
    assert_eq!(statuses(&entries), ["open"]);
    assert_eq!(entries[0]["changed_by"], Value::Null, "no staff member moved it");
    assert_eq!(entries[0]["entered_at"], lead["created_at"]);
}

async fn deleting_a_lead_deletes_its_history(app: TestApp) {
    let kept = format!("/opportunities/{}", app.lead(&app.owner, json!({})).await.expect(201).id());
    let deleted = format!("/opportunities/{}", app.lead(&app.owner, json!({})).await.expect(201).id());
    app.post(&app.owner, &format!("{deleted}/close"), json!({"won": false})).await.expect(200);
    assert_eq!(app.stored_count("SELECT COUNT(*) FROM stage_history").await, 3);
    app.delete(&app.owner, &deleted).await.expect(200);
    app.get(&app.owner, &format!("{deleted}/history")).await.expect_error(404, "not_found");
    assert_eq!(app.stored_count("SELECT COUNT(*) FROM stage_history").await, 1, "only the kept lead's entry is left");
    assert_eq!(statuses(&entries(&history(&app, &app.owner, &kept, "").await)), ["open"]);
}

async fn another_organizations_lead_has_no_history_to_read(app: TestApp) {
    let path = format!("/opportunities/{}/history", app.lead(&app.owner, json!({})).await.expect(201).id());
    let other = app.other_org().await;
    app.get(&other, &path).await.expect_error(404, "not_found");
    app.get(&app.owner, &path).await.expect(200);
}

/// Runs migration 0014 again on leads it did not see: their history is dropped behind the
/// service's back, as on a database from before it.
async fn migration_0014_gives_each_existing_lead_its_current_stage(app: TestApp) {
    let owner = &app.owner;
    let open = format!("/opportunities/{}", app.lead(owner, json!({})).await.expect(201).id());
    let contacted = format!("/opportunities/{}", app.lead(owner, json!({})).await.expect(201).id());
    app.patch(owner, &contacted, json!({"status": "contacted"})).await.expect(200);
    let won = format!("/opportunities/{}", app.lead(owner, json!({})).await.expect(201).id());
    app.post(owner, &format!("{won}/close"), json!({"won": true})).await.expect(200);
    for path in [&open, &contacted, &won] {
        app.patch(owner, path, json!({"title": "Edited after its last move"})).await.expect(200);
    }

    app.execute_sql("DROP TABLE stage_history", "DROP TABLE stage_history").await;
    app.execute_sql(
        include_str!("../../store/migrations/sqlite/0014_stage_history.sql"),
        include_str!("../../store/migrations/postgres/0014_stage_history.sql"),
    )
    .await;
    // Migration 0024 then adds when each stay ended: never yet, with one entry a lead.
    app.execute_sql("ALTER TABLE stage_history ADD COLUMN left_at INTEGER", "ALTER TABLE stage_history ADD COLUMN left_at timestamptz")
        .await;
    // And migration 0025 when each lead was created.
    app.execute_sql(
        "ALTER TABLE stage_history ADD COLUMN lead_created_at INTEGER NOT NULL DEFAULT 0;
         UPDATE stage_history SET lead_created_at = (SELECT o.created_at FROM opportunities o
             WHERE o.org_id = stage_history.org_id AND o.id = stage_history.opportunity_id)",
        "ALTER TABLE stage_history ADD COLUMN lead_created_at timestamptz;
         UPDATE stage_history SET lead_created_at = (SELECT o.created_at FROM opportunities o
             WHERE o.org_id = stage_history.org_id AND o.id = stage_history.opportunity_id)",
    )
    .await;

    for (path, status, since) in [(&open, "open", "created_at"), (&contacted, "contacted", "updated_at"), (&won, "won", "closed_at")] {
        let lead = app.get(owner, path).await.expect(200);
        let entries = entries(&history(&app, owner, path, "").await);
        assert_eq!(statuses(&entries), [status], "{path}");
        assert_eq!(entries[0]["entered_at"], lead.data()[since], "{status} since its {since}");
        assert_eq!((entries[0]["changed_by"].clone(), entries[0]["left_at"].clone()), (Value::Null, Value::Null));
    }
}
