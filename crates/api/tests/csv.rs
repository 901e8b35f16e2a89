//! CSV export and import (issue 13, items 1 and 2): a file exported from one organization
//! imports into another as the same rows; bad rows, aliases and duplicates are reported cell by
//! cell; a dry run and a replayed key write nothing; a file above the limit is a 413.

mod common;

use common::{Caller, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

suite!(
    an_exported_file_imports_into_another_organization_as_the_same_rows,
    bad_rows_aliases_and_duplicates_are_reported_cell_by_cell,
    duplicates_update_the_lead_or_are_created_as_asked,
    a_dry_run_writes_nothing,
    the_same_file_twice_creates_nothing_the_second_time,
    a_file_above_the_documented_limit_is_a_413,
    a_file_must_be_csv_with_a_usable_header,
    exports_hold_only_the_callers_organization_and_follow_the_filters,
    a_member_exports_what_the_list_shows_them,
);

/// The rows of a CSV download (header first), after checking that it is one.
async fn export(app: &TestApp, caller: &Caller, path: &str) -> Vec<Vec<String>> {
    let response = app.request(Method::GET, path).bearer_auth(&caller.token).send().await.expect("the server answers");
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/csv; charset=utf-8");
    let text = response.text().await.expect("a body");
    assert!(text.ends_with("\r\n"), "RFC 4180 ends lines with CRLF");
    let mut reader = csv::ReaderBuilder::new().has_headers(false).from_reader(text.as_bytes());
    reader.records().map(|record| record.expect("valid CSV").iter().map(str::to_owned).collect()).collect()
}

async fn import(app: &TestApp, caller: &Caller, query: &str, file: impl Into<reqwest::Body>) -> common::Reply {
    let request = app.request(Method::POST, &format!("/imports/opportunities{query}")).bearer_auth(&caller.token);
    TestApp::reply(request.header("content-type", "text/csv").body(file)).await
}

/// The rows without the columns an import gives anew (the id and the time of the last change).
fn comparable(rows: &[Vec<String>]) -> Vec<Vec<String>> {
    let header = &rows[0];
    let kept: Vec<usize> = (0..header.len()).filter(|&i| !["id", "updated_at"].contains(&header[i].as_str())).collect();
    let mut rows: Vec<Vec<String>> = rows.iter().map(|row| kept.iter().map(|&i| row[i].clone()).collect()).collect();
    rows[1..].sort();
    rows
}

async fn an_exported_file_imports_into_another_organization_as_the_same_rows(app: TestApp) {
    let owner = &app.owner;
    let category = app.post(owner, "/opportunity-categories", json!({"name": "Botox"})).await.expect(201).id();
    app.lead(
        owner,
        json!({"title": "Lips, \"full\" package", "prospect_email": "ann@example.com", "prospect_phone": "+1 555 010 1000",
               "estimated_value": 1500.5, "source": "Website", "category_id": category, "assigned_to": owner.staff_id,
               "follow_up_date": "2026-03-01T09:30:00Z", "description": "Line one\nline two, with a comma", "status": "qualified",
               "probability": 35}),
    )
    .await
    .expect(201);
    let won = app.lead(owner, json!({"prospect_name": "Bob"})).await.expect(201).id();
    app.post(owner, &format!("/opportunities/{won}/close"), json!({"won": true, "reason": "booked"})).await.expect(200);
    let lost = app.lead(owner, json!({"prospect_name": "Émile Zoë"})).await.expect(201).id();
    app.post(owner, &format!("/opportunities/{lost}/close"), json!({"won": false, "reason": "price"})).await.expect(200);
    let before = export(&app, owner, "/opportunities/export").await;
    assert_eq!(before.len(), 4);
    assert_eq!(before[0][..3], ["id", "title", "prospect_name"]);

    // The other organization's owner has the same e-mail, so the owner column finds them.
    let other = app.other_org().await;
    app.post(&other, "/opportunity-categories", json!({"name": "Botox"})).await.expect(201);
    let file = before.iter().map(|row| csv_line(row)).collect::<String>();
    let report = import(&app, &other, "", file).await.expect(200);
    assert_eq!(report.data()["created"], 3, "{}", report.body);
    assert_eq!(report.data()["unknown_columns"], json!([]));
    assert_eq!(report.data()["errors"], json!([]));

    let after = export(&app, &other, "/opportunities/export").await;
    assert_eq!(comparable(&after), comparable(&before));
    let leads = app.all_leads(&other).await;
    app.assert_stats_match_recount(&other, "", &leads, |_| true).await;
    let bob = leads.iter().find(|lead| lead["prospect_name"] == "Bob").expect("Bob was imported");
    let history = app.get(&other, &format!("/opportunities/{}/history", bob["id"].as_str().unwrap())).await.expect(200);
    assert_eq!(history.data().as_array().unwrap().len(), 2, "a closed row enters open, then its outcome");
}

/// One CSV line, quoted where RFC 4180 needs it.
fn csv_line(cells: &[String]) -> String {
    let mut writer = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    writer.write_record(cells).expect("a record");
    String::from_utf8(writer.into_inner().expect("written")).expect("UTF-8")
}

async fn bad_rows_aliases_and_duplicates_are_reported_cell_by_cell(app: TestApp) {
    let owner = &app.owner;
    app.post(owner, "/opportunity-categories", json!({"name": "Fillers"})).await.expect(201);
    let existing = app.lead(owner, json!({"prospect_email": "jane@example.com"})).await.expect(201).id();
    let file = "\u{feff}Full name,E-mail,Phone,Stage,Amount,Assigned to,Category,Created,Closed at,Notes,Title,Favourite colour\r\n\
        Ann Lee,ann@example.com,555 010 2000,Won,1500,OWNER@example.com,fillers,2026-01-01,2026-01-15T10:00:00Z,Paid in cash,Fillers,red\r\n\
        Jane Again,JANE@example.com,,,,,,,,,Botox,\r\n\
        Carl,,,maybe,lots,,,,,,Botox,\r\n\
        Dora,,,,,nobody@example.com,,,,,Botox,\r\n\
        Ann Twin,,(555) 010-2000,,,,,,,,Botox,\r\n\
        Eve,,,open,,,,,2026-01-15,,Botox,\r\n\
        ,,,,,,,,,,,\r\n";
    let report = import(&app, owner, "", file).await.expect(200);
    let data = report.data();
    assert_eq!(
        (&data["rows"], &data["created"], &data["updated"], &data["skipped"], &data["failed"]),
        (&json!(6), &json!(1), &json!(0), &json!(2), &json!(3)),
        "{data}"
    );
    assert_eq!(data["unknown_columns"], json!(["Favourite colour"]));
    let errors: Vec<(u64, &str)> =
        data["errors"].as_array().unwrap().iter().map(|e| (e["row"].as_u64().unwrap(), e["column"].as_str().unwrap())).collect();
    assert_eq!(errors, [(4, "Amount"), (4, "Stage"), (5, "Assigned to"), (7, "Closed at")], "{data}");
    assert!(data["errors"][0]["message"].as_str().unwrap().contains("amount"), "{data}");

    let leads = app.all_leads(owner).await;
    assert_eq!(leads.len(), 2, "the existing lead and Ann");
    assert!(
        leads.iter().any(|lead| lead["id"] == existing.as_str() && lead["prospect_name"] == "Jane Doe"),
        "a skipped duplicate is left alone"
    );
    let ann = leads.iter().find(|lead| lead["prospect_name"] == "Ann Lee").expect("Ann was imported");
    assert_eq!(ann["status"], "won");
    assert_eq!(ann["probability"], 100);
    assert_eq!(ann["estimated_value"].as_f64(), Some(1500.0));
    assert_eq!(ann["created_at"], "2026-01-01T00:00:00Z");
    assert_eq!(ann["closed_at"], "2026-01-15T10:00:00Z");
    assert_eq!(ann["prospect_phone"], "555 010 2000");
    assert_eq!(ann["category"]["name"], "Fillers");
    assert_eq!(ann["assigned_staff"]["email"], "owner@example.com");
    assert_eq!(ann["notes_count"], 1);
    let id = ann["id"].as_str().unwrap();
    let history = app.get(owner, &format!("/opportunities/{id}/history")).await.expect(200);
    let stages: Vec<(&str, &str)> =
        history.data().as_array().unwrap().iter().map(|e| (e["status"].as_str().unwrap(), e["entered_at"].as_str().unwrap())).collect();
    assert_eq!(stages, [("open", "2026-01-01T00:00:00Z"), ("won", "2026-01-15T10:00:00Z")]);
    let notes = app.get(owner, &format!("/opportunities/{id}/notes")).await.expect(200);
    assert_eq!(notes.data()[0]["content"], "Paid in cash");
    let stats = app.get(owner, "/opportunities/stats").await.expect(200);
    assert_eq!(stats.data()["counts"]["won"], 1, "the maintained totals count imported leads");
    // The reports read the facts an import keeps as if the history had happened here: open
    // for 14 days 10 hours, then won, which answered the lead.
    let funnel = app.get(owner, "/reports/funnel?from=2026-01-01&to=2026-01-31").await.expect(200);
    let open = &funnel.data()["stages"][0];
    assert_eq!((&open["entered"], &open["advanced"], &open["median_days_in_stage"]), (&json!(1), &json!(1), &json!(14.42)));
    let times = app.get(owner, "/reports/response-times?from=2026-01-01&to=2026-01-31").await.expect(200);
    assert_eq!(times.data()["sources"][0]["median_minutes"], json!(20760.0), "{}", times.data());
}

async fn duplicates_update_the_lead_or_are_created_as_asked(app: TestApp) {
    let owner = &app.owner;
    let jane = app.lead(owner, json!({"prospect_email": "jane@example.com", "estimated_value": 100})).await.expect(201).id();
    let file = "email,value,status,title,notes\r\njane@example.com,250,contacted,,Called back\r\n";
    let report = import(&app, owner, "?on_duplicate=update", file).await.expect(200);
    assert_eq!((&report.data()["updated"], &report.data()["created"]), (&json!(1), &json!(0)), "{}", report.body);
    let lead = app.get(owner, &format!("/opportunities/{jane}")).await.expect(200);
    assert_eq!((lead.data()["estimated_value"].as_f64(), &lead.data()["status"]), (Some(250.0), &json!("contacted")));
    assert_eq!(lead.data()["title"], "Interested in Botox package", "a blank cell leaves the field alone");
    assert_eq!(lead.data()["notes_count"], 1);
    assert_eq!(lead.data()["activities"][0]["activity_type"], "status_change", "the move is logged as a PATCH logs it");

    let file = "email,name,title\r\njane@example.com,Jane Two,Botox\r\n";
    let report = import(&app, owner, "?on_duplicate=create", file).await.expect(200);
    assert_eq!(report.data()["created"], 1);
    assert_eq!(app.all_leads(owner).await.len(), 2);
    import(&app, owner, "?on_duplicate=merge", "title\r\n").await.expect_error(400, "bad_request");
}

async fn a_dry_run_writes_nothing(app: TestApp) {
    let owner = &app.owner;
    let file = "name,title,status,notes\r\nAnn,Botox,won,hello\r\nBob,Botox,,\r\nCarl,,,\r\n";
    let report = import(&app, owner, "?dry_run=true", file).await.expect(200);
    assert_eq!((&report.data()["created"], &report.data()["failed"], &report.data()["dry_run"]), (&json!(2), &json!(1), &json!(true)));
    assert!(app.all_leads(owner).await.is_empty());
    for table in ["opportunities", "stage_history", "activities", "notes"] {
        assert_eq!(app.stored_count(&format!("SELECT COUNT(*) FROM {table}")).await, 0, "{table}");
    }
}

async fn the_same_file_twice_creates_nothing_the_second_time(app: TestApp) {
    let owner = &app.owner;
    let file = "name,email,title\r\nAnn,ann@example.com,Botox\r\nBob,bob@example.com,Botox\r\n";
    let send = || {
        let request = app.request(Method::POST, "/imports/opportunities").bearer_auth(&owner.token);
        TestApp::reply(request.header("content-type", "text/csv").header("idempotency-key", "import-1").body(file))
    };
    let first = send().await.expect(200);
    let again = send().await.expect(200);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body, first.body);
    assert_eq!(app.all_leads(owner).await.len(), 2);

    let without_key = import(&app, owner, "", file).await.expect(200);
    assert_eq!((&without_key.data()["created"], &without_key.data()["skipped"]), (&json!(0), &json!(2)), "skip finds both");
    assert_eq!(app.all_leads(owner).await.len(), 2);
}

