//! Hostile and broken input: every case gets the documented 4xx envelope, never a 5xx, and
//! nothing is written.

mod common;

use common::TestApp;
use reqwest::Method;
use serde_json::json;

suite!(
    broken_bodies_are_refused_in_the_envelope,
    odd_values_are_validation_errors,
    hostile_query_strings_and_paths_are_harmless,
    money_is_checked_as_written,
    only_the_service_writes_status_changes,
);

async fn raw(app: &TestApp, path: &str, content_type: &str, body: impl Into<reqwest::Body>) -> common::Reply {
    let request = app.request(Method::POST, path).bearer_auth(&app.owner.token).header("content-type", content_type).body(body);
    TestApp::reply(request).await
}

async fn nothing_written(app: &TestApp) {
    let list = app.get(&app.owner, "/opportunities").await.expect(200);
    assert_eq!(list.body["meta"]["total"], 0, "nothing was written: {}", list.body);
}

async fn broken_bodies_are_refused_in_the_envelope(app: TestApp) {
    let json = "application/json";
    for body in ["{", "{\"title\":}", "{} trailing", "{\"title\": \"x\",}", "nul\u{0}"] {
        raw(&app, "/opportunities", json, body).await.expect_error(400, "bad_request");
    }
    raw(&app, "/opportunities", json, vec![b'{', b'"', 0xff, 0xfe, b'"', b':', b'1', b'}']).await.expect_error(400, "bad_request");
    let deep = format!("{{\"title\": {}{}}}", "[".repeat(10_000), "]".repeat(10_000));
    raw(&app, "/opportunities", json, deep).await.expect_error(400, "bad_request");
    for body in ["[]", "\"title\"", "42", "null"] {
        let reply = raw(&app, "/opportunities", json, body).await.expect_error(422, "validation_failed");
        assert_eq!(reply.bad_fields(), ["body"], "{body}");
    }
    raw(&app, "/opportunities", "text/plain", "{\"title\": \"x\"}").await.expect_error(415, "unsupported_media_type");
    raw(&app, "/opportunities", "multipart/form-data; boundary=x", "--x--").await.expect_error(415, "unsupported_media_type");
    let huge = format!("{{\"title\": \"{}\"}}", "a".repeat(200_000));
    let too_large = raw(&app, "/opportunities", json, huge).await.expect_error(413, "payload_too_large");
    assert_eq!(too_large.body["error"]["details"]["limit_bytes"], 131_072, "{}", too_large.body);
    // The rest of the body goes unread, so the server closes the connection, and says so: a
    // client that reused it would lose its next request.
    assert_eq!(too_large.headers.get("connection").map(|value| value.as_bytes()), Some(&b"close"[..]));
    nothing_written(&app).await;
}

async fn odd_values_are_validation_errors(app: TestApp) {
    let cases = [
        (json!({"title": "a\u{0}b", "prospect_name": "Jane"}), "title"),
        (json!({"title": "Botox", "prospect_name": "Jane\u{7}"}), "prospect_name"),
        (json!({"title": "x".repeat(201), "prospect_name": "Jane"}), "title"),
        (json!({"title": "Botox", "prospect_name": "Jane", "probability": 1e20}), "probability"),
        (json!({"title": "Botox", "prospect_name": "Jane", "probability": -1}), "probability"),
        (json!({"title": "Botox", "prospect_name": "Jane", "estimated_value": 123456789012345678901234567890.0}), "estimated_value"),
        (json!({"title": "Botox", "prospect_name": "Jane", "estimated_value": "1,000"}), "estimated_value"),
        (json!({"title": "Botox", "prospect_name": "Jane", "follow_up_date": "2026-13-45T99:00:00Z"}), "follow_up_date"),
        (json!({"title": "Botox", "prospect_name": "Jane", "category_id": "'; DROP TABLE opportunities; --"}), "category_id"),
        (json!({"title": {"nested": ["deep"]}, "prospect_name": "Jane"}), "title"),
        (json!({"title": "Botox", "prospect_name": "Jane", "status": "Open"}), "status"),
        (json!({"title": "\u{200b}\u{200d}\u{2060}", "prospect_name": "Jane"}), "title"),
        (json!({"title": "Botox", "prospect_name": " \u{feff}\u{200c} "}), "prospect_name"),
    ];
    for (body, field) in cases {
        let reply = app.post(&app.owner, "/opportunities", body.clone()).await.expect_error(422, "validation_failed");
        assert_eq!(reply.bad_fields(), [field], "{body}");
    }
    let note = app.lead(&app.owner, json!({})).await.expect(201).id();
    for content in ["\u{0}", "\u{200b}\u{200b}", "\u{3164}"] {
        let path = format!("/opportunities/{note}/notes");
        app.post(&app.owner, &path, json!({ "content": content })).await.expect_error(422, "validation_failed");
    }
    app.delete(&app.owner, &format!("/opportunities/{note}")).await.expect(200);
    nothing_written(&app).await;
}

