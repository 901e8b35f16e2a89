//! Idempotency-Key on POST: retries are answered from the first response, never redone.

mod common;

use std::sync::Arc;

use common::{Caller, Reply, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

suite!(
    a_retry_replays_the_first_response,
    concurrent_retries_do_the_work_once,
    another_callers_key_is_another_key,
    a_visitor_cannot_claim_or_use_a_staff_members_key,
    a_caller_whose_role_changed_gets_no_replay,
    a_token_secret_is_never_kept_for_a_retry,
);

async fn post_with_key(app: &TestApp, caller: &Caller, path: &str, key: &str, body: Value) -> Reply {
    let request = app.request(Method::POST, path).bearer_auth(&caller.token).header("idempotency-key", key).json(&body);
    TestApp::reply(request).await
}

async fn total(app: &TestApp, caller: &Caller) -> Value {
    app.get(caller, "/opportunities").await.expect(200).body["meta"]["total"].clone()
}

async fn a_retry_replays_the_first_response(app: TestApp) {
    let lead = json!({"title": "Botox", "prospect_name": "Jane"});
    let first = post_with_key(&app, &app.owner, "/opportunities", "key-1", lead.clone()).await.expect(201);
    assert!(first.headers.get("idempotent-replayed").is_none());
    let retry = post_with_key(&app, &app.owner, "/opportunities", "key-1", lead.clone()).await.expect(201);
    assert_eq!(retry.body, first.body, "the same status and body");
    assert_eq!(retry.headers["idempotent-replayed"], "true");
    assert_eq!(total(&app, &app.owner).await, 1, "created once");

    let other = post_with_key(&app, &app.owner, "/opportunities", "key-1", json!({"title": "Filler", "prospect_name": "Jane"})).await;
    other.expect_error(422, "idempotency_key_reused");
    let elsewhere =
        post_with_key(&app, &app.owner, &format!("/opportunities/{}/notes", first.id()), "key-1", json!({"content": "hi"})).await;
    elsewhere.expect_error(422, "idempotency_key_reused");

    // Keys belong to their caller: another organization's may use the same key for its own work.
    let other_org = app.other_org().await;
    post_with_key(&app, &other_org, "/opportunities", "key-1", lead.clone()).await.expect(201);
    assert_eq!(total(&app, &other_org).await, 1);

    // A failed request did nothing, so its key is free for the corrected request.
    post_with_key(&app, &app.owner, "/opportunities", "key-2", json!({"title": ""})).await.expect_error(422, "validation_failed");
    post_with_key(&app, &app.owner, "/opportunities", "key-2", lead).await.expect(201);
    assert_eq!(total(&app, &app.owner).await, 2);

    post_with_key(&app, &app.owner, "/opportunities", &"k".repeat(256), json!({})).await.expect_error(400, "bad_request");
}

async fn concurrent_retries_do_the_work_once(app: TestApp) {
    let app = Arc::new(app);
    let mut attempts = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let app = app.clone();
        attempts.spawn(async move {
            let body = json!({"title": "Double-clicked", "prospect_name": "Sam"});
            post_with_key(&app, &app.owner, "/opportunities", "double-click", body).await
        });
    }
    let replies = attempts.join_all().await;
    let created: Vec<&Reply> = replies.iter().filter(|r| r.status == 201).collect();
    assert!(!created.is_empty());
    assert!(created.iter().all(|r| r.body == created[0].body), "every success is the one response");
    for reply in replies.iter().filter(|r| r.status != 201) {
        assert_eq!((reply.status, reply.error_code()), (409, "idempotency_key_in_progress"), "{}", reply.body);
    }
    assert_eq!(total(&app, &app.owner).await, 1, "created once");
}

fn replayed(reply: &Reply) -> bool {
    reply.headers.get("idempotent-replayed").is_some()
}

