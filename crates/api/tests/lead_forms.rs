//! Website lead intake: forms set up by managers, submitted to by anyone, safely.

mod common;

use std::num::NonZeroU32;

use common::{Reply, TestApp};
use opportunities_api::IntakeLimits;
use reqwest::Method;
use serde_json::{Value, json};

suite!(
    managers_set_up_forms,
    a_submission_becomes_a_website_lead,
    plain_html_form_posts_are_accepted,
    bad_submissions_are_refused_and_bots_dropped,
    only_allowed_origins_may_submit_from_a_browser,
    submissions_are_rate_limited_per_address_and_per_form,
    only_would_be_leads_count_against_a_forms_budget,
    a_retried_submission_creates_one_lead,
    forms_tell_where_visitors_go_and_how_to_embed_them,
    browser_form_posts_are_sent_on_to_a_thank_you_page,
    browsers_are_shown_refusals_as_pages_with_the_same_status,
    this_servers_own_pages_may_post_to_any_form,
);

async fn form(app: &TestApp, fields: Value) -> Reply {
    let mut body = json!({"name": "Botox inquiries", "allowed_origins": ["https://clinic.example"]});
    body.as_object_mut().unwrap().extend(fields.as_object().cloned().unwrap_or_default());
    app.post(&app.owner, "/lead-forms", body).await.expect(201)
}

fn submissions(form: &Reply) -> String {
    format!("/public/lead-forms/{}/submissions", form.data()["form_key"].as_str().unwrap())
}

async fn submit(app: &TestApp, path: &str, body: Value) -> Reply {
    TestApp::reply(app.request(Method::POST, path).json(&body)).await
}

async fn leads(app: &TestApp) -> Vec<Value> {
    app.get(&app.owner, "/opportunities").await.expect(200).data().as_array().unwrap().clone()
}

async fn managers_set_up_forms(app: TestApp) {
    let created = form(&app, json!({"allowed_origins": ["https://Clinic.example/"]})).await;
    let data = created.data();
    assert!(data["form_key"].as_str().unwrap().starts_with("lf_"));
    assert_eq!(data["allowed_origins"], json!(["https://clinic.example"]));
    assert_eq!((data["is_active"].clone(), data["created_by"].clone()), (json!(true), json!(app.owner.staff_id)));
    let member = app.staff("member").await;
    app.post(&member, "/lead-forms", json!({"name": "x"})).await.expect_error(403, "forbidden");
    app.get(&member, "/lead-forms").await.expect_error(403, "forbidden");
    let bad = app.post(&app.owner, "/lead-forms", json!({"name": "", "allowed_origins": ["clinic.example"]})).await;
    assert_eq!(bad.expect_error(422, "validation_failed").bad_fields(), ["allowed_origins", "name"]);
    let disabled = app.patch(&app.owner, &format!("/lead-forms/{}", created.id()), json!({"is_active": false})).await.expect(200);
    assert_eq!(disabled.data()["is_active"], false);
    assert_eq!(app.get(&app.owner, "/lead-forms").await.expect(200).body["meta"]["total"], 1);
    submit(&app, &submissions(&created), json!({"name": "Jane", "email": "jane@example.com"})).await.expect_error(404, "not_found");
    submit(&app, "/public/lead-forms/lf_nope/submissions", json!({"name": "Jane"})).await.expect_error(404, "not_found");
}

