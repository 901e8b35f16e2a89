//! Webhooks: which events an organization's subscribers hear about, what a target URL may be,
//! how a delivery is signed, and when a failed one is tried again. No I/O: the store keeps the
//! outbox and the `webhooks` crate sends.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::auth::non_null;
use crate::opportunity::Status;
use crate::{FieldErrors, Patch, Result, Timestamp};

/// The longest target URL accepted.
pub const URL_MAX: usize = 2_000;

/// The most webhooks an organization may have: each write is fanned out to every one.
pub const WEBHOOKS_MAX: usize = 20;

/// The header a delivery's signature travels in.
pub const SIGNATURE_HEADER: &str = "Opportunities-Signature";

/// Something that happened that a subscriber can hear about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum EventType {
    #[serde(rename = "opportunity.created")]
    OpportunityCreated,
    #[serde(rename = "opportunity.updated")]
    OpportunityUpdated,
    #[serde(rename = "opportunity.stage_changed")]
    OpportunityStageChanged,
    #[serde(rename = "opportunity.won")]
    OpportunityWon,
    #[serde(rename = "opportunity.lost")]
    OpportunityLost,
    #[serde(rename = "opportunity.deleted")]
    OpportunityDeleted,
    #[serde(rename = "note.created")]
    NoteCreated,
    #[serde(rename = "activity.created")]
    ActivityCreated,
    #[serde(rename = "client.created")]
    ClientCreated,
}

impl EventType {
    pub const ALL: [EventType; 9] = [
        EventType::OpportunityCreated,
        EventType::OpportunityUpdated,
        EventType::OpportunityStageChanged,
        EventType::OpportunityWon,
        EventType::OpportunityLost,
        EventType::OpportunityDeleted,
        EventType::NoteCreated,
        EventType::ActivityCreated,
        EventType::ClientCreated,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::OpportunityCreated => "opportunity.created",
            EventType::OpportunityUpdated => "opportunity.updated",
            EventType::OpportunityStageChanged => "opportunity.stage_changed",
            EventType::OpportunityWon => "opportunity.won",
            EventType::OpportunityLost => "opportunity.lost",
            EventType::OpportunityDeleted => "opportunity.deleted",
            EventType::NoteCreated => "note.created",
            EventType::ActivityCreated => "activity.created",
            EventType::ClientCreated => "client.created",
        }
    }

    pub fn parse(text: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|kind| kind.as_str() == text)
    }
}

/// An organization's subscription: where to send which events. The signing secret is never
/// serialized; it is shown once, in [`CreatedWebhook`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Webhook {
    pub id: Uuid,
    pub org_id: Uuid,
    pub url: String,
    pub events: Vec<EventType>,
    /// Inactive webhooks receive nothing; one that failed for a day is made inactive.
    pub active: bool,
    /// Why the service disabled it, until it is made active again.
    pub disabled_reason: Option<String>,
    #[serde(skip)]
    pub secret: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A new webhook with its signing secret, which no later answer shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedWebhook {
    #[serde(flatten)]
    pub webhook: Webhook,
    /// The key of the HMAC-SHA256 signature of every delivery. Shown once: store it now.
    pub secret: String,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// An `https://` (or `http://`) URL on the public internet.
    #[schema(value_type = String, required = true)]
    pub url: Option<String>,
    #[schema(value_type = Vec<EventType>, required = true, min_items = 1)]
    pub events: Option<Vec<EventType>>,
    /// Default `true`.
    pub active: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateWebhook {
    #[serde(default)]
    #[schema(value_type = String)]
    pub url: Patch<String>,
    #[serde(default)]
    #[schema(value_type = Vec<EventType>, min_items = 1)]
    pub events: Patch<Vec<EventType>>,
    /// `true` re-enables a webhook the service disabled, and clears its reason.
    #[serde(default)]
    #[schema(value_type = bool)]
    pub active: Patch<bool>,
}

impl Webhook {
    pub fn new(org_id: Uuid, input: CreateWebhook, secret: String, policy: TargetPolicy, now: Timestamp) -> Result<Webhook> {
        let mut errors = FieldErrors::default();
        let webhook = Webhook {
            id: Uuid::now_v7(),
            org_id,
            url: target_url(&mut errors, input.url, policy),
            events: events(&mut errors, input.events),
            active: input.active.unwrap_or(true),
            disabled_reason: None,
            secret,
            created_at: now,
            updated_at: now,
        };
        errors.into_result(webhook)
    }

    pub fn updated(&self, input: UpdateWebhook, policy: TargetPolicy, now: Timestamp) -> Result<Webhook> {
        let mut errors = FieldErrors::default();
        let mut webhook = self.clone();
        match input.url {
            Patch::Absent => {}
            Patch::Null => errors.add("url", "cannot be null"),
            url => webhook.url = target_url(&mut errors, url.apply(None), policy),
        }
        match input.events {
            Patch::Absent => {}
            events_patch => webhook.events = events(&mut errors, events_patch.apply(None)),
        }
        webhook.active = non_null(&mut errors, "active", input.active, webhook.active);
        if webhook.active {
            webhook.disabled_reason = None;
        }
        if webhook != *self {
            webhook.updated_at = now;
        }
        errors.into_result(webhook)
    }

    /// Whether it wants to hear about `kind` now.
    pub fn listens_to(&self, kind: EventType) -> bool {
        self.active && self.events.contains(&kind)
    }
}

fn target_url(errors: &mut FieldErrors, url: Option<String>, policy: TargetPolicy) -> String {
    let Some(url) = url.map(|url| url.trim().to_owned()) else {
        errors.add("url", "is required");
        return String::new();
    };
    if url.len() > URL_MAX {
        errors.add("url", format!("must be at most {URL_MAX} characters"));
    } else if let Err(message) = policy.check_url(&url) {
        errors.add("url", message);
    }
    url
}

/// The events asked for, each once, in the order of [`EventType::ALL`].
fn events(errors: &mut FieldErrors, events: Option<Vec<EventType>>) -> Vec<EventType> {
    let asked = events.unwrap_or_default();
    if asked.is_empty() {
        errors.add("events", "name at least one event");
    }
    EventType::ALL.into_iter().filter(|kind| asked.contains(kind)).collect()
}

/// Which addresses a webhook may reach. Private, loopback and link-local addresses are refused
/// unless the operator allows them (tests, self-hosters on a LAN), so that nobody can make the
/// service probe the network it runs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    pub allow_private: bool,
}

