//! The list, its CSV export and the dashboard, over real HTTP on both backends: who may read
//! what, and that each shows the API's selection and figures.

#[macro_use]
mod support;

use domain::Timestamp;
use domain::auth::Role;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use store::service::{self, NewOrganization};
use support::App;

async fn lead(app: &App, fields: Value) -> String {
    app.api_data(Method::POST, "/opportunities", fields).await["id"].as_str().expect("an id").to_owned()
}

/// The ids in an export's rows (the first column), header left out.
fn exported_ids(csv: &str) -> Vec<String> {
    let mut lines = csv.lines();
    assert!(lines.next().is_some_and(|header| header.starts_with("id,title,")), "{csv}");
    let mut ids: Vec<String> = lines.map(|line| line.split(',').next().unwrap_or_default().to_owned()).collect();
    ids.sort();
    ids
}

async fn the_export_holds_the_selection_of_its_own_organization_only(app: App) {
    let website = lead(&app, json!({ "title": "Website", "prospect_name": "Ann", "source": "website" })).await;
    let referral = lead(&app, json!({ "title": "Referral", "prospect_name": "Bea", "source": "referral" })).await;
    let won = lead(&app, json!({ "title": "Won", "prospect_name": "Cy", "source": "website" })).await;
    app.api_data(Method::POST, &format!("/opportunities/{won}/close"), json!({ "won": true })).await;
    let other = NewOrganization { name: "Other".into(), owner_name: "Otto".into(), owner_email: "otto@example.com".into(), token: None };
    let other = service::create_organization(app.store.as_ref(), other).await.expect("an organization");
    let foreign = app
        .http
        .post(format!("{}/api/v1/opportunities", app.base))
        .bearer_auth(&other.token)
        .json(&json!({ "title": "Foreign", "prospect_name": "Dee", "source": "website" }))
        .send()
        .await
        .expect("a response");
    assert_eq!(foreign.status(), StatusCode::CREATED);

    let signed_out = app.page_as("/leads/export.csv?assigned_to=", "").await;
    assert_eq!(signed_out.status(), StatusCode::SEE_OTHER, "no session, no export");
    assert_eq!(signed_out.headers()["location"], "/sign-in");

    let cookie = app.session(app.org_id, app.owner_id, Role::Owner, Timestamp::now()).await.cookie;
    let filtered = app.page_as("/leads/export.csv?assigned_to=&status=open&source=website", &cookie).await;
    assert_eq!(filtered.status(), StatusCode::OK);
    assert!(filtered.headers()["content-type"].to_str().expect("text").starts_with("text/csv"));
    assert_eq!(exported_ids(&filtered.text().await.expect("a body")), std::slice::from_ref(&website));

    let everything = app.page_as("/leads/export.csv?assigned_to=", &cookie).await.text().await.expect("a body");
    let mut mine = vec![website, referral, won];
    mine.sort();
    assert_eq!(exported_ids(&everything), mine, "the other organization's lead stays out");
}

async fn a_member_lists_their_own_leads_unless_they_ask_for_everyones(app: App) {
    let member = app.api_data(Method::POST, "/staff", json!({ "name": "Mo Member", "email": "mo@example.com", "role": "member" })).await;
    let member_id = member["id"].as_str().expect("an id").to_owned();
    lead(&app, json!({ "title": "Mine to call", "prospect_name": "Ann", "assigned_to": member_id })).await;
    lead(&app, json!({ "title": "Not mine", "prospect_name": "Bea" })).await;
    let cookie = app.session(app.org_id, member_id.parse().expect("a uuid"), Role::Member, Timestamp::now()).await.cookie;

    let own = app.page_as("/leads", &cookie).await.text().await.expect("a page");
    assert!(own.contains("Mine to call"), "{own}");
    assert!(!own.contains("Not mine"), "a member's list starts with their own leads");
    let everyone = app.page_as("/leads?assigned_to=", &cookie).await.text().await.expect("a page");
    assert!(everyone.contains("Not mine"), "and shows everyone's on request");

    let dashboard = app.page_as("/dashboard", &cookie).await.text().await.expect("a page");
    assert!(dashboard.contains(r#"data-stat="total">1<"#), "the member's own figures first");
    let all = app.page_as("/dashboard?assigned_to=", &cookie).await.text().await.expect("a page");
    assert!(all.contains(r#"data-stat="total">2<"#), "everyone's on request");
    // The last 90 days' funnel follows the same owner filter.
    let open_row = |entered: i64| format!(r#"<tr data-stage="open"><th scope="row">Open</th><td class="number">{entered}<"#);
    assert!(dashboard.contains("Funnel of the leads created") && dashboard.contains(&open_row(1)), "{dashboard}");
    assert!(all.contains(&open_row(2)), "{all}");
}

async fn a_refused_filter_is_a_400_page_and_unreadable_values_are_ignored(app: App) {
    let cookie = app.session(app.org_id, app.owner_id, Role::Owner, Timestamp::now()).await.cookie;
    let refused = app.page_as("/leads?search=a+b+c+d+e+f+g+h+i", &cookie).await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.expect("a page").contains("at most 8 different words"));
    let lenient = app.page_as("/leads?status=done&sort=title&limit=7&offset=-1&category_id=nope", &cookie).await;
    assert_eq!(lenient.status(), StatusCode::OK, "a stale bookmark still opens");
    let export = app.page_as("/leads/export.csv?search=a+b+c+d+e+f+g+h+i", &cookie).await;
    assert_eq!(export.status(), StatusCode::BAD_REQUEST);
}

suite!(
    the_export_holds_the_selection_of_its_own_organization_only,
    a_member_lists_their_own_leads_unless_they_ask_for_everyones,
    a_refused_filter_is_a_400_page_and_unreadable_values_are_ignored,
);
