//! The reports (issue 12, item 6): the funnel, response times per source and lost reasons, each
//! over the organization's days, checked against a small pipeline computed by hand.

mod common;

use common::{Caller, TestApp};
use domain::activity::{Activity, ActivityType};
use domain::calendar::TimeZone;
use domain::opportunity::{Opportunity, Stage, StageEntry, Status};
use domain::{Money, Timestamp};
use serde_json::{Value, json};
use store::Stays;
use uuid::Uuid;

suite!(
    the_reports_match_a_pipeline_computed_by_hand,
    the_window_is_the_organizations_days,
    the_filters_narrow_every_report,
    bad_windows_are_refused_with_the_fields_named,
    an_organization_sees_only_its_own_leads,
);

const MARCH: &str = "from=2026-03-01&to=2026-03-31";
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

fn at(seconds_after_t0: i64) -> Timestamp {
    // T0: 2026-03-10T12:00:00Z.
    Timestamp::from_unix_micros((1_773_144_000 + seconds_after_t0) * 1_000_000).expect("an instant")
}

/// A lead written straight through the store with the times the test chose: the service stamps
/// what it writes with the real time, which a hand-computed report cannot use.
struct Lead {
    source: Option<&'static str>,
    /// Seconds after T0.
    created: i64,
    /// Each status entered after the first (`open` at creation), seconds after creation.
    moves: Vec<(Status, i64)>,
    /// Activities logged, seconds after creation.
    activities: Vec<(ActivityType, i64)>,
    reason: Option<&'static str>,
    value_cents: Option<i64>,
    assigned_to: Option<Uuid>,
    category_id: Option<Uuid>,
}

impl Lead {
    fn new(source: Option<&'static str>, created: i64) -> Lead {
        Lead { source, created, moves: vec![], activities: vec![], reason: None, value_cents: None, assigned_to: None, category_id: None }
    }
}

async fn write(app: &TestApp, caller: &Caller, lead: Lead) -> Uuid {
    let org_id: Uuid = caller.org_id.parse().expect("an org id");
    let staff: Uuid = caller.staff_id.parse().expect("a staff id");
    let created = at(lead.created);
    let (status, last) = lead.moves.last().map_or((Status::Open, 0), |&(status, after)| (status, after));
    let closed_at = status.is_closed().then(|| at(lead.created + last));
    let probability = match status {
        Status::Won => 100,
        Status::Lost => 0,
        _ => 10,
    };
    let stage = Stage::from_storage(status, probability, closed_at, lead.reason.map(str::to_owned), None).expect("a valid stage");
    let opportunity = Opportunity {
        id: Uuid::now_v7(),
        org_id,
        client_id: None,
        prospect_email: None,
        prospect_phone: None,
        category_id: lead.category_id,
        title: "Botox".into(),
        description: None,
        estimated_value: lead.value_cents.map(Money::from_cents),
        stage,
        source: lead.source.map(str::to_owned),
        assigned_to: lead.assigned_to,
        follow_up_date: None,
        follow_up_day: None,
        created_by: staff,
        created_at: created,
        updated_at: at(lead.created + last),
        last_activity_at: at(lead.created + last),
        version: 1,
        prospect_name: Some("Ann Lee".into()),
    };
    let mut tx = app.store.begin().await.expect("a transaction");
    tx.save_opportunity(None, &opportunity).await.expect("save the lead");
    for (k, (status, after)) in [(Status::Open, 0)].into_iter().chain(lead.moves).enumerate() {
        let entry = StageEntry {
            id: Uuid::now_v7(),
            org_id,
            opportunity_id: opportunity.id,
            status,
            entered_at: at(lead.created + after),
            changed_by: Some(staff),
            left_at: None,
            lead_created_at: opportunity.created_at,
        };
        tx.insert_stage_entry(&entry, if k == 0 { Stays::None } else { Stays::Current }).await.expect("an entry");
    }
    for (activity_type, after) in lead.activities {
        let activity = Activity {
            id: Uuid::now_v7(),
            org_id,
            opportunity_id: opportunity.id,
            activity_type,
            description: "Reached out".into(),
            outcome: None,
            scheduled_at: None,
            completed_at: Some(at(lead.created + after)),
            created_by: staff,
            created_at: at(lead.created + after),
        };
        tx.insert_activity(&activity).await.expect("an activity");
    }
    tx.commit().await.expect("commit");
    opportunity.id
}

async fn report(app: &TestApp, caller: &Caller, name: &str, query: &str) -> Value {
    app.get(caller, &format!("/reports/{name}?{query}")).await.expect(200).data().clone()
}