impl TargetPolicy {
    /// Checks what can be checked without resolving the name: the scheme, the presence of a
    /// host, no credentials in the URL, and the address when the host is one.
    pub fn check_url(self, text: &str) -> std::result::Result<url::Url, String> {
        let url = url::Url::parse(text).map_err(|error| format!("is not a URL ({error})"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err("must be an http:// or https:// URL".into());
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err("must not carry a user name or password".into());
        }
        match url.host() {
            None => Err("must name a host".into()),
            Some(url::Host::Ipv4(ip)) => self.check_address(IpAddr::V4(ip)).map(|()| url),
            Some(url::Host::Ipv6(ip)) => self.check_address(IpAddr::V6(ip)).map(|()| url),
            Some(url::Host::Domain(name)) if !self.allow_private && is_local_name(name) => {
                Err("must not point at this machine or a private network".into())
            }
            Some(url::Host::Domain(_)) => Ok(url),
        }
    }

    /// Checks an address a target's name resolved to, or that it names.
    pub fn check_address(self, ip: IpAddr) -> std::result::Result<(), String> {
        if self.allow_private || is_public(ip) {
            Ok(())
        } else {
            Err(format!("must not point at a private, loopback or link-local address ({ip})"))
        }
    }
}

fn is_local_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost") || name.ends_with(".local") || name.ends_with(".internal")
}

/// Whether the address is on the public internet, as far as the service is concerned.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => match ip.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(ip),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [first, second, ..] = ip.octets();
    let shared = first == 100 && (64..128).contains(&second); // 100.64.0.0/10, carrier-grade NAT
    let this_network = first == 0;
    !(ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || shared
        || this_network)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    !(ip.is_loopback() || ip.is_unspecified() || ip.is_multicast() || ip.is_unique_local() || ip.is_unicast_link_local())
}

/// One event as a subscriber receives it: the JSON body of every delivery of it.
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    /// Unique per event and the same on every delivery of it: receivers dedupe by it.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: EventType,
    pub created_at: Timestamp,
    /// What the API answers for the record, as it was when the event happened.
    pub data: serde_json::Value,
}

impl Event {
    pub fn new(kind: EventType, data: serde_json::Value, now: Timestamp) -> Event {
        Event { id: Uuid::now_v7(), kind, created_at: now, data }
    }

    /// The bytes every delivery sends and signs.
    pub fn body(&self) -> String {
        serde_json::Value::from(self).to_string()
    }
}