async fn a_file_above_the_documented_limit_is_a_413(app: TestApp) {
    let owner = &app.owner;
    // Larger than the JSON routes take (128 KiB): accepted here.
    let rows: String = (0..5_000).map(|i| format!("Person {i},Botox with a longer title to fill the file {i}\r\n")).collect();
    let report = import(&app, owner, "", format!("name,title\r\n{rows}")).await.expect(200);
    assert_eq!(report.data()["created"], 5_000);

    let limit = opportunities_api::IMPORT_BODY_LIMIT_BYTES;
    let mut file = b"name,title\r\n".to_vec();
    file.resize(limit + 1, b'x');
    let refused = import(&app, owner, "", file.clone()).await.expect_error(413, "payload_too_large");
    assert_eq!(refused.body["error"]["details"]["limit_bytes"], limit);
    let request = app.request(Method::POST, "/imports/opportunities").bearer_auth(&owner.token).header("idempotency-key", "big");
    TestApp::reply(request.header("content-type", "text/csv").body(file)).await.expect_error(413, "payload_too_large");
    assert_eq!(app.all_leads(owner).await.len(), 5_000);
}

async fn a_file_must_be_csv_with_a_usable_header(app: TestApp) {
    let owner = &app.owner;
    let request = app.request(Method::POST, "/imports/opportunities").bearer_auth(&owner.token).json(&json!({"title": "x"}));
    TestApp::reply(request).await.expect_error(415, "unsupported_media_type");
    let twice = import(&app, owner, "", "Name,Full name,title\r\nAnn,Ann,Botox\r\n").await.expect_error(422, "validation_failed");
    assert_eq!(twice.bad_fields(), ["file"]);
    import(&app, owner, "", "").await.expect_error(422, "validation_failed");
    let no_token = app.request(Method::POST, "/imports/opportunities").header("content-type", "text/csv").body("title\r\n");
    TestApp::reply(no_token).await.expect_error(401, "unauthorized");
    assert!(app.all_leads(owner).await.is_empty());
}

