//! Who may do what: walks the table in `docs/security.md` ("Who may do what") and checks every
//! row for every role with real, well-formed requests, and checks that the table and the
//! OpenAPI document list the same operations.
//!
//! A row this file does not know how to exercise fails the test: a new route must be added to
//! `exercise` below (and its row to the table).

mod common;

use std::collections::BTreeSet;
use std::fmt;

use common::{Caller, Reply, TestApp};
use reqwest::Method;
use serde_json::{Value, json};

suite!(every_route_answers_each_role_as_the_table_says, the_table_covers_every_operation);

const SECURITY_MD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/security.md");
const PREFIX: &str = "/api/v1";

// ---- the table --------------------------------------------------------------------------

/// What one cell of the table allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    Yes,
    No,
    /// Only for the caller's own staff record.
    Own,
    /// Except when the target staff member is an owner, or when granting the owner role.
    NotOwners,
    /// No token needed.
    Anyone,
}

impl Rule {
    fn parse(cell: &str) -> Option<Rule> {
        Some(match cell {
            "yes" => Rule::Yes,
            "no" => Rule::No,
            "own" => Rule::Own,
            "not owners" => Rule::NotOwners,
            "anyone" => Rule::Anyone,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Owner,
    Admin,
    Member,
}

const ROLES: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];

#[derive(Debug)]
struct Row {
    method: Method,
    /// As in the table, e.g. `/api/v1/opportunities/{id}`.
    route: String,
    /// In the order of `ROLES`.
    rules: [Rule; 3],
}

/// The rows between the `permissions:begin` and `permissions:end` markers.
fn table() -> Vec<Row> {
    let text = std::fs::read_to_string(SECURITY_MD).unwrap_or_else(|e| panic!("read {SECURITY_MD}: {e}"));
    let start = text.find("<!-- permissions:begin -->").expect("docs/security.md has <!-- permissions:begin -->");
    let end = text.find("<!-- permissions:end -->").expect("docs/security.md has <!-- permissions:end -->");
    assert!(start < end, "the permissions markers are out of order");
    let mut lines = text[start..end].lines().skip(1).map(str::trim).filter(|line| !line.is_empty());

    let cells = |line: &str| -> Vec<String> {
        let inner = line.strip_prefix('|').and_then(|l| l.strip_suffix('|')).unwrap_or_else(|| panic!("not a table row: {line:?}"));
        inner.split('|').map(|cell| cell.trim().to_owned()).collect()
    };
    let header = cells(lines.next().expect("the permissions table has a header"));
    assert_eq!(header, ["method", "route", "owner", "admin", "member"], "the permissions table's columns");
    let separator = cells(lines.next().expect("the permissions table has a separator row"));
    assert!(separator.iter().all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-' || ch == ':')), "separator row: {separator:?}");

    let rows: Vec<Row> = lines
        .map(|line| {
            let cells = cells(line);
            assert_eq!(cells.len(), 5, "a row has five cells: {line:?}");
            let method = Method::from_bytes(cells[0].as_bytes()).unwrap_or_else(|_| panic!("bad method in {line:?}"));
            assert_eq!(method.as_str(), cells[0], "methods are upper case: {line:?}");
            let rule = |i: usize| Rule::parse(&cells[i]).unwrap_or_else(|| panic!("unknown permission {:?} in {line:?}", cells[i]));
            Row { method, route: cells[1].clone(), rules: [rule(2), rule(3), rule(4)] }
        })
        .collect();
    assert!(rows.len() >= 10, "the permissions table looks truncated: {} rows", rows.len());
    rows
}

// ---- what a request acts on ---------------------------------------------------------------

/// Whose staff record a request on a staff route acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    /// The route acts on no staff record.
    Nobody,
    /// The caller's own record (or own token).
    Themselves,
    /// Another staff member with the role member.
    AMember,
    /// Another staff member with the role owner.
    AnOwner,
    /// A member being given the owner role (or a new staff member created as an owner).
    GrantingOwner,
}

/// The targets that make sense for a route; `None` for a route this file cannot exercise.
fn targets(method: &Method, route: &str) -> Option<&'static [Target]> {
    use Target::*;
    Some(match (method.as_str(), route) {
        ("POST", "/staff") => &[AMember, GrantingOwner],
        ("PATCH", "/staff/{id}") => &[Themselves, AMember, AnOwner, GrantingOwner],
        ("GET" | "POST", "/staff/{id}/tokens") | ("DELETE", "/tokens/{id}") | ("POST", "/staff/{id}/invite") => {
            &[Themselves, AMember, AnOwner]
        }
        _ if is_known(method, route) => &[Nobody],
        _ => return None,
    })
}

fn is_known(method: &Method, route: &str) -> bool {
    KNOWN.iter().any(|(m, r)| *m == method.as_str() && *r == route)
}

/// Every operation `exercise` knows how to call (paths relative to `/api/v1`).
const KNOWN: &[(&str, &str)] = &[
    ("GET", "/opportunity-categories"),
    ("POST", "/opportunity-categories"),
    ("PATCH", "/opportunity-categories/{id}"),
    ("GET", "/opportunities"),
    ("POST", "/opportunities"),
    ("GET", "/opportunities/stats"),
    ("GET", "/opportunities/{id}"),
    ("PATCH", "/opportunities/{id}"),
    ("DELETE", "/opportunities/{id}"),
    ("POST", "/opportunities/{id}/close"),
    ("POST", "/opportunities/{id}/convert"),
    ("GET", "/opportunities/{id}/history"),
    ("POST", "/opportunities/{id}/merge"),
    ("GET", "/opportunities/{id}/possible-duplicates"),
    ("GET", "/opportunities/{id}/notes"),
    ("POST", "/opportunities/{id}/notes"),
    ("GET", "/opportunities/{id}/activities"),
    ("POST", "/opportunities/{id}/activities"),
    ("PATCH", "/opportunities/{id}/activities/{activity_id}"),
    ("GET", "/opportunities/export"),
    ("GET", "/clients/export"),
    ("POST", "/imports/opportunities"),
    ("GET", "/clients"),
    ("POST", "/clients"),
    ("GET", "/clients/{id}"),
    ("PATCH", "/clients/{id}"),
    ("GET", "/staff"),
    ("POST", "/staff"),
    ("PATCH", "/staff/{id}"),
    ("GET", "/staff/{id}/tokens"),
    ("POST", "/staff/{id}/tokens"),
    ("DELETE", "/tokens/{id}"),
    ("POST", "/staff/{id}/invite"),
    ("GET", "/me"),
    ("GET", "/lead-forms"),
    ("POST", "/lead-forms"),
    ("PATCH", "/lead-forms/{id}"),
    ("POST", "/public/lead-forms/{form_key}/submissions"),
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("PATCH", "/webhooks/{id}"),
    ("DELETE", "/webhooks/{id}"),
    ("GET", "/webhooks/{id}/deliveries"),
    ("POST", "/webhooks/{id}/deliveries/{delivery_id}/redeliver"),
    ("GET", "/pipeline-settings"),
    ("PATCH", "/pipeline-settings"),
    ("GET", "/agenda"),
    ("GET", "/reports/funnel"),
    ("GET", "/reports/response-times"),
    ("GET", "/reports/lost-reasons"),
];

/// Whether `rule` lets a caller with `role` act on `target`.
fn allows(rule: Rule, role: Role, target: Target) -> bool {
    match rule {
        Rule::Yes | Rule::Anyone => true,
        Rule::No => false,
        Rule::Own => target == Target::Themselves,
        Rule::NotOwners => match target {
            Target::AnOwner | Target::GrantingOwner => false,
            Target::Themselves => role != Role::Owner,
            Target::AMember | Target::Nobody => true,
        },
    }
}

// ---- requests ------------------------------------------------------------------------------

fn unique(what: &str) -> String {
    format!("{what} {}", uuid::Uuid::now_v7().simple())
}

fn unique_email() -> String {
    format!("{}@example.com", uuid::Uuid::now_v7().simple())
}

/// A new staff member with `role`, created by the owner (no token).
async fn new_staff(app: &TestApp, role: &str) -> String {
    let body = json!({"name": unique("Staff"), "email": unique_email(), "role": role});
    app.post(&app.owner, "/staff", body).await.expect(201).id()
}

/// The staff id a request on a staff route acts on, created fresh unless it is the caller's.
async fn staff_for(app: &TestApp, caller: Option<&Caller>, target: Target) -> String {
    match target {
        Target::Themselves => caller.expect("a request on the caller's own record has a caller").staff_id.clone(),
        Target::AnOwner => new_staff(app, "owner").await,
        Target::AMember | Target::GrantingOwner | Target::Nobody => new_staff(app, "member").await,
    }
}

async fn new_lead(app: &TestApp) -> String {
    app.lead(&app.owner, json!({"prospect_email": unique_email()})).await.expect(201).id()
}

async fn new_category(app: &TestApp) -> String {
    app.post(&app.owner, "/opportunity-categories", json!({"name": unique("Category")})).await.expect(201).id()
}

async fn new_client(app: &TestApp) -> String {
    app.post(&app.owner, "/clients", json!({"name": unique("Client"), "email": unique_email()})).await.expect(201).id()
}

async fn new_lead_form(app: &TestApp) -> Reply {
    app.post(&app.owner, "/lead-forms", json!({"name": unique("Form"), "allowed_origins": []})).await.expect(201)
}

/// A webhook's id (no worker runs here, so nothing is sent to it).
async fn new_webhook(app: &TestApp) -> String {
    let body = json!({"url": "https://hooks.example.com/crm", "events": ["opportunity.created"]});
    app.post(&app.owner, "/webhooks", body).await.expect(201).id()
}

/// A webhook and a delivery of it: `/webhooks/{id}/deliveries/{delivery_id}`.
async fn new_delivery(app: &TestApp) -> String {
    let webhook = new_webhook(app).await;
    new_lead(app).await;
    let deliveries = app.get(&app.owner, &format!("/webhooks/{webhook}/deliveries")).await.expect(200);
    let delivery = deliveries.data()[0]["id"].as_str().expect("the lead's delivery").to_owned();
    format!("/webhooks/{webhook}/deliveries/{delivery}")
}

/// Builds what the request needs (as the owner), then makes it as `caller` (`None`: no token).
/// `route` is relative to `/api/v1`. Panics on a route it does not know.
async fn exercise(app: &TestApp, caller: Option<&Caller>, method: &Method, route: &str, target: Target) -> Reply {
    if (method.as_str(), route) == ("POST", "/imports/opportunities") {
        let mut request = app.request(Method::POST, route).header("content-type", "text/csv").body("name,title\r\nJane,Botox\r\n");
        if let Some(caller) = caller {
            request = request.bearer_auth(&caller.token);
        }
        return TestApp::reply(request).await;
    }
    let (path, body): (String, Option<Value>) = match (method.as_str(), route) {
        ("GET", "/opportunity-categories") => (route.into(), None),
        ("POST", "/opportunity-categories") => (route.into(), Some(json!({"name": unique("Category")}))),
        ("PATCH", "/opportunity-categories/{id}") => {
            (format!("/opportunity-categories/{}", new_category(app).await), Some(json!({"name": unique("Renamed")})))
        }

        ("GET", "/opportunities") | ("GET", "/opportunities/stats") => (route.into(), None),
        ("GET", "/opportunities/export") | ("GET", "/clients/export") => (route.into(), None),
        ("POST", "/opportunities") => (route.into(), Some(json!({"title": "Interested in Botox package", "prospect_name": "Jane Doe"}))),
        ("GET", "/opportunities/{id}") | ("DELETE", "/opportunities/{id}") => (format!("/opportunities/{}", new_lead(app).await), None),
        ("PATCH", "/opportunities/{id}") => {
            (format!("/opportunities/{}", new_lead(app).await), Some(json!({"status": "qualified", "probability": 60})))
        }
        ("POST", "/opportunities/{id}/close") => (format!("/opportunities/{}/close", new_lead(app).await), Some(json!({"won": true}))),
        ("POST", "/opportunities/{id}/convert") => (format!("/opportunities/{}/convert", new_lead(app).await), Some(json!({}))),
        ("GET", "/opportunities/{id}/history") => (format!("/opportunities/{}/history", new_lead(app).await), None),
        ("POST", "/opportunities/{id}/merge") => {
            (format!("/opportunities/{}/merge", new_lead(app).await), Some(json!({"from_id": new_lead(app).await})))
        }
        ("GET", "/opportunities/{id}/possible-duplicates") => (format!("/opportunities/{}/possible-duplicates", new_lead(app).await), None),
        ("GET", "/opportunities/{id}/notes") => (format!("/opportunities/{}/notes", new_lead(app).await), None),
        ("POST", "/opportunities/{id}/notes") => {
            (format!("/opportunities/{}/notes", new_lead(app).await), Some(json!({"content": "Wants a quote."})))
        }
        ("GET", "/opportunities/{id}/activities") => (format!("/opportunities/{}/activities", new_lead(app).await), None),
        ("POST", "/opportunities/{id}/activities") => (
            format!("/opportunities/{}/activities", new_lead(app).await),
            Some(json!({"activity_type": "call", "description": "Intro call"})),
        ),
        ("PATCH", "/opportunities/{id}/activities/{activity_id}") => {
            let lead = new_lead(app).await;
            let activity = json!({"activity_type": "call", "description": "Call back", "scheduled_at": "2026-03-01T10:00:00Z"});
            let activity = app.post(&app.owner, &format!("/opportunities/{lead}/activities"), activity).await.expect(201).id();
            (format!("/opportunities/{lead}/activities/{activity}"), Some(json!({"completed_at": "2026-03-01T10:30:00Z"})))
        }

        ("GET", "/clients") => (route.into(), None),
        ("POST", "/clients") => (route.into(), Some(json!({"name": unique("Client"), "email": unique_email()}))),
        ("GET", "/clients/{id}") => (format!("/clients/{}", new_client(app).await), None),
        ("PATCH", "/clients/{id}") => (format!("/clients/{}", new_client(app).await), Some(json!({"phone": "+15550000000"}))),

        ("GET", "/staff") | ("GET", "/me") => (route.into(), None),
        ("POST", "/staff") => {
            let role = if target == Target::GrantingOwner { "owner" } else { "member" };
            (route.into(), Some(json!({"name": unique("New Hire"), "email": unique_email(), "role": role})))
        }
        ("PATCH", "/staff/{id}") => {
            let id = staff_for(app, caller, target).await;
            let body = if target == Target::GrantingOwner { json!({"role": "owner"}) } else { json!({"name": unique("Renamed")}) };
            (format!("/staff/{id}"), Some(body))
        }
        ("GET", "/staff/{id}/tokens") => (format!("/staff/{}/tokens", staff_for(app, caller, target).await), None),
        ("POST", "/staff/{id}/tokens") => (format!("/staff/{}/tokens", staff_for(app, caller, target).await), Some(json!({}))),
        ("POST", "/staff/{id}/invite") => (format!("/staff/{}/invite", staff_for(app, caller, target).await), None),
        ("DELETE", "/tokens/{id}") => {
            // A fresh token of the target, never the one the caller is using.
            let holder = staff_for(app, caller, target).await;
            let token = app.post(&app.owner, &format!("/staff/{holder}/tokens"), json!({"name": "spare"})).await.expect(201).id();
            (format!("/tokens/{token}"), None)
        }

        ("GET", "/lead-forms") => (route.into(), None),
        ("POST", "/lead-forms") => (route.into(), Some(json!({"name": unique("Form"), "allowed_origins": []}))),
        ("PATCH", "/lead-forms/{id}") => {
            (format!("/lead-forms/{}", new_lead_form(app).await.id()), Some(json!({"name": unique("Renamed")})))
        }
        ("POST", "/public/lead-forms/{form_key}/submissions") => {
            let form = new_lead_form(app).await;
            let key = form.data()["form_key"].as_str().expect("a lead form has a form_key").to_owned();
            (format!("/public/lead-forms/{key}/submissions"), Some(json!({"name": "Jane", "email": unique_email()})))
        }

        ("GET", "/webhooks") => (route.into(), None),
        ("POST", "/webhooks") => (route.into(), Some(json!({"url": "https://hooks.example.com/crm", "events": ["note.created"]}))),
        ("PATCH", "/webhooks/{id}") => (format!("/webhooks/{}", new_webhook(app).await), Some(json!({"active": false}))),
        ("DELETE", "/webhooks/{id}") => (format!("/webhooks/{}", new_webhook(app).await), None),
        ("GET", "/webhooks/{id}/deliveries") => (format!("/webhooks/{}/deliveries", new_webhook(app).await), None),
        ("POST", "/webhooks/{id}/deliveries/{delivery_id}/redeliver") => (format!("{}/redeliver", new_delivery(app).await), None),

        ("GET", "/pipeline-settings") => (route.into(), None),
        ("PATCH", "/pipeline-settings") => (route.into(), Some(json!({"stages": {"open": {"rot_after_days": 30}}}))),
        ("GET", "/agenda") => (route.into(), None),
        ("GET", "/reports/funnel" | "/reports/response-times" | "/reports/lost-reasons") => {
            (format!("{route}?from=2026-01-01&to=2026-03-31"), None)
        }

        _ => panic!("permissions.rs does not know how to exercise {method} {PREFIX}{route}: add it to `exercise` and `KNOWN`"),
    };
    app.call(caller, method.clone(), &path, body).await
}

// ---- the tests -----------------------------------------------------------------------------

struct Check<'a> {
    row: &'a Row,
    role: &'a str,
    target: Target,
}

