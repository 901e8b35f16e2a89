//! Authentication, roles, and the status and envelope of every kind of bad request.

mod common;

use common::{Caller, Reply, TestApp};
use reqwest::Method;
use serde_json::json;

suite!(
    requests_without_a_usable_bearer_token_are_unauthorized,
    revoked_tokens_and_deactivated_staff_are_unauthorized,
    reactivating_a_member_does_not_revive_their_old_tokens,
    health_and_openapi_need_no_token,
    members_cannot_set_up_categories_staff_or_others_tokens,
    members_work_the_whole_pipeline_and_manage_their_own_tokens,
    admins_manage_set_up_but_only_owners_touch_owners,
    the_last_active_owner_cannot_be_demoted_or_deactivated,
    malformed_json_bad_parameters_and_bad_ids_are_bad_requests,
    unknown_routes_and_ids_are_not_found_and_wrong_methods_not_allowed,
    oversized_and_non_json_bodies_are_refused,
    bodies_that_are_not_objects_or_have_unknown_fields_are_invalid,
    every_bad_field_is_named_at_once,
    duplicate_category_names_conflict_whatever_their_case,
    a_rejected_request_writes_nothing,
);

#[track_caller]
fn assert_unauthorized(reply: Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.body);
    let www = reply.headers.get("www-authenticate").map(|v| v.to_str().unwrap_or("").to_owned());
    assert!(www.as_deref().is_some_and(|v| v.starts_with("Bearer")), "{what}: WWW-Authenticate is {www:?}");
    reply.expect_error(401, "unauthorized");
}

#[track_caller]
fn assert_forbidden(reply: Reply, what: &str) {
    assert_eq!(reply.status, 403, "{what}: {}", reply.body);
    reply.expect_error(403, "forbidden");
}

fn as_holder(caller: &Caller, token: &str) -> Caller {
    Caller { token: token.to_owned(), ..caller.clone() }
}

/// Issues a token for `staff_id` as `issuer`: its id and its secret.
async fn issue(app: &TestApp, issuer: &Caller, staff_id: &str) -> (String, String) {
    let issued = app.post(issuer, &format!("/staff/{staff_id}/tokens"), json!({})).await.expect(201);
    (issued.id(), issued.data()["token"].as_str().unwrap().to_owned())
}

async fn requests_without_a_usable_bearer_token_are_unauthorized(app: TestApp) {
    assert_unauthorized(app.call(None, Method::GET, "/opportunities", None).await, "no Authorization header");
    assert_unauthorized(app.call(None, Method::POST, "/opportunities", Some(json!({"title": "x"}))).await, "no header on a write");
    for (value, what) in [
        ("Basic b3duZXI6c2VjcmV0", "Basic scheme"),
        (&format!("Token {}", app.owner.token) as &str, "a non-Bearer scheme with a real token"),
        ("Bearer", "Bearer without a token"),
        ("Bearer    ", "Bearer with a blank token"),
        ("Bearer not-a-real-token", "an unknown token"),
    ] {
        let request = app.request(Method::GET, "/opportunities").header("authorization", value);
        assert_unauthorized(TestApp::reply(request).await, what);
    }
    let stranger = as_holder(&app.owner, "opp_0000000000000000000000000000000000000000");
    assert_unauthorized(app.get(&stranger, "/me").await, "an unknown token via the harness");
    // The real token works, so the 401s above are about the header.
    app.get(&app.owner, "/opportunities").await.expect(200);
}

async fn revoked_tokens_and_deactivated_staff_are_unauthorized(app: TestApp) {
    let owner = &app.owner;
    let member = app.staff("member").await;
    let (token_id, secret) = issue(&app, owner, &member.staff_id).await;
    let second = as_holder(&member, &secret);
    app.get(&second, "/me").await.expect(200);

    app.delete(owner, &format!("/tokens/{token_id}")).await.expect(200);
    assert_unauthorized(app.get(&second, "/me").await, "a revoked token");
    assert_unauthorized(app.post(&second, "/opportunities", json!({"title": "x", "prospect_name": "y"})).await, "a revoked token writing");
    // Revoking it again finds nothing to revoke; the member's other token is unaffected.
    app.delete(owner, &format!("/tokens/{token_id}")).await.expect_error(404, "not_found");
    app.get(&member, "/me").await.expect(200);

    let deactivated = app.patch(owner, &format!("/staff/{}", member.staff_id), json!({"is_active": false})).await.expect(200);
    assert_eq!(deactivated.data()["is_active"], false);
    assert_unauthorized(app.get(&member, "/me").await, "the token of a deactivated staff member");
    assert_unauthorized(app.get(&member, "/opportunities").await, "the token of a deactivated staff member (list)");
    // Deactivated staff cannot be given new tokens either.
    app.post(owner, &format!("/staff/{}/tokens", member.staff_id), json!({})).await.expect_error(409, "conflict");
    app.get(owner, "/me").await.expect(200);
}

