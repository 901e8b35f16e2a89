//! Clients that hang up mid-request: phones losing signal, closed tabs, load balancers timing
//! out. The server drops such a request's handler wherever it is waiting, so a request may
//! vanish while queued for the writer, inside its unit of work, or while waiting for a shared
//! commit. Whatever point it vanished at, every later write must work, its own write must be
//! applied whole or not at all, and the totals must stay in step with the rows.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{Caller, TestApp};
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::task::JoinSet;

suite!(writes_work_and_totals_agree_after_clients_hang_up);

/// Clients hanging up at once, and how many such waves. A client hangs up 0-30 ms after sending
/// (one in four up to 120 ms, as a loaded PostgreSQL may take that long to reach a commit),
/// spread so that on either backend some vanish at every stage of a write. Hundreds of them,
/// because a hang-up must land in a window of a few milliseconds to hit a given await.
const WAVE: usize = 24;
const WAVES: usize = 16;
/// Only a hang detector: a write that should answer at once never comes near it.
const HANG: Duration = Duration::from_secs(60);

async fn writes_work_and_totals_agree_after_clients_hang_up(app: TestApp) {
    let app = Arc::new(app);
    let mut creating = JoinSet::new();
    for n in 0..WAVE * WAVES / 4 {
        let app = app.clone();
        creating.spawn(async move { app.lead(&app.owner, lead_fields(n)).await.expect(201).id() });
    }
    let to_close = creating.join_all().await;
    let stop = Arc::new(AtomicBool::new(false));
    let steady = tokio::spawn(steady_writer(app.clone(), stop.clone()));
    for wave in 0..WAVES {
        let mut clients = JoinSet::new();
        for n in wave * WAVE..(wave + 1) * WAVE {
            // One client in four closes a lead of its own, a write of two rows (the lead and its
            // status change) that must never be half-applied; the others create a lead.
            let request = match n % 4 {
                1 => raw_request(&app.owner, "POST", &format!("/opportunities/{}/close", to_close[n / 4]), &json!({"won": true})),
                _ => raw_request(&app.owner, "POST", "/opportunities", &lead_fields(n)),
            };
            let after = Duration::from_millis((n * 7 % 31 * if n % 4 == 3 { 4 } else { 1 }) as u64);
            clients.spawn(hang_up(address(&app), request, n % 3 == 0, after));
        }
        clients.join_all().await;
    }
    stop.store(true, Ordering::SeqCst);
    let steady_writes = tokio::time::timeout(HANG, steady).await.expect("the steady writer finishes").expect("no steady write failed");
    assert!(steady_writes > 0, "the steady writer wrote while clients hung up");

    for lead in app.all_leads(&app.owner).await {
        // A close writes the lead and its status change together: both are there, or neither.
        assert_eq!(lead["activities_count"], i64::from(lead["status"] == "won"), "{lead}");
    }

    tokio::time::timeout(HANG, every_kind_of_write(&app)).await.expect("writes answer at once after the hang-ups");
    let leads = app.all_leads(&app.owner).await;
    app.assert_stats_match_recount(&app.owner, "", &leads, |_| true).await;
}

/// Varied values, so that the totals a recount checks are not all alike.
fn lead_fields(n: usize) -> Value {
    let source = ["website", "referral", "phone"][n % 3];
    json!({"title": format!("Lead {n}"), "prospect_name": "Jane Doe", "estimated_value": format!("{}.{:02}", 100 + n, n % 100),
           "probability": n % 101, "source": source})
}

/// Creates leads one after another until told to stop; every one must succeed. Returns how many.
async fn steady_writer(app: Arc<TestApp>, stop: Arc<AtomicBool>) -> usize {
    let mut written = 0;
    while !stop.load(Ordering::SeqCst) {
        app.lead(&app.owner, lead_fields(written)).await.expect(201);
        written += 1;
    }
    written
}

fn address(app: &TestApp) -> String {
    app.base.strip_prefix("http://").expect("an http base URL").to_owned()
}

/// An HTTP/1.1 request as bytes: its head, and its JSON body.
fn raw_request(caller: &Caller, method: &str, path: &str, body: &Value) -> (String, Vec<u8>) {
    let body = body.to_string().into_bytes();
    let head = format!(
        "{method} /api/v1{path} HTTP/1.1\r\nHost: test\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        caller.token,
        body.len()
    );
    (head, body)
}

/// Sends the request (or its head and half its body), waits, and closes the connection without
/// reading the answer.
async fn hang_up(address: String, (head, body): (String, Vec<u8>), half_body: bool, after: Duration) {
    let mut socket = TcpStream::connect(address).await.expect("connect");
    let sent = if half_body { &body[..body.len() / 2] } else { &body[..] };
    socket.write_all(head.as_bytes()).await.expect("send the head");
    socket.write_all(sent).await.expect("send the body");
    tokio::time::sleep(after).await;
}

/// One write of every kind the API has, each of which must succeed on the first try.
async fn every_kind_of_write(app: &TestApp) {
    let owner = &app.owner;
    let category = app.post(owner, "/opportunity-categories", json!({"name": "After the storm"})).await.expect(201).id();
    app.patch(owner, &format!("/opportunity-categories/{category}"), json!({"name": "After the storm, renamed"})).await.expect(200);
    let member = app.staff("member").await;
    app.patch(owner, &format!("/staff/{}", member.staff_id), json!({"role": "admin"})).await.expect(200);
    let fields = json!({"prospect_email": "after@example.com", "category_id": category});
    let lead = format!("/opportunities/{}", app.lead(&member, fields).await.expect(201).id());
    app.patch(&member, &lead, json!({"status": "contacted", "probability": 40})).await.expect(200);
    app.post(&member, &format!("{lead}/notes"), json!({"content": "Still here."})).await.expect(201);
    app.post(&member, &format!("{lead}/activities"), json!({"activity_type": "call", "description": "Called back"})).await.expect(201);
    app.post(&member, &format!("{lead}/convert"), json!({})).await.expect(200);
    app.post(&member, &format!("{lead}/close"), json!({"won": true})).await.expect(200);
    let doomed = format!("/opportunities/{}", app.lead(owner, json!({})).await.expect(201).id());
    app.delete(owner, &doomed).await.expect(200);
    app.post(owner, "/clients", json!({"name": "Walk-in client"})).await.expect(201);
}
