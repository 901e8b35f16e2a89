//! The lead page's form posts over real HTTP on both backends, as a browser without JavaScript
//! sends them: what each answers, and what the API then reads back.

#[macro_use]
mod support;

use domain::Timestamp;
use domain::auth::Role;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{App, Browser, form};

impl App {
    async fn api(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let request = self.http.request(method, format!("{}/api/v1{path}", self.base)).bearer_auth(&self.token);
        let request = match body {
            Some(body) => request.json(&body),
            None => request,
        };
        request.send().await.expect("a response").json().await.expect("json")
    }

    async fn lead(&self, fields: Value) -> Value {
        self.api(reqwest::Method::POST, "/opportunities", Some(fields)).await["data"].clone()
    }

    async fn stored(&self, id: &str) -> Value {
        self.api(reqwest::Method::GET, &format!("/opportunities/{id}"), None).await["data"].clone()
    }

    async fn owner(&self) -> Browser {
        self.session(self.org_id, self.owner_id, Role::Owner, Timestamp::now()).await
    }

    /// Posts `fields` (and the browser's CSRF token) to `path`: the status and the page.
    async fn post(&self, browser: &Browser, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let mut fields = fields.to_vec();
        fields.push(("csrf", &browser.csrf));
        let request = self.http.post(format!("{}{path}", self.base)).header("cookie", &browser.cookie);
        let response = form(request, &fields).send().await.expect("a response");
        let status = response.status();
        let location = response.headers().get("location").map(|l| l.to_str().expect("text").to_owned());
        (status, location.unwrap_or(response.text().await.expect("a body")))
    }

    async fn page(&self, browser: &Browser, path: &str) -> (StatusCode, String) {
        let response = self.http.get(format!("{}{path}", self.base)).header("cookie", &browser.cookie).send().await.expect("a response");
        (response.status(), response.text().await.expect("a body"))
    }
}

fn text<'a>(lead: &'a Value, field: &str) -> &'a str {
    lead[field].as_str().expect("a string")
}