/// A token that worked before a member was deactivated may have leaked while they were gone
/// (a shared laptop, a departed employee's notes): deactivation revokes it for good.
async fn reactivating_a_member_does_not_revive_their_old_tokens(app: TestApp) {
    let owner = &app.owner;
    let member = app.staff("member").await;
    let (_, second_secret) = issue(&app, owner, &member.staff_id).await;
    let staff_path = format!("/staff/{}", member.staff_id);
    app.patch(owner, &staff_path, json!({"is_active": false})).await.expect(200);
    app.patch(owner, &staff_path, json!({"is_active": true})).await.expect(200);
    for old in [member.clone(), as_holder(&member, &second_secret)] {
        assert_unauthorized(app.get(&old, "/me").await, "a token issued before the deactivation");
    }
    let tokens = app.get(owner, &format!("{staff_path}/tokens")).await.expect(200);
    let tokens = tokens.data().as_array().unwrap().clone();
    assert_eq!(tokens.len(), 2);
    assert!(tokens.iter().all(|token| token["revoked_at"].is_string()), "listed as revoked: {tokens:?}");

    let (_, fresh) = issue(&app, owner, &member.staff_id).await;
    app.get(&as_holder(&member, &fresh), "/me").await.expect(200);
    // A change that leaves the member active keeps the new token working.
    app.patch(owner, &staff_path, json!({"name": "Renamed", "is_active": true})).await.expect(200);
    app.get(&as_holder(&member, &fresh), "/me").await.expect(200);
}

async fn health_and_openapi_need_no_token(app: TestApp) {
    let health = app.call(None, Method::GET, "//healthz", None).await.expect(200);
    assert_eq!(health.body, json!({"success": true, "data": {"status": "ok"}}));
    let openapi = app.call(None, Method::GET, "//api/v1/openapi.json", None).await.expect(200);
    assert!(openapi.body["openapi"].as_str().is_some_and(|v| v.starts_with('3')), "{}", openapi.body);
    assert!(openapi.body["paths"]["/api/v1/opportunities"].is_object(), "{}", openapi.body["paths"]);
    // A bad token does not stop them either.
    let request = app.request(Method::GET, "//healthz").header("authorization", "Bearer nonsense");
    TestApp::reply(request).await.expect(200);
}