impl fmt::Display for Check<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} as {}", self.row.method, self.row.route, self.role)?;
        if self.target != Target::Nobody {
            write!(f, " on {:?}", self.target)?;
        }
        Ok(())
    }
}

/// Records a disagreement instead of stopping, so that one run lists them all.
fn judge(failures: &mut Vec<String>, check: &Check<'_>, allowed: bool, reply: &Reply) {
    let ok = if allowed {
        (200..300).contains(&reply.status)
    } else {
        reply.status == 403 && reply.error_code() == "forbidden" && reply.body["success"] == json!(false)
    };
    if !ok {
        let expected = if allowed { "2xx" } else { "403 forbidden" };
        failures.push(format!("{check}: expected {expected}, got {} {}", reply.status, reply.body));
    }
}

async fn every_route_answers_each_role_as_the_table_says(app: TestApp) {
    let rows = table();
    let callers = [app.owner.clone(), app.staff("admin").await, app.staff("member").await];
    let mut failures = Vec::new();
    let mut requests = 0;

    for row in &rows {
        let route = row.route.strip_prefix(PREFIX).unwrap_or_else(|| panic!("{} {}: routes start with {PREFIX}", row.method, row.route));
        let targets = targets(&row.method, route).unwrap_or_else(|| {
            panic!("permissions.rs does not know how to exercise {} {}: add it to `exercise` and `KNOWN`", row.method, row.route)
        });
        let anyone = row.rules.iter().filter(|rule| **rule == Rule::Anyone).count();
        assert!(anyone == 0 || anyone == 3, "{} {}: `anyone` must be the same for every role", row.method, row.route);

        for ((role, caller), rule) in ROLES.iter().zip(&callers).zip(row.rules) {
            let role_name = format!("{role:?}").to_lowercase();
            match rule {
                Rule::Own => assert!(
                    targets.contains(&Target::Themselves) && targets.contains(&Target::AMember),
                    "{} {}: `own` needs a route that acts on a staff record",
                    row.method,
                    row.route
                ),
                Rule::NotOwners => assert!(
                    targets.contains(&Target::AMember) && (targets.contains(&Target::AnOwner) || targets.contains(&Target::GrantingOwner)),
                    "{} {}: `not owners` needs a route that acts on a staff record",
                    row.method,
                    row.route
                ),
                _ => {}
            }
            for &target in targets {
                let check = Check { row, role: &role_name, target };
                let reply = exercise(&app, Some(caller), &row.method, route, target).await;
                judge(&mut failures, &check, allows(rule, *role, target), &reply);
                requests += 1;
            }
        }

        // Without a token: allowed where the table says `anyone`, 401 everywhere else.
        let target = if targets.contains(&Target::Themselves) { Target::AMember } else { targets[0] };
        let reply = exercise(&app, None, &row.method, route, target).await;
        requests += 1;
        let fine =
            if anyone == 3 { (200..300).contains(&reply.status) } else { reply.status == 401 && reply.error_code() == "unauthorized" };
        if !fine {
            let expected = if anyone == 3 { "2xx" } else { "401 unauthorized" };
            failures
                .push(format!("{} {} without a token: expected {expected}, got {} {}", row.method, row.route, reply.status, reply.body));
        }
    }

    eprintln!("permissions: walked {} rows of docs/security.md with {requests} requests", rows.len());
    assert!(failures.is_empty(), "{} disagreement(s) with docs/security.md:\n  {}", failures.len(), failures.join("\n  "));
}