async fn a_stale_edit_shows_the_lead_as_it_is_and_writes_nothing(app: App) {
    let browser = app.owner().await;
    let lead = app.lead(json!({ "title": "Shown at version 1", "prospect_name": "Pat" })).await;
    let id = text(&lead, "id");
    let (status, page) = app.page(&browser, &format!("/leads/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(r#"name="version" value="1""#), "the edit form carries the version it shows");
    app.api(reqwest::Method::PATCH, &format!("/opportunities/{id}"), Some(json!({ "title": "Changed elsewhere" }))).await;

    let fields = [
        ("version", "1"),
        ("title", "Shown at version 1"),
        ("prospect_name", "Pat"),
        ("status", "open"),
        ("probability", "10"),
        ("estimated_value", "250"),
    ];
    let (status, page) = app.post(&browser, &format!("/leads/{id}"), &fields).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("Your changes were not saved"), "{page}");
    assert!(page.contains("<h1>Changed elsewhere</h1>"), "the lead as it now is");
    assert!(page.contains(r#"name="version" value="2""#), "the form now carries the current version");
    let stored = app.stored(id).await;
    assert_eq!((text(&stored, "title"), &stored["estimated_value"], &stored["version"]), ("Changed elsewhere", &Value::Null, &json!(2)));
}

async fn bad_fields_are_named_beside_them_and_nothing_is_written(app: App) {
    let browser = app.owner().await;
    let lead = app.lead(json!({ "title": "Kept", "prospect_name": "Pat" })).await;
    let id = text(&lead, "id");
    let fields = [("version", "1"), ("title", ""), ("prospect_name", "Pat"), ("probability", "many"), ("follow_up_date", "soon")];
    let (status, page) = app.post(&browser, &format!("/leads/{id}"), &fields).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    for field in ["title", "probability", "follow_up_date"] {
        assert!(page.contains(&format!(r#"aria-describedby="{field}-error""#)), "{field} is marked");
        assert!(page.contains(&format!(r#"id="{field}-error""#)), "{field} has its message");
    }
    assert!(page.contains(r#"value="soon""#), "what was typed is shown again");
    assert_eq!(app.stored(id).await["version"], 1);

    let (status, _) = app.post(&browser, &format!("/leads/{id}"), &[("title", "No version")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a form without the version it was shown at is not the page's");
    assert_eq!(text(&app.stored(id).await, "title"), "Kept");
}

async fn only_what_the_form_changed_is_sent(app: App) {
    let browser = app.owner().await;
    let lead = app.lead(json!({ "title": "Won once", "prospect_name": "Pat" })).await;
    let id = text(&lead, "id");
    app.api(reqwest::Method::POST, &format!("/opportunities/{id}/close"), Some(json!({ "won": true }))).await;
    // The form as the page shows a won lead, with only the stage changed: the probability it
    // shows (100) was nobody's estimate of a reopened lead, so the stage's default applies.
    let fields = [("version", "2"), ("title", "Won once"), ("prospect_name", "Pat"), ("status", "open"), ("probability", "100")];
    let (status, location) = app.post(&browser, &format!("/leads/{id}"), &fields).await;
    assert_eq!((status, location.as_str()), (StatusCode::SEE_OTHER, format!("/leads/{id}?done=saved#details").as_str()));
    let stored = app.stored(id).await;
    assert_eq!((text(&stored, "status"), &stored["probability"]), ("open", &json!(10)));
}

async fn notes_activities_close_and_convert_work_as_plain_posts(app: App) {
    let browser = app.owner().await;
    let lead = app.lead(json!({ "title": "Worked", "prospect_name": "Pat", "prospect_email": "pat@example.com" })).await;
    let id = text(&lead, "id");
    let path = |action: &str| format!("/leads/{id}{action}");

    assert_eq!(app.post(&browser, &path("/notes"), &[("content", "  ")]).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.post(&browser, &path("/notes"), &[("content", "Called back")]).await.1, path("?done=note#notes"));
    let activity = [("activity_type", "meeting"), ("description", "Consultation"), ("scheduled_at", "2026-12-20T14:00")];
    assert_eq!(app.post(&browser, &path("/activities"), &activity).await.1, path("?done=activity#activity"));
    let (status, page) = app.post(&browser, &path("/activities"), &[("activity_type", "status_change"), ("description", "x")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "status changes are the service's own");
    assert!(page.contains(r#"id="activity-activity_type-error""#));

    assert_eq!(app.post(&browser, &path("/convert"), &[("version", "1")]).await.1, path("?done=client-created"));
    let (status, page) = app.post(&browser, &path("/close"), &[("outcome", "lost"), ("version", "2")]).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.contains(r#"id="lost-reason-error""#), "a lost lead needs its reason");
    let lost = [("outcome", "lost"), ("reason", "Price"), ("version", "2")];
    assert_eq!(app.post(&browser, &path("/close"), &lost).await.1, path("?done=lost"));
    let (status, page) = app.post(&browser, &path("/close"), &[("outcome", "won"), ("version", "3")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("The lead was not closed: this opportunity is already lost"), "{page}");

    let stored = app.stored(id).await;
    assert_eq!((text(&stored, "status"), text(&stored, "closed_reason")), ("lost", "Price"));
    assert!(stored["client_id"].is_string());
    assert_eq!((&stored["notes_count"], &stored["activities"][2]["scheduled_at"]), (&json!(1), &json!("2026-12-20T14:00:00Z")));
    let (_, page) = app.page(&browser, &path("?done=client-created")).await;
    assert!(page.contains("Converted: a new client, Pat, was created from this lead."));
}

async fn a_member_works_leads_as_the_api_lets_them(app: App) {
    let member = app.api(reqwest::Method::POST, "/staff", Some(json!({ "name": "Mo", "email": "mo@example.com", "role": "member" }))).await;
    let member_id = text(&member["data"], "id").parse().expect("an id");
    let browser = app.session(app.org_id, member_id, Role::Member, Timestamp::now()).await;
    let lead = app.lead(json!({ "title": "Owner's lead", "prospect_name": "Pat" })).await;
    let id = text(&lead, "id");
    let fields = [("version", "1"), ("title", "Edited by Mo"), ("prospect_name", "Pat"), ("status", "open"), ("probability", "10")];
    assert_eq!(app.post(&browser, &format!("/leads/{id}"), &fields).await.0, StatusCode::SEE_OTHER);
    assert_eq!(app.page(&browser, &format!("/leads/{id}/delete")).await.0, StatusCode::OK);
    assert_eq!(app.post(&browser, &format!("/leads/{id}/delete"), &[("version", "2")]).await.1, "/board?assigned_to=&deleted=1");
    assert_eq!(app.api(reqwest::Method::GET, &format!("/opportunities/{id}"), None).await["error"]["code"], "not_found");
}

async fn long_lists_are_paged(app: App) {
    let browser = app.owner().await;
    let lead = app.lead(json!({ "title": "Chatty", "prospect_name": "Pat" })).await;
    let id = text(&lead, "id");
    for n in 0..51 {
        app.api(reqwest::Method::POST, &format!("/opportunities/{id}/notes"), Some(json!({ "content": format!("Note number {n}.") })))
            .await;
    }
    let (_, newest) = app.page(&browser, &format!("/leads/{id}")).await;
    assert!(newest.contains("Note number 50.") && !newest.contains("Note number 0."), "the newest 50 first");
    assert!(newest.contains(&format!(r#"href="/leads/{id}?notes_offset=50#notes""#)) && newest.contains("Show older notes (1 more)"));
    let (_, older) = app.page(&browser, &format!("/leads/{id}?notes_offset=50")).await;
    assert!(older.contains("Note number 0.") && !older.contains("Note number 1."), "then the oldest");
    assert!(older.contains("Show the newest notes"));
    let (status, _) = app.page(&browser, &format!("/leads/{id}?notes_offset=99999999999999999999")).await;
    assert_eq!(status, StatusCode::OK, "an offset out of range reads as the first page");
}

async fn possible_duplicates_are_shown_and_merged_after_asking(app: App) {
    let browser = app.owner().await;
    let kept = app.lead(json!({ "title": "Botox", "prospect_name": "Pat", "prospect_email": "pat@example.com" })).await;
    let other =
        app.lead(json!({ "title": "Fillers", "prospect_name": "Pat", "prospect_email": "PAT@example.com", "estimated_value": 90 })).await;
    let (id, other_id) = (text(&kept, "id"), text(&other, "id"));
    app.api(reqwest::Method::POST, &format!("/opportunities/{other_id}/notes"), Some(json!({ "content": "Moves along" }))).await;

    let (status, page) = app.page(&browser, &format!("/leads/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Possible duplicates") && page.contains(&format!(r#"href="/leads/{other_id}""#)), "{page}");
    assert!(page.contains("(same e-mail)"));
    let ask = format!("/leads/{id}/merge?from={other_id}");
    assert!(page.contains(&ask), "a merge link");
    let (status, page) = app.page(&browser, &ask).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Merge “Fillers” into “Botox”?"), "{page}");

    let merge = format!("/leads/{id}/merge");
    let (status, page) = app.post(&browser, &merge, &[("from_id", other_id), ("version", "7")]).await;
    assert_eq!(status, StatusCode::CONFLICT, "a page shown before a change merges nothing");
    assert!(page.contains("The leads were not merged"), "{page}");
    let (status, page) = app.post(&browser, &merge, &[("from_id", id), ("version", "1")]).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(page.contains("The leads were not merged: from id must be another lead"), "{page}");
    assert_eq!(app.post(&browser, &merge, &[("from_id", other_id), ("version", "1")]).await.1, format!("/leads/{id}?done=merged"));
    let stored = app.stored(id).await;
    assert_eq!((&stored["estimated_value"], &stored["notes_count"]), (&json!(90.0), &json!(1)));
    assert_eq!(app.api(reqwest::Method::GET, &format!("/opportunities/{other_id}"), None).await["error"]["code"], "not_found");
    let (_, page) = app.page(&browser, &format!("/leads/{id}?done=merged")).await;
    assert!(page.contains("Merged:") && !page.contains("Possible duplicates"), "{page}");
}

suite!(
    possible_duplicates_are_shown_and_merged_after_asking,
    a_stale_edit_shows_the_lead_as_it_is_and_writes_nothing,
    bad_fields_are_named_beside_them_and_nothing_is_written,
    only_what_the_form_changed_is_sent,
    notes_activities_close_and_convert_work_as_plain_posts,
    a_member_works_leads_as_the_api_lets_them,
    long_lists_are_paged,
);
