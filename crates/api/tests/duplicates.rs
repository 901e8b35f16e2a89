//! Possible duplicates (on creation by the API, by a website form and by an import) and merging
//! one lead into another, over HTTP on both backends.

mod common;

use common::{Caller, Reply, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

suite!(
    creation_lists_open_leads_and_clients_with_the_same_email_or_phone_digits,
    a_website_visitor_learns_nothing_but_staff_see_the_duplicates,
    an_import_lists_what_each_row_may_duplicate,
    a_merge_moves_everything_fills_empty_fields_and_deletes_the_other,
    bad_merges_are_refused_in_the_envelope,
    of_two_merges_of_one_lead_at_once_one_wins,
);

fn duplicate(kind: &str, id: &str, matched_on: &[&str]) -> Value {
    json!({"kind": kind, "id": id, "matched_on": matched_on})
}

async fn version(app: &TestApp, id: &str) -> String {
    let reply = app.get(&app.owner, &format!("/opportunities/{id}")).await.expect(200);
    reply.headers["etag"].to_str().expect("an ETag").to_owned()
}

async fn merge(app: &TestApp, caller: &Caller, into: &str, body: Value, if_match: Option<&str>) -> Reply {
    let mut request = app.request(Method::POST, &format!("/opportunities/{into}/merge")).bearer_auth(&caller.token).json(&body);
    if let Some(tag) = if_match {
        request = request.header("if-match", tag);
    }
    TestApp::reply(request).await
}

async fn creation_lists_open_leads_and_clients_with_the_same_email_or_phone_digits(app: TestApp) {
    let owner = &app.owner;
    let client = app.post(owner, "/clients", json!({"name": "Jane Doe", "email": "Jane@Example.com", "phone": "+1 (555) 010-2030"})).await;
    let client = client.expect(201).id();
    let by_email = app.lead(owner, json!({"prospect_email": "JANE@example.com"})).await.expect(201);
    assert_eq!(by_email.data()["possible_duplicates"], json!([duplicate("client", &client, &["email"])]), "clients count too");
    let by_email = by_email.id();
    let by_phone = app.lead(owner, json!({"prospect_phone": "15550102030"})).await.expect(201).id();
    app.lead(owner, json!({"prospect_phone": "555-010-2031"})).await.expect(201);
    let stale_short = app.lead(owner, json!({"prospect_phone": "1.555.010.2030"})).await.expect(201).id();
    app.patch(owner, &format!("/opportunities/{stale_short}"), json!({"status": "stale"})).await.expect(200);
    let won = app.lead(owner, json!({"prospect_email": "jane@example.com"})).await.expect(201).id();
    app.post(owner, &format!("/opportunities/{won}/close"), json!({"won": true})).await.expect(200);
    let lost = app.lead(owner, json!({"prospect_phone": "+15550102030"})).await.expect(201).id();
    app.post(owner, &format!("/opportunities/{lost}/close"), json!({"won": false})).await.expect(200);
    let elsewhere = app.other_org().await;
    app.lead(&elsewhere, json!({"prospect_email": "jane@example.com"})).await.expect(201);
    app.lead(owner, json!({"prospect_email": "john@example.com", "prospect_phone": "555 0102"})).await.expect(201);

    let created = app.lead(owner, json!({"prospect_email": "jane@EXAMPLE.com", "prospect_phone": "+1 (555) 010-2030"})).await.expect(201);
    let expected = json!([
        duplicate("opportunity", &by_email, &["email"]),
        duplicate("opportunity", &by_phone, &["phone"]),
        duplicate("opportunity", &stale_short, &["phone"]),
        duplicate("client", &client, &["email", "phone"]),
    ]);
    assert_eq!(
        created.data()["possible_duplicates"],
        expected,
        "open and stale leads and clients; not won, lost, other orgs' or other digits"
    );
    let later = app.get(owner, &format!("/opportunities/{}/possible-duplicates", created.id())).await.expect(200);
    assert_eq!(later.data(), &expected, "staff read the same list later");

    let converted = app.lead(owner, json!({"prospect_email": "jane@example.com", "client_id": client})).await.expect(201);
    assert!(!converted.data()["possible_duplicates"].as_array().unwrap().iter().any(|d| d["id"] == json!(client)), "not its own client");
    let nobody = app.lead(owner, json!({})).await.expect(201);
    assert_eq!(nobody.data()["possible_duplicates"], json!([]), "no keys, no duplicates");
    let hidden = app.get(&elsewhere, &format!("/opportunities/{}/possible-duplicates", created.id())).await;
    hidden.expect_error(404, "not_found");
}

async fn a_website_visitor_learns_nothing_but_staff_see_the_duplicates(app: TestApp) {
    let known = app.lead(&app.owner, json!({"prospect_email": "jane@example.com"})).await.expect(201).id();
    let form = app.post(&app.owner, "/lead-forms", json!({"name": "Botox inquiries", "allowed_origins": []})).await.expect(201);
    let path = format!("/public/lead-forms/{}/submissions", form.data()["form_key"].as_str().unwrap());
    let answer = TestApp::reply(app.request(Method::POST, &path).json(&json!({"name": "Jane", "email": "Jane@example.com"}))).await;
    assert_eq!(answer.expect(201).body, json!({"success": true, "data": {"received": true}}), "the visitor learns nothing of other leads");

    let leads = app.all_leads(&app.owner).await;
    let submitted = leads.iter().find(|lead| lead["id"] != json!(known)).expect("the website lead")["id"].as_str().unwrap().to_owned();
    let seen = app.get(&app.owner, &format!("/opportunities/{submitted}/possible-duplicates")).await.expect(200);
    assert_eq!(seen.data(), &json!([duplicate("opportunity", &known, &["email"])]));
}

async fn import(app: &TestApp, query: &str, file: &'static str) -> Reply {
    let request = app.request(Method::POST, &format!("/imports/opportunities{query}")).bearer_auth(&app.owner.token);
    TestApp::reply(request.header("content-type", "text/csv").body(file)).await.expect(200)
}

async fn an_import_lists_what_each_row_may_duplicate(app: TestApp) {
    let lead = app.lead(&app.owner, json!({"prospect_email": "jane@example.com"})).await.expect(201).id();
    let client = app.post(&app.owner, "/clients", json!({"name": "John", "phone": "+1 (555) 010-2030"})).await.expect(201).id();
    let file = "name,title,email,phone\r\nJane,Botox,JANE@example.com,\r\nJohn,Fillers,,15550102030\r\nAnn,Laser,ann@example.com,\r\n";
    let report = import(&app, "", file).await;
    assert_eq!((report.data()["created"].clone(), report.data()["skipped"].clone()), (json!(2), json!(1)));
    let expected = json!([
        {"row": 2, "possible_duplicates": [duplicate("opportunity", &lead, &["email"])]},
        {"row": 3, "possible_duplicates": [duplicate("client", &client, &["phone"])]},
    ]);
    assert_eq!(report.data()["possible_duplicates"], expected, "a skipped row and a created one; row 4 matches nothing");

    let again = import(&app, "?on_duplicate=create&dry_run=true", "name,title,email\r\nJane,Botox,jane@example.com\r\n").await;
    assert_eq!(again.data()["created"], json!(1));
    assert_eq!(again.data()["possible_duplicates"][0]["possible_duplicates"][0], duplicate("opportunity", &lead, &["email"]));
}

async fn a_merge_moves_everything_fills_empty_fields_and_deletes_the_other(app: TestApp) {
    let owner = &app.owner;
    let member = app.staff("member").await;
    let kept = app.lead(owner, json!({"prospect_email": "jane@example.com", "title": "Botox"})).await.expect(201).id();
    app.patch(owner, &format!("/opportunities/{kept}"), json!({"status": "contacted"})).await.expect(200);
    app.post(owner, &format!("/opportunities/{kept}/notes"), json!({"content": "Kept's note"})).await.expect(201);
    let fields = json!({"prospect_email": "other@example.com", "prospect_phone": "+1 555 010 2030", "estimated_value": 500,
        "source": "website", "description": "Asked about prices", "title": "Fillers"});
    let other = app.lead(owner, fields).await.expect(201).id();
    for note in ["First", "Second"] {
        app.post(owner, &format!("/opportunities/{other}/notes"), json!({"content": note})).await.expect(201);
    }
    app.post(owner, &format!("/opportunities/{other}/activities"), json!({"activity_type": "call", "description": "Intro"}))
        .await
        .expect(201);
    app.patch(owner, &format!("/opportunities/{other}"), json!({"status": "qualified"})).await.expect(200);
    let third = app.lead(owner, json!({"estimated_value": 70})).await.expect(201).id();
    let before = app.get(owner, &format!("/opportunities/{kept}")).await.expect(200);
    let other_before = app.get(owner, &format!("/opportunities/{other}")).await.expect(200);

    let hook = json!({"url": "https://hooks.example.com/crm", "events": ["opportunity.deleted", "opportunity.updated"]});
    let webhook = app.post(owner, "/webhooks", hook).await.expect(201).id();
    let tag = version(&app, &kept).await;
    let merged = merge(&app, &member, &kept, json!({"from_id": other}), Some(&tag)).await.expect(200);
    let deliveries = app.get(owner, &format!("/webhooks/{webhook}/deliveries")).await.expect(200);
    let mut heard: Vec<&str> = deliveries.data().as_array().unwrap().iter().map(|d| d["event_type"].as_str().unwrap()).collect();
    heard.sort();
    assert_eq!(heard, ["opportunity.deleted", "opportunity.updated"], "the merged lead deleted, the kept one updated");
    let data = merged.data();
    assert_eq!((data["title"].clone(), data["prospect_email"].clone()), (json!("Botox"), json!("jane@example.com")), "set fields stay");
    assert_eq!((data["prospect_phone"].clone(), data["estimated_value"].clone()), (json!("+1 555 010 2030"), json!(500.0)));
    assert_eq!((data["source"].clone(), data["description"].clone()), (json!("website"), json!("Asked about prices")));
    assert_eq!(data["status"], json!("contacted"), "the kept lead's stage stays");
    assert_eq!(data["notes_count"], json!(3));
    let activities = |reply: &Reply| reply.data()["activities_count"].as_i64().unwrap();
    assert_eq!(activities(&merged), activities(&before) + activities(&other_before) + 1, "its activities and the merge's");
    assert_ne!(merged.headers["etag"].to_str().unwrap(), tag, "a new version");
    app.get(owner, &format!("/opportunities/{other}")).await.expect_error(404, "not_found");

    let timeline = app.get(owner, &format!("/opportunities/{kept}/activities")).await.expect(200);
    let logged = timeline.data()[0]["description"].as_str().unwrap().to_owned();
    assert!(logged.starts_with("Merged the lead \"Fillers\"") && logged.contains(&other), "{logged}");
    assert!(timeline.data().as_array().unwrap().iter().any(|a| a["description"] == json!("Intro")));

    let history = app.get(owner, &format!("/opportunities/{kept}/history")).await.expect(200);
    let statuses: Vec<&str> = history.data().as_array().unwrap().iter().map(|s| s["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["open", "contacted", "open", "qualified", "contacted"], "in time order, ending in the kept stage");
    let entered: Vec<&str> = history.data().as_array().unwrap().iter().map(|s| s["entered_at"].as_str().unwrap()).collect();
    assert!(entered.windows(2).all(|pair| pair[0] <= pair[1]), "{entered:?}");
    assert_eq!(history.data()[4]["left_at"], Value::Null);

    let leads = app.all_leads(owner).await;
    assert_eq!(leads.len(), 2, "{third} and the kept one");
    app.assert_stats_match_recount(owner, "", &leads, |_| true).await;
}

async fn bad_merges_are_refused_in_the_envelope(app: TestApp) {
    let owner = &app.owner;
    let kept = app.lead(owner, json!({})).await.expect(201).id();
    let other = app.lead(owner, json!({})).await.expect(201).id();
    let missing = merge(&app, owner, &kept, json!({}), None).await.expect_error(422, "validation_failed");
    assert_eq!(missing.bad_fields(), ["from_id"]);
    let itself = merge(&app, owner, &kept, json!({"from_id": kept}), None).await.expect_error(422, "validation_failed");
    assert_eq!(itself.bad_fields(), ["from_id"]);
    let unreadable = merge(&app, owner, &kept, json!({"from_id": "nope"}), None).await.expect_error(422, "validation_failed");
    assert_eq!(unreadable.bad_fields(), ["from_id"]);
    let unknown = uuid::Uuid::now_v7().to_string();
    merge(&app, owner, &kept, json!({"from_id": unknown}), None).await.expect_error(404, "not_found");
    merge(&app, owner, &unknown, json!({"from_id": kept}), None).await.expect_error(404, "not_found");
    merge(&app, owner, &kept, json!({"from_id": other}), Some("\"7\"")).await.expect_error(412, "precondition_failed");

    let sold = app.lead(owner, json!({})).await.expect(201).id();
    let sale = json!({"won": true, "transaction_id": uuid::Uuid::now_v7()});
    app.post(owner, &format!("/opportunities/{sold}/close"), sale).await.expect(200);
    merge(&app, owner, &kept, json!({"from_id": sold}), None).await.expect_error(409, "conflict");

    let elsewhere = app.other_org().await;
    let theirs = app.lead(&elsewhere, json!({})).await.expect(201).id();
    merge(&app, owner, &kept, json!({"from_id": theirs}), None).await.expect_error(404, "not_found");
    merge(&app, &elsewhere, &theirs, json!({"from_id": kept}), None).await.expect_error(404, "not_found");
    app.get(&elsewhere, &format!("/opportunities/{theirs}")).await.expect(200);
    assert_eq!(app.all_leads(owner).await.len(), 3, "nothing was merged");
}

async fn of_two_merges_of_one_lead_at_once_one_wins(app: TestApp) {
    let owner = &app.owner;
    for _ in 0..5 {
        let first = app.lead(owner, json!({})).await.expect(201).id();
        let second = app.lead(owner, json!({})).await.expect(201).id();
        let contested = app.lead(owner, json!({"estimated_value": 100})).await.expect(201).id();
        app.post(owner, &format!("/opportunities/{contested}/notes"), json!({"content": "Once"})).await.expect(201);
        let (a, b) = tokio::join!(
            merge(&app, owner, &first, json!({"from_id": contested}), None),
            merge(&app, owner, &second, json!({"from_id": contested}), None)
        );
        let mut statuses = [a.status, b.status];
        statuses.sort();
        assert_eq!(statuses, [200, 404], "{} {}", a.body, b.body);
        let winner = if a.status == 200 { &a } else { &b };
        assert_eq!(winner.data()["notes_count"], json!(1));
        assert_eq!(winner.data()["estimated_value"], json!(100.0));
    }
    let leads = app.all_leads(owner).await;
    assert_eq!(leads.len(), 10);
    app.assert_stats_match_recount(owner, "", &leads, |_| true).await;
}