async fn members_cannot_set_up_categories_staff_or_others_tokens(app: TestApp) {
    let owner = &app.owner;
    let member = app.staff("member").await;
    let colleague = app.staff("member").await;
    let category = app.post(owner, "/opportunity-categories", json!({"name": "Botox"})).await.expect(201).id();

    assert_forbidden(app.post(&member, "/opportunity-categories", json!({"name": "Fillers"})).await, "member creates a category");
    assert_forbidden(
        app.patch(&member, &format!("/opportunity-categories/{category}"), json!({"name": "Renamed"})).await,
        "member renames a category",
    );
    let new_staff = json!({"name": "New Hire", "email": "new@example.com"});
    assert_forbidden(app.post(&member, "/staff", new_staff).await, "member adds staff");
    assert_forbidden(
        app.patch(&member, &format!("/staff/{}", colleague.staff_id), json!({"name": "Renamed"})).await,
        "member renames a colleague",
    );
    assert_forbidden(
        app.patch(&member, &format!("/staff/{}", colleague.staff_id), json!({"is_active": false})).await,
        "member deactivates a colleague",
    );
    assert_forbidden(
        app.patch(&member, &format!("/staff/{}", member.staff_id), json!({"role": "admin"})).await,
        "member promotes themself",
    );
    assert_forbidden(
        app.patch(&member, &format!("/staff/{}", owner.staff_id), json!({"is_active": false})).await,
        "member deactivates the owner",
    );
    assert_forbidden(
        app.post(&member, &format!("/staff/{}/tokens", colleague.staff_id), json!({})).await,
        "member issues a colleague's token",
    );
    assert_forbidden(app.post(&member, &format!("/staff/{}/tokens", owner.staff_id), json!({})).await, "member issues the owner's token");
    let (colleague_token, secret) = issue(&app, owner, &colleague.staff_id).await;
    assert_forbidden(app.delete(&member, &format!("/tokens/{colleague_token}")).await, "member revokes a colleague's token");

    // Nothing changed.
    let categories = app.get(owner, "/opportunity-categories?include_inactive=true").await.expect(200);
    assert_eq!(categories.body["meta"]["total"], 1);
    assert_eq!(categories.data()[0]["name"], "Botox");
    let staff = app.get(owner, "/staff").await.expect(200);
    assert_eq!(staff.body["meta"]["total"], 3);
    for person in staff.data().as_array().unwrap() {
        assert_eq!(person["is_active"], true, "{person}");
        assert_ne!(person["name"], "Renamed", "{person}");
    }
    assert_eq!(app.get(&member, "/me").await.expect(200).data()["role"], "member");
    app.get(&as_holder(&colleague, &secret), "/me").await.expect(200);
    // Members may still read the set-up.
    app.get(&member, "/opportunity-categories").await.expect(200);
    app.get(&member, "/staff").await.expect(200);
}

async fn members_work_the_whole_pipeline_and_manage_their_own_tokens(app: TestApp) {
    let member = app.staff("member").await;
    let colleague = app.staff("member").await;
    let category = app.post(&app.owner, "/opportunity-categories", json!({"name": "Botox"})).await.expect(201).id();

    // Clients.
    let client = app.post(&member, "/clients", json!({"name": "Maria Lopez", "email": "maria@example.com"})).await.expect(201).id();
    app.patch(&member, &format!("/clients/{client}"), json!({"phone": "+15550000000"})).await.expect(200);
    app.get(&member, &format!("/clients/{client}")).await.expect(200);
    app.get(&member, "/clients").await.expect(200);

    // Opportunities, notes and activities.
    let lead = app
        .lead(&member, json!({"prospect_email": "jane@example.com", "category_id": category, "assigned_to": colleague.staff_id}))
        .await
        .expect(201)
        .id();
    let path = format!("/opportunities/{lead}");
    app.patch(&member, &path, json!({"status": "qualified", "probability": 60, "assigned_to": member.staff_id})).await.expect(200);
    app.post(&member, &format!("{path}/notes"), json!({"content": "Wants a quote."})).await.expect(201);
    app.post(&member, &format!("{path}/activities"), json!({"activity_type": "email", "description": "Sent a quote"})).await.expect(201);
    app.get(&member, &format!("{path}/notes")).await.expect(200);
    app.get(&member, &format!("{path}/activities")).await.expect(200);
    let converted = app.post(&member, &format!("{path}/convert"), json!({})).await.expect(200);
    assert_eq!(converted.data()["created"], true);
    app.post(&member, &format!("{path}/close"), json!({"won": true})).await.expect(200);
    app.get(&member, "/opportunities/stats").await.expect(200);

    // A lead created by someone else can be closed and deleted by a member too.
    let owners = app.lead(&app.owner, json!({})).await.expect(201).id();
    app.post(&member, &format!("/opportunities/{owners}/close"), json!({"won": false, "reason": "price"})).await.expect(200);
    app.delete(&member, &format!("/opportunities/{owners}")).await.expect(200);
    app.delete(&member, &path).await.expect(200);
    app.get(&member, &path).await.expect_error(404, "not_found");

    // Their own tokens.
    let (token_id, secret) = issue(&app, &member, &member.staff_id).await;
    let second = as_holder(&member, &secret);
    assert_eq!(app.get(&second, "/me").await.expect(200).data()["id"], json!(member.staff_id));
    app.delete(&member, &format!("/tokens/{token_id}")).await.expect(200);
    assert_unauthorized(app.get(&second, "/me").await, "the member's own revoked token");
    app.get(&member, "/me").await.expect(200);
}