/// The pipeline of the hand computation below, in UTC (the organization's default zone).
async fn small_pipeline(app: &TestApp, caller: &Caller) {
    let (contacted, qualified, proposal, won, lost) = (Status::Contacted, Status::Qualified, Status::Proposal, Status::Won, Status::Lost);
    let mut a = Lead::new(Some("website"), 0);
    a.moves = vec![(contacted, DAY), (qualified, 3 * DAY), (won, 7 * DAY)];
    a.activities = vec![(ActivityType::Call, 30 * 60)];
    let mut b = Lead::new(Some("website"), HOUR);
    b.moves = vec![(contacted, 2 * DAY), (lost, 4 * DAY)];
    b.activities = vec![(ActivityType::Email, 10 * 60)];
    (b.reason, b.value_cents) = (Some("  Price "), Some(10_000));
    let mut c = Lead::new(Some("referral"), 2 * HOUR);
    c.moves = vec![(lost, DAY)];
    (c.reason, c.value_cents) = (Some("price"), Some(5_000));
    let mut d = Lead::new(Some("website"), 3 * HOUR);
    d.activities = vec![(ActivityType::Note, 5 * 60), (ActivityType::Task, 6 * 60), (ActivityType::StatusChange, 7 * 60)];
    let mut e = Lead::new(Some("referral"), 4 * HOUR);
    e.moves = vec![(contacted, DAY), (qualified, 2 * DAY), (proposal, 5 * DAY)];
    e.activities = vec![(ActivityType::Meeting, 3 * HOUR)];
    // Created before March: outside the funnel; f lost before March too, h during it.
    let mut f = Lead::new(Some("website"), -20 * DAY);
    f.moves = vec![(lost, DAY)];
    f.reason = Some("Timing");
    let mut h = Lead::new(Some("website"), -30 * DAY);
    h.moves = vec![(lost, 31 * DAY)];
    h.reason = Some("Went elsewhere");
    for lead in [a, b, c, d, e, f, h] {
        write(app, caller, lead).await;
    }
}

async fn the_reports_match_a_pipeline_computed_by_hand(app: TestApp) {
    small_pipeline(&app, &app.owner).await;
    let member = app.staff("member").await;

    // open: a b c d e entered; a b e went on (c was lost, which is no progress); ended stays
    // 1, 2, 1, 1 days → sorted 1 1 1 2, median rank ⌈4/2⌉ = 2 → 1 day. contacted: a b e; a e
    // went on; stays 2, 2, 1 → median 2. qualified: a e, both went on (won, proposal); stays
    // 4, 3 → rank 1 → 3. proposal: e, still in it. Closed: a won after 7 days, b lost after
    // 4, c after 1 → median 4.
    let funnel = report(&app, &member, "funnel", MARCH).await;
    assert_eq!(
        funnel,
        json!({
            "from": "2026-03-01", "to": "2026-03-31",
            "stages": [
                {"status": "open", "entered": 5, "advanced": 3, "conversion_rate": 60.0, "median_days_in_stage": 1.0},
                {"status": "contacted", "entered": 3, "advanced": 2, "conversion_rate": 66.7, "median_days_in_stage": 2.0},
                {"status": "qualified", "entered": 2, "advanced": 2, "conversion_rate": 100.0, "median_days_in_stage": 3.0},
                {"status": "proposal", "entered": 1, "advanced": 0, "conversion_rate": 0.0, "median_days_in_stage": null},
            ],
            "won": 1, "lost": 2, "win_rate": 33.3, "median_days_to_close": 4.0,
        })
    );

    // website: a answered by a call after 30 min, b by an e-mail after 10, d never (a note, a
    // task and a status-change activity are no answer) → 10 and 30 at ranks 1 and ⌈0.9·2⌉ = 2.
    // referral: c by its move to lost after a day (1440 min), e by a meeting after 180 min.
    let times = report(&app, &member, "response-times", MARCH).await;
    assert_eq!(
        times["sources"],
        json!([
            {"source": "website", "created": 3, "answered": 2, "median_minutes": 10.0, "p90_minutes": 30.0},
            {"source": "referral", "created": 2, "answered": 2, "median_minutes": 180.0, "p90_minutes": 1440.0},
        ])
    );

    // Lost in March: b "  Price " and c "price" are one reason (the first spelling in code-point
    // order), h "Went elsewhere" was created in February; f was lost in February.
    let lost = report(&app, &member, "lost-reasons", MARCH).await;
    assert_eq!(
        lost,
        json!({
            "from": "2026-03-01", "to": "2026-03-31",
            "reasons": [
                {"reason": "Price", "count": 2, "estimated_value": 150.0},
                {"reason": "Went elsewhere", "count": 1, "estimated_value": 0.0},
            ],
            "total": {"count": 3, "estimated_value": 150.0},
        })
    );

    // A month without leads answers zeros, not errors.
    let empty = report(&app, &member, "funnel", "from=2025-01-01&to=2025-01-31").await;
    assert_eq!((empty["stages"][0]["entered"].clone(), empty["win_rate"].clone()), (json!(0), Value::Null));
    assert_eq!(report(&app, &member, "response-times", "from=2025-01-01&to=2025-01-31").await["sources"], json!([]));
}

