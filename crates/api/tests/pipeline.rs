//! The pipeline's rules over HTTP (issue 10): a won lead has probability 100, a lost one 0,
//! only a closed lead has a close reason, only a won one a sale, on every path that changes a
//! lead, and the statistics follow.

mod common;

use common::{Caller, Reply, TestApp};
use serde_json::{Value, json};

suite!(
    a_closed_lead_refuses_another_probability_and_the_weighted_value_stays_right,
    a_won_lead_with_a_sale_moves_out_of_won_only_by_unlinking_it,
    a_sale_links_only_to_a_won_lead,
    only_a_closed_lead_has_a_close_reason,
    moving_between_won_and_lost_replaces_the_reason,
    migration_0013_repairs_leads_that_older_versions_let_break_the_rules,
);

/// A lead worth 1,000.00, closed as `won` (`true`) or `lost` with the close endpoint's `extra`
/// fields; its path.
async fn closed_lead(app: &TestApp, won: bool, extra: Value) -> String {
    let lead = app.lead(&app.owner, json!({"estimated_value": 1000})).await.expect(201);
    let mut close = json!({"won": won});
    close.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    let path = format!("/opportunities/{}", lead.id());
    app.post(&app.owner, &format!("{path}/close"), close).await.expect(200);
    path
}

async fn read(app: &TestApp, caller: &Caller, path: &str) -> Value {
    app.get(caller, path).await.expect(200).body["data"].clone()
}

/// A refused write leaves the lead as it was, history included.
async fn refused(app: &TestApp, path: &str, body: Value, status: u16, code: &str) -> Reply {
    let before = read(app, &app.owner, path).await;
    let reply = app.patch(&app.owner, path, body.clone()).await.expect_error(status, code);
    assert_eq!(read(app, &app.owner, path).await, before, "{body} changed the lead");
    reply
}

fn instant(value: &Value) -> time::OffsetDateTime {
    let text = value.as_str().expect("a timestamp");
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).expect("RFC 3339")
}

async fn weighted_value(app: &TestApp) -> Value {
    app.get(&app.owner, "/opportunities/stats").await.expect(200).data()["weightedValue"].clone()
}

async fn a_closed_lead_refuses_another_probability_and_the_weighted_value_stays_right(app: TestApp) {
    let won = closed_lead(&app, true, json!({})).await;
    let reply = refused(&app, &won, json!({"probability": 5}), 422, "validation_failed").await;
    assert_eq!(reply.bad_fields(), ["probability"]);
    let lost = closed_lead(&app, false, json!({})).await;
    assert_eq!(refused(&app, &lost, json!({"probability": 60}), 422, "validation_failed").await.bad_fields(), ["probability"]);
    let same = app.patch(&app.owner, &won, json!({"probability": 100})).await.expect(200);
    assert_eq!(same.data()["version"], 2, "the probability the rules force is no change");
    let create = json!({"status": "won", "probability": 50});
    assert_eq!(app.lead(&app.owner, create).await.expect_error(422, "validation_failed").bad_fields(), ["probability"]);
    assert_eq!(weighted_value(&app).await, 0.0, "closed leads are not pipeline value");

    // Reopened without a probability, a lead takes its new stage's default (10 %), not what
    // closing forced; with one, it takes that.
    let reopened = app.patch(&app.owner, &won, json!({"status": "open"})).await.expect(200);
    assert_eq!((reopened.data()["status"].clone(), reopened.data()["probability"].clone()), (json!("open"), json!(10)));
    let reopened = app.patch(&app.owner, &lost, json!({"status": "proposal", "probability": 60})).await.expect(200);
    assert_eq!(reopened.data()["probability"], 60);
    assert_eq!(weighted_value(&app).await, 700.0, "1,000.00 × 10 % + 1,000.00 × 60 %");
}

