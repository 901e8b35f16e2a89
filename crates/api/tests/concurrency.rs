//! Optimistic concurrency: every opportunity response carries its version as an ETag, and
//! writes conditioned on it with If-Match fail with 412 once someone else changed it.

mod common;

use std::sync::Arc;

use common::{Reply, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

suite!(etags_follow_the_version_and_if_match_guards_every_write, concurrent_writers_using_if_match_lose_no_update);

fn etag(reply: &Reply) -> String {
    reply.headers["etag"].to_str().unwrap().to_owned()
}

async fn conditional(app: &TestApp, method: Method, path: &str, if_match: &str, body: Option<Value>) -> Reply {
    let mut request = app.request(method, path).bearer_auth(&app.owner.token).header("if-match", if_match);
    if let Some(body) = body {
        request = request.json(&body);
    }
    TestApp::reply(request).await
}

async fn etags_follow_the_version_and_if_match_guards_every_write(app: TestApp) {
    let created = app.lead(&app.owner, json!({})).await.expect(201);
    assert_eq!(etag(&created), "\"1\"");
    let path = format!("/opportunities/{}", created.id());
    assert_eq!(etag(&app.get(&app.owner, &path).await.expect(200)), "\"1\"");

    let updated = conditional(&app, Method::PATCH, &path, "\"1\"", Some(json!({"probability": 30}))).await.expect(200);
    assert_eq!(etag(&updated), "\"2\"");
    let stale = conditional(&app, Method::PATCH, &path, "\"1\"", Some(json!({"probability": 90}))).await;
    let stale = stale.expect_error(412, "precondition_failed");
    assert_eq!(stale.body["error"]["details"]["current_version"], 2);
    assert_eq!(app.get(&app.owner, &path).await.data()["probability"], 30, "the stale write changed nothing");

    conditional(&app, Method::POST, &format!("{path}/close"), "W/\"1\"", Some(json!({"won": true})))
        .await
        .expect_error(412, "precondition_failed");
    conditional(&app, Method::POST, &format!("{path}/convert"), "1", None).await.expect_error(412, "precondition_failed");
    conditional(&app, Method::DELETE, &path, "\"1\"", None).await.expect_error(412, "precondition_failed");
    conditional(&app, Method::PATCH, &path, "yesterday", Some(json!({}))).await.expect_error(400, "bad_request");
    assert_eq!(app.get(&app.owner, &path).await.expect(200).data()["status"], "open", "nothing closed or deleted");

    let closed = conditional(&app, Method::POST, &format!("{path}/close"), "\"2\"", Some(json!({"won": false}))).await.expect(200);
    assert_eq!(etag(&closed), "\"3\"");
    conditional(&app, Method::PATCH, &path, "*", Some(json!({"status": "open"}))).await.expect(200);
    conditional(&app, Method::DELETE, &path, "\"4\"", None).await.expect(200);
}

/// Each writer appends its own marks to the description by read-modify-write. Without
/// If-Match two writers reading the same version would overwrite each other's marks.
async fn concurrent_writers_using_if_match_lose_no_update(app: TestApp) {
    const WRITERS: usize = 6;
    const MARKS: usize = 5;
    let app = Arc::new(app);
    let path = format!("/opportunities/{}", app.lead(&app.owner, json!({"description": "marks:"})).await.expect(201).id());
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..WRITERS {
        let (app, path) = (app.clone(), path.clone());
        writers.spawn(async move {
            let mut conflicts = 0;
            for mark in 0..MARKS {
                loop {
                    let read = app.get(&app.owner, &path).await.expect(200);
                    let description = format!("{} w{writer}m{mark}", read.data()["description"].as_str().unwrap());
                    let write = conditional(&app, Method::PATCH, &path, &etag(&read), Some(json!({"description": description}))).await;
                    match write.status {
                        200 => break,
                        412 => conflicts += 1,
                        other => panic!("unexpected {other}: {}", write.body),
                    }
                }
            }
            conflicts
        });
    }
    let conflicts: usize = writers.join_all().await.into_iter().sum();
    let last = app.get(&app.owner, &path).await.expect(200);
    let description = last.data()["description"].as_str().unwrap();
    for writer in 0..WRITERS {
        for mark in 0..MARKS {
            assert_eq!(description.matches(&format!(" w{writer}m{mark}")).count(), 1, "w{writer}m{mark} in {description}");
        }
    }
    assert_eq!(last.data()["version"], 1 + WRITERS * MARKS);
    eprintln!("{conflicts} conflicting writes were refused and retried");
}
