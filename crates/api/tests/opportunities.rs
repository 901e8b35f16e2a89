//! Every seed capability over HTTP: leads, their pipeline rules, notes, activities, lists,
//! statistics, conversion, categories, clients and staff.

mod common;

use common::TestApp;
use serde_json::{Value, json};

suite!(
    a_new_lead_gets_defaults_and_normalised_fields,
    updates_change_only_the_given_fields_and_null_clears,
    status_changes_are_logged_and_closing_rules_apply,
    closing_twice_is_a_conflict_and_close_input_is_checked,
    deleting_takes_notes_and_activities_along,
    notes_and_activities_are_validated_and_listed_newest_first,
    lists_filter_sort_and_page,
    search_matches_word_beginnings_ignoring_case,
    a_search_matching_over_a_thousand_leads_pages_in_order_with_a_capped_total,
    follow_up_due_lists_open_leads_due_by_end_of_today,
    stats_match_a_known_data_set,
    stats_equal_a_full_recount_after_every_kind_of_change,
    conversion_creates_or_links_a_client_once,
    categories_are_ordered_unique_and_editable,
    clients_are_searchable_and_unique_by_email,
    staff_tokens_and_me,
    tokens_record_their_last_use_and_never_show_their_secret,
);

async fn a_new_lead_gets_defaults_and_normalised_fields(app: TestApp) {
    let lead = app
        .lead(&app.owner, json!({"prospect_email": "  Jane@Example.COM ", "source": " Website ", "title": "  Botox  "}))
        .await
        .expect(201);
    let data = lead.data();
    assert_eq!(data["title"], "Botox");
    assert_eq!(data["status"], "open");
    assert_eq!(data["probability"], 10, "documented default for new leads");
    assert_eq!(data["prospect_email"], "jane@example.com");
    assert_eq!(data["source"], "website");
    assert_eq!(data["version"], 1);
    assert_eq!(data["org_id"], json!(app.owner.org_id));
    assert_eq!(data["created_by"], json!(app.owner.staff_id));
    for field in ["client", "category", "assigned_staff", "estimated_value", "closed_at", "transaction_id"] {
        assert_eq!(data[field], Value::Null, "{field}");
    }
    assert_eq!((data["notes_count"].clone(), data["activities_count"].clone()), (json!(0), json!(0)));
    let created_at = data["created_at"].as_str().unwrap();
    assert!(created_at.ends_with('Z') && created_at.contains('T'), "RFC 3339 UTC: {created_at}");
    let id = data["id"].as_str().unwrap();
    assert_eq!(uuid::Uuid::parse_str(id).unwrap().get_version_num(), 7);
    assert_eq!(lead.headers["content-type"], "application/json");
}

async fn updates_change_only_the_given_fields_and_null_clears(app: TestApp) {
    let lead = app
        .lead(
            &app.owner,
            json!({"description": "First-time client", "estimated_value": "500.50", "follow_up_date": "2026-02-20T10:00:00+02:00"}),
        )
        .await
        .expect(201);
    assert_eq!(lead.data()["estimated_value"], 500.5);
    assert_eq!(lead.data()["follow_up_date"], "2026-02-20T08:00:00Z");
    let path = format!("/opportunities/{}", lead.id());
    let updated = app.patch(&app.owner, &path, json!({"probability": 70, "description": null})).await.expect(200);
    let data = updated.data();
    assert_eq!(data["probability"], 70);
    assert_eq!(data["description"], Value::Null);
    assert_eq!(data["estimated_value"], 500.5, "untouched");
    assert_eq!(data["title"], lead.data()["title"], "untouched");
    assert_eq!(data["version"], 2);
    assert!(data["updated_at"].as_str() > lead.data()["updated_at"].as_str());

    let same = app.patch(&app.owner, &path, json!({"probability": 70})).await.expect(200);
    assert_eq!(same.data()["version"], 2, "a patch that changes nothing is not a change");

    let rejected = app.patch(&app.owner, &path, json!({"title": null, "status": null, "prospect_name": null})).await;
    let rejected = rejected.expect_error(422, "validation_failed");
    assert_eq!(rejected.bad_fields(), ["prospect_name", "status", "title"]);
}