impl From<&Event> for serde_json::Value {
    fn from(event: &Event) -> Self {
        serde_json::json!({ "id": event.id, "type": event.kind, "created_at": event.created_at, "data": event.data })
    }
}

/// What a change of an opportunity's status from `before` (none: it is new) to `after` tells
/// subscribers.
pub fn opportunity_events(before: Option<Status>, after: Status) -> Vec<EventType> {
    let mut events = vec![match before {
        None => EventType::OpportunityCreated,
        Some(_) => EventType::OpportunityUpdated,
    }];
    if before.is_some_and(|before| before != after) {
        events.push(EventType::OpportunityStageChanged);
    }
    if before != Some(after) {
        match after {
            Status::Won => events.push(EventType::OpportunityWon),
            Status::Lost => events.push(EventType::OpportunityLost),
            _ => {}
        }
    }
    events
}

/// Where a delivery of one event to one webhook stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for its next attempt.
    Pending,
    Delivered,
    /// Given up after failing for a day; `redeliver` tries again.
    Failed,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Pending => "pending",
            DeliveryState::Delivered => "delivered",
            DeliveryState::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<DeliveryState> {
        [DeliveryState::Pending, DeliveryState::Delivered, DeliveryState::Failed].into_iter().find(|state| state.as_str() == text)
    }
}

/// One event's delivery to one webhook, with every attempt at it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Delivery {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_type: EventType,
    pub state: DeliveryState,
    /// When it is tried next, while pending.
    pub next_attempt_at: Option<Timestamp>,
    pub created_at: Timestamp,
    /// Oldest first.
    pub attempts: Vec<Attempt>,
}

/// One POST of a delivery and what came of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct Attempt {
    pub id: Uuid,
    pub started_at: Timestamp,
    pub duration_ms: i64,
    /// The receiver's HTTP status, when it answered.
    pub response_status: Option<i64>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// A 2xx answer.
    pub succeeded: bool,
}

type HmacSha256 = Hmac<Sha256>;

/// The `Opportunities-Signature` header value for `body` sent at `unix_seconds`:
/// `t=<seconds>,v1=<hex HMAC-SHA256 of "<seconds>.<body>" keyed with the secret>`. Signing the
/// time with the body lets a receiver refuse an old delivery replayed by someone who saw it.
pub fn signature(secret: &str, unix_seconds: i64, body: &str) -> String {
    format!("t={unix_seconds},v1={}", hex(&mac(secret, unix_seconds, body)))
}

/// What a receiver does: whether `header` is a valid signature of `body` made within
/// `tolerance` of `now_seconds`.
pub fn verify(secret: &str, header: &str, body: &str, now_seconds: i64, tolerance: Duration) -> bool {
    let mut sent_at = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => sent_at = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value.to_owned()),
            _ => {}
        }
    }
    let Some(sent_at) = sent_at else { return false };
    let fresh = now_seconds.abs_diff(sent_at) <= tolerance.as_secs();
    let expected = mac(secret, sent_at, body);
    fresh && signatures.iter().any(|signature| unhex(signature).is_some_and(|bytes| constant_time_eq(&bytes, &expected)))
}

fn mac(secret: &str, unix_seconds: i64, body: &str) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(format!("{unix_seconds}.").as_bytes());
    mac.update(body.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len()).step_by(2).map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok()).collect()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |differ, (x, y)| differ | (x ^ y)) == 0
}

/// When failed deliveries are tried again, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// The pause after the first failure; it doubles after each further one.
    pub first_delay: Duration,
    /// No pause is longer than this.
    pub max_delay: Duration,
    /// A delivery still failing this long after it was first due is given up, and its webhook
    /// disabled.
    pub give_up_after: Duration,
}

