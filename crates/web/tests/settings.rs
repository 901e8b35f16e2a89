//! The settings pages over real HTTP on both engines: who may reach them (owners and admins,
//! not members, on every settings URL, GET and POST), that they write through the use cases
//! (validation beside the fields, the API sees the change), and what must be shown only once.

#[macro_use]
mod support;

use reqwest::StatusCode;
use serde_json::{Value, json};
use support::{App, PASSWORD, session_cookie};

/// Every settings page and form, with a body for each form, naming records made by the owner.
struct Urls {
    gets: Vec<String>,
    posts: Vec<(String, Vec<(&'static str, String)>)>,
}

impl Urls {
    async fn of(app: &App, member_id: &str) -> Urls {
        let category =
            app.api_body("POST", "/opportunity-categories", json!({ "name": "Botox" })).await["data"]["id"].as_str().unwrap().to_owned();
        let form = app.api_body("POST", "/lead-forms", json!({ "name": "Website" })).await["data"]["id"].as_str().unwrap().to_owned();
        let token = app.api_body("POST", &format!("/staff/{member_id}/tokens"), json!({})).await["data"]["id"].as_str().unwrap().to_owned();
        let gets = [
            "/settings".to_owned(),
            "/settings/categories".to_owned(),
            format!("/settings/categories/{category}"),
            "/settings/staff".to_owned(),
            "/settings/tokens".to_owned(),
            format!("/settings/tokens?staff_id={member_id}"),
            "/settings/lead-forms".to_owned(),
            format!("/settings/lead-forms/{form}"),
        ];
        let member = member_id.to_owned();
        let posts = vec![
            ("/settings/categories".to_owned(), vec![("name", "Fillers".to_owned()), ("color", "#0b6fae".to_owned())]),
            (format!("/settings/categories/{category}"), vec![("name", "Renamed".to_owned())]),
            (format!("/settings/categories/{category}/move"), vec![("direction", "down".to_owned())]),
            (format!("/settings/categories/{category}/active"), vec![("active", "false".to_owned())]),
            (
                "/settings/staff".to_owned(),
                vec![("name", "New".to_owned()), ("email", "new@example.com".to_owned()), ("role", "admin".to_owned())],
            ),
            (format!("/settings/staff/{member}/role"), vec![("role", "admin".to_owned())]),
            (format!("/settings/staff/{member}/active"), vec![("active", "false".to_owned())]),
            (format!("/settings/staff/{member}/invite"), vec![]),
            ("/settings/tokens".to_owned(), vec![("staff_id", member.clone()), ("name", "mine".to_owned())]),
            (format!("/settings/tokens/{token}/revoke"), vec![("staff_id", member.clone())]),
            ("/settings/lead-forms".to_owned(), vec![("name", "Another".to_owned())]),
            (format!("/settings/lead-forms/{form}"), vec![("name", "Renamed".to_owned())]),
        ];
        Urls { gets: gets.to_vec(), posts }
    }
}

async fn a_member_cannot_reach_settings(app: App) {
    let (member_id, member) = app.staff_browser("mo@example.com", "member").await;
    let member_id = member_id.to_string();
    let owner = app.owner_browser().await;
    let urls = Urls::of(&app, &member_id).await;
    let before = (
        app.api_body("GET", "/staff", Value::Null).await,
        app.api_body("GET", "/opportunity-categories?include_inactive=true", Value::Null).await,
    );

    for path in &urls.gets {
        assert_eq!(member.get(path).await.status(), StatusCode::FORBIDDEN, "GET {path}");
        let expected = if path == "/settings" { StatusCode::SEE_OTHER } else { StatusCode::OK };
        assert_eq!(owner.get(path).await.status(), expected, "the owner's GET {path}");
    }
    for (path, fields) in &urls.posts {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(name, value)| (*name, value.as_str())).collect();
        let response = member.post(path, &fields).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path}");
        assert!(response.text().await.unwrap().contains("Only an owner or admin may do this."), "POST {path}");
    }
    let after = (
        app.api_body("GET", "/staff", Value::Null).await,
        app.api_body("GET", "/opportunity-categories?include_inactive=true", Value::Null).await,
    );
    assert_eq!(before, after, "the members' posts changed nothing");
    let tokens = app.api_body("GET", &format!("/staff/{member_id}/tokens"), Value::Null).await;
    assert_eq!(tokens["data"].as_array().unwrap().len(), 1, "no token issued by the page, none revoked");
    assert!(tokens["data"][0]["revoked_at"].is_null());