async fn exports_hold_only_the_callers_organization_and_follow_the_filters(app: TestApp) {
    let owner = &app.owner;
    let other = app.other_org().await;
    app.lead(&other, json!({"prospect_name": "Secret", "status": "won"})).await.expect(201);
    app.post(&other, "/clients", json!({"name": "Secret Client"})).await.expect(201);
    app.lead(owner, json!({"prospect_name": "Mine", "status": "won"})).await.expect(201);
    app.lead(owner, json!({"prospect_name": "Open one"})).await.expect(201);
    app.post(owner, "/clients", json!({"name": "My Client", "email": "client@example.com"})).await.expect(201);

    let all = export(&app, owner, "/opportunities/export").await;
    let names: Vec<&str> = all[1..].iter().map(|row| row[2].as_str()).collect();
    assert_eq!(names, ["Mine", "Open one"], "in the order they were created");
    let won = export(&app, owner, "/opportunities/export?status=won").await;
    assert_eq!(won.len(), 2);
    assert_eq!(won[1][2], "Mine");
    assert_eq!(export(&app, owner, "/opportunities/export?search=open").await.len(), 2);
    let clients = export(&app, owner, "/clients/export").await;
    assert_eq!(clients[0], ["id", "name", "email", "phone", "created_at", "updated_at"]);
    assert_eq!(clients.len(), 2);
    assert_eq!(clients[1][1..3], ["My Client", "client@example.com"]);
    let response = app.request(Method::GET, "/opportunities/export?limit=x&status=done").bearer_auth(&owner.token).send().await.unwrap();
    assert_eq!(response.status(), 400);
}

async fn a_member_exports_what_the_list_shows_them(app: TestApp) {
    let owner = &app.owner;
    let member = app.staff("member").await;
    let rows: String = (0..1_005).map(|i| format!("Lead {i},Botox\r\n")).collect();
    import(&app, owner, "", format!("name,title\r\n{rows}")).await.expect(200);
    let listed: Vec<Value> = app.all_leads(&member).await;
    let exported = export(&app, &member, "/opportunities/export").await;
    assert_eq!(exported.len() - 1, listed.len(), "every page of the walk, past the first thousand");
    let mut listed_ids: Vec<&str> = listed.iter().map(|lead| lead["id"].as_str().unwrap()).collect();
    listed_ids.sort();
    let exported_ids: Vec<&str> = exported[1..].iter().map(|row| row[0].as_str()).collect();
    assert_eq!(exported_ids, listed_ids);
}