async fn the_window_is_the_organizations_days(app: TestApp) {
    // Auckland is at UTC+13 in March (daylight saving time): 11:30 UTC on 28 February is
    // already 1 March there, and 11:30 UTC on 31 March is 1 April.
    app.patch(&app.owner, "/pipeline-settings", json!({"timezone": "Pacific/Auckland"})).await.expect(200);
    assert_eq!(app.time_zone(&app.owner).await, TimeZone::named("Pacific/Auckland").unwrap());
    let t0 = 1_773_144_000;
    let utc = |text: &str| Timestamp::parse(text).unwrap().unix_micros() / 1_000_000 - t0;
    for created in ["2026-02-28T10:59:59Z", "2026-02-28T11:00:00Z", "2026-03-31T10:59:59Z", "2026-03-31T11:00:00Z"] {
        write(&app, &app.owner, Lead::new(Some("phone"), utc(created))).await;
    }
    let times = report(&app, &app.owner, "response-times", MARCH).await;
    assert_eq!(times["sources"], json!([{"source": "phone", "created": 2, "answered": 0, "median_minutes": null, "p90_minutes": null}]));
    let funnel = report(&app, &app.owner, "funnel", "from=2026-02-28&to=2026-02-28").await;
    assert_eq!(funnel["stages"][0]["entered"], 1);
}

async fn the_filters_narrow_every_report(app: TestApp) {
    let member = app.staff("member").await;
    let category: Uuid =
        app.post(&app.owner, "/opportunity-categories", json!({"name": "Injectables"})).await.expect(201).id().parse().unwrap();
    let assignee: Uuid = member.staff_id.parse().unwrap();
    // Open for 1, 2 and 3 days: the median stay (nearest rank) tells which leads were read.
    for (days, (source, assigned)) in (1..).zip([("website", true), ("website", false), ("referral", true)]) {
        let mut lead = Lead::new(Some(source), 0);
        lead.moves = vec![(Status::Lost, days * DAY)];
        lead.reason = Some("price");
        lead.assigned_to = assigned.then_some(assignee);
        lead.category_id = (source == "referral").then_some(category);
        write(&app, &app.owner, lead).await;
    }
    let with = |filter: &str| format!("{MARCH}&{filter}");
    let open = |body: &Value| (body["stages"][0]["entered"].clone(), body["stages"][0]["median_days_in_stage"].clone());
    assert_eq!(open(&report(&app, &member, "funnel", MARCH).await), (json!(3), json!(2.0)));
    assert_eq!(open(&report(&app, &member, "funnel", &with("source=Website")).await), (json!(2), json!(1.0)));
    assert_eq!(open(&report(&app, &member, "funnel", &with(&format!("assigned_to={assignee}"))).await), (json!(2), json!(1.0)));
    assert_eq!(open(&report(&app, &member, "funnel", &with(&format!("category_id={category}"))).await), (json!(1), json!(3.0)));
    let lost = report(&app, &member, "lost-reasons", &with(&format!("assigned_to={assignee}&source=referral"))).await;
    assert_eq!(lost["total"]["count"], 1);
    let times = report(&app, &member, "response-times", &with("source=referral")).await;
    assert_eq!(times["sources"].as_array().map(Vec::len), Some(1));
}

async fn bad_windows_are_refused_with_the_fields_named(app: TestApp) {
    for name in ["funnel", "response-times", "lost-reasons"] {
        for (query, field) in [
            ("from=2026-03-02&to=2026-03-01", "to"),
            ("from=2023-01-01&to=2026-01-31", "to"),
            ("from=2026-02-30&to=2026-03-01", "from"),
            ("from=yesterday&to=2026-03-01", "from"),
            ("to=2026-03-01", "from"),
            ("from=2026-03-01", "to"),
        ] {
            let reply = app.get(&app.owner, &format!("/reports/{name}?{query}")).await.expect_error(422, "validation_failed");
            assert_eq!(reply.bad_fields(), [field], "{name}?{query}: {}", reply.body);
        }
        app.get(&app.owner, &format!("/reports/{name}?{MARCH}&assigned_to=me")).await.expect_error(400, "bad_request");
        app.get(&app.owner, &format!("/reports/{name}?{MARCH}&status=open")).await.expect_error(400, "bad_request");
    }
    // Three years, a leap day included, is the longest window.
    app.get(&app.owner, "/reports/funnel?from=2023-03-01&to=2026-03-01").await.expect(200);
}

async fn an_organization_sees_only_its_own_leads(app: TestApp) {
    small_pipeline(&app, &app.owner).await;
    let other = app.other_org().await;
    let funnel = report(&app, &other, "funnel", MARCH).await;
    assert_eq!((funnel["stages"][0]["entered"].clone(), funnel["won"].clone()), (json!(0), json!(0)));
    assert_eq!(report(&app, &other, "response-times", MARCH).await["sources"], json!([]));
    assert_eq!(report(&app, &other, "lost-reasons", MARCH).await["total"]["count"], 0);
    // The same filters on the first organization's staff find nothing in the other one.
    let query = format!("{MARCH}&assigned_to={}", app.owner.staff_id);
    assert_eq!(report(&app, &other, "lost-reasons", &query).await["reasons"], json!([]));
}
