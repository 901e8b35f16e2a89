//! Cross-organization isolation: one organization's ids mean nothing to another, on any route,
//! in any request body, list, filter or statistic; and uniqueness rules are per organization.

mod common;

use common::{Caller, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

suite!(
    another_organizations_records_cannot_be_read,
    another_organizations_records_cannot_be_changed_or_deleted,
    another_organizations_tokens_cannot_be_issued_or_revoked,
    another_organizations_ids_in_a_new_opportunity_are_invalid_references,
    another_organizations_ids_in_an_opportunity_update_are_invalid_references,
    lists_show_only_the_callers_organization,
    stats_count_only_the_callers_organization,
    filtering_by_another_organizations_ids_matches_nothing,
    converting_never_links_another_organizations_client,
    staff_emails_category_names_and_client_emails_are_unique_per_organization,
);

/// Everything organization A owns, as created by its owner.
struct OrgA {
    opportunity: String,
    category: String,
    client: String,
    staff: Caller,
    token_id: String,
    token: String,
}

async fn seed_org_a(app: &TestApp) -> OrgA {
    let owner = &app.owner;
    let category = app.post(owner, "/opportunity-categories", json!({"name": "Botox", "color": "#10b981"})).await.expect(201).id();
    let client = app.post(owner, "/clients", json!({"name": "Maria Lopez", "email": "maria@example.com"})).await.expect(201).id();
    let staff = app.staff("member").await;
    let issued = app.post(owner, &format!("/staff/{}/tokens", staff.staff_id), json!({"name": "reception"})).await.expect(201);
    let opportunity = app
        .lead(
            owner,
            json!({
                "prospect_email": "jane@example.com",
                "category_id": category,
                "assigned_to": staff.staff_id,
                "estimated_value": 500,
                "source": "website",
            }),
        )
        .await
        .expect(201)
        .id();
    app.post(owner, &format!("/opportunities/{opportunity}/notes"), json!({"content": "Prefers mornings."})).await.expect(201);
    let call = json!({"activity_type": "call", "description": "Intro call", "outcome": "Interested"});
    app.post(owner, &format!("/opportunities/{opportunity}/activities"), call).await.expect(201);
    OrgA { opportunity, category, client, staff, token_id: issued.id(), token: issued.data()["token"].as_str().unwrap().to_owned() }
}

/// Everything about organization A that another organization could try to change.
async fn snapshot(app: &TestApp, a: &OrgA) -> Vec<Value> {
    let owner = &app.owner;
    vec![
        app.get(owner, &format!("/opportunities/{}", a.opportunity)).await.expect(200).body,
        app.get(owner, "/opportunity-categories?include_inactive=true").await.expect(200).body,
        app.get(owner, &format!("/clients/{}", a.client)).await.expect(200).body,
        app.get(owner, "/staff").await.expect(200).body,
    ]
}

async fn another_organizations_records_cannot_be_read(app: TestApp) {
    let a = seed_org_a(&app).await;
    let b = app.other_org().await;
    let id = &a.opportunity;
    for path in [
        format!("/opportunities/{id}"),
        format!("/opportunities/{id}/notes"),
        format!("/opportunities/{id}/activities"),
        format!("/clients/{}", a.client),
    ] {
        let reply = app.get(&b, &path).await;
        assert_eq!(reply.status, 404, "GET {path}: {}", reply.body);
        reply.expect_error(404, "not_found");
    }
    // The same paths work for organization A: the 404s are about the organization, not the ids.
    app.get(&app.owner, &format!("/opportunities/{id}/notes")).await.expect(200);
    app.get(&app.owner, &format!("/clients/{}", a.client)).await.expect(200);
}

async fn another_organizations_records_cannot_be_changed_or_deleted(app: TestApp) {
    let a = seed_org_a(&app).await;
    let before = snapshot(&app, &a).await;
    let b = app.other_org().await;
    let id = &a.opportunity;
    let attempts = [
        (Method::PATCH, format!("/opportunities/{id}"), Some(json!({"title": "Hijacked", "status": "lost"}))),
        (Method::POST, format!("/opportunities/{id}/close"), Some(json!({"won": true}))),
        (Method::POST, format!("/opportunities/{id}/convert"), Some(json!({}))),
        (Method::POST, format!("/opportunities/{id}/notes"), Some(json!({"content": "Hijacked"}))),
        (Method::POST, format!("/opportunities/{id}/activities"), Some(json!({"activity_type": "call", "description": "Hijacked"}))),
        (Method::DELETE, format!("/opportunities/{id}"), None),
        (Method::PATCH, format!("/opportunity-categories/{}", a.category), Some(json!({"name": "Hijacked", "is_active": false}))),
        (Method::PATCH, format!("/clients/{}", a.client), Some(json!({"name": "Hijacked", "email": "evil@example.com"}))),
        (Method::PATCH, format!("/staff/{}", a.staff.staff_id), Some(json!({"role": "owner"}))),
        (Method::PATCH, format!("/staff/{}", a.staff.staff_id), Some(json!({"is_active": false}))),
    ];
    for (method, path, body) in attempts {
        let reply = app.call(Some(&b), method.clone(), &path, body).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
        reply.expect_error(404, "not_found");
    }

    assert_eq!(snapshot(&app, &a).await, before, "organization A's records changed");
    let detail = app.get(&app.owner, &format!("/opportunities/{id}")).await.expect(200);
    assert_eq!(detail.data()["version"], 1);
    assert_eq!(detail.data()["status"], "open");
    assert_eq!(detail.data()["client_id"], Value::Null, "not converted");
    assert_eq!(detail.data()["notes"].as_array().unwrap().len(), 1);
    assert_eq!(detail.data()["notes"][0]["content"], "Prefers mornings.");
    assert_eq!(detail.data()["activities"].as_array().unwrap().len(), 1);
    // Organization A's member still signs in: neither deactivated nor promoted.
    let me = app.get(&a.staff, "/me").await.expect(200);
    assert_eq!((me.data()["role"].clone(), me.data()["is_active"].clone()), (json!("member"), json!(true)));
    // Nothing leaked into organization B either.
    assert_eq!(app.get(&b, "/clients").await.expect(200).body["meta"]["total"], 0);
    assert_eq!(app.get(&b, "/opportunities").await.expect(200).body["meta"]["total"], 0);
}

async fn another_organizations_tokens_cannot_be_issued_or_revoked(app: TestApp) {
    let a = seed_org_a(&app).await;
    let b = app.other_org().await;
    app.post(&b, &format!("/staff/{}/tokens", a.staff.staff_id), json!({})).await.expect_error(404, "not_found");
    app.post(&b, &format!("/staff/{}/tokens", app.owner.staff_id), json!({})).await.expect_error(404, "not_found");
    app.delete(&b, &format!("/tokens/{}", a.token_id)).await.expect_error(404, "not_found");

    // The token still works, and organization A can still revoke it itself.
    let holder = Caller { token: a.token.clone(), ..a.staff.clone() };
    assert_eq!(app.get(&holder, "/me").await.expect(200).data()["id"], json!(a.staff.staff_id));
    app.delete(&app.owner, &format!("/tokens/{}", a.token_id)).await.expect(200);
    app.get(&holder, "/me").await.expect_error(401, "unauthorized");
    // B's own token never acts inside A.
    assert_eq!(app.get(&b, "/me").await.expect(200).data()["org_id"], json!(b.org_id));
}

async fn another_organizations_ids_in_a_new_opportunity_are_invalid_references(app: TestApp) {
    let a = seed_org_a(&app).await;
    let b = app.other_org().await;
    for (field, id) in [("client_id", &a.client), ("category_id", &a.category), ("assigned_to", &a.staff.staff_id)] {
        let reply = app.lead(&b, json!({ field: id })).await.expect_error(422, "validation_failed");
        assert_eq!(reply.bad_fields(), [field], "{}", reply.body);
    }
    let all = json!({"client_id": a.client, "category_id": a.category, "assigned_to": a.staff.staff_id});
    let reply = app.lead(&b, all).await.expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["assigned_to", "category_id", "client_id"], "{}", reply.body);
    // Organization A's owner as assignee is just as foreign.
    let reply = app.lead(&b, json!({"assigned_to": app.owner.staff_id})).await.expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["assigned_to"]);

    assert_eq!(app.get(&b, "/opportunities").await.expect(200).body["meta"]["total"], 0, "nothing was created");
}