async fn a_won_lead_with_a_sale_moves_out_of_won_only_by_unlinking_it(app: TestApp) {
    let sale = uuid::Uuid::now_v7().to_string();
    let won = closed_lead(&app, true, json!({"transaction_id": sale, "reason": "booked the package"})).await;
    for body in [json!({"status": "open"}), json!({"status": "lost"}), json!({"status": "stale", "probability": 20})] {
        let reply = refused(&app, &won, body, 409, "conflict").await;
        assert!(reply.body["error"]["message"].as_str().unwrap().contains(&sale), "{}", reply.body);
    }

    let unlinked = app.patch(&app.owner, &won, json!({"status": "lost", "transaction_id": null})).await.expect(200);
    let data = unlinked.data();
    assert_eq!((data["status"].clone(), data["probability"].clone()), (json!("lost"), json!(0)));
    assert_eq!((data["transaction_id"].clone(), data["closed_reason"].clone()), (Value::Null, Value::Null));
    let reopened = app.patch(&app.owner, &won, json!({"status": "open"})).await.expect(200);
    let closed = app.post(&app.owner, &format!("{won}/close"), json!({"won": false})).await.expect(200);
    assert_eq!(closed.data()["transaction_id"], Value::Null, "a lost lead never keeps a sale");
    assert_eq!(reopened.data()["closed_at"], Value::Null);

    let activities = app.get(&app.owner, &format!("{won}/activities")).await.expect(200);
    let moves: Vec<&str> = activities.data().as_array().unwrap().iter().map(|a| a["description"].as_str().unwrap()).collect();
    assert_eq!(
        moves,
        [
            "Status changed from open to lost by Olivia Owner",
            "Status changed from lost to open by Olivia Owner",
            "Status changed from won to lost by Olivia Owner",
            "Status changed from open to won by Olivia Owner",
        ],
        "refused moves log nothing"
    );
}

async fn a_sale_links_only_to_a_won_lead(app: TestApp) {
    let sale = uuid::Uuid::now_v7().to_string();
    let open = format!("/opportunities/{}", app.lead(&app.owner, json!({})).await.expect(201).id());
    let lost = closed_lead(&app, false, json!({})).await;
    for (path, body) in [
        (&open, json!({"transaction_id": sale})),
        (&open, json!({"status": "proposal", "transaction_id": sale})),
        (&lost, json!({"transaction_id": sale})),
        (&lost, json!({"status": "qualified", "transaction_id": sale})),
    ] {
        assert_eq!(refused(&app, path, body, 422, "validation_failed").await.bad_fields(), ["transaction_id"]);
    }
    app.patch(&app.owner, &open, json!({"transaction_id": null})).await.expect(200);

    let won = app.patch(&app.owner, &open, json!({"status": "won", "transaction_id": sale})).await.expect(200);
    assert_eq!(won.data()["transaction_id"], json!(sale));
    let later = closed_lead(&app, true, json!({})).await;
    let linked = app.patch(&app.owner, &later, json!({"transaction_id": sale})).await.expect(200);
    assert_eq!(linked.data()["transaction_id"], json!(sale), "a won lead may link its sale later");
    let unlinked = app.patch(&app.owner, &later, json!({"transaction_id": null})).await.expect(200);
    assert_eq!((unlinked.data()["status"].clone(), unlinked.data()["transaction_id"].clone()), (json!("won"), Value::Null));
}

async fn only_a_closed_lead_has_a_close_reason(app: TestApp) {
    let lost = closed_lead(&app, false, json!({"reason": "price"})).await;
    let reply = refused(&app, &lost, json!({"status": "open", "closed_reason": "called back"}), 422, "validation_failed").await;
    assert_eq!(reply.bad_fields(), ["closed_reason"]);
    let edited = app.patch(&app.owner, &lost, json!({"closed_reason": "price, then distance"})).await.expect(200);
    assert_eq!(edited.data()["closed_reason"], "price, then distance");
    let reopened = app.patch(&app.owner, &lost, json!({"status": "contacted", "closed_reason": null})).await.expect(200);
    assert_eq!((reopened.data()["closed_reason"].clone(), reopened.data()["closed_at"].clone()), (Value::Null, Value::Null));
    let reply = refused(&app, &lost, json!({"closed_reason": "no reason to be here"}), 422, "validation_failed").await;
    assert_eq!(reply.bad_fields(), ["closed_reason"]);

    let closed = app.patch(&app.owner, &lost, json!({"status": "lost", "closed_reason": "went elsewhere"})).await.expect(200);
    assert_eq!((closed.data()["closed_reason"].clone(), closed.data()["probability"].clone()), (json!("went elsewhere"), json!(0)));
}

