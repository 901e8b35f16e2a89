//! The agenda page, the signed-in staff member's start page, over real HTTP on both backends:
//! it lists their own follow-ups and scheduled activities by section, links to the leads, and
//! its **Mark done** button completes an activity through the same use case as the API.

#[macro_use]
mod support;

use domain::Timestamp;
use domain::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::json;
use store::service::{self, NewOrganization};
use support::App;

const HOUR: i64 = 3_600_000_000;

fn at(hours_from_now: i64) -> String {
    Timestamp::from_unix_micros(Timestamp::now().unix_micros() + hours_from_now * HOUR).expect("an instant").to_string()
}

async fn the_start_page_is_the_agenda(app: App) {
    let browser = app.session(app.org_id, app.owner_id, Role::Owner, Timestamp::now()).await;
    let start = browser.get("/").await;
    assert_eq!((start.status(), start.headers()["location"].to_str().expect("text")), (StatusCode::SEE_OTHER, "/agenda"));
    let page = browser.get("/agenda").await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("a page");
    assert!(page.contains(r#"href="/agenda" aria-current="page""#), "the banner's Agenda link is current");
    assert_eq!(page.matches("Nothing here.").count(), 3, "three empty sections");
}

async fn the_agenda_lists_my_items_and_marks_activities_done(app: App) {
    let owner = app.owner_id.to_string();
    let overdue = json!({ "title": "Overdue call-back", "prospect_name": "Pat", "follow_up_date": at(-72), "assigned_to": owner });
    app.api_data(Method::POST, "/opportunities", overdue).await;
    let someone_elses = json!({ "title": "Not mine", "prospect_name": "Lee", "follow_up_date": at(-72) });
    app.api_data(Method::POST, "/opportunities", someone_elses).await;
    let lead = app
        .api_data(Method::POST, "/opportunities", json!({ "title": "Filler consult", "prospect_name": "Ann", "assigned_to": owner }))
        .await;
    let lead_id = lead["id"].as_str().expect("an id").to_owned();
    let activity = json!({ "activity_type": "call", "description": "Confirm the appointment", "scheduled_at": at(48) });
    let activity = app.api_data(Method::POST, &format!("/opportunities/{lead_id}/activities"), activity).await;
    let activity_id = activity["id"].as_str().expect("an id").to_owned();

    let browser = app.session(app.org_id, app.owner_id, Role::Owner, Timestamp::now()).await;
    let page = browser.get("/agenda").await.text().await.expect("a page");
    assert!(page.contains("Overdue call-back") && page.contains(&format!(r#"href="/leads/{lead_id}""#)));
    assert!(!page.contains("Not mine"), "only the signed-in member's leads");
    let done = format!("/agenda/{lead_id}/activities/{activity_id}/done");
    assert!(page.contains(&format!(r#"action="{done}""#)), "a Mark done form");

    let forged = support::form(app.http.post(format!("{}{done}", app.base)), &[("csrf", "forged")]).header("cookie", &browser.cookie);
    assert_eq!(forged.send().await.expect("a response").status(), StatusCode::FORBIDDEN, "no CSRF token, nothing done");
    let other = NewOrganization { name: "Other".into(), owner_name: "Otto".into(), owner_email: "otto@example.com".into(), token: None };
    let other = service::create_organization(app.store.as_ref(), other).await.expect("an organization");
    let stranger = app.session(other.org_id, other.staff_id, Role::Owner, Timestamp::now()).await;
    assert_eq!(stranger.post(&done, &[]).await.status(), StatusCode::NOT_FOUND, "another organization's activity");

    let marked = browser.post(&done, &[]).await;
    assert_eq!((marked.status(), marked.headers()["location"].to_str().expect("text")), (StatusCode::SEE_OTHER, "/agenda?done=1"));
    let stored = app.api_data(Method::GET, &format!("/opportunities/{lead_id}/activities"), serde_json::Value::Null).await;
    assert!(stored[0]["completed_at"].is_string(), "completed: {stored}");
    let page = browser.get("/agenda?done=1").await.text().await.expect("a page");
    assert!(page.contains("Marked as done.") && !page.contains("Confirm the appointment"));
}

suite!(the_start_page_is_the_agenda, the_agenda_lists_my_items_and_marks_activities_done);
