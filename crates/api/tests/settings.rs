//! Pipeline settings per organization (issue 12, items 1 and 2): who may read and change them,
//! what a valid setting is, the default probabilities a lead gets on creation and on a stage
//! move, and the organization's time zone deciding what is due today, in the statistics and in
//! the list, around local midnight and on the days the clocks change.

mod common;

use common::{Caller, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

suite!(
    every_organization_starts_with_the_standard_settings,
    owners_and_admins_change_the_settings_members_read_them,
    bad_settings_are_refused_by_field_and_change_nothing,
    a_new_lead_gets_its_stages_default_probability,
    a_stage_move_carries_a_default_probability_and_keeps_a_chosen_one,
    website_and_imported_leads_follow_the_settings,
    follow_ups_are_due_by_midnight_in_los_angeles,
    follow_ups_are_due_by_midnight_in_tonga,
    the_day_the_clocks_change_is_23_or_25_hours_long,
    a_new_time_zone_counts_every_follow_up_again,
    leads_written_while_the_zone_changes_are_counted_in_the_new_one,
);

const LOS_ANGELES: &str = "America/Los_Angeles";
const TONGA: &str = "Pacific/Tongatapu";

fn standard_stage() -> Value {
    json!({"default_probability": 10, "rot_after_days": null})
}

async fn settings(app: &TestApp, caller: &Caller) -> Value {
    app.get(caller, "/pipeline-settings").await.expect(200).data().clone()
}

async fn set(app: &TestApp, caller: &Caller, body: Value) -> Value {
    app.patch(caller, "/pipeline-settings", body).await.expect(200).data().clone()
}

async fn every_organization_starts_with_the_standard_settings(app: TestApp) {
    let data = settings(&app, &app.owner).await;
    let stages =
        json!({"open": standard_stage(), "contacted": standard_stage(), "qualified": standard_stage(), "proposal": standard_stage()});
    assert_eq!(data, json!({"timezone": "UTC", "stages": stages, "auto_stale": false}));
    let other = app.other_org().await;
    assert_eq!(settings(&app, &other).await, data, "each organization has its own, standard to begin with");
}

async fn owners_and_admins_change_the_settings_members_read_them(app: TestApp) {
    let (admin, member) = (app.staff("admin").await, app.staff("member").await);
    let changed = set(&app, &app.owner, json!({"timezone": "america/los_angeles", "stages": {"qualified": {"rot_after_days": 14}}})).await;
    assert_eq!(changed["timezone"], LOS_ANGELES, "stored as the database spells it");
    assert_eq!(changed["stages"]["qualified"], json!({"default_probability": 10, "rot_after_days": 14}));

    let changed = set(&app, &admin, json!({"stages": {"qualified": {"default_probability": 60}}, "auto_stale": true})).await;
    assert_eq!(changed["stages"]["qualified"], json!({"default_probability": 60, "rot_after_days": 14}), "only the given fields change");
    assert_eq!((changed["timezone"].clone(), changed["auto_stale"].clone()), (json!(LOS_ANGELES), json!(true)));
    assert_eq!(changed["stages"]["open"], standard_stage());
    assert_eq!(settings(&app, &member).await, changed, "every role reads them");

    let refused = app.patch(&member, "/pipeline-settings", json!({"timezone": "UTC"})).await.expect_error(403, "forbidden");
    assert!(refused.body["error"]["message"].as_str().is_some());
    let refused = app.patch(&member, "/pipeline-settings", json!({"timezone": "Mars/Olympus_Mons"})).await;
    refused.expect_error(403, "forbidden");
    assert_eq!(settings(&app, &app.owner).await, changed, "a refused change changes nothing");

    let cleared = set(&app, &app.owner, json!({"stages": {"qualified": {"rot_after_days": null}}})).await;
    assert_eq!(cleared["stages"]["qualified"]["rot_after_days"], Value::Null, "null: never rots");
    let other = app.other_org().await;
    assert_eq!(settings(&app, &other).await["timezone"], "UTC", "another organization's settings are its own");
}

async fn bad_settings_are_refused_by_field_and_change_nothing(app: TestApp) {
    let before = settings(&app, &app.owner).await;
    for (body, fields) in [
        (json!({"timezone": "Mars/Olympus_Mons"}), vec!["timezone"]),
        (json!({"timezone": "+05:00"}), vec!["timezone"]),
        (json!({"timezone": "A".repeat(100)}), vec!["timezone"]),
        (json!({"timezone": null}), vec!["timezone"]),
        (json!({"timezone": 5}), vec!["timezone"]),
        (json!({"stages": {"open": {"default_probability": 101}}}), vec!["stages.open.default_probability"]),
        (json!({"stages": {"contacted": {"default_probability": -1}}}), vec!["stages.contacted.default_probability"]),
        (json!({"stages": {"qualified": {"default_probability": null}}}), vec!["stages.qualified.default_probability"]),
        (json!({"stages": {"proposal": {"rot_after_days": -1}}}), vec!["stages.proposal.rot_after_days"]),
        (json!({"stages": {"proposal": {"rot_after_days": 3651}}}), vec!["stages.proposal.rot_after_days"]),
        (json!({"stages": {"open": {"rot_after_days": 2.5}}}), vec!["stages"]),
        (json!({"stages": {"open": {"default_probability": "ten"}}}), vec!["stages"]),
        (json!({"stages": {"won": {"default_probability": 90}}}), vec!["stages"]),
        (json!({"stages": {"open": {"colour": "red"}}}), vec!["stages"]),
        (json!({"stages": {"open": null}}), vec!["stages.open"]),
        (json!({"stages": null}), vec!["stages"]),
        (json!({"auto_stale": "yes"}), vec!["auto_stale"]),
        (json!({"currency": "EUR"}), vec!["currency"]),
        (
            json!({"timezone": "Nowhere/Atlantis", "stages": {"open": {"default_probability": 200, "rot_after_days": -5}}, "auto_stale": null}),
            vec!["auto_stale", "stages.open.default_probability", "stages.open.rot_after_days", "timezone"],
        ),
    ] {
        let reply = app.patch(&app.owner, "/pipeline-settings", body.clone()).await.expect_error(422, "validation_failed");
        assert_eq!(reply.bad_fields(), fields, "{body}");
    }
    assert_eq!(settings(&app, &app.owner).await, before, "nothing refused was kept");
    let zero = set(&app, &app.owner, json!({"stages": {"open": {"default_probability": 0, "rot_after_days": 0}}})).await;
    assert_eq!(zero["stages"]["open"], json!({"default_probability": 0, "rot_after_days": 0}), "the bounds themselves are fine");
    let most = set(&app, &app.owner, json!({"stages": {"open": {"default_probability": 100, "rot_after_days": 3650}}})).await;
    assert_eq!(most["stages"]["open"], json!({"default_probability": 100, "rot_after_days": 3650}));
}

/// Open 15 %, contacted 25 %, qualified 55 %, proposal 75 %.
async fn graded_defaults(app: &TestApp) {
    let stage = |p: i64| json!({ "default_probability": p });
    set(app, &app.owner, json!({"stages": {"open": stage(15), "contacted": stage(25), "qualified": stage(55), "proposal": stage(75)}}))
        .await;
}

async fn probability(app: &TestApp, path: &str) -> i64 {
    app.get(&app.owner, path).await.expect(200).data()["probability"].as_i64().expect("a probability")
}

async fn a_new_lead_gets_its_stages_default_probability(app: TestApp) {
    graded_defaults(&app).await;
    let owner = &app.owner;
    assert_eq!(app.lead(owner, json!({})).await.expect(201).data()["probability"], 15);
    assert_eq!(app.lead(owner, json!({"status": "qualified"})).await.expect(201).data()["probability"], 55);
    assert_eq!(app.lead(owner, json!({"status": "stale"})).await.expect(201).data()["probability"], 15, "stale: the open stage's");
    assert_eq!(app.lead(owner, json!({"probability": 40})).await.expect(201).data()["probability"], 40, "a chosen one stays");
    assert_eq!(app.lead(owner, json!({"status": "won"})).await.expect(201).data()["probability"], 100, "won is always 100");
    let other = app.other_org().await;
    assert_eq!(app.lead(&other, json!({})).await.expect(201).data()["probability"], 10, "another organization, its own defaults");
}

async fn a_stage_move_carries_a_default_probability_and_keeps_a_chosen_one(app: TestApp) {
    graded_defaults(&app).await;
    let owner = &app.owner;
    let at_default = format!("/opportunities/{}", app.lead(owner, json!({})).await.expect(201).id());
    let chosen = format!("/opportunities/{}", app.lead(owner, json!({"probability": 40})).await.expect(201).id());
    for (status, expected) in [("contacted", 25), ("proposal", 75), ("qualified", 55), ("stale", 15), ("open", 15)] {
        let moved = app.patch(owner, &at_default, json!({ "status": status })).await.expect(200);
        assert_eq!(moved.data()["probability"], expected, "a lead at its stage's default follows it to {status}");
        let kept = app.patch(owner, &chosen, json!({ "status": status })).await.expect(200);
        assert_eq!(kept.data()["probability"], 40, "a chosen probability stays in {status}");
    }
    let both = app.patch(owner, &at_default, json!({"status": "qualified", "probability": 35})).await.expect(200);
    assert_eq!(both.data()["probability"], 35, "a probability given with the move is the one");

    app.post(owner, &format!("{chosen}/close"), json!({"won": false})).await.expect(200);
    assert_eq!(app.patch(owner, &chosen, json!({"status": "proposal"})).await.expect(200).data()["probability"], 75, "reopened");

    // Leads keep what they have when the defaults change; then they no longer are at a default.
    set(&app, owner, json!({"stages": {"proposal": {"default_probability": 80}}})).await;
    assert_eq!(probability(&app, &chosen).await, 75);
    assert_eq!(app.patch(owner, &chosen, json!({"status": "qualified"})).await.expect(200).data()["probability"], 75);
}

async fn website_and_imported_leads_follow_the_settings(mut app: TestApp) {
    graded_defaults(&app).await;
    set(&app, &app.owner, json!({ "timezone": LOS_ANGELES })).await;
    let form = app.post(&app.owner, "/lead-forms", json!({"name": "Website", "allowed_origins": []})).await.expect(201);
    let key = form.data()["form_key"].as_str().expect("a form key").to_owned();
    let submission = json!({"name": "Ann Lee", "email": "ann@example.com"});
    app.call(None, Method::POST, &format!("/public/lead-forms/{key}/submissions"), Some(submission)).await.expect(201);
    let website = app.get(&app.owner, "/opportunities?source=website").await.expect(200);
    assert_eq!(website.data()[0]["probability"], 15, "a website lead starts at the open stage's default");

    // A date without a time of day starts at midnight where the clinic is: 08:00 UTC in winter.
    let csv = "title,name,stage,follow up\r\nBotox,Ben,contacted,2026-03-01\r\n";
    let request = app.request(Method::POST, "/imports/opportunities").bearer_auth(&app.owner.token).header("content-type", "text/csv");
    TestApp::reply(request.body(csv)).await.expect(200);
    let imported = app.get(&app.owner, "/opportunities?search=ben").await.expect(200).data()[0].clone();
    assert_eq!((imported["probability"].clone(), imported["follow_up_date"].clone()), (json!(25), json!("2026-03-01T08:00:00Z")));
    app.clock_at("2026-03-01T07:59:00Z").await;
    assert_eq!(needs_follow_up(&app, &app.owner).await, 0, "28 February in Los Angeles: the import's follow-up is tomorrow");
    app.clock_at("2026-03-01T08:00:00Z").await;
    assert_eq!(needs_follow_up(&app, &app.owner).await, 1);
}

// ---- what is due today ------------------------------------------------------------------------

async fn needs_follow_up(app: &TestApp, caller: &Caller) -> i64 {
    app.get(caller, "/opportunities/stats").await.expect(200).data()["needsFollowUp"].as_i64().expect("a count")
}

/// The titles of the leads `follow_up_due=true` lists, in follow-up order.
async fn listed_as_due(app: &TestApp, caller: &Caller) -> Vec<String> {
    let due = app.get(caller, "/opportunities?follow_up_due=true&sort=follow_up_date").await.expect(200);
    due.data().as_array().expect("a list").iter().map(|lead| lead["title"].as_str().expect("a title").to_owned()).collect()
}

/// Leads titled by their follow-up (RFC 3339), all open.
async fn follow_ups(app: &TestApp, caller: &Caller, instants: &[&str]) {
    for at in instants {
        app.lead(caller, json!({"title": at, "follow_up_date": at})).await.expect(201);
    }
}

/// The statistics and the list agree on what is due, and it is `expected`.
async fn assert_due(app: &TestApp, caller: &Caller, expected: &[&str], when: &str) {
    assert_eq!(listed_as_due(app, caller).await, expected, "listed as due {when}");
    assert_eq!(needs_follow_up(app, caller).await, expected.len() as i64, "needsFollowUp {when}");
}

/// A clinic in a zone of its own, with the server's clock at `now`.
async fn clinic_in(app: &mut TestApp, zone: &str, now: &str) -> Caller {
    let clinic = app.other_org().await;
    set(app, &clinic, json!({ "timezone": zone })).await;
    app.clock_at(now).await;
    clinic
}

async fn follow_ups_are_due_by_midnight_in_los_angeles(mut app: TestApp) {
    // 22:00 on 1 March in Los Angeles (UTC−8), already 2 March in UTC.
    let clinic = clinic_in(&mut app, LOS_ANGELES, "2026-03-02T06:00:00Z").await;
    follow_ups(&app, &clinic, &["2026-03-01T09:00:00Z", "2026-03-02T07:59:00Z", "2026-03-02T08:01:00Z", "2026-03-02T12:00:00Z"]).await;
    let closed = app.lead(&clinic, json!({"title": "won", "follow_up_date": "2026-02-20T10:00:00Z"})).await.expect(201).id();
    app.post(&clinic, &format!("/opportunities/{closed}/close"), json!({"won": true})).await.expect(200);
    let stale = json!({"title": "stale", "status": "stale", "follow_up_date": "2026-02-21T10:00:00Z"});
    app.lead(&clinic, stale).await.expect(201);
    assert_due(&app, &clinic, &["stale", "2026-03-01T09:00:00Z", "2026-03-02T07:59:00Z"], "at 22:00 in Los Angeles").await;

    // The same leads in a clinic counting in UTC, where it is 06:00 on 2 March.
    let utc_clinic = app.other_org().await;
    follow_ups(&app, &utc_clinic, &["2026-03-01T09:00:00Z", "2026-03-02T07:59:00Z", "2026-03-02T08:01:00Z", "2026-03-02T12:00:00Z"]).await;
    let all = ["2026-03-01T09:00:00Z", "2026-03-02T07:59:00Z", "2026-03-02T08:01:00Z", "2026-03-02T12:00:00Z"];
    assert_due(&app, &utc_clinic, &all, "in UTC").await;

    app.clock_at("2026-03-02T07:59:59.999999Z").await;
    assert_due(&app, &clinic, &["stale", "2026-03-01T09:00:00Z", "2026-03-02T07:59:00Z"], "at the last microsecond of 1 March").await;
    app.clock_at("2026-03-02T08:00:00Z").await;
    let due = ["stale", "2026-03-01T09:00:00Z", "2026-03-02T07:59:00Z", "2026-03-02T08:01:00Z", "2026-03-02T12:00:00Z"];
    assert_due(&app, &clinic, &due, "at midnight in Los Angeles").await;
    let leads = app.all_leads(&clinic).await;
    app.assert_stats_match_recount(&clinic, "", &leads, |_| true).await;
}

async fn follow_ups_are_due_by_midnight_in_tonga(mut app: TestApp) {
    // 23:30 on 1 March in Tonga (UTC+13), 10:30 in UTC.
    let clinic = clinic_in(&mut app, TONGA, "2026-03-01T10:30:00Z").await;
    follow_ups(&app, &clinic, &["2026-02-28T11:00:00Z", "2026-03-01T10:59:00Z", "2026-03-01T11:01:00Z", "2026-03-01T23:00:00Z"]).await;
    assert_due(&app, &clinic, &["2026-02-28T11:00:00Z", "2026-03-01T10:59:00Z"], "at 23:30 in Tonga").await;
    app.clock_at("2026-03-01T11:00:00Z").await;
    let all = ["2026-02-28T11:00:00Z", "2026-03-01T10:59:00Z", "2026-03-01T11:01:00Z", "2026-03-01T23:00:00Z"];
    assert_due(&app, &clinic, &all, "at midnight in Tonga (only 11:00 in UTC)").await;
    app.clock_at("2026-02-28T10:59:00Z").await;
    assert_due(&app, &clinic, &[], "on 28 February in Tonga").await;
}

async fn the_day_the_clocks_change_is_23_or_25_hours_long(mut app: TestApp) {
    // Los Angeles springs forward on 8 March 2026 at 02:00: the day ends at 00:00 PDT (07:00 UTC);
    // a fixed UTC−8 would end it an hour later.
    let spring = clinic_in(&mut app, LOS_ANGELES, "2026-03-08T09:30:00Z").await;
    follow_ups(&app, &spring, &["2026-03-09T06:59:00Z", "2026-03-09T07:30:00Z"]).await;
    assert_due(&app, &spring, &["2026-03-09T06:59:00Z"], "on the 23-hour day").await;

    // It falls back on 1 November at 02:00: the day ends at 00:00 PST (08:00 UTC); a fixed
    // UTC−7 would end it an hour earlier.
    let autumn = clinic_in(&mut app, LOS_ANGELES, "2026-11-01T08:30:00Z").await;
    follow_ups(&app, &autumn, &["2026-11-02T07:30:00Z", "2026-11-02T08:30:00Z"]).await;
    assert_due(&app, &autumn, &["2026-11-02T07:30:00Z"], "on the 25-hour day").await;

    // Auckland leaves daylight saving time on 5 April 2026 (UTC+13 to UTC+12): that day ends at
    // 12:00 UTC, not 11:00.
    let auckland = clinic_in(&mut app, "Pacific/Auckland", "2026-04-04T12:30:00Z").await;
    follow_ups(&app, &auckland, &["2026-04-05T11:30:00Z", "2026-04-05T12:30:00Z"]).await;
    assert_due(&app, &auckland, &["2026-04-05T11:30:00Z"], "on Auckland's 25-hour day").await;
}

async fn a_new_time_zone_counts_every_follow_up_again(mut app: TestApp) {
    // 10:30 UTC on 1 March: 1 March everywhere, ending at 10:59:59 UTC in Tonga (UTC+13), 18:14:59
    // in Kathmandu (UTC+5:45), 23:59:59 in UTC and 07:59:59 the next day in Los Angeles (UTC−8).
    app.clock_at("2026-03-01T10:30:00Z").await;
    let owner = app.owner.clone();
    let instants = [
        "2026-02-28T12:00:00Z",
        "2026-03-01T10:59:00Z",
        "2026-03-01T11:30:00Z",
        "2026-03-01T18:00:00Z",
        "2026-03-01T18:30:00Z",
        "2026-03-02T06:00:00Z",
        "2026-03-02T09:00:00Z",
    ];
    follow_ups(&app, &owner, &instants).await;
    for (zone, due) in [
        ("UTC", &instants[..5]),
        (TONGA, &instants[..2]),
        (LOS_ANGELES, &instants[..6]),
        ("Asia/Kathmandu", &instants[..4]),
        ("UTC", &instants[..5]),
    ] {
        set(&app, &owner, json!({ "timezone": zone })).await;
        assert_due(&app, &owner, due, &format!("after changing to {zone}")).await;
        let leads = app.all_leads(&owner).await;
        app.assert_stats_match_recount(&owner, "", &leads, |_| true).await;
    }
}

/// Leads created while another request changes the zone: each must be counted by its day in
/// the zone its organization ended with. On PostgreSQL, a write that read the old zone and
/// committed after the change would be counted on the wrong day (until the next change of zone
/// counted it again), were the settings not locked against it; so each round checks after one
/// change made while the writers were busy.
async fn leads_written_while_the_zone_changes_are_counted_in_the_new_one(mut app: TestApp) {
    // 12:00 UTC on 1 March is 1 March in UTC and 2 March in Tonga: each lead's day differs.
    const FOLLOW_UP: &str = "2026-03-01T12:00:00Z";
    const WRITERS: usize = 6;
    const PER_WRITER: usize = 5;
    let owner = app.owner.clone();
    let mut written = 0;
    for round in 0..8 {
        app.clock_at("2026-03-01T10:30:00Z").await;
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                let (base, token) = (app.base.clone(), owner.token.clone());
                tokio::spawn(async move {
                    let http = reqwest::Client::new();
                    for i in 0..PER_WRITER {
                        let body = json!({"title": format!("{round} {writer} {i}"), "prospect_name": "Jane", "follow_up_date": FOLLOW_UP});
                        let reply = http.post(format!("{base}/api/v1/opportunities")).bearer_auth(&token).json(&body).send().await;
                        assert_eq!(reply.expect("the server answers").status().as_u16(), 201);
                    }
                })
            })
            .collect();
        let zone = if round % 2 == 0 { TONGA } else { "UTC" };
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        set(&app, &owner, json!({ "timezone": zone })).await;
        for writer in writers {
            writer.await.expect("a writer finished");
        }
        written += WRITERS * PER_WRITER;
        // 10:30 UTC is 23:30 on 1 March in Tonga: none is due there yet, all are in UTC.
        let due = if zone == TONGA { 0 } else { written as i64 };
        assert_eq!(needs_follow_up(&app, &owner).await, due, "round {round}, in {zone}");
    }
    let leads = app.all_leads(&owner).await;
    assert_eq!(leads.len(), written);
    app.assert_stats_match_recount(&owner, "", &leads, |_| true).await;
}
