//! The webhook outbox below HTTP, on both engines: claims taken at once never overlap, a claim
//! holds until its lease runs out and then is taken again, and a worker that lost its lease
//! cannot overwrite what the newer claim decides.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::Engine;
use domain::Timestamp;
use domain::query::Page;
use domain::webhook::{Attempt, CreateWebhook, DeliveryState, Event, EventType, TargetPolicy, Webhook};
use opportunities_store::service::{self, NewOrganization};
use opportunities_store::{AfterAttempt, DueDelivery, Store};
use uuid::Uuid;

const EVENTS: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claims_are_exclusive_until_their_lease_runs_out_on_sqlite() {
    claims_are_exclusive_until_their_lease_runs_out(Engine::sqlite().await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs PostgreSQL: scripts/test.sh runs it when it finds one"]
async fn claims_are_exclusive_until_their_lease_runs_out_on_postgres() {
    claims_are_exclusive_until_their_lease_runs_out(Engine::postgres().await).await;
}

/// An organization with one webhook and `EVENTS` events for it: their ids.
async fn outbox_of_events(store: &dyn Store) -> (Uuid, Uuid) {
    let new = NewOrganization { name: "Clinic".into(), owner_name: "O".into(), owner_email: "o@example.com".into(), token: None };
    let org_id = service::create_organization(store, new).await.expect("an organization").org_id;
    let input = CreateWebhook { url: Some("https://hooks.example.com/x".into()), events: Some(vec![EventType::NoteCreated]), active: None };
    let webhook = Webhook::new(org_id, input, "whsec_test".into(), TargetPolicy::default(), Timestamp::now()).expect("a webhook");
    let mut tx = store.begin().await.expect("a transaction");
    tx.save_webhook(&webhook).await.expect("saved");
    for i in 0..EVENTS {
        let event = Event::new(EventType::NoteCreated, serde_json::json!({ "n": i }), Timestamp::now());
        tx.insert_event(org_id, &event, &[webhook.id]).await.expect("an event");
    }
    tx.commit().await.expect("committed");
    (org_id, webhook.id)
}

fn later(seconds: u64) -> Timestamp {
    Timestamp::from_datetime(Timestamp::now().datetime() + Duration::from_secs(seconds))
}

fn ids(claimed: &[DueDelivery]) -> BTreeSet<Uuid> {
    claimed.iter().map(|due| due.id).collect()
}

fn success() -> Attempt {
    Attempt { id: Uuid::now_v7(), started_at: Timestamp::now(), duration_ms: 1, response_status: Some(200), error: None, succeeded: true }
}

async fn claims_are_exclusive_until_their_lease_runs_out(engine: Engine) {
    let store = engine.store.as_ref();
    let (org_id, webhook_id) = outbox_of_events(store).await;

    let (now, lease) = (Timestamp::now(), later(60));
    let (first, second) = tokio::join!(store.claim_deliveries(now, lease, 4), store.claim_deliveries(now, lease, 4));
    let (first, second) = (first.expect("a claim"), second.expect("a claim"));
    assert_eq!((first.len(), second.len()), (4, 4));
    assert!(ids(&first).is_disjoint(&ids(&second)), "two claims at once took the same delivery");
    let rest = store.claim_deliveries(Timestamp::now(), lease, 100).await.expect("a claim");
    assert_eq!(rest.len(), EVENTS - 8, "only what nobody holds");
    assert!(store.claim_deliveries(Timestamp::now(), lease, 100).await.expect("a claim").is_empty(), "all are held");
    assert!(first.iter().all(|due| due.attempts == 1 && due.body.contains("\"n\"") && due.secret == "whsec_test"));

    // The holders died: after the lease, every delivery is taken again.
    let retaken = store.claim_deliveries(later(61), later(120), 100).await.expect("a claim");
    assert_eq!(ids(&retaken).len(), EVENTS);
    assert!(retaken.iter().all(|due| due.attempts == 2));

    // The first holder comes back late: its attempt is recorded, its verdict is not.
    let stale = &first[0];
    store.record_attempt(stale, &success(), AfterAttempt::Delivered).await.expect("recorded");
    let state =
        |deliveries: &[domain::webhook::Delivery]| deliveries.iter().find(|d| d.id == stale.id).map(|d| (d.state, d.attempts.len()));
    let page = Page { limit: 100, offset: 0 };
    let (deliveries, total) = store.deliveries(org_id, webhook_id, page).await.expect("deliveries");
    assert_eq!(total, i64::try_from(EVENTS).expect("small"));
    assert_eq!(state(&deliveries), Some((DeliveryState::Pending, 1)), "the newer claim decides");

    let current = retaken.iter().find(|due| due.id == stale.id).expect("retaken");
    store.record_attempt(current, &success(), AfterAttempt::Delivered).await.expect("recorded");
    let (deliveries, _) = store.deliveries(org_id, webhook_id, page).await.expect("deliveries");
    assert_eq!(state(&deliveries), Some((DeliveryState::Delivered, 2)));
    let third = store.claim_deliveries(later(200), later(300), 100).await.expect("a claim");
    assert_eq!(third.len(), EVENTS - 1);
    assert!(third.iter().all(|due| due.id != stale.id), "done is done");

    // Giving up disables the webhook, and a disabled webhook's deliveries are not claimed.
    let failing = &third[0];
    store.record_attempt(failing, &success(), AfterAttempt::GiveUp("a day of failures".into())).await.expect("recorded");
    let webhook = store.webhook(org_id, webhook_id).await.expect("read").expect("the webhook");
    assert_eq!((webhook.active, webhook.disabled_reason.as_deref()), (false, Some("a day of failures")));
    assert!(store.claim_deliveries(later(400), later(500), 100).await.expect("a claim").is_empty());
}