impl Default for RetryPolicy {
    /// 30 s, 1 min, 2 min, … capped at an hour: about 30 attempts over a day.
    fn default() -> Self {
        RetryPolicy {
            first_delay: Duration::from_secs(30),
            max_delay: Duration::from_secs(3600),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

impl RetryPolicy {
    /// The pause after the `failures`-th failure (1 for the first), scaled by `jitter` drawn
    /// from [0, 1): "equal jitter", between half the bound and the bound, so that retries of
    /// many deliveries that failed together spread out yet none comes back too soon.
    pub fn delay(&self, failures: u32, jitter: f64) -> Duration {
        let doublings = failures.saturating_sub(1).min(30);
        let bound = self.first_delay.saturating_mul(1 << doublings).min(self.max_delay);
        bound.mul_f64(0.5 + jitter.clamp(0.0, 1.0) / 2.0)
    }

    /// Whether a delivery first due at `due_since` and failing at `now` is given up.
    pub fn gives_up(&self, due_since: Timestamp, now: Timestamp) -> bool {
        let elapsed = now.datetime() - due_since.datetime();
        elapsed >= self.give_up_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_only_with_its_body_secret_and_time() {
        let header = signature("whsec", 1_700_000_000, "{\"a\":1}");
        let tolerance = Duration::from_secs(300);
        assert!(verify("whsec", &header, "{\"a\":1}", 1_700_000_100, tolerance));
        assert!(!verify("whsec", &header, "{\"a\":2}", 1_700_000_100, tolerance), "another body");
        assert!(!verify("other", &header, "{\"a\":1}", 1_700_000_100, tolerance), "another secret");
        assert!(!verify("whsec", &header, "{\"a\":1}", 1_700_000_301, tolerance), "too old: a replay");
        assert!(!verify("whsec", "t=1700000000,v1=zz", "{\"a\":1}", 1_700_000_000, tolerance));
        assert!(!verify("whsec", "v1=00", "{\"a\":1}", 1_700_000_000, tolerance));
    }

    #[test]
    fn delays_double_with_jitter_up_to_the_cap() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.delay(1, 0.0), Duration::from_secs(15));
        assert_eq!(policy.delay(1, 1.0), Duration::from_secs(30));
        assert_eq!(policy.delay(3, 1.0), Duration::from_secs(120));
        assert_eq!(policy.delay(40, 1.0), Duration::from_secs(3600));
        assert_eq!(policy.delay(u32::MAX, 0.5), Duration::from_secs(2700));
    }

    #[test]
    fn a_day_of_retries_is_about_thirty_attempts() {
        let policy = RetryPolicy::default();
        let (mut elapsed, mut attempts) = (Duration::ZERO, 0);
        while elapsed < policy.give_up_after {
            attempts += 1;
            elapsed += policy.delay(attempts, 0.5);
        }
        assert!((25..=40).contains(&attempts), "{attempts}");
    }

    #[test]
    fn private_targets_are_refused_unless_allowed() {
        let strict = TargetPolicy::default();
        for url in [
            "http://127.0.0.1/hook",
            "http://10.1.2.3/",
            "http://192.168.0.1/",
            "http://172.16.0.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]/",
            "http://[fe80::1]/",
            "http://[fd00::1]/",
            "http://[::ffff:127.0.0.1]/",
            "http://0.0.0.0/",
            "http://100.64.0.1/",
            "http://localhost:8080/",
            "http://api.localhost/",
            "ftp://example.com/",
            "file:///etc/passwd",
            "https://user:pw@example.com/",
            "not a url",
        ] {
            assert!(strict.check_url(url).is_err(), "{url}");
        }
        assert!(strict.check_url("https://hooks.example.com/opportunities").is_ok());
        assert!(strict.check_url("http://93.184.216.34:8080/x").is_ok());
        let open = TargetPolicy { allow_private: true };
        assert!(open.check_url("http://127.0.0.1:9000/hook").is_ok());
        assert!(open.check_url("ftp://127.0.0.1/").is_err(), "the scheme is checked regardless");
    }

    #[test]
    fn a_status_change_announces_the_stage_and_a_close() {
        use EventType::*;
        assert_eq!(opportunity_events(None, Status::Open), vec![OpportunityCreated]);
        assert_eq!(opportunity_events(None, Status::Won), vec![OpportunityCreated, OpportunityWon]);
        assert_eq!(opportunity_events(Some(Status::Open), Status::Open), vec![OpportunityUpdated]);
        assert_eq!(opportunity_events(Some(Status::Open), Status::Contacted), vec![OpportunityUpdated, OpportunityStageChanged]);
        assert_eq!(
            opportunity_events(Some(Status::Proposal), Status::Lost),
            vec![OpportunityUpdated, OpportunityStageChanged, OpportunityLost]
        );
        assert_eq!(opportunity_events(Some(Status::Won), Status::Won), vec![OpportunityUpdated]);
    }

    #[test]
    fn events_are_kept_once_in_a_fixed_order() {
        let mut errors = FieldErrors::default();
        let kept = events(&mut errors, Some(vec![EventType::NoteCreated, EventType::OpportunityWon, EventType::NoteCreated]));
        assert_eq!(kept, vec![EventType::OpportunityWon, EventType::NoteCreated]);
        assert!(errors.is_empty());
        events(&mut errors, Some(vec![]));
        assert!(!errors.is_empty());
    }
}
