//! Signing in, over real HTTP against the binary's router on both backends: what a browser
//! test cannot see or would take minutes to reach (rate limits, cookie flags, expiry).

#[macro_use]
mod support;

use domain::Timestamp;
use reqwest::StatusCode;
use support::{App, PASSWORD, form, session_cookie};

async fn a_link_works_once_and_not_after_it_expires(app: App) {
    let secret = app.link(None).await;
    let first = app.choose_password(&secret).await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    assert_eq!(app.choose_password(&secret).await.status(), StatusCode::GONE, "used once already");

    let expired = app.link(Some(Timestamp::from_unix_micros(Timestamp::now().unix_micros() - 1).expect("in range"))).await;
    assert_eq!(app.choose_password(&expired).await.status(), StatusCode::GONE);
    assert_eq!(app.choose_password("opp_made_up").await.status(), StatusCode::GONE);
}

async fn the_session_cookie_is_http_only_lax_and_never_opens_the_api(app: App) {
    let response = app.choose_password(&app.link(None).await).await;
    let (cookie, header) = session_cookie(&response);
    assert!(header.contains("HttpOnly") && header.contains("SameSite=Lax") && header.contains("Path=/"), "{header}");
    assert!(!header.contains("Secure"), "not over plain http: {header}");
    assert_eq!(app.board_with(&cookie).await.status(), StatusCode::OK);
    let api = app.http.get(format!("{}/api/v1/opportunities", app.base)).header("cookie", &cookie).send().await.expect("a response");
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED, "a browser session never authorizes the API");
}

async fn sign_in_is_rate_limited_per_account_and_per_address(app: App) {
    app.choose_password(&app.link(None).await).await;
    for _ in 0..3 {
        assert_eq!(app.sign_in("owner@example.com", "wrong password here").await, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.sign_in("owner@example.com", PASSWORD).await, StatusCode::TOO_MANY_REQUESTS, "the account's allowance is used up");
    assert_eq!(app.sign_in("other@example.com", "wrong password here").await, StatusCode::UNAUTHORIZED, "another account is not");
    assert_eq!(app.sign_in("third@example.com", "wrong password here").await, StatusCode::TOO_MANY_REQUESTS, "the address's is");
}

async fn an_idle_or_deactivated_session_ends(app: App) {
    let long_ago = Timestamp::from_unix_micros(Timestamp::now().unix_micros() - 13 * 3_600_000_000).expect("in range");
    let idle = app.session(app.org_id, app.owner_id, domain::auth::Role::Owner, long_ago).await;
    let response = app.board_with(&idle.cookie).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()["location"], "/sign-in", "idle for 13 hours");
    let sign_out = form(app.http.post(format!("{}/sign-out", app.base)).header("cookie", &idle.cookie), &[("csrf", &idle.csrf)]);
    assert_eq!(sign_out.send().await.expect("a response").headers()["location"], "/sign-in", "nor may it post a form");

    let invited = app
        .http
        .post(format!("{}/api/v1/staff", app.base))
        .bearer_auth(&app.token)
        .json(&serde_json::json!({ "name": "Mo Member", "email": "mo@example.com", "role": "member" }))
        .send()
        .await
        .expect("a response");
    let member: serde_json::Value = invited.json().await.expect("json");
    let member_id = member["data"]["id"].as_str().expect("an id").to_owned();
    let invite =
        app.http.post(format!("{}/api/v1/staff/{member_id}/invite", app.base)).bearer_auth(&app.token).send().await.expect("a response");
    assert_eq!(invite.status(), StatusCode::CREATED);
    let invite: serde_json::Value = invite.json().await.expect("json");
    let url = invite["data"]["url"].as_str().expect("a url");
    assert!(url.starts_with(&format!("{}/setup/", app.base)), "{url}");
    let secret = url.rsplit('/').next().expect("a secret");
    let (cookie, _) = session_cookie(&app.choose_password(secret).await);
    assert_eq!(app.board_with(&cookie).await.status(), StatusCode::OK);
    let deactivate = app
        .http
        .patch(format!("{}/api/v1/staff/{member_id}", app.base))
        .bearer_auth(&app.token)
        .json(&serde_json::json!({ "is_active": false }))
        .send()
        .await
        .expect("a response");
    assert_eq!(deactivate.status(), StatusCode::OK);
    assert_eq!(app.board_with(&cookie).await.status(), StatusCode::SEE_OTHER, "deactivation ends the session at once");
    let again =
        app.http.post(format!("{}/api/v1/staff/{member_id}/invite", app.base)).bearer_auth(&app.token).send().await.expect("a response");
    assert_eq!(again.status(), StatusCode::CONFLICT, "no link for a deactivated member");
}

suite!(
    a_link_works_once_and_not_after_it_expires,
    the_session_cookie_is_http_only_lax_and_never_opens_the_api,
    sign_in_is_rate_limited_per_account_and_per_address,
    an_idle_or_deactivated_session_ends,
);

#[tokio::test]
async fn behind_https_the_cookie_is_secure() {
    let dir = tempfile::tempdir().expect("a directory");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let app = App::start(&url, dir, Some("https://crm.example.com")).await;
    let response = app.choose_password(&app.link(None).await).await;
    let (_, header) = session_cookie(&response);
    assert!(header.contains("Secure"), "{header}");
}