async fn another_organizations_ids_in_an_opportunity_update_are_invalid_references(app: TestApp) {
    let a = seed_org_a(&app).await;
    let b = app.other_org().await;
    let mine = app.lead(&b, json!({})).await.expect(201);
    let path = format!("/opportunities/{}", mine.id());
    for (field, id) in [("client_id", &a.client), ("category_id", &a.category), ("assigned_to", &a.staff.staff_id)] {
        let reply = app.patch(&b, &path, json!({ field: id, "title": "Changed" })).await.expect_error(422, "validation_failed");
        assert_eq!(reply.bad_fields(), [field], "{}", reply.body);
    }
    let all = json!({"client_id": a.client, "category_id": a.category, "assigned_to": a.staff.staff_id});
    let reply = app.patch(&b, &path, all).await.expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["assigned_to", "category_id", "client_id"], "{}", reply.body);

    let after = app.get(&b, &path).await.expect(200);
    assert_eq!(after.data()["version"], mine.data()["version"]);
    assert_eq!(after.data()["title"], mine.data()["title"]);
    for field in ["client_id", "category_id", "assigned_to", "client", "category", "assigned_staff"] {
        assert_eq!(after.data()[field], Value::Null, "{field}");
    }
}

async fn lists_show_only_the_callers_organization(app: TestApp) {
    let a = seed_org_a(&app).await;
    let b = app.other_org().await;
    // B's lists start empty (but for its owner), though A has one of everything.
    assert_eq!(app.get(&b, "/opportunities").await.expect(200).body["meta"]["total"], 0);
    assert_eq!(app.get(&b, "/clients").await.expect(200).body["meta"]["total"], 0);
    assert_eq!(app.get(&b, "/opportunity-categories?include_inactive=true").await.expect(200).body["meta"]["total"], 0);
    let staff = app.get(&b, "/staff").await.expect(200);
    let ids: Vec<_> = staff.data().as_array().unwrap().iter().map(|s| s["id"].clone()).collect();
    assert_eq!(ids, [json!(b.staff_id)]);

    // With records of its own, B sees exactly those.
    let lead = app.lead(&b, json!({"title": "Interested in Botox package"})).await.expect(201).id();
    let client = app.post(&b, "/clients", json!({"name": "Maria Lopez"})).await.expect(201).id();
    let category = app.post(&b, "/opportunity-categories", json!({"name": "Fillers"})).await.expect(201).id();
    let member = app.staff_in(&b, "member").await;
    let only = |reply: common::Reply| -> Vec<String> {
        reply.data().as_array().unwrap().iter().map(|r| r["id"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(only(app.get(&b, "/opportunities").await.expect(200)), vec![lead.clone()]);
    assert_eq!(only(app.get(&b, "/opportunities?search=botox").await.expect(200)), [lead]);
    assert_eq!(only(app.get(&b, "/clients?search=maria").await.expect(200)), [client]);
    assert_eq!(only(app.get(&b, "/opportunity-categories").await.expect(200)), [category]);
    let mut staff = only(app.get(&b, "/staff").await.expect(200));
    staff.sort();
    let mut expected = vec![b.staff_id.clone(), member.staff_id.clone()];
    expected.sort();
    assert_eq!(staff, expected);
    for reply in [
        app.get(&b, "/opportunities").await,
        app.get(&b, "/clients").await,
        app.get(&b, "/staff").await,
        app.get(&b, "/opportunity-categories").await,
    ] {
        for record in reply.data().as_array().unwrap() {
            if let Some(org) = record.get("org_id") {
                assert_eq!(org, &json!(b.org_id), "{record}");
            }
        }
    }
    // And A still sees only its own.
    assert_eq!(only(app.get(&app.owner, "/opportunities").await.expect(200)), [a.opportunity]);
    assert_eq!(only(app.get(&app.owner, "/clients").await.expect(200)), [a.client]);
}

async fn stats_count_only_the_callers_organization(app: TestApp) {
    let a = seed_org_a(&app).await;
    app.post(&app.owner, &format!("/opportunities/{}/close", a.opportunity), json!({"won": true})).await.expect(200);
    app.lead(&app.owner, json!({"estimated_value": 1000, "probability": 50, "follow_up_date": "2020-01-01T00:00:00Z"})).await.expect(201);
    let b = app.other_org().await;

    let empty = app.get(&b, "/opportunities/stats").await.expect(200);
    assert_eq!(empty.data()["total"], 0, "{}", empty.body);
    assert_eq!(empty.data()["totalValue"], 0.0);
    assert_eq!(empty.data()["weightedValue"], 0.0);
    assert_eq!(empty.data()["needsFollowUp"], 0);
    assert_eq!(empty.data()["winRate"], Value::Null);
    assert_eq!(empty.data()["bySource"], json!([]));
    assert!(empty.data()["counts"].as_object().unwrap().values().all(|n| n == 0), "{}", empty.body);

    app.lead(&b, json!({"estimated_value": 200, "probability": 10})).await.expect(201);
    let mine = app.get(&b, "/opportunities/stats").await.expect(200);
    assert_eq!(mine.data()["total"], 1);
    assert_eq!(mine.data()["counts"]["open"], 1);
    assert_eq!(mine.data()["counts"]["won"], 0);
    assert_eq!(mine.data()["totalValue"], 200.0);
    assert_eq!(mine.data()["weightedValue"], 20.0);
    assert_eq!(mine.data()["needsFollowUp"], 0);

    let theirs = app.get(&app.owner, "/opportunities/stats").await.expect(200);
    assert_eq!(theirs.data()["total"], 2);
    assert_eq!(theirs.data()["counts"]["won"], 1);
    assert_eq!(theirs.data()["totalValue"], 1000.0);
}

async fn filtering_by_another_organizations_ids_matches_nothing(app: TestApp) {
    let a = seed_org_a(&app).await;
    let b = app.other_org().await;
    app.lead(&b, json!({})).await.expect(201);
    for query in [format!("client_id={}", a.client), format!("category_id={}", a.category), format!("assigned_to={}", a.staff.staff_id)] {
        let list = app.get(&b, &format!("/opportunities?{query}")).await.expect(200);
        assert_eq!(list.body["meta"]["total"], 0, "{query}: {}", list.body);
        assert_eq!(list.data(), &json!([]));
    }
    for query in [format!("category_id={}", a.category), format!("assigned_to={}", a.staff.staff_id)] {
        let stats = app.get(&b, &format!("/opportunities/stats?{query}")).await.expect(200);
        assert_eq!(stats.data()["total"], 0, "{query}: {}", stats.body);
    }
    // The same filters find A's lead for A.
    let list = app.get(&app.owner, &format!("/opportunities?category_id={}", a.category)).await.expect(200);
    assert_eq!(list.body["meta"]["total"], 1);
}

async fn converting_never_links_another_organizations_client(app: TestApp) {
    let a = seed_org_a(&app).await;
    let b = app.other_org().await;
    // B's prospect has the same e-mail as A's client.
    let lead = app.lead(&b, json!({"prospect_name": "Maria L.", "prospect_email": "maria@example.com"})).await.expect(201);
    let converted = app.post(&b, &format!("/opportunities/{}/convert", lead.id()), json!({})).await.expect(200);
    assert_eq!(converted.data()["created"], true, "{}", converted.body);
    assert_ne!(converted.data()["client_id"], json!(a.client));
    assert_eq!(converted.data()["client"]["org_id"], json!(b.org_id));
    assert_eq!(converted.data()["client"]["name"], "Maria L.");
    // A's client is untouched.
    let theirs = app.get(&app.owner, &format!("/clients/{}", a.client)).await.expect(200);
    assert_eq!(theirs.data()["name"], "Maria Lopez");
}

async fn staff_emails_category_names_and_client_emails_are_unique_per_organization(app: TestApp) {
    let owner = &app.owner;
    let b = app.other_org().await;
    let sam = json!({"name": "Sam Seller", "email": "sam@example.com"});
    let a_sam = app.post(owner, "/staff", sam.clone()).await.expect(201);
    let b_sam = app.post(&b, "/staff", sam.clone()).await.expect(201);
    assert_ne!(a_sam.id(), b_sam.id());
    assert_eq!(b_sam.data()["org_id"], json!(b.org_id));

    let botox = json!({"name": "Botox"});
    let a_botox = app.post(owner, "/opportunity-categories", botox.clone()).await.expect(201);
    let b_botox = app.post(&b, "/opportunity-categories", json!({"name": "botox"})).await.expect(201);
    assert_ne!(a_botox.id(), b_botox.id());

    let maria = json!({"name": "Maria Lopez", "email": "maria@example.com"});
    app.post(owner, "/clients", maria.clone()).await.expect(201);
    app.post(&b, "/clients", maria.clone()).await.expect(201);

    // Within one organization they are still unique, and the conflict points at B's own record.
    let dup = app.post(&b, "/staff", sam).await.expect_error(409, "conflict");
    assert_eq!(dup.body["error"]["details"]["existing_id"], json!(b_sam.id()));
    let dup = app.post(&b, "/opportunity-categories", botox).await.expect_error(409, "conflict");
    assert_eq!(dup.body["error"]["details"]["existing_id"], json!(b_botox.id()));
    app.post(&b, "/clients", maria).await.expect_error(409, "conflict");
    // Both organizations' owners share owner@example.com (the harness creates them so).
    let b_owner = app.get(&b, "/me").await.expect(200);
    let a_owner = app.get(owner, "/me").await.expect(200);
    assert_eq!(a_owner.data()["email"], b_owner.data()["email"]);
}
