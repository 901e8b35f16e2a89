//! Rotting and the stale sweep (issue 12, item 4): every view's `last_activity_at` and
//! `rotting`, the `?rotting=` filter, and the sweep that moves rotted leads to `stale` as the
//! system, once each, however many sweeps run at once.

mod common;

use common::{Caller, TestApp};
use domain::Timestamp;
use serde_json::{Value, json};
use store::service;

suite!(
    last_activity_moves_with_notes_activities_and_updates,
    a_lead_rots_when_its_stages_days_have_passed,
    the_rotting_filter_lists_exactly_them_with_other_filters_and_pages,
    the_sweep_moves_rotted_leads_to_stale_as_the_system,
    concurrent_sweeps_move_each_lead_once,
);

const DAY_MICROS: i64 = 86_400_000_000;

fn instant(view: &Value, field: &str) -> Timestamp {
    Timestamp::parse(view[field].as_str().expect("an instant")).expect("an RFC 3339 instant")
}

fn plus(at: Timestamp, micros: i64) -> Timestamp {
    Timestamp::from_unix_micros(at.unix_micros() + micros).expect("a representable instant")
}

async fn set_settings(app: &TestApp, caller: &Caller, body: Value) {
    app.patch(caller, "/pipeline-settings", body).await.expect(200);
}

async fn view(app: &TestApp, caller: &Caller, id: &str) -> Value {
    app.get(caller, &format!("/opportunities/{id}")).await.expect(200).data().clone()
}

async fn listed_ids(app: &TestApp, caller: &Caller, query: &str) -> (Vec<String>, i64) {
    let page = app.get(caller, &format!("/opportunities?{query}")).await.expect(200);
    let ids = page.data().as_array().expect("a list").iter().map(|o| o["id"].as_str().expect("an id").to_owned()).collect();
    (ids, page.body["meta"]["total"].as_i64().expect("a total"))
}

async fn last_activity_moves_with_notes_activities_and_updates(app: TestApp) {
    let created = app.lead(&app.owner, json!({})).await.expect(201).data().clone();
    assert_eq!(created["last_activity_at"], created["created_at"], "a new lead was last active when it was created");
    assert_eq!(created["rotting"], false);
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/opportunities/{id}");

    let note = app.post(&app.owner, &format!("{path}/notes"), json!({"content": "Wants a quote."})).await.expect(201);
    let after_note = view(&app, &app.owner, &id).await;
    assert_eq!(after_note["last_activity_at"], note.data()["created_at"], "a note moves it");
    assert_eq!(after_note["version"], created["version"], "without changing the lead");

    let activity = app
        .post(&app.owner, &format!("{path}/activities"), json!({"activity_type": "call", "description": "Called back"}))
        .await
        .expect(201);
    let after_activity = view(&app, &app.owner, &id).await;
    assert_eq!(after_activity["last_activity_at"], activity.data()["created_at"], "an activity moves it");
    assert!(instant(&after_activity, "last_activity_at") > instant(&after_note, "last_activity_at"));

    let updated = app.patch(&app.owner, &path, json!({"description": "Botox, two areas"})).await.expect(200).data().clone();
    assert_eq!(updated["last_activity_at"], updated["updated_at"], "an update moves it");
    assert!(instant(&updated, "last_activity_at") > instant(&after_activity, "last_activity_at"));
    let listed = app.all_leads(&app.owner).await;
    assert_eq!(listed[0]["last_activity_at"], updated["last_activity_at"], "the list shows it too");
}