async fn admins_manage_set_up_but_only_owners_touch_owners(app: TestApp) {
    let owner = &app.owner;
    let admin = app.staff("admin").await;
    let member = app.staff("member").await;

    // Categories and non-owner staff.
    let category = app.post(&admin, "/opportunity-categories", json!({"name": "Botox"})).await.expect(201).id();
    app.patch(&admin, &format!("/opportunity-categories/{category}"), json!({"name": "Botox & Fillers", "is_active": false}))
        .await
        .expect(200);
    let hire = app.post(&admin, "/staff", json!({"name": "New Hire", "email": "hire@example.com"})).await.expect(201);
    assert_eq!(hire.data()["role"], "member");
    app.post(&admin, "/staff", json!({"name": "Second Admin", "email": "admin2@example.com", "role": "admin"})).await.expect(201);
    app.patch(&admin, &format!("/staff/{}", member.staff_id), json!({"role": "admin"})).await.expect(200);
    app.patch(&admin, &format!("/staff/{}", member.staff_id), json!({"role": "member", "name": "Renamed"})).await.expect(200);
    let (token_id, _) = issue(&app, &admin, &member.staff_id).await;
    app.delete(&admin, &format!("/tokens/{token_id}")).await.expect(200);

    // Owners are out of an admin's reach.
    let new_owner = json!({"name": "Co Owner", "email": "co@example.com", "role": "owner"});
    assert_forbidden(app.post(&admin, "/staff", new_owner.clone()).await, "admin creates an owner");
    assert_forbidden(app.patch(&admin, &format!("/staff/{}", owner.staff_id), json!({"name": "Renamed"})).await, "admin renames the owner");
    assert_forbidden(app.patch(&admin, &format!("/staff/{}", owner.staff_id), json!({"role": "member"})).await, "admin demotes the owner");
    assert_forbidden(
        app.patch(&admin, &format!("/staff/{}", owner.staff_id), json!({"is_active": false})).await,
        "admin deactivates the owner",
    );
    assert_forbidden(app.patch(&admin, &format!("/staff/{}", member.staff_id), json!({"role": "owner"})).await, "admin promotes to owner");
    assert_forbidden(app.patch(&admin, &format!("/staff/{}", admin.staff_id), json!({"role": "owner"})).await, "admin promotes themself");
    assert_forbidden(app.post(&admin, &format!("/staff/{}/tokens", owner.staff_id), json!({})).await, "admin issues the owner's token");
    let staff = app.get(owner, "/staff").await.expect(200);
    let owners = staff.data().as_array().unwrap().iter().filter(|s| s["role"] == "owner").count();
    assert_eq!(owners, 1, "no owner was created or promoted");
    assert_eq!(app.get(owner, "/me").await.expect(200).data()["name"], "Olivia Owner");

    // An owner can do all of it.
    let co_owner = app.post(owner, "/staff", new_owner).await.expect(201);
    assert_eq!(co_owner.data()["role"], "owner");
    let promoted = app.patch(owner, &format!("/staff/{}", member.staff_id), json!({"role": "owner"})).await.expect(200);
    assert_eq!(promoted.data()["role"], "owner");
    app.patch(owner, &format!("/staff/{}", co_owner.id()), json!({"role": "admin", "name": "Co Admin"})).await.expect(200);
    app.post(owner, &format!("/staff/{}/tokens", member.staff_id), json!({})).await.expect(201);
}

