//! Possible duplicates: the open leads and clients that look like the same person as a lead, by
//! the keys the CSV import already matches on ([`DuplicateKeys`]: the lowercased e-mail, or the
//! phone's digits), and merging one lead into another.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Error;
use crate::opportunity::{Opportunity, OpportunityView};
pub use crate::transfer::import::DuplicateKeys;
use crate::transfer::import::phone_digits;

/// At most this many possible duplicates are answered for one lead: enough to see that the
/// person is known, bounded however many records share a phone number.
pub const POSSIBLE_DUPLICATES_MAX: usize = 20;

/// What kind of record a possible duplicate is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    Opportunity,
    Client,
}

/// Which key two records share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MatchedOn {
    Email,
    Phone,
}

/// A record that may be the same person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct PossibleDuplicate {
    pub kind: RecordKind,
    pub id: Uuid,
    /// The keys it shares: `email` (case-insensitive), `phone` (the same digits).
    pub matched_on: Vec<MatchedOn>,
}

/// A record the store found by one of the keys, with its own keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub kind: RecordKind,
    pub id: Uuid,
    pub keys: DuplicateKeys,
}

impl DuplicateKeys {
    /// The keys of a lead's prospect (its e-mail is stored lowercased).
    pub fn of(opportunity: &Opportunity) -> DuplicateKeys {
        DuplicateKeys {
            email: opportunity.prospect_email.clone(),
            phone_digits: opportunity.prospect_phone.as_deref().and_then(phone_digits),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.email.is_none() && self.phone_digits.is_none()
    }

    /// Which of these keys `other` shares.
    fn shared_with(&self, other: &DuplicateKeys) -> Vec<MatchedOn> {
        let same = |a: &Option<String>, b: &Option<String>| a.is_some() && a == b;
        let mut matched = Vec::new();
        if same(&self.email, &other.email) {
            matched.push(MatchedOn::Email);
        }
        if same(&self.phone_digits, &other.phone_digits) {
            matched.push(MatchedOn::Phone);
        }
        matched
    }
}

/// The candidates that share a key with `keys`, `except` the lead itself and its client, each once, leads
/// before clients and oldest first (ids are UUID v7), at most [`POSSIBLE_DUPLICATES_MAX`].
pub fn possible_duplicates(keys: &DuplicateKeys, candidates: &[Candidate], except: &[Uuid]) -> Vec<PossibleDuplicate> {
    let mut found: Vec<PossibleDuplicate> = candidates
        .iter()
        .filter(|candidate| !except.contains(&candidate.id))
        .map(|candidate| PossibleDuplicate { kind: candidate.kind, id: candidate.id, matched_on: keys.shared_with(&candidate.keys) })
        .filter(|duplicate| !duplicate.matched_on.is_empty())
        .collect();
    found.sort_by_key(|duplicate| (duplicate.kind, duplicate.id));
    found.dedup_by_key(|duplicate| (duplicate.kind, duplicate.id));
    found.truncate(POSSIBLE_DUPLICATES_MAX);
    found
}

/// A lead as its creation answers it: with the records it may duplicate.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CreatedOpportunity {
    #[serde(flatten)]
    pub view: OpportunityView,
    /// Open leads (not won or lost) and clients with the same e-mail (case-insensitive) or the
    /// same phone digits (7 or more), oldest first, leads before clients, at most 20.
    pub possible_duplicates: Vec<PossibleDuplicate>,
}

/// The body of a merge: the lead to merge into the one the path names.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MergeOpportunities {
    /// The lead that is merged into this one, and then deleted.
    #[schema(value_type = uuid::Uuid, required = true)]
    pub from_id: Option<Uuid>,
}

impl MergeOpportunities {
    /// The lead to merge into `into`: given, and another one.
    pub fn source(self, into: Uuid) -> crate::Result<Uuid> {
        match self.from_id {
            None => Err(Error::field("from_id", "is required: the id of the lead to merge into this one")),
            Some(from_id) if from_id == into => Err(Error::field("from_id", "must be another lead than the one merged into")),
            Some(from_id) => Ok(from_id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(email: Option<&str>, phone: Option<&str>) -> DuplicateKeys {
        DuplicateKeys { email: email.map(str::to_owned), phone_digits: phone.map(str::to_owned) }
    }

    #[test]
    fn each_record_is_listed_once_with_every_key_it_shares() {
        let lead = Uuid::now_v7();
        let client = Uuid::now_v7();
        let me = Uuid::now_v7();
        let mine = keys(Some("jane@example.com"), Some("15550102030"));
        let candidates = [
            Candidate { kind: RecordKind::Client, id: client, keys: keys(None, Some("15550102030")) },
            Candidate { kind: RecordKind::Opportunity, id: lead, keys: keys(Some("jane@example.com"), Some("15550102030")) },
            Candidate { kind: RecordKind::Opportunity, id: lead, keys: keys(Some("jane@example.com"), Some("15550102030")) },
            Candidate { kind: RecordKind::Opportunity, id: me, keys: mine.clone() },
            Candidate { kind: RecordKind::Opportunity, id: Uuid::now_v7(), keys: keys(Some("john@example.com"), None) },
        ];
        let found = possible_duplicates(&mine, &candidates, &[me]);
        assert_eq!(
            found,
            [
                PossibleDuplicate { kind: RecordKind::Opportunity, id: lead, matched_on: vec![MatchedOn::Email, MatchedOn::Phone] },
                PossibleDuplicate { kind: RecordKind::Client, id: client, matched_on: vec![MatchedOn::Phone] },
            ]
        );
        assert!(possible_duplicates(&keys(None, None), &candidates, &[]).is_empty(), "no keys match nothing");
    }

    #[test]
    fn a_merge_needs_another_lead() {
        let into = Uuid::now_v7();
        assert!(MergeOpportunities { from_id: None }.source(into).is_err());
        assert!(MergeOpportunities { from_id: Some(into) }.source(into).is_err());
        let other = Uuid::now_v7();
        assert_eq!(MergeOpportunities { from_id: Some(other) }.source(into).ok(), Some(other));
    }
}