async fn a_submission_becomes_a_website_lead(app: TestApp) {
    let sales = app.staff("member").await;
    let category = app.post(&app.owner, "/opportunity-categories", json!({"name": "Botox"})).await.expect(201);
    let created = form(&app, json!({"category_id": category.id(), "assigned_to": sales.staff_id})).await;
    let body = json!({"name": "Jane Doe", "email": "Jane@Example.com", "phone": "+15551234567", "message": "Is Friday possible?"});
    let received = submit(&app, &submissions(&created), body).await.expect(201);
    assert_eq!(received.body, json!({"success": true, "data": {"received": true}}));
    let leads = leads(&app).await;
    let lead = &leads[0];
    assert_eq!(lead["title"], "Website Inquiry - Botox inquiries");
    assert_eq!((lead["source"].clone(), lead["status"].clone()), (json!("website"), json!("open")));
    assert_eq!((lead["prospect_email"].clone(), lead["description"].clone()), (json!("jane@example.com"), json!("Is Friday possible?")));
    assert_eq!((lead["category"]["name"].clone(), lead["assigned_staff"]["id"].clone()), (json!("Botox"), json!(sales.staff_id)));
    assert_eq!(lead["created_by"], json!(app.owner.staff_id), "the form's creator");
    let follow_up =
        time::OffsetDateTime::parse(lead["follow_up_date"].as_str().unwrap(), &time::format_description::well_known::Rfc3339).unwrap();
    let hours = (follow_up - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((23..=24).contains(&hours), "due the next day, {hours} h from now");

    // A category or assignee retired since does not cost the clinic the inquiry.
    app.patch(&app.owner, &format!("/opportunity-categories/{}", category.id()), json!({"is_active": false})).await.expect(200);
    submit(&app, &submissions(&created), json!({"name": "Ann", "phone": "555-0100"})).await.expect(201);
    assert_eq!(self::leads(&app).await[0]["category"], Value::Null);
}

async fn plain_html_form_posts_are_accepted(app: TestApp) {
    let created = form(&app, json!({})).await;
    let request = app
        .request(Method::POST, &submissions(&created))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=Ann+Lee&email=ann%40example.com&message=Caf%C3%A9+at+5%3F");
    TestApp::reply(request).await.expect(201);
    let lead = &leads(&app).await[0];
    assert_eq!((lead["prospect_name"].clone(), lead["description"].clone()), (json!("Ann Lee"), json!("Café at 5?")));
    let unknown = app
        .request(Method::POST, &submissions(&created))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("name=A&email=a%40b.c&submit=Send");
    assert_eq!(TestApp::reply(unknown).await.expect_error(422, "validation_failed").bad_fields(), ["submit"]);
    // Refused like invalid UTF-8 in JSON, rather than stored with replacement characters.
    for body in [&b"name=%FF%FEAnn&email=ann%40example.com"[..], b"name=Ann&email=ann%40example.com&message=\xC3("] {
        let request = app.request(Method::POST, &submissions(&created)).header("content-type", "application/x-www-form-urlencoded");
        TestApp::reply(request.body(body.to_vec())).await.expect_error(400, "bad_request");
    }
    assert_eq!(leads(&app).await.len(), 1);
}

async fn bad_submissions_are_refused_and_bots_dropped(app: TestApp) {
    let path = submissions(&form(&app, json!({})).await);
    let empty = submit(&app, &path, json!({"message": "x".repeat(5_001)})).await.expect_error(422, "validation_failed");
    assert_eq!(empty.bad_fields(), ["email", "message", "name"]);
    submit(&app, &path, json!({"name": "A", "email": "not-an-address"})).await.expect_error(422, "validation_failed");
    let bot = submit(&app, &path, json!({"name": "Buy pills", "email": "bot@spam.example", "website": "http://spam.example"})).await;
    assert_eq!(bot.expect(201).body, json!({"success": true, "data": {"received": true}}), "answered like anyone");
    let huge = app
        .request(Method::POST, &path)
        .header("content-type", "application/json")
        .body(format!("{{\"name\":\"{}\"}}", "a".repeat(20_000)));
    let huge = TestApp::reply(huge).await.expect_error(413, "payload_too_large");
    assert_eq!(huge.body["error"]["details"]["limit_bytes"], 16_384, "the public endpoint's own limit");
    assert!(huge.body["error"]["message"].as_str().unwrap().contains("16384"), "{}", huge.body);
    assert!(leads(&app).await.is_empty(), "nothing was created");
}

async fn only_allowed_origins_may_submit_from_a_browser(app: TestApp) {
    let path = submissions(&form(&app, json!({})).await);
    let preflight =
        |origin: &'static str| app.request(Method::OPTIONS, &path).header("origin", origin).header("access-control-request-method", "POST");
    let allowed = preflight("https://clinic.example").send().await.unwrap();
    assert_eq!(allowed.status(), 204);
    assert_eq!(allowed.headers()["access-control-allow-origin"], "https://clinic.example");
    assert!(allowed.headers()["access-control-allow-headers"].to_str().unwrap().contains("content-type"));
    let refused = preflight("https://evil.example").send().await.unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.headers().get("access-control-allow-origin").is_none());

    let body = json!({"name": "Jane", "email": "jane@example.com"});
    let from_site =
        TestApp::reply(app.request(Method::POST, &path).header("origin", "https://clinic.example").json(&body)).await.expect(201);
    assert_eq!(from_site.headers["access-control-allow-origin"], "https://clinic.example");
    let elsewhere = app.request(Method::POST, &path).header("origin", "https://evil.example").json(&body);
    TestApp::reply(elsewhere).await.expect_error(403, "forbidden");
    assert_eq!(leads(&app).await.len(), 1, "only the allowed origin's submission");
}

fn limits(address: u32, form: u32) -> IntakeLimits {
    IntakeLimits { per_address_per_minute: NonZeroU32::new(address).unwrap(), per_form_per_minute: NonZeroU32::new(form).unwrap() }
}