async fn a_lead_rots_when_its_stages_days_have_passed(mut app: TestApp) {
    set_settings(&app, &app.owner, json!({"stages": {"open": {"rot_after_days": 3}}})).await;
    let owner = app.owner.clone();
    let open = app.lead(&owner, json!({})).await.expect(201).data().clone();
    let id = open["id"].as_str().unwrap().to_owned();
    // Leads in a stage that never rots, won, lost or stale never rot, however quiet.
    let contacted = app.lead(&owner, json!({"status": "contacted"})).await.expect(201).id();
    let won = app.lead(&owner, json!({})).await.expect(201).id();
    app.post(&owner, &format!("/opportunities/{won}/close"), json!({"won": true})).await.expect(200);
    let stale = app.lead(&owner, json!({"status": "stale"})).await.expect(201).id();
    let quiet_since = instant(&open, "last_activity_at");

    app.clock_at(&plus(quiet_since, 3 * DAY_MICROS - 1).to_string()).await;
    assert_eq!(view(&app, &owner, &id).await["rotting"], false, "a microsecond before three days");
    assert_eq!(listed_ids(&app, &owner, "rotting=true").await, (vec![], 0));

    app.clock_at(&plus(quiet_since, 3 * DAY_MICROS).to_string()).await;
    assert_eq!(view(&app, &owner, &id).await["rotting"], true, "three days to the microsecond");
    assert_eq!(listed_ids(&app, &owner, "rotting=true").await, (vec![id.clone()], 1));

    app.clock_at(&plus(quiet_since, 400 * DAY_MICROS).to_string()).await;
    for other in [&contacted, &won, &stale] {
        assert_eq!(view(&app, &owner, other).await["rotting"], false, "{other} never rots");
    }
    assert_eq!(listed_ids(&app, &owner, "rotting=true").await, (vec![id.clone()], 1));
    let not_rotting = listed_ids(&app, &owner, "rotting=false").await;
    assert_eq!(not_rotting.1, 3);
    assert!(!not_rotting.0.contains(&id));

    // A note starts the count again.
    app.post(&owner, &format!("/opportunities/{id}/notes"), json!({"content": "Still interested"})).await.expect(201);
    app.clock_at(&plus(quiet_since, 3 * DAY_MICROS).to_string()).await;
    assert_eq!(view(&app, &owner, &id).await["rotting"], false);
}

async fn the_rotting_filter_lists_exactly_them_with_other_filters_and_pages(mut app: TestApp) {
    set_settings(&app, &app.owner, json!({"stages": {"open": {"rot_after_days": 1}, "qualified": {"rot_after_days": 2}}})).await;
    let owner = app.owner.clone();
    let mut rotting = Vec::new();
    for source in ["website", "website", "referral"] {
        rotting.push(app.lead(&owner, json!({"source": source})).await.expect(201).id());
    }
    rotting.push(app.lead(&owner, json!({"status": "qualified", "source": "website"})).await.expect(201).id());
    let fresh = app.lead(&owner, json!({})).await.expect(201).data().clone();
    let never = app.lead(&owner, json!({"status": "contacted"})).await.expect(201).id();
    // Two and a half days after the fresh lead, made last, and a day after a note on it.
    let now = plus(instant(&fresh, "created_at"), 5 * DAY_MICROS / 2);
    app.execute_sql(
        "UPDATE opportunities SET last_activity_at = last_activity_at + 172800000000 WHERE status = 'open' AND source IS NULL",
        "UPDATE opportunities SET last_activity_at = last_activity_at + interval '2 days' WHERE status = 'open' AND source IS NULL",
    )
    .await;
    app.clock_at(&now.to_string()).await;

    let (mut ids, total) = listed_ids(&app, &owner, "rotting=true&limit=200").await;
    ids.sort();
    let mut expected = rotting.clone();
    expected.sort();
    assert_eq!((ids, total), (expected, 4), "the open and qualified leads gone quiet; not the fresh or the contacted one");
    assert!(!listed_ids(&app, &owner, "rotting=true").await.0.contains(&never));

    let (first, total) = listed_ids(&app, &owner, "rotting=true&limit=3&sort=created_at").await;
    let (second, _) = listed_ids(&app, &owner, "rotting=true&limit=3&offset=3&sort=created_at").await;
    assert_eq!((first.len(), second.len(), total), (3, 1, 4), "paginated");
    assert_eq!([first, second].concat(), rotting, "in the order asked");

    assert_eq!(listed_ids(&app, &owner, "rotting=true&source=website").await.1, 3);
    assert_eq!(listed_ids(&app, &owner, "rotting=true&status=qualified").await.0, vec![rotting[3].clone()]);
    assert_eq!(listed_ids(&app, &owner, "rotting=true&status=contacted").await.1, 0);
    assert_eq!(listed_ids(&app, &owner, "rotting=true&search=botox").await.1, 4);
    assert_eq!(listed_ids(&app, &owner, "rotting=false").await.1, 2);
    app.get(&owner, "/opportunities?rotting=maybe").await.expect(400);
}

