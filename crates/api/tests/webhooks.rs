//! Webhooks end to end: subscriptions over the API, events written with their change, a worker
//! delivering them to a receiver on loopback, signed; retries, redelivery, giving up, and what
//! must never be sent.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{Caller, TestApp};
use domain::webhook::{RetryPolicy, TargetPolicy, verify};
use serde_json::{Value, json};
use webhooks::testing::{Received, Receiver};

/// Retries within a test's patience.
const QUICK_RETRIES: RetryPolicy = RetryPolicy {
    first_delay: Duration::from_millis(100),
    max_delay: Duration::from_millis(400),
    give_up_after: Duration::from_secs(3600),
};

const PATIENCE: Duration = Duration::from_secs(20);

/// A worker for the test's database, as `opportunities serve` runs one.
fn start_worker(app: &TestApp, retry: RetryPolicy, targets: TargetPolicy) {
    start_worker_waiting(app, retry, targets, Duration::from_secs(5));
}

/// [`start_worker`] giving up on a receiver's answer after `timeout`.
fn start_worker_waiting(app: &TestApp, retry: RetryPolicy, targets: TargetPolicy, timeout: Duration) {
    let config = webhooks::Config { interval: Duration::from_millis(20), concurrency: 4, timeout, retry, targets };
    tokio::spawn(webhooks::run(app.store.clone(), config));
}

fn loopback() -> TargetPolicy {
    TargetPolicy { allow_private: true }
}

/// A webhook to the receiver for `events`: its id and secret.
async fn subscribe(app: &TestApp, caller: &Caller, receiver: &Receiver, events: Value) -> (String, String) {
    let created = app.post(caller, "/webhooks", json!({"url": receiver.url, "events": events})).await.expect(201);
    (created.id(), created.data()["secret"].as_str().expect("the secret, shown once").to_owned())
}

/// Deliveries run in parallel, so they may arrive in any order; events' ids (UUID v7) are in
/// the order the events happened.
fn in_order(mut received: Vec<Received>) -> Vec<Received> {
    received.sort_by_key(|r| r.event["id"].as_str().unwrap_or_default().to_owned());
    received
}

fn types(received: &[Received]) -> Vec<String> {
    in_order(received.to_vec()).iter().map(|r| r.event["type"].as_str().unwrap_or_default().to_owned()).collect()
}

fn now_seconds() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