async fn the_last_active_owner_cannot_be_demoted_or_deactivated(app: TestApp) {
    let owner = &app.owner;
    let me = format!("/staff/{}", owner.staff_id);
    for change in
        [json!({"role": "admin"}), json!({"role": "member"}), json!({"is_active": false}), json!({"role": "admin", "is_active": false})]
    {
        let reply = app.patch(owner, &me, change.clone()).await;
        assert_eq!(reply.status, 409, "{change}: {}", reply.body);
        reply.expect_error(409, "conflict");
    }
    let still = app.get(owner, "/me").await.expect(200);
    assert_eq!((still.data()["role"].clone(), still.data()["is_active"].clone()), (json!("owner"), json!(true)));

    // With a second active owner, the first may step down; then the second is the last.
    let second = app.staff("owner").await;
    app.patch(owner, &me, json!({"role": "admin"})).await.expect(200);
    let theirs = format!("/staff/{}", second.staff_id);
    app.patch(&second, &theirs, json!({"role": "member"})).await.expect_error(409, "conflict");
    app.patch(&second, &theirs, json!({"is_active": false})).await.expect_error(409, "conflict");
    // Unrelated changes to the last owner are fine.
    app.patch(&second, &theirs, json!({"name": "Still Owner"})).await.expect(200);
    // A deactivated owner does not count as one.
    let third = app.staff_in(&second, "owner").await;
    app.patch(&second, &format!("/staff/{}", third.staff_id), json!({"is_active": false})).await.expect(200);
    app.patch(&second, &theirs, json!({"role": "admin"})).await.expect_error(409, "conflict");
    assert_eq!(app.get(&second, "/me").await.expect(200).data()["role"], "owner");
}

#[track_caller]
fn assert_bad_parameter(reply: Reply, parameter: &str, what: &str) {
    assert_eq!(reply.status, 400, "{what}: {}", reply.body);
    assert_eq!(reply.body["error"]["details"]["parameter"], json!(parameter), "{what}: {}", reply.body);
    reply.expect_error(400, "bad_request");
}

async fn malformed_json_bad_parameters_and_bad_ids_are_bad_requests(app: TestApp) {
    let owner = &app.owner;
    let lead = app.lead(owner, json!({})).await.expect(201).id();
    for (method, path, body) in [
        (Method::POST, "/opportunities".to_owned(), "{not json"),
        (Method::POST, "/opportunities".to_owned(), "{\"title\": \"x\","),
        (Method::PATCH, format!("/opportunities/{lead}"), "{'title': 'single quotes'}"),
        (Method::POST, "/clients".to_owned(), "not json at all"),
    ] {
        let request = app.request(method.clone(), &path).bearer_auth(&owner.token).header("content-type", "application/json").body(body);
        let reply = TestApp::reply(request).await;
        assert_eq!(reply.status, 400, "{method} {path} {body}: {}", reply.body);
        reply.expect_error(400, "bad_request");
    }

    for (path, parameter) in [
        ("/opportunities?status=done", "status"),
        ("/opportunities?status=open,done", "status"),
        ("/opportunities?limit=0", "limit"),
        ("/opportunities?limit=500", "limit"),
        ("/opportunities?limit=ten", "limit"),
        ("/opportunities?offset=-1", "offset"),
        ("/opportunities?sort=title", "sort"),
        ("/opportunities?sort=created_at&sort=-created_at", "sort"),
        ("/opportunities?stauts=open", "stauts"),
        ("/opportunities?assigned_to=me", "assigned_to"),
        ("/opportunities?follow_up_due=soon", "follow_up_due"),
        ("/opportunities/stats?category_id=botox", "category_id"),
        ("/opportunities/stats?status=open", "status"),
        ("/clients?limit=0", "limit"),
        ("/clients?name=maria", "name"),
        ("/opportunity-categories?include_inactive=maybe", "include_inactive"),
        ("/opportunity-categories?active=true", "active"),
    ] {
        assert_bad_parameter(app.get(owner, path).await, parameter, path);
    }
    // Good parameters still pass.
    app.get(owner, "/opportunities?status=open,won&limit=200&offset=0&sort=-estimated_value").await.expect(200);

    for (method, path) in [
        (Method::GET, "/opportunities/not-a-uuid"),
        (Method::PATCH, "/opportunities/123"),
        (Method::DELETE, "/opportunities/123"),
        (Method::POST, "/opportunities/123/close"),
        (Method::GET, "/opportunities/123/notes"),
        (Method::GET, "/clients/maria"),
        (Method::PATCH, "/staff/olivia"),
        (Method::PATCH, "/opportunity-categories/botox"),
        (Method::DELETE, "/tokens/abc"),
    ] {
        let body = (method != Method::GET && method != Method::DELETE).then(|| json!({}));
        let reply = app.call(Some(owner), method.clone(), path, body).await;
        assert_eq!(reply.status, 400, "{method} {path}: {}", reply.body);
        reply.expect_error(400, "bad_request");
    }
}

