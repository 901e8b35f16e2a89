//! The follow-up agenda (issue 12, item 5): follow-ups of leads not won or lost and scheduled
//! activities not completed, split into overdue, today and upcoming by the organization's days
//! (a clinic at UTC−8 and one at UTC+13), whose agenda each role may read, and completing an
//! activity with `PATCH /opportunities/{id}/activities/{activity_id}`.

mod common;

use common::{Caller, TestApp};
use serde_json::{Value, json};

suite!(
    an_item_due_at_half_past_eleven_is_today_in_los_angeles,
    an_item_due_at_half_past_eleven_is_today_in_tonga,
    closed_leads_and_completed_activities_are_left_out,
    each_agenda_holds_the_leads_assigned_to_its_staff_member,
    members_may_only_read_their_own_agenda,
    days_is_bounded_and_parameters_are_checked,
    an_activity_is_completed_rescheduled_and_described,
    bad_activity_changes_are_refused_by_field,
    activities_of_another_organization_are_not_found,
    a_section_holds_at_most_500_items_the_earliest_due,
);

async fn clinic_in(app: &mut TestApp, zone: &str, now: &str) -> Caller {
    let clinic = app.other_org().await;
    app.patch(&clinic, "/pipeline-settings", json!({ "timezone": zone })).await.expect(200);
    app.clock_at(now).await;
    clinic
}

/// A lead assigned to `assignee` whose title is its follow-up time (or `title` when given).
async fn follow_up(app: &TestApp, caller: &Caller, assignee: &Caller, at: &str) -> String {
    let fields = json!({"title": at, "follow_up_date": at, "assigned_to": assignee.staff_id});
    app.lead(caller, fields).await.expect(201).id()
}

/// An activity scheduled at `at` on a new lead (without a follow-up) titled `title`.
async fn scheduled(app: &TestApp, caller: &Caller, assignee: &Caller, title: &str, at: &str) -> (String, String) {
    let lead = app.lead(caller, json!({"title": title, "assigned_to": assignee.staff_id})).await.expect(201).id();
    let activity = json!({"activity_type": "call", "description": "Call back about the offer", "scheduled_at": at});
    let activity = app.post(caller, &format!("/opportunities/{lead}/activities"), activity).await.expect(201).id();
    (lead, activity)
}

async fn agenda(app: &TestApp, caller: &Caller, query: &str) -> Value {
    app.get(caller, &format!("/agenda{query}")).await.expect(200).data().clone()
}

/// Each item of a section as `kind:title` of its lead, in order.
fn section(agenda: &Value, name: &str) -> Vec<String> {
    let items = agenda[name].as_array().unwrap_or_else(|| panic!("{name} in {agenda}"));
    items.iter().map(|item| format!("{}:{}", item["kind"].as_str().unwrap(), item["opportunity"]["title"].as_str().unwrap())).collect()
}