async fn the_table_covers_every_operation(app: TestApp) {
    let document = app.call(None, Method::GET, "/openapi.json", None).await.expect(200);
    let paths = document.body["paths"].as_object().expect("the OpenAPI document has paths");
    let mut operations = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().unwrap_or_else(|| panic!("path item {path}"));
        for method in ["get", "put", "post", "delete", "options", "head", "patch", "trace"] {
            if item.contains_key(method) {
                operations.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    assert!(!operations.is_empty(), "the OpenAPI document has no operations");

    let rows = table();
    let mut in_table = BTreeSet::new();
    for row in &rows {
        let key = (row.method.to_string(), row.route.clone());
        assert!(in_table.insert(key), "{} {} has more than one row", row.method, row.route);
    }
    let missing: Vec<_> = operations.difference(&in_table).collect();
    let extra: Vec<_> = in_table.difference(&operations).collect();
    assert!(missing.is_empty(), "operations with no row in docs/security.md's permissions table: {missing:?}");
    assert!(extra.is_empty(), "rows in docs/security.md's permissions table that are not in the OpenAPI document: {extra:?}");

    // Every operation is one `exercise` knows, so the other test cannot skip any.
    let unknown: Vec<_> = rows
        .iter()
        .filter(|row| {
            let route = row.route.strip_prefix(PREFIX).unwrap_or(&row.route);
            targets(&row.method, route).is_none()
        })
        .map(|row| format!("{} {}", row.method, row.route))
        .collect();
    assert!(unknown.is_empty(), "rows permissions.rs does not know how to exercise: {unknown:?}");
}