async fn unknown_routes_and_ids_are_not_found_and_wrong_methods_not_allowed(app: TestApp) {
    let owner = &app.owner;
    for path in ["/nope", "/opportunities/stats/extra", "//nope", "//api/v2/opportunities", "//opportunities"] {
        let reply = app.get(owner, path).await;
        assert_eq!(reply.status, 404, "{path}: {}", reply.body);
        reply.expect_error(404, "not_found");
    }

    let missing = uuid::Uuid::now_v7();
    for (method, path, body) in [
        (Method::GET, format!("/opportunities/{missing}"), None),
        (Method::PATCH, format!("/opportunities/{missing}"), Some(json!({"title": "x"}))),
        (Method::DELETE, format!("/opportunities/{missing}"), None),
        (Method::POST, format!("/opportunities/{missing}/close"), Some(json!({"won": true}))),
        (Method::POST, format!("/opportunities/{missing}/convert"), Some(json!({}))),
        (Method::GET, format!("/opportunities/{missing}/notes"), None),
        (Method::POST, format!("/opportunities/{missing}/notes"), Some(json!({"content": "x"}))),
        (Method::GET, format!("/opportunities/{missing}/activities"), None),
        (Method::POST, format!("/opportunities/{missing}/activities"), Some(json!({"activity_type": "call", "description": "x"}))),
        (Method::GET, format!("/clients/{missing}"), None),
        (Method::PATCH, format!("/clients/{missing}"), Some(json!({"name": "x"}))),
        (Method::PATCH, format!("/opportunity-categories/{missing}"), Some(json!({"name": "x"}))),
        (Method::PATCH, format!("/staff/{missing}"), Some(json!({"name": "x"}))),
        (Method::POST, format!("/staff/{missing}/tokens"), Some(json!({}))),
        (Method::DELETE, format!("/tokens/{missing}"), None),
    ] {
        let reply = app.call(Some(owner), method.clone(), &path, body).await;
        assert_eq!(reply.status, 404, "{method} {path}: {}", reply.body);
        reply.expect_error(404, "not_found");
    }

    let lead = app.lead(owner, json!({})).await.expect(201).id();
    for (method, path) in [
        (Method::PUT, "/opportunities".to_owned()),
        (Method::DELETE, "/opportunities".to_owned()),
        (Method::PUT, format!("/opportunities/{lead}")),
        (Method::GET, format!("/opportunities/{lead}/close")),
        (Method::DELETE, format!("/clients/{missing}")),
        (Method::POST, "/opportunities/stats".to_owned()),
        (Method::GET, format!("/tokens/{missing}")),
        (Method::POST, "//healthz".to_owned()),
    ] {
        let reply = app.call(Some(owner), method.clone(), &path, None).await;
        assert_eq!(reply.status, 405, "{method} {path}: {}", reply.body);
        reply.expect_error(405, "method_not_allowed");
    }
    // None of that touched the lead.
    assert_eq!(app.get(owner, &format!("/opportunities/{lead}")).await.expect(200).data()["version"], 1);
}

async fn oversized_and_non_json_bodies_are_refused(app: TestApp) {
    let owner = &app.owner;
    let lead = app.lead(owner, json!({})).await.expect(201).id();
    let notes = format!("/opportunities/{lead}/notes");

    let huge = json!({"content": "x".repeat(140 * 1024)});
    app.post(owner, &notes, huge).await.expect_error(413, "payload_too_large");
    let huge_lead = json!({"title": "Big", "prospect_name": "Jane", "description": "é".repeat(70 * 1024)});
    app.post(owner, "/opportunities", huge_lead).await.expect_error(413, "payload_too_large");
    // Just under the limit is accepted as far as size goes (and then validated).
    let long_note = json!({"content": "ü".repeat(10_000)});
    app.post(owner, &notes, long_note).await.expect(201);

    for (content_type, body) in [
        (Some("text/plain"), "content=hello"),
        (Some("text/plain"), "{\"content\": \"hello\"}"),
        (Some("application/x-www-form-urlencoded"), "content=hello"),
        (None, "{\"content\": \"hello\"}"),
    ] {
        let mut request = app.request(Method::POST, &notes).bearer_auth(&owner.token).body(body);
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let reply = TestApp::reply(request).await;
        assert_eq!(reply.status, 415, "{content_type:?}: {}", reply.body);
        reply.expect_error(415, "unsupported_media_type");
    }
    // JSON with a charset parameter or a +json type is JSON.
    let request = app
        .request(Method::POST, &notes)
        .bearer_auth(&owner.token)
        .header("content-type", "application/json; charset=utf-8")
        .body("{\"content\": \"hello\"}");
    TestApp::reply(request).await.expect(201);
    let detail = app.get(owner, &format!("/opportunities/{lead}")).await.expect(200);
    assert_eq!(detail.data()["notes"].as_array().unwrap().len(), 2, "only the accepted notes were written");
}