async fn an_item_due_at_half_past_eleven_is_today_in_los_angeles(mut app: TestApp) {
    // 22:00 on 1 March in Los Angeles (UTC−8), already 2 March in UTC.
    let clinic = clinic_in(&mut app, "America/Los_Angeles", "2026-03-02T06:00:00Z").await;
    for at in [
        "2026-02-28T20:00:00Z", // 12:00 on 28 February
        "2026-03-01T08:00:00Z", // 00:00 on 1 March
        "2026-03-02T07:30:00Z", // 23:30 on 1 March
        "2026-03-02T08:00:00Z", // 00:00 on 2 March
        "2026-03-09T06:59:00Z", // 23:59 on 8 March (UTC−7: daylight saving time since the 8th)
        "2026-03-09T07:00:00Z", // 00:00 on 9 March: past the seven days
    ] {
        follow_up(&app, &clinic, &clinic, at).await;
    }
    scheduled(&app, &clinic, &clinic, "call at 23:30", "2026-03-02T07:30:00Z").await;
    scheduled(&app, &clinic, &clinic, "call at 23:00", "2026-03-02T07:00:00Z").await;

    let found = agenda(&app, &clinic, "").await;
    assert_eq!(found["date"], "2026-03-01", "today in Los Angeles");
    assert_eq!(found["timezone"], "America/Los_Angeles");
    assert_eq!(found["upcoming_until"], "2026-03-08");
    assert_eq!(section(&found, "overdue"), ["follow_up:2026-02-28T20:00:00Z"]);
    assert_eq!(
        section(&found, "today"),
        ["follow_up:2026-03-01T08:00:00Z", "activity:call at 23:00", "follow_up:2026-03-02T07:30:00Z", "activity:call at 23:30"],
        "ordered by due time; at the same time a follow-up before an activity"
    );
    assert_eq!(section(&found, "upcoming"), ["follow_up:2026-03-02T08:00:00Z", "follow_up:2026-03-09T06:59:00Z"]);
    assert_eq!(found["truncated"], json!({"overdue": false, "today": false, "upcoming": false}));

    let item = &found["today"][1];
    assert_eq!(item["due_at"], "2026-03-02T07:00:00Z");
    assert_eq!(item["activity"]["scheduled_at"], "2026-03-02T07:00:00Z");
    assert_eq!(item["activity"]["completed_at"], Value::Null);
    assert_eq!(item["opportunity"]["name"], "Jane Doe", "the prospect's name");
    assert_eq!(item["opportunity"]["status"], "open");
    assert_eq!(item["opportunity"]["assigned_to"], json!(clinic.staff_id));
    assert_eq!(found["today"][0]["activity"], Value::Null, "a follow-up has no activity");

    let one_day = agenda(&app, &clinic, "?days=1").await;
    assert_eq!(section(&one_day, "upcoming"), ["follow_up:2026-03-02T08:00:00Z"], "only 2 March");

    // An hour later it is 2 March there: yesterday's items are overdue.
    app.clock_at("2026-03-02T08:00:00Z").await;
    let later = agenda(&app, &clinic, "").await;
    assert_eq!(later["date"], "2026-03-02");
    assert_eq!(section(&later, "overdue").len(), 5);
    assert_eq!(section(&later, "today"), ["follow_up:2026-03-02T08:00:00Z"]);
    assert_eq!(section(&later, "upcoming"), ["follow_up:2026-03-09T06:59:00Z", "follow_up:2026-03-09T07:00:00Z"]);
}

async fn an_item_due_at_half_past_eleven_is_today_in_tonga(mut app: TestApp) {
    // 23:30 on 1 March in Tonga (UTC+13), 10:30 in UTC.
    let clinic = clinic_in(&mut app, "Pacific/Tongatapu", "2026-03-01T10:30:00Z").await;
    for at in ["2026-02-28T10:59:00Z", "2026-02-28T11:00:00Z", "2026-03-01T10:30:00Z", "2026-03-01T11:00:00Z"] {
        follow_up(&app, &clinic, &clinic, at).await;
    }
    scheduled(&app, &clinic, &clinic, "call at 23:30", "2026-03-01T10:30:00Z").await;
    let found = agenda(&app, &clinic, "?staff_id=me").await;
    assert_eq!(found["date"], "2026-03-01");
    assert_eq!(section(&found, "overdue"), ["follow_up:2026-02-28T10:59:00Z"], "23:59 on 28 February");
    assert_eq!(section(&found, "today"), ["follow_up:2026-02-28T11:00:00Z", "follow_up:2026-03-01T10:30:00Z", "activity:call at 23:30"]);
    assert_eq!(section(&found, "upcoming"), ["follow_up:2026-03-01T11:00:00Z"], "midnight of 2 March in Tonga");
}