async fn submissions_are_rate_limited_per_address_and_per_form(app: TestApp) {
    let http = reqwest::Client::new();
    let body = json!({"name": "Jane", "email": "jane@example.com"});
    for (limits, allowed, path) in
        [(limits(3, 100), 3, submissions(&form(&app, json!({})).await)), (limits(100, 2), 2, submissions(&form(&app, json!({})).await))]
    {
        let base = app.server_with_limits(limits).await;
        let url = format!("{base}/api/v1{path}");
        for _ in 0..allowed {
            assert_eq!(http.post(&url).json(&body).send().await.unwrap().status(), 201);
        }
        let limited = TestApp::reply(http.post(&url).json(&body)).await.expect_error(429, "rate_limited");
        let retry_after: u64 = limited.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "Retry-After: {retry_after}");
    }
}

/// Junk and bots cannot close a form to real visitors: the form's budget counts only what would
/// become a lead, while the per-address limit still counts everything.
async fn only_would_be_leads_count_against_a_forms_budget(app: TestApp) {
    let path = submissions(&form(&app, json!({})).await);
    let url = format!("{}/api/v1{path}", app.server_with_limits(limits(1_000, 2)).await);
    let post = |body: Value| TestApp::reply(reqwest::Client::new().post(&url).json(&body));
    for junk in 0..20 {
        post(json!({"name": format!("junk {junk}")})).await.expect_error(422, "validation_failed");
        post(json!({"name": "Bot", "email": "bot@spam.example", "website": "http://spam.example"})).await.expect(201);
    }
    let visitor = json!({"name": "Jane", "email": "jane@example.com"});
    for _ in 0..2 {
        post(visitor.clone()).await.expect(201);
    }
    post(visitor).await.expect_error(429, "rate_limited");
    assert_eq!(leads(&app).await.len(), 2, "the two real visitors");

    let url = format!("{}/api/v1{path}", app.server_with_limits(limits(3, 1_000)).await);
    for _ in 0..3 {
        TestApp::reply(reqwest::Client::new().post(&url).json(&json!({}))).await.expect_error(422, "validation_failed");
    }
    let limited = TestApp::reply(reqwest::Client::new().post(&url).json(&json!({})));
    limited.await.expect_error(429, "rate_limited");
}

async fn a_retried_submission_creates_one_lead(app: TestApp) {
    let path = submissions(&form(&app, json!({})).await);
    let body = json!({"name": "Jane", "email": "jane@example.com"});
    for _ in 0..3 {
        TestApp::reply(app.request(Method::POST, &path).header("idempotency-key", "visit-1").json(&body)).await.expect(201);
    }
    assert_eq!(leads(&app).await.len(), 1);
}