async fn bodies_that_are_not_objects_or_have_unknown_fields_are_invalid(app: TestApp) {
    let owner = &app.owner;
    for body in [json!([{"title": "x", "prospect_name": "y"}]), json!("a string"), json!(42), json!(null)] {
        let reply = app.post(owner, "/opportunities", body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        let reply = reply.expect_error(422, "validation_failed");
        assert_eq!(reply.bad_fields(), ["body"], "{body}: {}", reply.body);
    }

    let reply =
        app.lead(owner, json!({"colour": "red", "priority": "high", "Title": "case matters"})).await.expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["Title", "colour", "priority"], "{}", reply.body);

    let lead = app.lead(owner, json!({})).await.expect(201).id();
    let reply = app.patch(owner, &format!("/opportunities/{lead}"), json!({"title": "New", "version": 7, "org_id": owner.org_id})).await;
    let reply = reply.expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["org_id", "version"], "{}", reply.body);
    let reply =
        app.post(owner, "/clients", json!({"name": "Maria", "mail": "maria@example.com"})).await.expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["mail"]);
    let reply = app
        .post(owner, "/opportunity-categories", json!({"name": "Botox", "colour": "#10b981"}))
        .await
        .expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["colour"]);
    let reply = app.post(owner, &format!("/opportunities/{lead}/close"), json!({"won": true, "status": "won"})).await;
    assert_eq!(reply.expect_error(422, "validation_failed").bad_fields(), ["status"]);

    // Every message is a non-empty string.
    let reply = app.lead(owner, json!({"colour": "red"})).await.expect_error(422, "validation_failed");
    let fields = reply.body["error"]["details"]["fields"].as_object().unwrap();
    assert!(fields.values().all(|m| m.as_str().is_some_and(|m| !m.is_empty())), "{}", reply.body);
    assert_eq!(app.get(owner, "/opportunities").await.expect(200).body["meta"]["total"], 1);
}

async fn every_bad_field_is_named_at_once(app: TestApp) {
    let owner = &app.owner;
    // Domain checks only.
    let body = json!({"prospect_name": "Jane", "prospect_email": "nope", "probability": 150, "estimated_value": -1});
    let reply = app.post(owner, "/opportunities", body).await.expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["estimated_value", "probability", "prospect_email", "title"], "{}", reply.body);

    // Mistyped values together with domain checks: all of them are still named.
    let body = json!({"prospect_name": "Jane", "prospect_email": "nope", "probability": 150, "estimated_value": -1, "status": "done"});
    let reply = app.post(owner, "/opportunities", body).await.expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["estimated_value", "probability", "prospect_email", "status", "title"], "{}", reply.body);

    let body = json!({"prospect_name": "Jane", "estimated_value": 0.001, "probability": 150});
    let reply = app.post(owner, "/opportunities", body).await.expect_error(422, "validation_failed");
    assert_eq!(reply.bad_fields(), ["estimated_value", "probability", "title"], "{}", reply.body);

    assert_eq!(app.get(owner, "/opportunities").await.expect(200).body["meta"]["total"], 0);
}