async fn closed_leads_and_completed_activities_are_left_out(mut app: TestApp) {
    let clinic = clinic_in(&mut app, "UTC", "2026-03-01T12:00:00Z").await;
    let won = follow_up(&app, &clinic, &clinic, "2026-03-01T09:00:00Z").await;
    app.post(&clinic, &format!("/opportunities/{won}/close"), json!({"won": true})).await.expect(200);
    let lost = follow_up(&app, &clinic, &clinic, "2026-03-01T10:00:00Z").await;
    app.post(&clinic, &format!("/opportunities/{lost}/close"), json!({"won": false, "reason": "price"})).await.expect(200);
    let stale = json!({"title": "stale", "status": "stale", "follow_up_date": "2026-02-20T10:00:00Z", "assigned_to": clinic.staff_id});
    app.lead(&clinic, stale).await.expect(201);
    let (lead, done) = scheduled(&app, &clinic, &clinic, "call done", "2026-03-01T11:00:00Z").await;
    let logged = json!({"activity_type": "meeting", "description": "Met", "scheduled_at": "2026-03-01T08:00:00Z", "completed_at": "2026-03-01T08:30:00Z"});
    app.post(&clinic, &format!("/opportunities/{lead}/activities"), logged).await.expect(201);

    let before = agenda(&app, &clinic, "").await;
    assert_eq!(section(&before, "overdue"), ["follow_up:stale"], "a stale lead is still to follow up");
    assert_eq!(section(&before, "today"), ["activity:call done"], "won, lost and completed are left out");

    let path = format!("/opportunities/{lead}/activities/{done}");
    app.patch(&clinic, &path, json!({"completed_at": "2026-03-01T11:05:00Z", "outcome": "Booked"})).await.expect(200);
    assert_eq!(section(&agenda(&app, &clinic, "").await, "today"), Vec::<String>::new(), "completed: off the agenda");
    app.patch(&clinic, &path, json!({"completed_at": null})).await.expect(200);
    assert_eq!(section(&agenda(&app, &clinic, "").await, "today"), ["activity:call done"], "reopened: back on it");
}

async fn each_agenda_holds_the_leads_assigned_to_its_staff_member(mut app: TestApp) {
    app.clock_at("2026-03-01T12:00:00Z").await;
    let member = app.staff("member").await;
    follow_up(&app, &app.owner, &app.owner, "2026-03-01T09:00:00Z").await;
    follow_up(&app, &app.owner, &member, "2026-03-01T10:00:00Z").await;
    app.lead(&app.owner, json!({"title": "nobody's", "follow_up_date": "2026-03-01T11:00:00Z"})).await.expect(201);
    let other = app.other_org().await;
    follow_up(&app, &other, &other, "2026-03-01T09:30:00Z").await;

    assert_eq!(section(&agenda(&app, &app.owner, "").await, "today"), ["follow_up:2026-03-01T09:00:00Z"]);
    assert_eq!(section(&agenda(&app, &member, "").await, "today"), ["follow_up:2026-03-01T10:00:00Z"]);
    let theirs = agenda(&app, &app.owner, &format!("?staff_id={}", member.staff_id)).await;
    assert_eq!(section(&theirs, "today"), ["follow_up:2026-03-01T10:00:00Z"], "an owner reads a member's");
    let everyone = agenda(&app, &app.owner, "?staff_id=all").await;
    assert_eq!(
        section(&everyone, "today"),
        ["follow_up:2026-03-01T09:00:00Z", "follow_up:2026-03-01T10:00:00Z", "follow_up:nobody's"],
        "all: every lead of the organization, assigned or not, and no other organization's"
    );
    let stranger = agenda(&app, &app.owner, &format!("?staff_id={}", other.staff_id)).await;
    assert_eq!(section(&stranger, "today"), Vec::<String>::new(), "another organization's staff member has nothing here");
}

async fn members_may_only_read_their_own_agenda(app: TestApp) {
    let (admin, member) = (app.staff("admin").await, app.staff("member").await);
    for query in ["?staff_id=all".to_owned(), format!("?staff_id={}", app.owner.staff_id), format!("?staff_id={}", admin.staff_id)] {
        app.get(&member, &format!("/agenda{query}")).await.expect_error(403, "forbidden");
    }
    app.get(&member, "/agenda?staff_id=me").await.expect(200);
    app.get(&member, &format!("/agenda?staff_id={}", member.staff_id)).await.expect(200);
    app.get(&admin, &format!("/agenda?staff_id={}", member.staff_id)).await.expect(200);
    app.get(&admin, "/agenda?staff_id=all").await.expect(200);
    app.get(&app.owner, "/agenda?staff_id=all").await.expect(200);
}