/// What a browser sends when a visitor presses Send on a plain HTML form.
fn browser_post(app: &TestApp, path: &str, body: &'static str) -> reqwest::RequestBuilder {
    app.request(Method::POST, path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .body(body)
}

/// The status, `Location` and body text of a response, redirects not followed.
async fn browser_answer(request: reqwest::RequestBuilder) -> (u16, String, String, String) {
    let (client, request) = request.build_split();
    let request = request.unwrap();
    let unfollowed = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    drop(client);
    let response = unfollowed.execute(request).await.unwrap();
    let header = |name| {
        response.headers().get(name).map(|value: &reqwest::header::HeaderValue| value.to_str().unwrap().to_owned()).unwrap_or_default()
    };
    let (location, content_type) = (header("location"), header("content-type"));
    (response.status().as_u16(), location, content_type, response.text().await.unwrap())
}

async fn forms_tell_where_visitors_go_and_how_to_embed_them(app: TestApp) {
    let created = form(&app, json!({"thank_you_url": "https://clinic.example/thanks"})).await;
    let key = created.data()["form_key"].as_str().unwrap().to_owned();
    assert_eq!(created.data()["thank_you_url"], "https://clinic.example/thanks");
    assert_eq!(created.data()["hosted_url"], format!("{}/forms/{key}", app.base));
    let snippet = created.data()["embed_html"].as_str().unwrap();
    assert!(snippet.contains(&format!(r#"action="{}/api/v1/public/lead-forms/{key}/submissions""#, app.base)), "{snippet}");
    assert!(snippet.contains(r#"<input name="website" style="display:none""#), "the honeypot: {snippet}");
    let listed = app.get(&app.owner, "/lead-forms").await.expect(200);
    assert_eq!(listed.data()[0]["hosted_url"], created.data()["hosted_url"]);

    let path = format!("/lead-forms/{}", created.id());
    for bad in ["/thanks", "javascript:alert(1)", "ftp://clinic.example/", "clinic.example"] {
        let refused = app.patch(&app.owner, &path, json!({"thank_you_url": bad})).await;
        assert_eq!(refused.expect_error(422, "validation_failed").bad_fields(), ["thank_you_url"], "{bad}");
    }
    let cleared = app.patch(&app.owner, &path, json!({"thank_you_url": null})).await.expect(200);
    assert_eq!(cleared.data()["thank_you_url"], Value::Null);
}

async fn browser_form_posts_are_sent_on_to_a_thank_you_page(app: TestApp) {
    let created = form(&app, json!({})).await;
    let (key, path) = (created.data()["form_key"].as_str().unwrap().to_owned(), submissions(&created));
    let (status, location, _, _) = browser_answer(browser_post(&app, &path, "name=Ann&email=ann%40example.com")).await;
    assert_eq!((status, location), (303, format!("/forms/{key}/thanks")), "the hosted thank-you page");

    let thanks = "https://clinic.example/thank-you?from=form";
    app.patch(&app.owner, &format!("/lead-forms/{}", created.id()), json!({"thank_you_url": thanks})).await.expect(200);
    let (status, location, _, _) = browser_answer(browser_post(&app, &path, "name=Bob&phone=555-0100")).await;
    assert_eq!((status, location.as_str()), (303, thanks), "the clinic's own page");
    let bot = browser_post(&app, &path, "name=Bot&email=bot%40spam.example&website=http%3A%2F%2Fspam.example");
    assert_eq!(browser_answer(bot).await.0, 303, "a bot is thanked like anyone");

    // Callers that do not ask for HTML keep the JSON answer, form-encoded or not.
    let plain =
        app.request(Method::POST, &path).header("content-type", "application/x-www-form-urlencoded").body("name=Cy&email=cy%40example.com");
    assert_eq!(TestApp::reply(plain).await.expect(201).body, json!({"success": true, "data": {"received": true}}));
    let json_caller =
        app.request(Method::POST, &path).header("accept", "application/json").json(&json!({"name": "Di", "email": "di@example.com"}));
    assert_eq!(TestApp::reply(json_caller).await.expect(201).body, json!({"success": true, "data": {"received": true}}));
    let names: Vec<Value> = leads(&app).await.iter().map(|lead| lead["prospect_name"].clone()).collect();
    assert_eq!(names.len(), 4, "Ann, Bob, Cy and Di, not the bot: {names:?}");
}

async fn browsers_are_shown_refusals_as_pages_with_the_same_status(app: TestApp) {
    let path = submissions(&form(&app, json!({})).await);
    let invalid = browser_post(&app, &path, "name=Eve+Example&email=not-an-address").header("referer", "https://clinic.example/contact");
    let (status, _, content_type, page) = browser_answer(invalid).await;
    assert_eq!((status, content_type.as_str()), (422, "text/html; charset=utf-8"));
    assert!(page.contains("email: must be an e-mail address"), "the field's problem: {page}");
    assert!(page.contains("name: Eve Example"), "what the visitor typed, to refill: {page}");
    assert!(page.contains("back: https://clinic.example/contact"), "the way back: {page}");
    let no_way_back = browser_post(&app, &path, "name=Eve").header("referer", "javascript:alert(1)");
    assert!(browser_answer(no_way_back).await.3.contains("back: history"), "only http(s) pages are linked back to");

    let unknown = browser_answer(browser_post(&app, "/public/lead-forms/lf_nope/submissions", "name=Eve")).await;
    assert_eq!((unknown.0, unknown.2.as_str()), (404, "text/html; charset=utf-8"));
    let elsewhere = browser_post(&app, &path, "name=Eve&email=eve%40example.com").header("origin", "https://evil.example");
    assert_eq!(browser_answer(elsewhere).await.0, 403);
    let unknown_field = browser_answer(browser_post(&app, &path, "name=Eve&email=eve%40example.com&submit=Send")).await;
    assert!(unknown_field.0 == 422 && unknown_field.3.contains("submit:"), "{unknown_field:?}");
    assert!(leads(&app).await.is_empty());

    let url = format!("{}/api/v1{path}", app.server_with_limits(limits(1, 100)).await);
    let post = || {
        reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "text/html")
            .body("name=Fay")
    };
    assert_eq!(browser_answer(post()).await.0, 422);
    let (client, request) = post().build_split();
    let limited = client.execute(request.unwrap()).await.unwrap();
    assert_eq!(limited.status(), 429);
    assert!(limited.headers().contains_key("retry-after"));
    assert!(limited.text().await.unwrap().contains("429 too many submissions"));
}

/// The hosted form page posts from this server's own origin, which no clinic lists.
async fn this_servers_own_pages_may_post_to_any_form(app: TestApp) {
    let path = submissions(&form(&app, json!({})).await);
    let body = json!({"name": "Gus", "email": "gus@example.com"});
    let own = app.request(Method::POST, &path).header("origin", app.base.as_str()).json(&body);
    TestApp::reply(own).await.expect(201);
    let lookalike = app.request(Method::POST, &path).header("origin", format!("{}.evil.example", app.base)).json(&body);
    TestApp::reply(lookalike).await.expect_error(403, "forbidden");
    assert_eq!(leads(&app).await.len(), 1);
}
