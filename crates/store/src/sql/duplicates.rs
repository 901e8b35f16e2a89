//! Finding possible duplicates: the open leads and the clients with one of some e-mails or
//! phone digits, read the same way by a page (one lead's keys) and by an import (many rows').

use domain::Result;
use domain::duplicates::{Candidate, DuplicateKeys, RecordKind};
use uuid::Uuid;

use super::list::push_in;
use super::{RowReader, Run, Statement};

/// Where each kind of record keeps its keys, and which of its rows count. A won or lost lead is
/// history, not a person waiting for an answer; a stale one may come back, so it counts.
const SOURCES: [(RecordKind, &str, &str, &str, &str); 2] = [
    (RecordKind::Opportunity, "opportunities", "prospect_email", "prospect_phone_digits", " AND status NOT IN ('won', 'lost')"),
    (RecordKind::Client, "clients", "email", "phone_digits", ""),
];

/// The records with one of `emails` or `phone_digits`, each with its keys (a record may come
/// twice, once per key). Keys are looked up `per_statement` at a time; with `limit`, each
/// statement reads at most that many, oldest first.
pub(super) async fn candidates<R: Run>(
    run: &mut R,
    org_id: Uuid,
    emails: &[String],
    phone_digits: &[String],
    per_statement: usize,
    limit: Option<i64>,
) -> Result<Vec<Candidate>> {
    let mut found = Vec::new();
    for (kind, table, email, phone, condition) in SOURCES {
        for (column, keys) in [(email, emails), (phone, phone_digits)] {
            for keys in keys.chunks(per_statement) {
                // Bounded, the matches are a MATERIALIZED set sorted afterwards: with `ORDER BY id`
                // on the table itself, SQLite walked the organization's leads in id order to
                // skip the sort instead of using the key's index (2–3 s a create at 1M leads).
                let bounded = if limit.is_some() { "WITH matching AS MATERIALIZED (" } else { "" };
                let sql = format!("{bounded}SELECT id, {email} AS email, {phone} AS phone_digits FROM {table} WHERE org_id = ");
                let mut statement = Statement::new(sql);
                statement.push_bind(org_id).push(condition);
                push_in(&mut statement, column, keys.iter());
                if let Some(limit) = limit {
                    statement.push(") SELECT * FROM matching ORDER BY id LIMIT ").push_bind(limit);
                }
                for row in run.fetch_all(statement).await? {
                    let keys = DuplicateKeys { email: row.opt_text("email")?, phone_digits: row.opt_text("phone_digits")? };
                    found.push(Candidate { kind, id: row.uuid("id")?, keys });
                }
            }
        }
    }
    Ok(found)
}

/// The keys as the look-up takes them.
pub(super) fn key_lists(keys: &DuplicateKeys) -> (Vec<String>, Vec<String>) {
    (keys.email.iter().cloned().collect(), keys.phone_digits.iter().cloned().collect())
}
