//! Optimistic concurrency: every opportunity response carries its version as an ETag, and
//! writes conditioned on it with If-Match fail with 412 once someone else changed it. Writes that
//! race for the same rows (totals, owners, a client's e-mail) succeed or answer 409, never 500.

mod common;

use std::sync::Arc;

use common::{Reply, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

suite!(
    etags_follow_the_version_and_if_match_guards_every_write,
    concurrent_writers_using_if_match_lose_no_update,
    leads_moved_between_two_stages_in_opposite_directions_at_once_all_move,
    owners_demoting_themselves_at_once_leave_one_owner,
    concurrent_conversions_with_one_email_link_one_client,
    clients_created_at_once_with_one_email_are_one_client,
);

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

/// Runs `task(i)` for every `i` in `0..count` at the same moment and returns the replies in order.
async fn at_once<F, Fut>(count: usize, task: F) -> Vec<Reply>
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Reply> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..count {
        let reply = task(i);
        tasks.spawn(async move { (i, reply.await) });
    }
    let mut replies = tasks.join_all().await;
    replies.sort_by_key(|(i, _)| *i);
    replies.into_iter().map(|(_, reply)| reply).collect()
}

/// On PostgreSQL a move updates the totals rows of the lead's old group and of its new one (and
/// the organization's rows above them). Two leads moving in opposite directions at once took
/// those locks in opposite orders and deadlocked, which answered 500.
async fn leads_moved_between_two_stages_in_opposite_directions_at_once_all_move(app: TestApp) {
    const ROUNDS: usize = 20;
    const PAIRS: usize = 3;
    let app = Arc::new(app);
    let mut leads = Vec::new();
    for _ in 0..PAIRS {
        for status in ["contacted", "qualified"] {
            leads.push(app.lead(&app.owner, json!({"status": status, "estimated_value": 100})).await.expect(201).id());
        }
    }
    // Lead 2k starts in "contacted" and lead 2k + 1 in "qualified"; every round swaps them.
    let stage = |i: usize, round: usize| if (i + round).is_multiple_of(2) { "qualified" } else { "contacted" };
    let leads = Arc::new(leads);
    for round in 0..ROUNDS {
        let replies = at_once(leads.len(), |i| {
            let (app, leads) = (app.clone(), leads.clone());
            let body = json!({"status": stage(i, round)});
            async move { app.patch(&app.owner, &format!("/opportunities/{}", leads[i]), body).await }
        })
        .await;
        for reply in replies {
            reply.expect(200);
        }
    }
    for (i, id) in leads.iter().enumerate() {
        let lead = app.get(&app.owner, &format!("/opportunities/{id}")).await.expect(200);
        assert_eq!(lead.data()["status"], stage(i, ROUNDS - 1), "lead {i}");
    }
    let stats = app.get(&app.owner, "/opportunities/stats").await.expect(200);
    assert_eq!((stats.data()["counts"]["contacted"].clone(), stats.data()["counts"]["qualified"].clone()), (json!(PAIRS), json!(PAIRS)));
    assert_eq!(stats.data()["totalValue"], json!(100.0 * leads.len() as f64), "{}", stats.body);
}

/// Each of two owners steps down at the same moment. Each locked their own row, then every
/// owner's row to count them: in opposite orders, a deadlock (500). One must stay owner.
async fn owners_demoting_themselves_at_once_leave_one_owner(app: TestApp) {
    const ROUNDS: usize = 10;
    let app = Arc::new(app);
    let owners = Arc::new([app.owner.clone(), app.staff("owner").await]);
    for _ in 0..ROUNDS {
        let replies = at_once(2, |i| {
            let (app, owners) = (app.clone(), owners.clone());
            async move { app.patch(&owners[i], &format!("/staff/{}", owners[i].staff_id), json!({"role": "admin"})).await }
        })
        .await;
        let outcomes: Vec<(u16, &str)> = replies.iter().map(|reply| (reply.status, reply.error_code())).collect();
        assert!(outcomes.contains(&(200, "")) && outcomes.contains(&(409, "conflict")), "one steps down, one stays: {outcomes:?}");
        let stayed = replies.iter().position(|reply| reply.status == 409).unwrap();
        let demoted = &owners[1 - stayed];
        assert_eq!(app.get(&owners[stayed], "/me").await.expect(200).data()["role"], "owner");
        app.patch(&owners[stayed], &format!("/staff/{}", demoted.staff_id), json!({"role": "owner"})).await.expect(200);
    }
}

/// Two leads of the same person converted at once: both must link the one client. On
/// PostgreSQL both looked for the e-mail before either had saved the client, and the second
/// insert broke the unique e-mail (409 or 500) instead of linking the first one's client.
async fn concurrent_conversions_with_one_email_link_one_client(app: TestApp) {
    const ROUNDS: usize = 8;
    let app = Arc::new(app);
    for round in 0..ROUNDS {
        let email = format!("twin{round}@example.com");
        let mut leads = Vec::new();
        for _ in 0..2 {
            leads.push(app.lead(&app.owner, json!({"prospect_email": email})).await.expect(201).id());
        }
        let leads = Arc::new(leads);
        let replies = at_once(2, |i| {
            let (app, leads) = (app.clone(), leads.clone());
            async move { app.post(&app.owner, &format!("/opportunities/{}/convert", leads[i]), json!({})).await }
        })
        .await;
        let replies: Vec<Reply> = replies.into_iter().map(|reply| reply.expect(200)).collect();
        assert_eq!(replies[0].data()["client_id"], replies[1].data()["client_id"], "one client for one e-mail");
        let created: Vec<bool> = replies.iter().map(|reply| reply.data()["created"].as_bool().unwrap()).collect();
        assert_eq!(created.iter().filter(|created| **created).count(), 1, "created once, linked once: {created:?}");
    }
    assert_eq!(app.get(&app.owner, "/clients").await.expect(200).body["meta"]["total"], ROUNDS);
}

/// The loser of the same race when creating clients runs again and gets the answer it would have
/// got a moment later: 409 naming the client that now has the e-mail, not a bare conflict.
async fn clients_created_at_once_with_one_email_are_one_client(app: TestApp) {
    const ROUNDS: usize = 8;
    let app = Arc::new(app);
    for round in 0..ROUNDS {
        let replies = at_once(2, |i| {
            let app = app.clone();
            let body = json!({"name": format!("Twin {i}"), "email": format!("client{round}@example.com")});
            async move { app.post(&app.owner, "/clients", body).await }
        })
        .await;
        let created: Vec<&Reply> = replies.iter().filter(|reply| reply.status == 201).collect();
        assert_eq!(created.len(), 1, "{replies:?}");
        let refused = replies.iter().find(|reply| reply.status != 201).unwrap();
        assert_eq!((refused.status, refused.error_code()), (409, "conflict"), "{}", refused.body);
        assert_eq!(refused.body["error"]["details"]["existing_id"], created[0].data()["id"], "{}", refused.body);
    }
}
