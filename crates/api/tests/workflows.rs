//! The seed's two workflows, end to end over HTTP.

mod common;

use common::TestApp;
use serde_json::json;

suite!(website_lead_workflow, membership_renewal_workflow);

async fn website_lead_workflow(app: TestApp) {
    let owner = &app.owner;
    let sales = app.staff("member").await;
    let tomorrow = "2026-02-21T09:00:00Z";

    // 1. Receive the inquiry from the website form.
    let lead = app
        .post(
            owner,
            "/opportunities",
            json!({
                "title": "Website Inquiry - Botox",
                "prospect_name": "Jane Doe",
                "prospect_email": "jane@example.com",
                "prospect_phone": "+15551234567",
                "source": "website",
                "description": "Filled out inquiry form for Botox. First-time client.",
                "follow_up_date": tomorrow,
            }),
        )
        .await
        .expect(201);
    let id = lead.id();
    assert_eq!(lead.data()["status"], "open");
    assert_eq!(lead.data()["created_by"], json!(owner.staff_id));

    // 2. Assign it to a salesperson.
    let assigned = app.patch(owner, &format!("/opportunities/{id}"), json!({"assigned_to": sales.staff_id})).await.expect(200);
    assert_eq!(assigned.data()["assigned_staff"]["id"], json!(sales.staff_id));

    // 3. The salesperson makes contact.
    let call = json!({"activity_type": "call", "description": "Initial outreach call", "outcome": "Left voicemail"});
    app.post(&sales, &format!("/opportunities/{id}/activities"), call).await.expect(201);
    app.post(&sales, &format!("/opportunities/{id}/notes"), json!({"content": "Called and left voicemail."})).await.expect(201);

    // 4. Follow up and qualify.
    let qualified = app
        .patch(&sales, &format!("/opportunities/{id}"), json!({"status": "qualified", "probability": 70, "estimated_value": 600.00}))
        .await
        .expect(200);
    assert_eq!(qualified.data()["status"], "qualified");

    // 5. Convert when ready to book, then close as won.
    let converted = app.post(&sales, &format!("/opportunities/{id}/convert"), json!({})).await.expect(200);
    assert_eq!(converted.data()["created"], true);
    let client_id = converted.data()["client_id"].as_str().unwrap().to_owned();
    assert_eq!(converted.data()["client"]["email"], "jane@example.com");
    let won = app.post(&sales, &format!("/opportunities/{id}/close"), json!({"won": true})).await.expect(200);
    assert_eq!((won.data()["status"].clone(), won.data()["probability"].clone()), (json!("won"), json!(100)));
    assert_eq!(won.data()["client"]["id"], json!(client_id));

    let detail = app.get(owner, &format!("/opportunities/{id}")).await.expect(200);
    let types: Vec<_> =
        detail.data()["activities"].as_array().unwrap().iter().map(|a| a["activity_type"].as_str().unwrap().to_owned()).collect();
    assert_eq!(types, ["status_change", "other", "status_change", "call"], "newest first");
    assert_eq!(detail.data()["notes"].as_array().unwrap().len(), 1);
    let stats = app.get(owner, "/opportunities/stats").await.expect(200);
    assert_eq!(stats.data()["counts"]["won"], 1);
    assert_eq!(stats.data()["winRate"], 1.0);
}

async fn membership_renewal_workflow(app: TestApp) {
    let owner = &app.owner;
    let client = app.post(owner, "/clients", json!({"name": "Maria Lopez", "email": "maria@example.com"})).await.expect(201);
    let renewal = app.post(owner, "/opportunity-categories", json!({"name": "Renewal", "color": "#10b981"})).await.expect(201);
    let lead = app
        .post(
            owner,
            "/opportunities",
            json!({
                "title": "Membership Renewal",
                "client_id": client.id(),
                "category_id": renewal.id(),
                "estimated_value": 1200.00,
                "probability": 70,
                "source": "internal",
                "follow_up_date": "2026-03-01T00:00:00Z",
            }),
        )
        .await
        .expect(201);
    let data = lead.data();
    assert_eq!(data["client"]["name"], "Maria Lopez");
    assert_eq!(data["category"], json!({"id": renewal.id(), "name": "Renewal", "color": "#10b981"}));
    assert_eq!((data["estimated_value"].clone(), data["probability"].clone()), (json!(1200.0), json!(70)));
    let mine = app.get(owner, &format!("/opportunities?client_id={}&category_id={}", client.id(), renewal.id())).await.expect(200);
    assert_eq!(mine.body["meta"]["total"], 1);
    let converted = app.post(owner, &format!("/opportunities/{}/convert", lead.id()), json!({})).await;
    converted.expect_error(409, "already_converted");
}