async fn moving_between_won_and_lost_replaces_the_reason(app: TestApp) {
    let won = closed_lead(&app, true, json!({"reason": "booked the package"})).await;
    let closed_at = read(&app, &app.owner, &won).await["closed_at"].clone();
    let lost = app.patch(&app.owner, &won, json!({"status": "lost"})).await.expect(200);
    let data = lost.data();
    assert_eq!((data["closed_reason"].clone(), data["probability"].clone()), (Value::Null, json!(0)), "the reason was the sale's");
    assert!(instant(&data["closed_at"]) > instant(&closed_at), "closed again, now: {data}");
    let won_again = app.patch(&app.owner, &won, json!({"status": "won", "closed_reason": "came back"})).await.expect(200);
    assert_eq!((won_again.data()["closed_reason"].clone(), won_again.data()["probability"].clone()), (json!("came back"), json!(100)));
}

/// What older versions let through, written behind the service's back: a lead reopened keeping
/// its sale (and the 100 % of being won), a lost lead holding a sale, an open lead with a close
/// reason, a won lead at 5 %.
const BREAK_THE_RULES: &str = "
    UPDATE opportunities SET status = 'open', closed_at = NULL WHERE title = 'reopened';
    UPDATE opportunities SET transaction_id = (SELECT transaction_id FROM opportunities WHERE title = 'untouched')
        WHERE title = 'lost';
    UPDATE opportunities SET closed_reason = 'called back' WHERE title = 'open';
    UPDATE opportunities SET probability = 5 WHERE title = 'won';
";

async fn migration_0013_repairs_leads_that_older_versions_let_break_the_rules(app: TestApp) {
    let owner = &app.owner;
    let sale = uuid::Uuid::now_v7().to_string();
    let mut paths = std::collections::BTreeMap::new();
    for (title, close) in [
        ("reopened", json!({"won": true, "transaction_id": sale})),
        ("untouched", json!({"won": true, "transaction_id": sale})),
        ("lost", json!({"won": false})),
        ("open", Value::Null),
        ("won", json!({"won": true})),
    ] {
        let path = format!("/opportunities/{}", app.lead(owner, json!({"title": title, "estimated_value": 1000})).await.expect(201).id());
        if !close.is_null() {
            app.post(owner, &format!("{path}/close"), close).await.expect(200);
        }
        paths.insert(title, path);
    }
    app.execute_sql(BREAK_THE_RULES, BREAK_THE_RULES).await;
    app.get(owner, &paths["reopened"]).await.expect_error(500, "internal");

    app.execute_sql(
        include_str!("../../store/migrations/sqlite/0013_pipeline_rules.sql"),
        include_str!("../../store/migrations/postgres/0013_pipeline_rules.sql"),
    )
    .await;
    let lead = |title: &'static str| read(&app, owner, &paths[title]);
    let (reopened, untouched, lost, open, won) =
        (lead("reopened").await, lead("untouched").await, lead("lost").await, lead("open").await, lead("won").await);
    let fields = |lead: &Value| {
        let picked = ["status", "probability", "closed_reason", "transaction_id", "version"].map(|field| lead[field].clone());
        (picked, lead["closed_at"].is_string())
    };
    assert_eq!(fields(&reopened), ([json!("open"), json!(100), Value::Null, Value::Null, json!(3)], false));
    assert_eq!(fields(&untouched), ([json!("won"), json!(100), Value::Null, json!(sale), json!(2)], true), "a lead within the rules");
    assert_eq!(fields(&lost), ([json!("lost"), json!(0), Value::Null, Value::Null, json!(3)], true));
    assert_eq!(fields(&open), ([json!("open"), json!(10), Value::Null, Value::Null, json!(2)], false));
    assert_eq!(fields(&won), ([json!("won"), json!(100), Value::Null, Value::Null, json!(3)], true));

    let unlinked = format!("Unlinked from sale {sale} when the pipeline rules took effect: only a won opportunity links to a sale");
    let removed = "Close reason removed when the pipeline rules took effect (only a won or lost opportunity has one): called back";
    for (lead, kept) in [(&reopened, unlinked.as_str()), (&lost, unlinked.as_str()), (&open, removed)] {
        let activity = &lead["activities"][0];
        assert_eq!((activity["description"].as_str(), activity["activity_type"].as_str()), (Some(kept), Some("other")), "{lead}");
        assert_eq!(uuid::Uuid::parse_str(activity["id"].as_str().unwrap()).unwrap().get_version_num(), 4);
    }
    assert_eq!(won["activities"].as_array().unwrap().len(), 1, "only its closing: nothing a person wrote was removed");
    assert_eq!(weighted_value(&app).await, 1100.0, "1,000.00 × 100 % (reopened) + 1,000.00 × 10 % (open): the totals followed");
}
