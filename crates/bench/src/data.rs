//! The benchmark's additions to the demo's med-spa vocabulary (`store::demo::vocabulary`, which
//! this module re-exports): the words its searches look for, ids dated like real rows, and
//! query-string encoding.

use store::demo::rng::Rng;
pub use store::demo::vocabulary::*;
use uuid::Uuid;

/// The word the `search_common` scenario looks for: in roughly a quarter of the leads.
pub const COMMON_SEARCH: &str = "botox";

/// A version-7 UUID for the given instant, its random part from `rng`: ids sort like the
/// rows' creation times, as they do for rows the service creates.
pub fn uuid_at(rng: &mut Rng, unix_micros: i64) -> Uuid {
    uuid::Builder::from_unix_timestamp_millis((unix_micros / 1000).max(0) as u64, &rng.bytes10()).into_uuid()
}

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