async fn quiet_leads(app: &TestApp, caller: &Caller, count: usize) -> Vec<String> {
    let mut ids = Vec::new();
    for _ in 0..count {
        ids.push(app.lead(caller, json!({})).await.expect(201).id());
    }
    ids
}

async fn stored(app: &TestApp, sql: &str) -> i64 {
    app.stored_count(sql).await
}

async fn the_sweep_moves_rotted_leads_to_stale_as_the_system(app: TestApp) {
    let owner = app.owner.clone();
    set_settings(&app, &owner, json!({"stages": {"open": {"rot_after_days": 1}}})).await;
    let quiet = quiet_leads(&app, &owner, 2).await;
    let contacted = app.lead(&owner, json!({"status": "contacted"})).await.expect(201).id();
    let later = plus(Timestamp::now(), 2 * DAY_MICROS);
    assert_eq!(service::sweep(app.store.as_ref(), later).await.unwrap(), 0, "auto_stale is off");

    set_settings(&app, &owner, json!({"auto_stale": true})).await;
    let other = app.other_org().await;
    let elsewhere = app.lead(&other, json!({})).await.expect(201).id();
    assert_eq!(service::sweep(app.store.as_ref(), later).await.unwrap(), 2);
    for id in &quiet {
        let lead = view(&app, &owner, id).await;
        assert_eq!((lead["status"].as_str(), lead["probability"].as_i64()), (Some("stale"), Some(10)));
        let history = app.get(&owner, &format!("/opportunities/{id}/history")).await.expect(200);
        let entries = history.data().as_array().unwrap().clone();
        assert_eq!(entries.len(), 2);
        assert_eq!((entries[1]["status"].as_str(), &entries[1]["changed_by"]), (Some("stale"), &Value::Null), "moved by the system");
        let activities = app.get(&owner, &format!("/opportunities/{id}/activities")).await.expect(200);
        let changes: Vec<&Value> = activities.data().as_array().unwrap().iter().filter(|a| a["activity_type"] == "status_change").collect();
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0]["description"], "Status changed from open to stale by the system: no activity for 1 day");
    }
    assert_eq!(view(&app, &owner, &contacted).await["status"], "contacted", "its stage never rots");
    assert_eq!(view(&app, &other, &elsewhere).await["status"], "open", "the other organization keeps auto_stale off");
    assert_eq!(service::sweep(app.store.as_ref(), later).await.unwrap(), 0, "stale leads never rot");
}

async fn concurrent_sweeps_move_each_lead_once(app: TestApp) {
    let owner = app.owner.clone();
    set_settings(&app, &owner, json!({"auto_stale": true, "stages": {"open": {"rot_after_days": 0}}})).await;
    // More than one batch of the sweep.
    let leads = quiet_leads(&app, &owner, 130).await;
    let now = Timestamp::now();
    let (first, second) = tokio::join!(service::sweep(app.store.as_ref(), now), service::sweep(app.store.as_ref(), now));
    let moved = first.unwrap() + second.unwrap();
    assert_eq!(moved, 130, "every lead moved, by one sweep or the other");
    assert_eq!(stored(&app, "SELECT COUNT(*) FROM stage_history WHERE status = 'stale'").await, 130, "one history entry each");
    assert_eq!(stored(&app, "SELECT COUNT(*) FROM activities WHERE activity_type = 'status_change'").await, 130, "one activity each");
    let listed = app.all_leads(&owner).await;
    assert!(listed.iter().all(|lead| lead["status"] == "stale"));
    assert_eq!(listed.len(), leads.len());
}