async fn events_arrive_signed_with_the_record_as_the_api_shows_it(app: TestApp) {
    let receiver = Receiver::start().await;
    let (webhook_id, secret) =
        subscribe(&app, &app.owner, &receiver, json!(["opportunity.created", "opportunity.won", "note.created"])).await;
    start_worker(&app, QUICK_RETRIES, loopback());

    let listed = app.get(&app.owner, "/webhooks").await.expect(200);
    assert_eq!(listed.data()[0]["id"], json!(webhook_id));
    assert!(listed.data()[0].get("secret").is_none(), "the secret is shown once, at creation: {}", listed.body);

    let lead = app.lead(&app.owner, json!({})).await.expect(201);
    let lead_id = lead.id();
    app.post(&app.owner, &format!("/opportunities/{lead_id}/notes"), json!({"content": "Called back"})).await.expect(201);
    app.patch(&app.owner, &format!("/opportunities/{lead_id}"), json!({"title": "Renamed"})).await.expect(200);
    app.post(&app.owner, &format!("/opportunities/{lead_id}/close"), json!({"won": true})).await.expect(200);

    // A visitor's inquiry through a website form is a new lead too.
    let form = app.post(&app.owner, "/lead-forms", json!({"name": "Site", "allowed_origins": []})).await.expect(201);
    let submissions = format!("/public/lead-forms/{}/submissions", form.data()["form_key"].as_str().expect("a form key"));
    TestApp::reply(app.request(reqwest::Method::POST, &submissions).json(&json!({"name": "Visitor", "email": "visitor@example.com"})))
        .await
        .expect(201);

    let received = receiver.wait_for(4, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let received = in_order(if receiver.accepted().len() > received.len() { receiver.accepted() } else { received });
    let expected = ["opportunity.created", "note.created", "opportunity.won", "opportunity.created"];
    assert_eq!(types(&received), expected, "only what it listens to, in order");
    assert_eq!(received[3].event["data"]["source"], json!("website"));
    for delivery in &received {
        assert!(verify(&secret, &delivery.signature, &delivery.body, now_seconds(), Duration::from_secs(300)), "{delivery:?}");
        assert!(!verify("whsec_wrong", &delivery.signature, &delivery.body, now_seconds(), Duration::from_secs(300)));
        let event = &delivery.event;
        assert!(event["id"].as_str().is_some_and(|id| uuid::Uuid::parse_str(id).is_ok()), "{event}");
        assert!(event["created_at"].is_string(), "{event}");
    }
    let ids: BTreeSet<_> = received.iter().map(|r| r.event["id"].to_string()).collect();
    assert_eq!(ids.len(), 4, "each event has its own id");
    // The creation's answer adds what the lead may duplicate, which is advice for the caller, not part of the lead.
    let mut answered = lead.data().clone();
    answered.as_object_mut().unwrap().remove("possible_duplicates");
    assert_eq!(received[0].event["data"], answered, "the data is what the API answered");
    assert_eq!(received[2].event["data"]["status"], json!("won"));
    assert_eq!(received[2].event["data"]["title"], json!("Renamed"), "the record as it was when the event happened");
}

async fn a_failing_receiver_gets_the_event_again_and_each_attempt_is_shown(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.fail_next(2);
    let (webhook_id, _) = subscribe(&app, &app.owner, &receiver, json!(["client.created"])).await;
    start_worker(&app, QUICK_RETRIES, loopback());

    let client = app.post(&app.owner, "/clients", json!({"name": "Ann Client"})).await.expect(201);
    let received = receiver.wait_for(1, PATIENCE).await;
    assert_eq!(received[0].event["data"], *client.data());
    assert_eq!(receiver.hits(), 3, "two failures, then the success");

    let deliveries = wait_for_state(&app, &webhook_id, "delivered").await;
    let attempts = deliveries[0]["attempts"].as_array().expect("attempts").clone();
    let statuses: Vec<_> = attempts.iter().map(|a| a["response_status"].clone()).collect();
    assert_eq!(statuses, [json!(500), json!(500), json!(204)], "{deliveries:#?}");
    assert_eq!(attempts.iter().map(|a| a["succeeded"].clone()).collect::<Vec<_>>(), [json!(false), json!(false), json!(true)]);
    assert!(attempts[0]["error"].as_str().is_some_and(|e| e.contains("500")), "{attempts:#?}");
    assert!(attempts.iter().all(|a| a["duration_ms"].as_i64().is_some_and(|ms| ms >= 0)));
    assert_eq!(deliveries[0]["event_type"], json!("client.created"));
}

/// The webhook's deliveries once the newest is in `state`.
async fn wait_for_state(app: &TestApp, webhook_id: &str, state: &str) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let deliveries = app.get(&app.owner, &format!("/webhooks/{webhook_id}/deliveries")).await.expect(200);
        let deliveries = deliveries.data().as_array().expect("a list").clone();
        if deliveries.first().is_some_and(|d| d["state"] == json!(state)) {
            return deliveries;
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery reached {state}: {deliveries:#?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn redeliver_sends_the_same_event_again(app: TestApp) {
    let receiver = Receiver::start().await;
    let (webhook_id, _) = subscribe(&app, &app.owner, &receiver, json!(["opportunity.created"])).await;
    start_worker(&app, QUICK_RETRIES, loopback());
    app.lead(&app.owner, json!({})).await.expect(201);
    receiver.wait_for(1, PATIENCE).await;
    let deliveries = wait_for_state(&app, &webhook_id, "delivered").await;
    let delivery_id = deliveries[0]["id"].as_str().expect("an id").to_owned();

    let path = format!("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver");
    let queued = app.post(&app.owner, &path, json!({})).await.expect(202);
    assert_eq!(queued.data()["id"], json!(delivery_id));
    let received = receiver.wait_for(2, PATIENCE).await;
    assert_eq!(received[0].body, received[1].body, "the same event, with the same id");
    let deliveries = wait_for_state(&app, &webhook_id, "delivered").await;
    assert_eq!(deliveries[0]["attempts"].as_array().map(Vec::len), Some(2));

    let unknown = uuid::Uuid::now_v7();
    app.post(&app.owner, &format!("/webhooks/{webhook_id}/deliveries/{unknown}/redeliver"), json!({})).await.expect_error(404, "not_found");
    app.post(&app.owner, &format!("/webhooks/{webhook_id}/deliveries/nope/redeliver"), json!({})).await.expect_error(400, "bad_request");
}

async fn a_slow_receiver_does_not_hold_up_the_others(app: TestApp) {
    let (slow, quick) = (Receiver::start().await, Receiver::start().await);
    slow.answer_after(Duration::from_secs(30));
    subscribe(&app, &app.owner, &slow, json!(["opportunity.created"])).await;
    subscribe(&app, &app.owner, &quick, json!(["opportunity.created"])).await;
    start_worker_waiting(&app, QUICK_RETRIES, loopback(), Duration::from_millis(1500));
    let started = tokio::time::Instant::now();
    for _ in 0..3 {
        app.lead(&app.owner, json!({})).await.expect(201);
    }
    quick.wait_for(3, PATIENCE).await;
    assert!(started.elapsed() < Duration::from_millis(1500), "the quick receiver waited for the slow one: {:?}", started.elapsed());
    assert!(slow.hits() >= 1 && slow.accepted().is_empty(), "the slow one is being tried, and times out");
}

async fn a_change_that_fails_sends_nothing(app: TestApp) {
    let receiver = Receiver::start().await;
    let all: Vec<&str> = domain::webhook::EventType::ALL.iter().map(|kind| kind.as_str()).collect();
    subscribe(&app, &app.owner, &receiver, json!(all)).await;
    let lead = app.lead(&app.owner, json!({})).await.expect(201);
    let lead_id = lead.id();
    let events_before = app.stored_count("SELECT COUNT(*) FROM webhook_events").await;

    app.lead(&app.owner, json!({"estimated_value": -5, "assigned_to": uuid::Uuid::now_v7()})).await.expect(422);
    let stale = app
        .request(reqwest::Method::PATCH, &format!("/opportunities/{lead_id}"))
        .bearer_auth(&app.owner.token)
        .header("If-Match", "\"99\"")
        .json(&json!({"title": "Stale"}));
    TestApp::reply(stale).await.expect(412);
    app.post(&app.owner, &format!("/opportunities/{lead_id}/notes"), json!({"content": ""})).await.expect(422);
    app.post(&app.owner, &format!("/opportunities/{}/notes", uuid::Uuid::now_v7()), json!({"content": "x"})).await.expect(404);
    app.post(&app.owner, "/clients", json!({"name": "Dup", "email": "dup@example.com"})).await.expect(201);
    app.post(&app.owner, "/clients", json!({"name": "Dup again", "email": "dup@example.com"})).await.expect(409);
    assert_eq!(
        app.stored_count("SELECT COUNT(*) FROM webhook_events").await,
        events_before + 1,
        "only the client that was saved has an event in the outbox"
    );

    start_worker(&app, QUICK_RETRIES, loopback());
    let received = receiver.wait_for(2, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(types(&receiver.accepted()), ["opportunity.created", "client.created"], "{received:#?}");
}

async fn private_targets_are_refused_unless_allowed(app: TestApp) {
    let strict = app.server_refusing_private_webhooks().await;
    let http = reqwest::Client::new();
    for url in ["http://127.0.0.1:9/hook", "http://169.254.169.254/latest", "http://[::1]/", "http://localhost/x", "ftp://example.com/"] {
        let request = http.post(format!("{strict}/api/v1/webhooks")).bearer_auth(&app.owner.token);
        let refused = TestApp::reply(request.json(&json!({"url": url, "events": ["note.created"]}))).await;
        let refused = refused.expect_error(422, "validation_failed");
        assert_eq!(refused.bad_fields(), ["url"], "{url}: {}", refused.body);
    }

    // Saved while private targets were allowed, sent by a worker that refuses them: the
    // address is checked again when sending.
    let receiver = Receiver::start().await;
    let (webhook_id, _) = subscribe(&app, &app.owner, &receiver, json!(["opportunity.created"])).await;
    start_worker(&app, QUICK_RETRIES, TargetPolicy::default());
    app.lead(&app.owner, json!({})).await.expect(201);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let attempts = loop {
        let deliveries = app.get(&app.owner, &format!("/webhooks/{webhook_id}/deliveries")).await.expect(200);
        let attempts = deliveries.data()[0]["attempts"].as_array().cloned().unwrap_or_default();
        if !attempts.is_empty() {
            break attempts;
        }
        assert!(tokio::time::Instant::now() < deadline, "no attempt was made");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(attempts[0]["error"].as_str().is_some_and(|e| e.contains("private")), "{attempts:#?}");
    assert_eq!(receiver.hits(), 0, "nothing reached the private address");
}

async fn a_day_of_failures_disables_the_webhook(app: TestApp) {
    let receiver = Receiver::start().await;
    receiver.fail_next(usize::MAX);
    let (webhook_id, _) = subscribe(&app, &app.owner, &receiver, json!(["opportunity.created"])).await;
    let a_short_day = RetryPolicy { give_up_after: Duration::from_millis(600), ..QUICK_RETRIES };
    start_worker(&app, a_short_day, loopback());
    app.lead(&app.owner, json!({})).await.expect(201);

    let deliveries = wait_for_state(&app, &webhook_id, "failed").await;
    assert!(deliveries[0]["attempts"].as_array().is_some_and(|a| a.len() >= 2), "{deliveries:#?}");
    assert_eq!(deliveries[0]["next_attempt_at"], Value::Null);
    let webhook = app.get(&app.owner, "/webhooks").await.expect(200).data()[0].clone();
    assert_eq!(webhook["active"], json!(false), "{webhook}");
    assert!(webhook["disabled_reason"].as_str().is_some_and(|reason| reason.contains("500")), "{webhook}");

    // Nothing more is sent to a disabled webhook; re-enabling it clears the reason.
    let hits = receiver.hits();
    app.lead(&app.owner, json!({})).await.expect(201);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.hits(), hits);
    let enabled = app.patch(&app.owner, &format!("/webhooks/{webhook_id}"), json!({"active": true})).await.expect(200);
    assert_eq!(enabled.data()["disabled_reason"], Value::Null);
}

async fn webhooks_belong_to_owners_and_admins_of_one_organization(app: TestApp) {
    let receiver = Receiver::start().await;
    let (webhook_id, _) = subscribe(&app, &app.owner, &receiver, json!(["opportunity.created"])).await;
    let admin = app.staff("admin").await;
    app.patch(&admin, &format!("/webhooks/{webhook_id}"), json!({"events": ["opportunity.created", "note.created"]})).await.expect(200);
    let member = app.staff("member").await;
    app.get(&member, "/webhooks").await.expect_error(403, "forbidden");
    app.post(&member, "/webhooks", json!({"url": receiver.url, "events": ["note.created"]})).await.expect_error(403, "forbidden");
    app.get(&member, &format!("/webhooks/{webhook_id}/deliveries")).await.expect_error(403, "forbidden");

    let other = app.other_org().await;
    assert_eq!(app.get(&other, "/webhooks").await.expect(200).data(), &json!([]));
    app.patch(&other, &format!("/webhooks/{webhook_id}"), json!({"active": false})).await.expect_error(404, "not_found");
    app.delete(&other, &format!("/webhooks/{webhook_id}")).await.expect_error(404, "not_found");
    app.get(&other, &format!("/webhooks/{webhook_id}/deliveries")).await.expect_error(404, "not_found");

    start_worker(&app, QUICK_RETRIES, loopback());
    app.lead(&other, json!({"title": "Another clinic's lead"})).await.expect(201);
    app.lead(&app.owner, json!({"title": "Ours"})).await.expect(201);
    let received = receiver.wait_for(1, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.accepted().len(), 1, "{received:#?}");
    assert_eq!(received[0].event["data"]["title"], json!("Ours"), "another organization's events never reach this webhook");

    app.patch(&app.owner, &format!("/webhooks/{webhook_id}"), json!({"events": []})).await.expect_error(422, "validation_failed");
    app.patch(&app.owner, &format!("/webhooks/{webhook_id}"), json!({"url": null})).await.expect_error(422, "validation_failed");
    app.delete(&admin, &format!("/webhooks/{webhook_id}")).await.expect(200);
    for _ in 0..domain::webhook::WEBHOOKS_MAX {
        subscribe(&app, &app.owner, &receiver, json!(["note.created"])).await;
    }
    app.post(&app.owner, "/webhooks", json!({"url": receiver.url, "events": ["note.created"]})).await.expect_error(409, "conflict");
    let listed = app.get(&app.owner, "/webhooks").await.expect(200);
    assert_eq!(listed.data().as_array().map(Vec::len), Some(domain::webhook::WEBHOOKS_MAX));
    assert_eq!(app.stored_count("SELECT COUNT(*) FROM webhook_deliveries").await, 0, "its deliveries went with it");
}

/// An imported lead is a created lead to the rest of the clinic's stack; a dry run is not.
async fn imported_leads_are_announced_and_a_dry_run_is_not(app: TestApp) {
    let receiver = Receiver::start().await;
    subscribe(&app, &app.owner, &receiver, json!(["opportunity.created", "opportunity.won"])).await;
    start_worker(&app, QUICK_RETRIES, loopback());
    let import = |query: &'static str| {
        let request = app.request(reqwest::Method::POST, &format!("/imports/opportunities{query}")).bearer_auth(&app.owner.token);
        TestApp::reply(request.header("content-type", "text/csv").body("Title,Name,Stage\nBotox,Ann,open\nFillers,Bob,won\n"))
    };
    import("?dry_run=true").await.expect(200);
    let report = import("").await.expect(200);
    assert_eq!(report.data()["created"], json!(2), "{}", report.body);

    let received = receiver.wait_for(3, PATIENCE).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut names: Vec<String> = receiver
        .accepted()
        .iter()
        .map(|r| {
            format!("{} {}", r.event["type"].as_str().unwrap_or_default(), r.event["data"]["prospect_name"].as_str().unwrap_or_default())
        })
        .collect();
    names.sort();
    assert_eq!(names, ["opportunity.created Ann", "opportunity.created Bob", "opportunity.won Bob"], "{received:?}");
}

suite!(
    events_arrive_signed_with_the_record_as_the_api_shows_it,
    imported_leads_are_announced_and_a_dry_run_is_not,
    a_failing_receiver_gets_the_event_again_and_each_attempt_is_shown,
    redeliver_sends_the_same_event_again,
    a_slow_receiver_does_not_hold_up_the_others,
    a_change_that_fails_sends_nothing,
    private_targets_are_refused_unless_allowed,
    a_day_of_failures_disables_the_webhook,
    webhooks_belong_to_owners_and_admins_of_one_organization,
);