async fn days_is_bounded_and_parameters_are_checked(app: TestApp) {
    for days in ["0", "91", "-3", "7.5", "week", "99999999999999999999"] {
        let reply = app.get(&app.owner, &format!("/agenda?days={days}")).await.expect_error(422, "validation_failed");
        assert_eq!(reply.bad_fields(), ["days"], "{days}");
    }
    let reply = app.get(&app.owner, "/agenda?staff_id=someone&days=0").await.expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["days", "staff_id"], "every bad parameter is named at once");
    app.get(&app.owner, "/agenda?day=3").await.expect_error(400, "bad_request");
    app.get(&app.owner, "/agenda?days=").await.expect_error(400, "bad_request");
    assert_eq!(agenda(&app, &app.owner, "?days=90").await["upcoming"], json!([]));
    assert_eq!(agenda(&app, &app.owner, "?days=1").await["overdue"], json!([]));
}

async fn an_activity_is_completed_rescheduled_and_described(mut app: TestApp) {
    app.clock_at("2026-03-01T12:00:00Z").await;
    let (lead, activity) = scheduled(&app, &app.owner, &app.owner, "call", "2026-03-01T15:00:00Z").await;
    let before = app.get(&app.owner, &format!("/opportunities/{lead}")).await.expect(200);
    let path = format!("/opportunities/{lead}/activities/{activity}");

    let moved = app.patch(&app.owner, &path, json!({"scheduled_at": "2026-03-04T09:00:00+01:00"})).await.expect(200);
    assert_eq!(moved.data()["scheduled_at"], "2026-03-04T08:00:00Z");
    assert_eq!(section(&agenda(&app, &app.owner, "").await, "upcoming"), ["activity:call"]);

    let done = json!({"completed_at": "2026-03-04T08:20:00Z", "outcome": "  Booked a consultation  ", "description": "Called back"});
    let done = app.patch(&app.owner, &path, done).await.expect(200);
    let data = done.data();
    assert_eq!((data["id"].as_str(), data["activity_type"].as_str()), (Some(activity.as_str()), Some("call")));
    assert_eq!(data["completed_at"], "2026-03-04T08:20:00Z");
    assert_eq!(data["outcome"], "Booked a consultation", "trimmed like every text");
    assert_eq!(data["description"], "Called back");
    assert_eq!(data["scheduled_at"], "2026-03-04T08:00:00Z", "what is not given stays");

    let listed = app.get(&app.owner, &format!("/opportunities/{lead}/activities")).await.expect(200);
    assert_eq!(listed.data()[0], *data, "stored as answered");
    let cleared = app.patch(&app.owner, &path, json!({"outcome": null})).await.expect(200);
    assert_eq!(cleared.data()["outcome"], Value::Null);
    app.patch(&app.owner, &path, json!({})).await.expect(200);

    // Like logging an activity, changing one leaves the lead's version and ETag alone.
    let after = app.get(&app.owner, &format!("/opportunities/{lead}")).await.expect(200);
    assert_eq!(after.data()["version"], before.data()["version"]);
    assert_eq!(after.data()["updated_at"], before.data()["updated_at"]);
    assert_eq!(after.data()["activities_count"], 1);
}