async fn status_changes_are_logged_and_closing_rules_apply(app: TestApp) {
    let lead = app.lead(&app.owner, json!({"probability": 40})).await.expect(201);
    let path = format!("/opportunities/{}", lead.id());
    app.patch(&app.owner, &path, json!({"status": "contacted"})).await.expect(200);
    let won = app.patch(&app.owner, &path, json!({"status": "won"})).await.expect(200);
    assert_eq!(won.data()["probability"], 100);
    assert!(won.data()["closed_at"].is_string());
    let reopened = app.patch(&app.owner, &path, json!({"status": "proposal", "probability": 60})).await.expect(200);
    assert_eq!(reopened.data()["closed_at"], Value::Null);
    assert_eq!(reopened.data()["probability"], 60);
    let lost = app.post(&app.owner, &format!("{path}/close"), json!({"won": false, "reason": "Went with competitor"})).await.expect(200);
    assert_eq!(lost.data()["status"], "lost");
    assert_eq!(lost.data()["probability"], 0);
    assert_eq!(lost.data()["closed_reason"], "Went with competitor");
    let reopened = app.patch(&app.owner, &path, json!({"status": "open"})).await.expect(200);
    assert_eq!((reopened.data()["closed_at"].clone(), reopened.data()["closed_reason"].clone()), (Value::Null, Value::Null));

    let activities = app.get(&app.owner, &format!("{path}/activities")).await.expect(200);
    let descriptions: Vec<&str> = activities.data().as_array().unwrap().iter().map(|a| a["description"].as_str().unwrap()).collect();
    assert_eq!(
        descriptions,
        [
            "Status changed from lost to open by Olivia Owner",
            "Status changed from proposal to lost by Olivia Owner",
            "Status changed from won to proposal by Olivia Owner",
            "Status changed from contacted to won by Olivia Owner",
            "Status changed from open to contacted by Olivia Owner",
        ]
    );
    assert!(activities.data().as_array().unwrap().iter().all(|a| a["activity_type"] == "status_change"));
    assert_eq!(activities.body["meta"]["total"], 5);
}

async fn closing_twice_is_a_conflict_and_close_input_is_checked(app: TestApp) {
    let lead = app.lead(&app.owner, json!({})).await.expect(201);
    let close = format!("/opportunities/{}/close", lead.id());
    let missing = app.post(&app.owner, &close, json!({})).await.expect_error(422, "validation_failed");
    assert_eq!(missing.bad_fields(), ["won"]);
    let lost_with_sale = app.post(&app.owner, &close, json!({"won": false, "transaction_id": uuid::Uuid::now_v7()})).await;
    assert_eq!(lost_with_sale.expect_error(422, "validation_failed").bad_fields(), ["transaction_id"]);
    let sale = uuid::Uuid::now_v7().to_string();
    let won = app.post(&app.owner, &close, json!({"won": true, "transaction_id": sale})).await.expect(200);
    assert_eq!(won.data()["transaction_id"], json!(sale));
    assert_eq!(won.data()["version"], 2);
    let again = app.post(&app.owner, &close, json!({"won": false})).await.expect_error(409, "already_closed");
    assert_eq!(again.body["error"]["details"]["status"], "won");
}

async fn deleting_takes_notes_and_activities_along(app: TestApp) {
    let lead = app.lead(&app.owner, json!({})).await.expect(201);
    let path = format!("/opportunities/{}", lead.id());
    app.post(&app.owner, &format!("{path}/notes"), json!({"content": "hello"})).await.expect(201);
    app.post(&app.owner, &format!("{path}/activities"), json!({"activity_type": "call", "description": "hi"})).await.expect(201);
    let deleted = app.delete(&app.owner, &path).await.expect(200);
    assert_eq!(deleted.body, json!({"success": true, "data": {"id": lead.id()}}));
    app.get(&app.owner, &path).await.expect_error(404, "not_found");
    app.get(&app.owner, &format!("{path}/notes")).await.expect_error(404, "not_found");
    app.delete(&app.owner, &path).await.expect_error(404, "not_found");
    let list = app.get(&app.owner, "/opportunities").await.expect(200);
    assert_eq!(list.body["meta"]["total"], 0);
}