/// A member who sent the key of an owner's token request was answered with the owner's
/// response: a working owner token. Keys are the caller's own; another caller's request with
/// the same key is processed as their own.
async fn another_callers_key_is_another_key(app: TestApp) {
    let (owner, member) = (&app.owner, app.staff("member").await);
    let owners_tokens = format!("/staff/{}/tokens", owner.staff_id);
    post_with_key(&app, owner, &owners_tokens, "shared-key", json!({})).await.expect(201);
    let attack = post_with_key(&app, &member, &owners_tokens, "shared-key", json!({})).await;
    assert!(!replayed(&attack), "{}", attack.body);
    attack.expect_error(403, "forbidden");

    let own = post_with_key(&app, &member, &format!("/staff/{}/tokens", member.staff_id), "shared-key", json!({})).await.expect(201);
    assert_eq!(own.data()["staff_id"], json!(member.staff_id));
    let lead = json!({"title": "Botox", "prospect_name": "Jane"});
    let owners = post_with_key(&app, owner, "/opportunities", "lead-key", lead.clone()).await.expect(201);
    let members = post_with_key(&app, &member, "/opportunities", "lead-key", lead).await.expect(201);
    assert!(!replayed(&members));
    assert_ne!(owners.id(), members.id(), "one lead each");
    assert_eq!(total(&app, owner).await, 2);
}

/// Public submissions have keys of their own per form, apart from every staff member's: a
/// visitor cannot claim a key before staff use it (their request would be refused as a
/// mismatch), nor be answered from a key staff used.
async fn a_visitor_cannot_claim_or_use_a_staff_members_key(app: TestApp) {
    let owner = &app.owner;
    let form = app.post(owner, "/lead-forms", json!({"name": "Website"})).await.expect(201);
    let submissions = format!("/public/lead-forms/{}/submissions", form.data()["form_key"].as_str().unwrap());
    let submit = |key: &'static str| {
        let request = app.request(Method::POST, &submissions).header("idempotency-key", key);
        TestApp::reply(request.json(&json!({"name": "Visitor", "email": "visitor@example.com"})))
    };
    submit("claimed-first").await.expect(201);
    let lead = json!({"title": "Botox", "prospect_name": "Jane"});
    let staff = post_with_key(&app, owner, "/opportunities", "claimed-first", lead.clone()).await.expect(201);
    assert!(!replayed(&staff));

    post_with_key(&app, owner, "/opportunities", "used-by-staff", lead).await.expect(201);
    let visitor = submit("used-by-staff").await.expect(201);
    assert!(!replayed(&visitor));
    assert_eq!(total(&app, owner).await, 4, "two submissions and two leads by staff");

    let retry = submit("claimed-first").await.expect(201);
    assert!(replayed(&retry), "the visitor's own retry is still answered once");
    assert_eq!(total(&app, owner).await, 4);
}

/// The role is part of what makes a retry the same request: an admin demoted to member is not
/// answered with what only an admin could do.
async fn a_caller_whose_role_changed_gets_no_replay(app: TestApp) {
    let admin = app.staff("admin").await;
    let hire = json!({"name": "New Hire", "email": "hire@example.com"});
    post_with_key(&app, &admin, "/staff", "hire-key", hire.clone()).await.expect(201);
    assert!(replayed(&post_with_key(&app, &admin, "/staff", "hire-key", hire.clone()).await.expect(201)));
    app.patch(&app.owner, &format!("/staff/{}", admin.staff_id), json!({"role": "member"})).await.expect(200);
    let after = post_with_key(&app, &admin, "/staff", "hire-key", hire).await;
    assert!(!replayed(&after), "{}", after.body);
    after.expect_error(422, "idempotency_key_reused");
}

/// Token secrets are stored only as hashes, the key table included: a retry of an issuance is
/// told which token the first request issued, never its secret.
async fn a_token_secret_is_never_kept_for_a_retry(app: TestApp) {
    let path = format!("/staff/{}/tokens", app.owner.staff_id);
    let issued = post_with_key(&app, &app.owner, &path, "token-key", json!({"name": "laptop"})).await.expect(201);
    let secret = issued.data()["token"].as_str().unwrap().to_owned();
    let retry = post_with_key(&app, &app.owner, &path, "token-key", json!({"name": "laptop"})).await;
    assert!(replayed(&retry));
    let retry = retry.expect_error(409, "token_already_issued");
    assert_eq!(retry.body["error"]["details"]["token_id"], issued.data()["id"]);
    assert!(!retry.body.to_string().contains(&secret));

    let stored = app.stored_bytes("SELECT response FROM idempotency_keys WHERE response IS NOT NULL").await;
    assert_eq!(stored.len(), 1, "the issuance's key is kept");
    assert!(!stored[0].windows(secret.len()).any(|window| window == secret.as_bytes()), "the secret is not stored");
    let tokens = app.get(&app.owner, &path).await.expect(200);
    assert_eq!(tokens.body["meta"]["total"], 2, "the first owner token and the one issued once");
}