async fn bad_activity_changes_are_refused_by_field(app: TestApp) {
    let (lead, activity) = scheduled(&app, &app.owner, &app.owner, "call", "2026-03-01T15:00:00Z").await;
    let path = format!("/opportunities/{lead}/activities/{activity}");
    for (body, fields) in [
        (json!({"completed_at": "yesterday"}), vec!["completed_at"]),
        (json!({"completed_at": "2026-03-01 10:00"}), vec!["completed_at"]),
        (json!({"completed_at": 1_772_000_000}), vec!["completed_at"]),
        (json!({"scheduled_at": "2026-02-30T10:00:00Z"}), vec!["scheduled_at"]),
        (json!({"outcome": "x".repeat(2_001)}), vec!["outcome"]),
        (json!({"description": ""}), vec!["description"]),
        (json!({"description": null}), vec!["description"]),
        (json!({"description": "y".repeat(2_001)}), vec!["description"]),
        (json!({"activity_type": "email"}), vec!["activity_type"]),
        (json!({"outcome": "x".repeat(2_001), "completed_at": "soon"}), vec!["completed_at", "outcome"]),
    ] {
        let reply = app.patch(&app.owner, &path, body.clone()).await.expect_error(422, "validation_failed");
        assert_eq!(reply.bad_fields(), fields, "{body}");
    }
    let listed = app.get(&app.owner, &format!("/opportunities/{lead}/activities")).await.expect(200);
    assert_eq!(listed.data()[0]["completed_at"], Value::Null, "nothing refused was kept");
    app.patch(&app.owner, &path, json!({"outcome": "x".repeat(2_000)})).await.expect(200);

    // A status change is the pipeline's history.
    app.patch(&app.owner, &format!("/opportunities/{lead}"), json!({"status": "contacted"})).await.expect(200);
    let listed = app.get(&app.owner, &format!("/opportunities/{lead}/activities")).await.expect(200);
    let change = listed.data().as_array().unwrap().iter().find(|a| a["activity_type"] == "status_change").expect("logged").clone();
    let reply = app
        .patch(&app.owner, &format!("/opportunities/{lead}/activities/{}", change["id"].as_str().unwrap()), json!({"outcome": "x"}))
        .await;
    assert_eq!(reply.expect_error(422, "validation_failed").bad_fields(), ["activity_type"]);
    app.patch(&app.owner, &format!("/opportunities/{lead}/activities/not-an-id"), json!({})).await.expect_error(400, "bad_request");
}

async fn activities_of_another_organization_are_not_found(app: TestApp) {
    let (lead, activity) = scheduled(&app, &app.owner, &app.owner, "call", "2026-03-01T15:00:00Z").await;
    let other = app.other_org().await;
    let path = format!("/opportunities/{lead}/activities/{activity}");
    app.patch(&other, &path, json!({"completed_at": "2026-03-01T16:00:00Z"})).await.expect_error(404, "not_found");
    let (other_lead, other_activity) = scheduled(&app, &other, &other, "theirs", "2026-03-01T15:00:00Z").await;
    app.patch(&app.owner, &format!("/opportunities/{lead}/activities/{other_activity}"), json!({})).await.expect_error(404, "not_found");
    app.patch(&other, &format!("/opportunities/{other_lead}/activities/{activity}"), json!({})).await.expect_error(404, "not_found");
    // An activity is found only under its own lead.
    let (second, _) = scheduled(&app, &app.owner, &app.owner, "second", "2026-03-01T15:00:00Z").await;
    app.patch(&app.owner, &format!("/opportunities/{second}/activities/{activity}"), json!({})).await.expect_error(404, "not_found");
    let listed = app.get(&app.owner, &format!("/opportunities/{lead}/activities")).await.expect(200);
    assert_eq!(listed.data()[0]["completed_at"], Value::Null, "the other organization changed nothing");
    // A member may complete activities like they may log them.
    let member = app.staff("member").await;
    app.patch(&member, &path, json!({"completed_at": "2026-03-01T16:00:00Z"})).await.expect(200);
}

async fn a_section_holds_at_most_500_items_the_earliest_due(mut app: TestApp) {
    app.clock_at("2026-03-01T12:00:00Z").await;
    // 502 overdue follow-ups, one a minute from 1 February on, imported in one request.
    let mut file = String::from("name,title,follow_up_date\r\n");
    for minute in 0..502 {
        file.push_str(&format!("Pat,Lead {minute:03},2026-02-01T{:02}:{:02}:00Z\r\n", minute / 60, minute % 60));
    }
    let request = app.request(reqwest::Method::POST, "/imports/opportunities").bearer_auth(&app.owner.token);
    TestApp::reply(request.header("content-type", "text/csv").body(file)).await.expect(200);

    let found = agenda(&app, &app.owner, "?staff_id=all").await;
    let overdue = section(&found, "overdue");
    assert_eq!(overdue.len(), 500);
    assert_eq!((overdue[0].as_str(), overdue[499].as_str()), ("follow_up:Lead 000", "follow_up:Lead 499"), "the earliest due");
    assert_eq!(found["truncated"], json!({"overdue": true, "today": false, "upcoming": false}));
}