    let member_board = member.get("/board").await.text().await.unwrap();
    assert!(!member_board.contains("href=\"/settings\""), "no Settings in a member's banner");
    assert!(owner.get("/board").await.text().await.unwrap().contains("href=\"/settings\""), "Settings in an owner's banner");
    let anonymous = app.http.get(format!("{}/settings/staff", app.base)).send().await.unwrap();
    assert_eq!((anonymous.status(), anonymous.headers()["location"].to_str().unwrap()), (StatusCode::SEE_OTHER, "/sign-in"));
}

async fn categories_are_checked_beside_their_fields_and_saved_through_the_use_cases(app: App) {
    let owner = app.owner_browser().await;
    let refused = owner.post("/settings/categories", &[("name", " "), ("color", "green")]).await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"name-error\"") && page.contains("Name is required"), "{page}");
    assert!(page.contains("id=\"color-error\"") && page.contains("must be a hex colour"), "{page}");
    assert!(page.contains("aria-describedby=\"color-error\""), "the message is tied to its field");

    for (name, color) in [("Botox", "#A0329F"), ("Facials", "#0f8a5f")] {
        let added = owner.post("/settings/categories", &[("name", name), ("color", color)]).await;
        assert_eq!(added.status(), StatusCode::SEE_OTHER);
        assert!(added.headers()["location"].to_str().unwrap().starts_with("/settings/categories?done=added#row-"));
    }
    let duplicate = owner.post("/settings/categories", &[("name", "botox"), ("color", "")]).await;
    assert_eq!(duplicate.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(duplicate.text().await.unwrap().contains("already exists"));

    let listed = app.api_body("GET", "/opportunity-categories", Value::Null).await;
    let names =
        |listed: &Value| listed["data"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(names(&listed), ["Botox", "Facials"], "added at the end, in order");
    assert_eq!(listed["data"][0]["color"], "#a0329f");
    let facials = listed["data"][1]["id"].as_str().unwrap().to_owned();
    let moved = owner.post(&format!("/settings/categories/{facials}/move"), &[("direction", "up")]).await;
    assert_eq!(moved.status(), StatusCode::SEE_OTHER);
    assert_eq!(names(&app.api_body("GET", "/opportunity-categories", Value::Null).await), ["Facials", "Botox"]);

    let deactivated = owner.post(&format!("/settings/categories/{facials}/active"), &[("active", "false")]).await;
    assert_eq!(deactivated.status(), StatusCode::SEE_OTHER);
    assert_eq!(names(&app.api_body("GET", "/opportunity-categories", Value::Null).await), ["Botox"], "inactive ones are not offered");
}

async fn a_token_is_shown_once_and_works_until_revoked(app: App) {
    let owner = app.owner_browser().await;
    let owner_id = app.owner_id.to_string();
    let issued = owner.post("/settings/tokens", &[("staff_id", &owner_id), ("name", "website")]).await;
    assert_eq!(issued.status(), StatusCode::CREATED);
    assert_eq!(issued.headers()["cache-control"], "no-store", "the secret stays out of caches");
    let page = issued.text().await.unwrap();
    let secret = page.split("id=\"new-token\" readonly value=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_owned();
    assert!(secret.starts_with("opp_"), "{secret}");

    let me = |token: String| {
        let request = app.http.get(format!("{}/api/v1/me", app.base)).bearer_auth(token).send();
        async { request.await.unwrap().status() }
    };
    assert_eq!(me(secret.clone()).await, StatusCode::OK);
    let listed = owner.get(&format!("/settings/tokens?staff_id={owner_id}")).await.text().await.unwrap();
    assert!(listed.contains("website") && !listed.contains(&secret), "listed by name, never with its secret");

    let tokens = app.api_body("GET", &format!("/staff/{owner_id}/tokens"), Value::Null).await;
    let id = tokens["data"].as_array().unwrap().iter().find(|t| t["name"] == "website").unwrap()["id"].as_str().unwrap().to_owned();
    let revoked = owner.post(&format!("/settings/tokens/{id}/revoke"), &[("staff_id", &owner_id)]).await;
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(secret).await, StatusCode::UNAUTHORIZED);
}

async fn an_invitation_from_the_page_signs_in_and_deactivation_signs_out(app: App) {
    let owner = app.owner_browser().await;
    let added = owner.post("/settings/staff", &[("name", "Sam Sales"), ("email", "sam@example.com"), ("role", "member")]).await;
    assert_eq!(added.status(), StatusCode::SEE_OTHER);
    let staff = app.api_body("GET", "/staff", Value::Null).await;
    let sam =
        staff["data"].as_array().unwrap().iter().find(|s| s["email"] == "sam@example.com").unwrap()["id"].as_str().unwrap().to_owned();

    let invited = owner.post(&format!("/settings/staff/{sam}/invite"), &[]).await;
    assert_eq!(invited.status(), StatusCode::CREATED);
    assert_eq!(invited.headers()["cache-control"], "no-store");
    let page = invited.text().await.unwrap();
    let link = page.split("id=\"new-link\" readonly value=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap().to_owned();
    assert!(link.starts_with(&format!("{}/setup/", app.base)), "{link}");
    assert!(!owner.get("/settings/staff").await.text().await.unwrap().contains(&link), "shown once");
    let chosen = app.choose_password(link.rsplit('/').next().unwrap()).await;
    let (cookie, _) = session_cookie(&chosen);
    assert_eq!(app.board_with(&cookie).await.status(), StatusCode::OK);

    let deactivated = owner.post(&format!("/settings/staff/{sam}/active"), &[("active", "false")]).await;
    assert_eq!(deactivated.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.board_with(&cookie).await.status(), StatusCode::SEE_OTHER, "signed out at once");
    assert_eq!(app.sign_in("sam@example.com", PASSWORD).await, StatusCode::UNAUTHORIZED);

    let owner_id = app.owner_id.to_string();
    let last_owner = owner.post(&format!("/settings/staff/{owner_id}/active"), &[("active", "false")]).await;
    assert_eq!(last_owner.status(), StatusCode::CONFLICT);
    assert!(last_owner.text().await.unwrap().contains("must keep at least one active owner"));
}

async fn a_lead_form_shows_its_hosted_link_and_snippet(app: App) {
    let owner = app.owner_browser().await;
    let refused = owner
        .post("/settings/lead-forms", &[("name", "Website"), ("allowed_origins", "clinic.example"), ("thank_you_url", "/thanks")])
        .await;
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = refused.text().await.unwrap();
    assert!(page.contains("id=\"allowed_origins-error\"") && page.contains("id=\"thank_you_url-error\""), "{page}");

    let created = owner
        .post("/settings/lead-forms", &[("name", "Website"), ("allowed_origins", "https://clinic.example\nhttp://localhost:3000")])
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let forms = app.api_body("GET", "/lead-forms", Value::Null).await;
    let form = &forms["data"][0];
    assert_eq!(form["allowed_origins"], json!(["https://clinic.example", "http://localhost:3000"]));
    let page = owner.get("/settings/lead-forms").await.text().await.unwrap();
    let hosted = form["hosted_url"].as_str().unwrap();
    assert!(page.contains(&format!("href=\"{hosted}\"")), "the hosted page's link");
    let snippet_action =
        format!("action=&quot;{}/api/v1/public/lead-forms/{}/submissions&quot;", app.base, form["form_key"].as_str().unwrap());
    assert!(page.contains(&snippet_action), "the snippet, escaped in its text area");
}

suite!(
    a_member_cannot_reach_settings,
    categories_are_checked_beside_their_fields_and_saved_through_the_use_cases,
    a_token_is_shown_once_and_works_until_revoked,
    an_invitation_from_the_page_signs_in_and_deactivation_signs_out,
    a_lead_form_shows_its_hosted_link_and_snippet,
);