async fn hostile_query_strings_and_paths_are_harmless(app: TestApp) {
    app.lead(&app.owner, json!({"title": "It's 50% off_today \\o/ \"quoted\""})).await.expect(201);
    for (search, found) in
        [("50%25", 1), ("%25", 0), ("off_", 1), ("_", 0), ("%5C", 0), ("'", 0), ("%22quoted%22", 1), ("%22quot", 1), ("'%20OR%20'1'='1", 0)]
    {
        let reply = app.get(&app.owner, &format!("/opportunities?search={search}")).await.expect(200);
        assert_eq!(reply.body["meta"]["total"], found, "search={search}");
    }
    // Invalid UTF-8 in a query is decoded with replacement characters: it simply matches nothing.
    assert_eq!(app.get(&app.owner, "/opportunities?search=%FF%FE").await.expect(200).body["meta"]["total"], 0);
    for query in ["search=%00", "source=a%00b", "status=open%00", &("search=".to_owned() + &"x".repeat(201))] {
        app.get(&app.owner, &format!("/opportunities?{query}")).await.expect_error(400, "bad_request");
    }
    app.get(&app.owner, "/opportunities/%00").await.expect_error(400, "bad_request");
    app.get(&app.owner, "/opportunities/..%2F..%2Fetc%2Fpasswd").await.expect_error(400, "bad_request");
    let public = app.request(Method::POST, "/public/lead-forms/%00/submissions").json(&json!({"name": "x"}));
    TestApp::reply(public).await.expect_error(404, "not_found");
    let public = app.request(Method::POST, "/public/lead-forms/lf_'%20OR%201=1/submissions").json(&json!({"name": "x"}));
    TestApp::reply(public).await.expect_error(404, "not_found");
}

/// An amount is read as the client wrote it: a number with a third decimal or an exponent is
/// refused like the same text in a string, not rounded to something that passes.
async fn money_is_checked_as_written(app: TestApp) {
    for amount in ["1.005", "1e2", "1E2", "1.0e2", "1.0000000000000001", "0.1e1", "1e400", "\"1e2\"", "\"1.005\""] {
        let body = format!("{{\"title\": \"Botox\", \"prospect_name\": \"Jane\", \"estimated_value\": {amount}}}");
        let reply = raw(&app, "/opportunities", "application/json", body).await.expect_error(422, "validation_failed");
        assert_eq!(reply.bad_fields(), ["estimated_value"], "{amount}");
    }
    nothing_written(&app).await;
    for (amount, read) in [("500.0", 500.0), ("500.5", 500.5), ("1200.00", 1200.0), ("0.07", 0.07), ("\"12.30\"", 12.3)] {
        let body = format!("{{\"title\": \"Botox\", \"prospect_name\": \"Jane\", \"estimated_value\": {amount}}}");
        let reply = raw(&app, "/opportunities", "application/json", body).await.expect(201);
        assert_eq!(reply.data()["estimated_value"].as_f64(), Some(read), "{amount}");
    }
}

/// The activity log records status changes as they happen; nobody may write one by hand.
async fn only_the_service_writes_status_changes(app: TestApp) {
    let lead = app.lead(&app.owner, json!({})).await.expect(201).id();
    let path = format!("/opportunities/{lead}/activities");
    let forged = json!({"activity_type": "status_change", "description": "Status changed from open to won"});
    for caller in [app.staff("member").await, app.owner.clone()] {
        let reply = app.post(&caller, &path, forged.clone()).await.expect_error(422, "validation_failed");
        assert_eq!(reply.bad_fields(), ["activity_type"]);
    }
    assert_eq!(app.get(&app.owner, &path).await.expect(200).body["meta"]["total"], 0);
    app.patch(&app.owner, &format!("/opportunities/{lead}"), json!({"status": "contacted"})).await.expect(200);
    let logged = app.get(&app.owner, &path).await.expect(200);
    assert_eq!(logged.data()[0]["activity_type"], "status_change", "the service still writes its own");
}