async fn notes_and_activities_are_validated_and_listed_newest_first(app: TestApp) {
    let lead = app.lead(&app.owner, json!({})).await.expect(201);
    let path = format!("/opportunities/{}", lead.id());
    for content in ["first", "second", "third"] {
        let note = app.post(&app.owner, &format!("{path}/notes"), json!({"content": content})).await.expect(201);
        assert_eq!(note.data()["created_by"], json!(app.owner.staff_id));
        assert_eq!(note.data()["opportunity_id"], json!(lead.id()));
    }
    let notes = app.get(&app.owner, &format!("{path}/notes")).await.expect(200);
    let contents: Vec<_> = notes.data().as_array().unwrap().iter().map(|n| n["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["third", "second", "first"]);
    let blank = app.post(&app.owner, &format!("{path}/notes"), json!({"content": "   "})).await;
    assert_eq!(blank.expect_error(422, "validation_failed").bad_fields(), ["content"]);
    let long = app.post(&app.owner, &format!("{path}/notes"), json!({"content": "x".repeat(10_001)})).await;
    assert_eq!(long.expect_error(422, "validation_failed").bad_fields(), ["content"]);

    let meeting = json!({"activity_type": "meeting", "description": "Consultation", "scheduled_at": "2026-02-20T14:00:00Z"});
    let scheduled = app.post(&app.owner, &format!("{path}/activities"), meeting).await.expect(201);
    assert_eq!(scheduled.data()["scheduled_at"], "2026-02-20T14:00:00Z");
    assert_eq!(scheduled.data()["completed_at"], Value::Null);
    let done = json!({"activity_type": "meeting", "description": "Consultation completed", "outcome": "Ready to book", "completed_at": "2026-02-20T15:00:00Z"});
    app.post(&app.owner, &format!("{path}/activities"), done).await.expect(201);
    let mistyped = json!({"activity_type": "fax", "description": "", "scheduled_at": "tomorrow"});
    let mistyped = app.post(&app.owner, &format!("{path}/activities"), mistyped).await.expect_error(422, "validation_failed");
    assert_eq!(mistyped.bad_fields(), ["activity_type", "description", "scheduled_at"], "every bad field at once");
    let blank = json!({"activity_type": "call", "description": " ", "outcome": "x".repeat(2_001)});
    let blank = app.post(&app.owner, &format!("{path}/activities"), blank).await.expect_error(422, "validation_failed");
    assert_eq!(blank.bad_fields(), ["description", "outcome"]);
    let detail = app.get(&app.owner, &path).await.expect(200);
    assert_eq!(detail.data()["activities"][0]["description"], "Consultation completed");
    assert_eq!(detail.data()["notes"][0]["content"], "third");
    assert_eq!((detail.data()["notes_count"].clone(), detail.data()["activities_count"].clone()), (json!(3), json!(2)));
    let activities = app.get(&app.owner, &format!("{path}/activities")).await.expect(200);
    assert_eq!(detail.data()["activities"], *activities.data(), "the detail embeds the same activities, every field");
    let notes = app.get(&app.owner, &format!("{path}/notes")).await.expect(200);
    assert_eq!(detail.data()["notes"], *notes.data(), "and the same notes");
}

async fn lists_filter_sort_and_page(app: TestApp) {
    let owner = &app.owner;
    let member = app.staff("member").await;
    let category = app.post(owner, "/opportunity-categories", json!({"name": "Filler"})).await.expect(201).id();
    let values = [300, 100, 200, 400];
    let mut ids = Vec::new();
    for (i, value) in values.iter().enumerate() {
        let mut fields = json!({"estimated_value": value, "source": if i % 2 == 0 { "website" } else { "referral" }});
        if i == 0 {
            fields["assigned_to"] = json!(member.staff_id);
            fields["category_id"] = json!(category);
        }
        ids.push(app.lead(owner, fields).await.expect(201).id());
    }
    app.lead(owner, json!({"title": "No value yet"})).await.expect(201);
    app.patch(owner, &format!("/opportunities/{}", ids[1]), json!({"status": "contacted"})).await.expect(200);
    app.patch(owner, &format!("/opportunities/{}", ids[2]), json!({"status": "qualified"})).await.expect(200);

    let titles = |reply: &common::Reply| -> Vec<String> {
        reply.data().as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect()
    };
    let newest_first = app.get(owner, "/opportunities").await.expect(200);
    assert_eq!(newest_first.body["meta"], json!({"total": 5, "total_exact": true, "limit": 50, "offset": 0}));
    assert_eq!(titles(&newest_first)[1..], [ids[3].clone(), ids[2].clone(), ids[1].clone(), ids[0].clone()]);

    let by_status = app.get(owner, "/opportunities?status=contacted,qualified").await.expect(200);
    assert_eq!(by_status.body["meta"]["total"], 2);
    let repeated = app.get(owner, "/opportunities?status=contacted&status=qualified").await.expect(200);
    assert_eq!(titles(&repeated), titles(&by_status));
    assert_eq!(app.get(owner, &format!("/opportunities?assigned_to={}", member.staff_id)).await.body["meta"]["total"], 1);
    assert_eq!(app.get(owner, &format!("/opportunities?category_id={category}")).await.body["meta"]["total"], 1);
    assert_eq!(app.get(owner, "/opportunities?source=Website").await.body["meta"]["total"], 2);

    let by_value = app.get(owner, "/opportunities?sort=estimated_value").await.expect(200);
    let values: Vec<Value> = by_value.data().as_array().unwrap().iter().map(|o| o["estimated_value"].clone()).collect();
    assert_eq!(values, [json!(100.0), json!(200.0), json!(300.0), json!(400.0), Value::Null], "nulls last");
    let descending = app.get(owner, "/opportunities?sort=-estimated_value").await.expect(200);
    assert_eq!(descending.data()[0]["estimated_value"], 400.0);
    assert_eq!(descending.data()[4]["estimated_value"], Value::Null, "nulls last either way");

    let first = app.get(owner, "/opportunities?sort=estimated_value&limit=2").await.expect(200);
    let second = app.get(owner, "/opportunities?sort=estimated_value&limit=2&offset=2").await.expect(200);
    assert_eq!(second.body["meta"], json!({"total": 5, "total_exact": true, "limit": 2, "offset": 2}));
    assert_eq!([titles(&first), titles(&second)].concat(), titles(&by_value)[..4]);
    for (query, total) in [("offset=5", 5), ("status=contacted,qualified&offset=9", 2), ("search=value&offset=1", 1)] {
        let past_the_end = app.get(owner, &format!("/opportunities?{query}")).await.expect(200);
        assert_eq!(past_the_end.data(), &json!([]), "{query}");
        assert_eq!(past_the_end.body["meta"]["total"], total, "{query}: a page past the end still has the list's total");
    }
    let listed = &by_value.data()[2];
    assert_eq!(listed["assigned_staff"]["id"], json!(member.staff_id), "list items embed the assignee");
    assert_eq!(listed["category"]["name"], "Filler");
}

async fn search_matches_word_beginnings_ignoring_case(app: TestApp) {
    let owner = &app.owner;
    app.lead(owner, json!({"title": "BOTOX consult"})).await.expect(201);
    app.lead(owner, json!({"title": "Facial", "description": "asked about botox prices"})).await.expect(201);
    app.lead(
        owner,
        json!({"title": "Filler", "prospect_name": "Ann Lee", "prospect_email": "ann@example.com", "prospect_phone": "+1 555 0100"}),
    )
    .await
    .expect(201);
    app.lead(owner, json!({"title": "100% off membership"})).await.expect(201);
    app.lead(owner, json!({"title": "Crème brûlée facial", "prospect_email": "annie@example.com"})).await.expect(201);
    // A long word is matched whole when finished, by its beginning while typed.
    let long = format!("{}bcdefg", "a".repeat(64));
    app.lead(owner, json!({"title": "Code", "description": format!("voucher {long} applied")})).await.expect(201);
    let count = |query: &str| {
        let (app, path) = (&app, format!("/opportunities?search={query}"));
        async move {
            let reply = app.get(&app.owner, &path).await.expect(200);
            assert_eq!(reply.body["meta"]["total_exact"], true, "{path}");
            reply.body["meta"]["total"].clone()
        }
    };
    assert_eq!(count("Botox").await, 2);
    assert_eq!(count("bot").await, 2, "the last word, still being typed, is a prefix");
    assert_eq!(count("bot%20").await, 0, "a finished word matches whole words only");
    assert_eq!(count("otox").await, 0, "a word matches from the beginning of a word");
    assert_eq!(count("prices%20BOTOX").await, 1, "every word must match, in any order");
    assert_eq!(count("ANN%40EXAMPLE").await, 1, "matches the prospect's e-mail; ann@ is a whole word, not annie@");
    assert_eq!(count("ann").await, 2);
    assert_eq!(count("ann%40example.org").await, 0);
    assert_eq!(count("ann%20lee").await, 1, "matches the prospect's name");
    assert_eq!(count("555%200100").await, 1, "matches the phone");
    assert_eq!(count("CR%C3%88ME").await, 1, "letters beyond ASCII are words and ignore case");
    assert_eq!(count("brul").await, 0, "accents are kept");
    assert_eq!(count("100%25").await, 1);
    assert_eq!(count("%25").await, 0, "punctuation alone is not a word and matches nothing");
    assert_eq!(count("_").await, 0);
    assert_eq!(count("'%20OR%201=1%20--").await, 0);
    assert_eq!(count(&format!("{long}%20")).await, 1);
    assert_eq!(count(&format!("{}%20", "a".repeat(64))).await, 0, "the first 64 characters are not the whole word");
    assert_eq!(count(&format!("{}xyz", "a".repeat(64))).await, 0);
    assert_eq!(count("aaaa").await, 1, "a prefix longer than 3 characters");
    assert_eq!((count("aaaaaa").await, count("aaaaab").await), (json!(1), json!(0)), "a prefix of 6");

    // The index follows each change of a lead's words, and its delete.
    let peel = app.lead(owner, json!({"title": "Peel consult", "prospect_name": "Zed Quill"})).await.expect(201);
    let path = format!("/opportunities/{}", peel.id());
    assert_eq!((count("peel").await, count("quill").await), (json!(1), json!(1)));
    app.patch(owner, &path, json!({"title": "Botox consult", "prospect_name": "Zed"})).await.expect(200);
    assert_eq!((count("peel").await, count("quill").await, count("botox%20consult").await), (json!(0), json!(0), json!(2)));
    app.delete(owner, &path).await.expect(200);
    assert_eq!(count("botox%20consult").await, 1);
}

async fn a_search_matching_over_a_thousand_leads_pages_in_order_with_a_capped_total(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let member = app.staff("member").await;
    let mut creators = tokio::task::JoinSet::new();
    for creator in 0..8 {
        let (app, member) = (app.clone(), member.staff_id.clone());
        creators.spawn(async move {
            for i in (creator..1003).step_by(8) {
                let assignee = if i % 400 == 7 { json!(member) } else { Value::Null };
                let value = if i % 3 == 0 { Value::Null } else { json!(i) };
                let lead = json!({"title": format!("Botox session {i}"), "estimated_value": value, "assigned_to": assignee});
                app.lead(&app.owner, lead).await.expect(201);
            }
        });
    }
    creators.join_all().await;
    app.lead(&app.owner, json!({"title": "Filler"})).await.expect(201);

    let list = |query: String| {
        let app = app.clone();
        async move { app.get(&app.owner, &format!("/opportunities?{query}")).await.expect(200) }
    };
    let ids = |reply: &common::Reply| reply.data().as_array().unwrap().iter().map(|lead| lead["id"].clone()).collect::<Vec<_>>();
    for sort in ["-created_at", "estimated_value", "-estimated_value"] {
        let everything = list(format!("sort={sort}&limit=200")).await;
        let botox: Vec<_> = everything.data().as_array().unwrap().iter().filter(|lead| lead["title"] != "Filler").collect();
        let expected: Vec<_> = botox[30..50].iter().map(|lead| lead["id"].clone()).collect();
        for search in ["botox", "bot", "BOTOX%20SESS"] {
            let page = list(format!("search={search}&sort={sort}&limit=20&offset=30")).await;
            assert_eq!(ids(&page), expected, "search={search} sort={sort}: the same order as the unsearched list");
            assert_eq!(page.body["meta"]["total"], 1000, "search={search}");
            assert_eq!(page.body["meta"]["total_exact"], false, "search={search}: more than 1,000 match");
        }
    }
    let assigned = list(format!("search=botox&assigned_to={}", member.staff_id)).await;
    assert_eq!((assigned.body["meta"]["total"].clone(), assigned.body["meta"]["total_exact"].clone()), (json!(3), json!(true)));
    assert_eq!(ids(&assigned).len(), 3);
    let prefix = list("search=session%20100".into()).await;
    assert_eq!(prefix.body["meta"]["total"], 4, "sessions 100 and 1000 to 1002");
    assert_eq!(list("search=session%20100%20".into()).await.body["meta"]["total"], 1);
    for offset in [0, 1] {
        let narrowed = list(format!("search=session%20407&assigned_to={}&offset={offset}", member.staff_id)).await;
        assert_eq!(narrowed.body["meta"]["total"], 1, "a rare search with another filter counts exactly, past the end too");
    }
}

async fn follow_up_due_lists_open_leads_due_by_end_of_today(app: TestApp) {
    let owner = &app.owner;
    let today = time::OffsetDateTime::now_utc();
    let at = |days: i64| {
        let day = today + time::Duration::days(days);
        format!("{:04}-{:02}-{:02}T00:00:00Z", day.year(), u8::from(day.month()), day.day())
    };
    let overdue = app.lead(owner, json!({"follow_up_date": at(-3)})).await.expect(201).id();
    let due_today = app.lead(owner, json!({"follow_up_date": at(0)})).await.expect(201).id();
    app.lead(owner, json!({"follow_up_date": at(2)})).await.expect(201);
    app.lead(owner, json!({})).await.expect(201);
    let closed = app.lead(owner, json!({"follow_up_date": at(-1)})).await.expect(201).id();
    app.post(owner, &format!("/opportunities/{closed}/close"), json!({"won": true})).await.expect(200);

    let due = app.get(owner, "/opportunities?follow_up_due=true&sort=follow_up_date").await.expect(200);
    let ids: Vec<_> = due.data().as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, [overdue, due_today]);
    let stats = app.get(owner, "/opportunities/stats").await.expect(200);
    assert_eq!(stats.data()["needsFollowUp"], 2);
}

async fn stats_match_a_known_data_set(app: TestApp) {
    let owner = &app.owner;
    let member = app.staff("member").await;
    let leads = [
        // (status, value, probability, source, assigned to the member)
        ("open", Some("1000.00"), 50, Some("website"), true),
        ("open", Some("333.33"), 33, Some("website"), false),
        ("contacted", None, 20, Some("referral"), false),
        ("qualified", Some("250.10"), 70, Some("referral"), true),
        ("proposal", Some("0.01"), 50, None, false),
        ("won", Some("900.00"), 100, Some("website"), false),
        ("won", Some("100.00"), 100, Some("referral"), true),
        ("lost", Some("400.00"), 0, Some("website"), false),
        ("stale", Some("75.00"), 10, Some("walk_in"), false),
    ];
    for (status, value, probability, source, assigned) in leads {
        let mut fields = json!({"status": status, "probability": probability, "estimated_value": value, "source": source});
        if assigned {
            fields["assigned_to"] = json!(member.staff_id);
        }
        app.lead(owner, fields).await.expect(201);
    }
    let stats = app.get(owner, "/opportunities/stats").await.expect(200);
    let data = stats.data();
    assert_eq!(data["counts"], json!({"open": 2, "contacted": 1, "qualified": 1, "proposal": 1, "won": 2, "lost": 1, "stale": 1}));
    assert_eq!(data["total"], 9);
    // 1000 + 333.33 + 0 + 250.10 + 0.01: open, contacted, qualified and proposal only.
    assert_eq!(data["totalValue"], 1583.44);
    // 500 + 109.9989 + 175.07 + 0.005 = 785.0739 → 785.07
    assert_eq!(data["weightedValue"], 785.07);
    assert_eq!(data["needsFollowUp"], 0);
    assert_eq!(data["winRate"], json!(2.0 / 3.0));
    let website = data["bySource"].as_array().unwrap().iter().find(|s| s["source"] == "website").unwrap();
    assert_eq!(website, &json!({"source": "website", "total": 4, "won": 1, "lost": 1, "winRate": 0.5, "wonValue": 900.0}));
    let unknown = data["bySource"].as_array().unwrap().iter().find(|s| s["source"].is_null()).unwrap();
    assert_eq!(unknown["winRate"], Value::Null);

    let mine = app.get(owner, &format!("/opportunities/stats?assigned_to={}", member.staff_id)).await.expect(200);
    assert_eq!(mine.data()["total"], 3);
    assert_eq!(mine.data()["totalValue"], 1250.10);
    app.get(owner, "/opportunities/stats?assigned_to=nobody").await.expect_error(400, "bad_request");
}

async fn conversion_creates_or_links_a_client_once(app: TestApp) {
    let owner = &app.owner;
    let first = app.lead(owner, json!({"prospect_email": "Jane@Example.com", "prospect_phone": "+15551234567"})).await.expect(201);
    let converted = app.post(owner, &format!("/opportunities/{}/convert", first.id()), json!({})).await.expect(200);
    let client = converted.data()["client"].clone();
    assert_eq!(converted.data()["created"], true);
    assert_eq!(
        (client["name"].clone(), client["email"].clone(), client["phone"].clone()),
        (json!("Jane Doe"), json!("jane@example.com"), json!("+15551234567"))
    );
    let again = app.post(owner, &format!("/opportunities/{}/convert", first.id()), json!({})).await.expect_error(409, "already_converted");
    assert_eq!(again.body["error"]["details"]["client_id"], client["id"]);

    let second = app.lead(owner, json!({"prospect_name": "J. Doe", "prospect_email": "JANE@example.com"})).await.expect(201);
    let linked = app.post(owner, &format!("/opportunities/{}/convert", second.id()), json!({})).await.expect(200);
    assert_eq!(linked.data()["created"], false, "the existing client with that e-mail is linked");
    assert_eq!(linked.data()["client_id"], client["id"]);
    let clients = app.get(owner, "/clients").await.expect(200);
    assert_eq!(clients.body["meta"]["total"], 1);
    let detail = app.get(owner, &format!("/opportunities/{}", second.id())).await.expect(200);
    assert_eq!(detail.data()["client"]["id"], client["id"]);
    assert_eq!(detail.data()["version"], 2);
    assert!(detail.data()["activities"][0]["description"].as_str().unwrap().starts_with("Converted to client Jane Doe"));

    let no_email = app.lead(owner, json!({"prospect_name": "Walk In"})).await.expect(201);
    let created = app.post(owner, &format!("/opportunities/{}/convert", no_email.id()), json!({})).await.expect(200);
    assert_eq!((created.data()["created"].clone(), created.data()["client"]["email"].clone()), (json!(true), Value::Null));
    app.post(owner, &format!("/opportunities/{}/convert", uuid::Uuid::now_v7()), json!({})).await.expect_error(404, "not_found");
}

async fn categories_are_ordered_unique_and_editable(app: TestApp) {
    let owner = &app.owner;
    let botox = app.post(owner, "/opportunity-categories", json!({"name": "Botox Inquiry", "color": "#10B981"})).await.expect(201);
    assert_eq!(botox.data()["color"], "#10b981");
    assert_eq!((botox.data()["sort_order"].clone(), botox.data()["is_active"].clone()), (json!(0), json!(true)));
    let grey = app.post(owner, "/opportunity-categories", json!({"name": "ageless", "sort_order": 0})).await.expect(201);
    assert_eq!(grey.data()["color"], "#6b7280");
    app.post(owner, "/opportunity-categories", json!({"name": "Membership", "sort_order": -1})).await.expect(201);
    let retired = app.post(owner, "/opportunity-categories", json!({"name": "Retired", "is_active": false})).await.expect(201);

    let names = |reply: common::Reply| -> Vec<String> {
        reply.data().as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(names(app.get(owner, "/opportunity-categories").await.expect(200)), ["Membership", "ageless", "Botox Inquiry"]);
    assert_eq!(names(app.get(owner, "/opportunity-categories?include_inactive=true").await.expect(200)).len(), 4);
    let duplicate = app.post(owner, "/opportunity-categories", json!({"name": " BOTOX inquiry "})).await.expect_error(409, "conflict");
    assert_eq!(duplicate.body["error"]["details"]["existing_id"], json!(botox.id()));
    app.post(owner, "/opportunity-categories", json!({"name": "Red", "color": "red"})).await.expect_error(422, "validation_failed");

    let renamed = app
        .patch(owner, &format!("/opportunity-categories/{}", grey.id()), json!({"name": "Ageless", "color": "#000000"}))
        .await
        .expect(200);
    assert_eq!(renamed.data()["name"], "Ageless");
    app.patch(owner, &format!("/opportunity-categories/{}", grey.id()), json!({"name": "botox INQUIRY"}))
        .await
        .expect_error(409, "conflict");
    let inactive = app.lead(owner, json!({"category_id": retired.id()})).await.expect_error(422, "validation_failed");
    assert_eq!(inactive.bad_fields(), ["category_id"]);
}

async fn clients_are_searchable_and_unique_by_email(app: TestApp) {
    let owner = &app.owner;
    let maria =
        app.post(owner, "/clients", json!({"name": "Maria Lopez", "email": "Maria@Example.com", "phone": "555-0101"})).await.expect(201);
    assert_eq!(maria.data()["email"], "maria@example.com");
    app.post(owner, "/clients", json!({"name": "Sam Smith"})).await.expect(201);
    app.post(owner, "/clients", json!({"name": "Copy", "email": "MARIA@example.com"})).await.expect_error(409, "conflict");
    app.post(owner, "/clients", json!({"email": "x@example.com"})).await.expect_error(422, "validation_failed");
    let found = app.get(owner, "/clients?search=lopez").await.expect(200);
    assert_eq!(found.body["meta"]["total"], 1);
    let all = app.get(owner, "/clients?limit=1").await.expect(200);
    assert_eq!(all.body["meta"], json!({"total": 2, "total_exact": true, "limit": 1, "offset": 0}));
    assert_eq!(all.data()[0]["name"], "Maria Lopez", "ordered by name");
    let updated = app.patch(owner, &format!("/clients/{}", maria.id()), json!({"phone": null, "name": "Maria L."})).await.expect(200);
    assert_eq!((updated.data()["phone"].clone(), updated.data()["email"].clone()), (Value::Null, json!("maria@example.com")));
    assert_eq!(app.get(owner, &format!("/clients/{}", maria.id())).await.expect(200).data()["name"], "Maria L.");
    app.get(owner, &format!("/clients/{}", uuid::Uuid::now_v7())).await.expect_error(404, "not_found");
}

async fn staff_tokens_and_me(app: TestApp) {
    let owner = &app.owner;
    let me = app.get(owner, "/me").await.expect(200);
    assert_eq!((me.data()["role"].clone(), me.data()["id"].clone()), (json!("owner"), json!(owner.staff_id)));
    let created = app.post(owner, "/staff", json!({"name": "Sam Sales", "email": "Sam@Example.com"})).await.expect(201);
    assert_eq!((created.data()["role"].clone(), created.data()["email"].clone()), (json!("member"), json!("sam@example.com")));
    app.post(owner, "/staff", json!({"name": "Again", "email": "sam@example.com"})).await.expect_error(409, "conflict");
    let issued = app.post(owner, &format!("/staff/{}/tokens", created.id()), json!({"name": "laptop"})).await.expect(201);
    let token = issued.data()["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("opp_") && token.len() >= 36, "prefixed and long: {token}");
    let sam = common::Caller { token, org_id: owner.org_id.clone(), staff_id: created.id() };
    assert_eq!(app.get(&sam, "/me").await.expect(200).data()["name"], "Sam Sales");
    let promoted = app.patch(owner, &format!("/staff/{}", created.id()), json!({"role": "admin"})).await.expect(200);
    assert_eq!(promoted.data()["role"], "admin");
    let staff = app.get(owner, "/staff").await.expect(200);
    assert_eq!(staff.body["meta"]["total"], 2);
    app.delete(owner, &format!("/tokens/{}", issued.id())).await.expect(200);
    app.get(&sam, "/me").await.expect_error(401, "unauthorized");
    let inactive = app.patch(owner, &format!("/staff/{}", created.id()), json!({"is_active": false})).await.expect(200);
    assert_eq!(inactive.data()["is_active"], false);
    let unassignable = app.lead(owner, json!({"assigned_to": created.id()})).await.expect_error(422, "validation_failed");
    assert_eq!(unassignable.bad_fields(), ["assigned_to"]);
}

async fn tokens_record_their_last_use_and_never_show_their_secret(app: TestApp) {
    let member = app.staff("member").await;
    let path = format!("/staff/{}/tokens", member.staff_id);
    let before = app.get(&app.owner, &path).await.expect(200);
    assert_eq!(before.data()[0]["last_used_at"], Value::Null, "issued, not yet used");
    app.get(&member, "/me").await.expect(200);
    let after = app.get(&member, &path).await.expect(200);
    let token = &after.data()[0];
    assert!(token["last_used_at"].is_string(), "{token}");
    assert!(token.get("token").is_none() && token.get("hash").is_none(), "no secret in a listing: {token}");
    let other = app.staff("member").await;
    app.get(&member, &format!("/staff/{}/tokens", other.staff_id)).await.expect_error(403, "forbidden");
    app.delete(&app.owner, &format!("/tokens/{}", token["id"].as_str().unwrap())).await.expect(200);
    let revoked = app.get(&app.owner, &path).await.expect(200);
    assert!(revoked.data()[0]["revoked_at"].is_string());
}

/// The statistics are kept by the database on every write; after creates, edits of every
/// counted field, closes, reopens and deletes they must equal a recount of the leads.
async fn stats_equal_a_full_recount_after_every_kind_of_change(app: TestApp) {
    let owner = &app.owner;
    let (sam, kim) = (app.staff("member").await, app.staff("member").await);
    let botox = app.post(owner, "/opportunity-categories", json!({"name": "Botox"})).await.expect(201).id();
    let today = time::OffsetDateTime::now_utc();
    let day = |offset: i64| (today + time::Duration::days(offset)).format(&time::format_description::well_known::Rfc3339).unwrap();
    let mut ids = Vec::new();
    for i in 0..12i64 {
        let source = ["website", "referral", "phone"][i as usize % 3];
        let fields = json!({
            "estimated_value": format!("{}.{:02}", 100 + i * 37, i * 7 % 100), "probability": 5 + i * 8,
            "source": source, "follow_up_date": day(i % 5 - 2),
            "assigned_to": if i % 2 == 0 { Value::from(sam.staff_id.clone()) } else { Value::Null },
            "category_id": if i % 3 == 0 { Value::from(botox.clone()) } else { Value::Null },
        });
        ids.push(app.lead(owner, fields).await.expect(201).id());
    }
    let path = |i: usize| format!("/opportunities/{}", ids[i]);
    app.patch(owner, &path(0), json!({"estimated_value": 999.99, "probability": 55})).await.expect(200);
    app.patch(owner, &path(1), json!({"source": "event", "assigned_to": kim.staff_id, "category_id": botox})).await.expect(200);
    app.patch(owner, &path(2), json!({"follow_up_date": day(10), "status": "proposal"})).await.expect(200);
    app.patch(owner, &path(3), json!({"follow_up_date": null, "source": null, "estimated_value": null})).await.expect(200);
    app.post(owner, &format!("{}/close", path(4)), json!({"won": true})).await.expect(200);
    app.post(owner, &format!("{}/close", path(5)), json!({"won": false})).await.expect(200);
    app.post(owner, &format!("{}/close", path(6)), json!({"won": false})).await.expect(200);
    app.patch(owner, &path(6), json!({"status": "stale"})).await.expect(200);
    app.delete(owner, &path(7)).await.expect(200);
    app.patch(owner, &path(8), json!({"assigned_to": null, "category_id": null, "status": "contacted"})).await.expect(200);
    app.patch(owner, &path(9), json!({"follow_up_date": day(-4)})).await.expect(200);
    app.patch(owner, &path(10), json!({"status": "qualified"})).await.expect(200);
    app.patch(owner, &path(11), json!({"probability": 90})).await.expect(200);
    app.patch(owner, &path(11), json!({"estimated_value": null, "follow_up_date": day(1)})).await.expect(200);

    let leads = app.all_leads(owner).await;
    for (query, keep) in [
        (String::new(), Box::new(|_: &Value| true) as Box<dyn Fn(&Value) -> bool>),
        (format!("?assigned_to={}", sam.staff_id), Box::new(|o: &Value| o["assigned_to"] == json!(sam.staff_id))),
        (format!("?category_id={botox}"), Box::new(|o: &Value| o["category_id"] == json!(botox))),
    ] {
        app.assert_stats_match_recount(owner, &query, &leads, keep).await;
    }
    let status_page = app.get(owner, "/opportunities?status=won,lost,stale&limit=1").await.expect(200);
    assert_eq!(status_page.body["meta"]["total"], 3, "list totals come from the same counts");
}