async fn duplicate_category_names_conflict_whatever_their_case(app: TestApp) {
    let owner = &app.owner;
    let botox = app.post(owner, "/opportunity-categories", json!({"name": "Botox"})).await.expect(201).id();
    for name in ["botox", "BOTOX", "  Botox  "] {
        let reply = app.post(owner, "/opportunity-categories", json!({"name": name})).await;
        assert_eq!(reply.status, 409, "{name:?}: {}", reply.body);
        let reply = reply.expect_error(409, "conflict");
        assert_eq!(reply.body["error"]["details"]["existing_id"], json!(botox), "{}", reply.body);
    }
    // Renaming another category onto it conflicts the same way; renaming it in its own case does not.
    let fillers = app.post(owner, "/opportunity-categories", json!({"name": "Fillers"})).await.expect(201).id();
    let reply =
        app.patch(owner, &format!("/opportunity-categories/{fillers}"), json!({"name": "bOtOx"})).await.expect_error(409, "conflict");
    assert_eq!(reply.body["error"]["details"]["existing_id"], json!(botox));
    app.patch(owner, &format!("/opportunity-categories/{botox}"), json!({"name": "BOTOX"})).await.expect(200);
    // An inactive category still holds its name.
    app.patch(owner, &format!("/opportunity-categories/{fillers}"), json!({"is_active": false})).await.expect(200);
    app.post(owner, "/opportunity-categories", json!({"name": "fillers"})).await.expect_error(409, "conflict");

    let categories = app.get(owner, "/opportunity-categories?include_inactive=true").await.expect(200);
    let names: Vec<_> = categories.data().as_array().unwrap().iter().map(|c| c["name"].clone()).collect();
    assert_eq!(names, [json!("BOTOX"), json!("Fillers")]);
}

async fn a_rejected_request_writes_nothing(app: TestApp) {
    let owner = &app.owner;
    let lead = app.lead(owner, json!({"prospect_email": "jane@example.com", "estimated_value": 500, "probability": 20})).await.expect(201);
    let path = format!("/opportunities/{}", lead.id());
    let before = app.get(owner, &path).await.expect(200).body;

    for body in [
        json!({"title": "A better title", "probability": 150}),
        json!({"status": "qualified", "prospect_email": "nope"}),
        json!({"status": "won", "estimated_value": -5}),
        json!({"description": "New", "assigned_to": uuid::Uuid::now_v7()}),
        json!({"title": "A better title", "colour": "red"}),
        json!({"source": "referral", "status": "done"}),
        json!({"title": null, "probability": 50}),
    ] {
        let reply = app.patch(owner, &path, body.clone()).await;
        assert_eq!(reply.status, 422, "{body}: {}", reply.body);
        reply.expect_error(422, "validation_failed");
        let after = app.get(owner, &path).await.expect(200).body;
        assert_eq!(after, before, "after {body}");
    }
    let data = &before["data"];
    assert_eq!(
        (data["version"].clone(), data["title"].clone(), data["status"].clone()),
        (json!(1), json!("Interested in Botox package"), json!("open"))
    );
    assert_eq!(data["activities"], json!([]), "no status change was logged");

    // Failed creations leave the list as it was.
    let total = |reply: Reply| reply.body["meta"]["total"].clone();
    let count = total(app.get(owner, "/opportunities").await.expect(200));
    for body in [
        json!({"title": "No one"}),
        json!({"title": "x", "prospect_name": "Jane", "probability": -1}),
        json!({"title": "x", "prospect_name": "Jane", "client_id": uuid::Uuid::now_v7()}),
        json!({"title": "x", "prospect_name": "Jane", "stage": "open"}),
    ] {
        app.post(owner, "/opportunities", body).await.expect_error(422, "validation_failed");
    }
    assert_eq!(total(app.get(owner, "/opportunities").await.expect(200)), count);
    assert_eq!(total(app.get(owner, "/opportunities").await.expect(200)), json!(1));

    // Other failed writes leave their records alone too.
    app.post(owner, &format!("{path}/notes"), json!({"content": "   "})).await.expect_error(422, "validation_failed");
    app.post(owner, &format!("{path}/activities"), json!({"activity_type": "carrier pigeon", "description": "x"}))
        .await
        .expect_error(422, "validation_failed");
    app.post(owner, &format!("{path}/close"), json!({"won": false, "transaction_id": uuid::Uuid::now_v7()}))
        .await
        .expect_error(422, "validation_failed");
    app.post(owner, "/clients", json!({"name": "", "email": "maria@example.com"})).await.expect_error(422, "validation_failed");
    assert_eq!(app.get(owner, &path).await.expect(200).body, before);
    assert_eq!(total(app.get(owner, "/clients").await.expect(200)), json!(0));
}
