//! Idempotency-Key on POST: retries are answered from the first response, never redone.

mod common;

use std::sync::Arc;

use common::{Caller, Reply, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

suite!(a_retry_replays_the_first_response, concurrent_retries_do_the_work_once);

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

    // Keys belong to an organization: another one may use the same key for its own work.
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
