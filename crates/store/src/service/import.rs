//! Importing leads from a CSV file: every row is checked by the domain first, then the rows
//! without errors are written in one transaction, new leads many to a statement. A row whose
//! e-mail or phone digits another lead has (in the organization, or earlier in the file) is
//! skipped, updates that lead, or is created anyway, as the caller chose; either way the report
//! lists the open leads and clients it may duplicate.

use std::collections::{HashMap, HashSet};

use domain::auth::Actor;
use domain::duplicates::possible_duplicates;
use domain::settings::PipelineSettings;
use domain::transfer::import::{DuplicateKeys, ImportFile, ImportOptions, ImportReport, Lookups, NewLead, OnDuplicate, Row};
use domain::webhook;
use domain::{Result, Timestamp};
use uuid::Uuid;

use super::{Record, announce, retrying, write_change};
use crate::{Store, Tx};

pub async fn import_opportunities(store: &dyn Store, actor: &Actor, file: &ImportFile, options: ImportOptions) -> Result<ImportReport> {
    let lookups = Lookups::new(&store.categories(actor.org_id, false).await?, &store.staff_members(actor.org_id).await?);
    let now = Timestamp::now();
    let mut first = ImportReport {
        rows: file.rows.len() as u64,
        unknown_columns: file.unknown_columns.clone(),
        dry_run: options.dry_run,
        ..ImportReport::default()
    };
    let mut rows = Vec::new();
    for row in &file.rows {
        match file.broken(row) {
            Some(errors) => first.fail(errors),
            None => rows.push((row, file.keys(row))),
        }
    }
    retrying(|| async {
        let mut report = first.clone();
        let mut tx = store.begin().await?;
        let settings = tx.pipeline_settings(actor.org_id).await?;
        let (emails, phones) = key_lists(rows.iter().map(|(_, keys)| keys));
        let existing = Existing::find(tx.as_mut(), actor.org_id, &emails, &phones).await?;
        let candidates = tx.duplicate_candidates(actor.org_id, &emails, &phones).await?;
        let mut imported = Existing::default();
        let mut created = Vec::new();
        for (row, keys) in &rows {
            // A row duplicates an earlier row only if that one was imported.
            let imported_now = match (options.on_duplicate, imported.get(keys), existing.get(keys)) {
                (OnDuplicate::Create, ..) | (_, None, None) => match file.lead(row, actor, &settings, &lookups, now) {
                    Ok(lead) => {
                        created.push(lead);
                        true
                    }
                    Err(errors) => {
                        report.fail(errors);
                        false
                    }
                },
                (OnDuplicate::Update, None, Some(id)) => {
                    let context = Context { actor, settings: &settings, lookups: &lookups, now };
                    update(tx.as_mut(), file, row, id, &context, &mut report).await?
                }
                _ => {
                    report.skipped += 1;
                    report.note_duplicates(row.number, possible_duplicates(keys, &candidates, &[]));
                    false
                }
            };
            if imported_now {
                imported.add(Uuid::nil(), keys);
                report.note_duplicates(row.number, possible_duplicates(keys, &candidates, &[]));
            }
        }
        tx.insert_leads(&created).await?;
        announce_created(tx.as_mut(), actor.org_id, &created).await?;
        report.created = created.len() as u64;
        report.errors.sort_by_key(|error| error.row);
        if !options.dry_run {
            tx.commit().await?;
        }
        Ok(report)
    })
    .await
}

/// Imported leads are heard as created ones are: `opportunity.created`, and `won` or `lost` for a
/// closed row. Without a webhook in the organization, one read and nothing written.
async fn announce_created(tx: &mut dyn Tx, org_id: Uuid, leads: &[NewLead]) -> Result<()> {
    if tx.webhooks(org_id).await?.is_empty() {
        return Ok(());
    }
    for lead in leads {
        let events = webhook::opportunity_events(None, lead.opportunity.stage.status());
        announce(tx, org_id, &events, Record::Opportunity(lead.opportunity.id)).await?;
    }
    Ok(())
}

/// What every row of an import is read with.
struct Context<'a> {
    actor: &'a Actor,
    settings: &'a PipelineSettings,
    lookups: &'a Lookups,
    now: Timestamp,
}

/// Applies a duplicate row to the lead it duplicates, as a PATCH would; whether it did.
async fn update(tx: &mut dyn Tx, file: &ImportFile, row: &Row, id: Uuid, context: &Context<'_>, report: &mut ImportReport) -> Result<bool> {
    let Context { actor, settings, lookups, now } = *context;
    let Some(existing) = tx.opportunity(actor.org_id, id).await? else { return Ok(false) };
    match file.update(row, &existing, actor, settings, lookups, now) {
        Ok((change, notes)) => {
            if !change.is_empty(&existing) {
                write_change(tx, Some(&existing), &change).await?;
            }
            for note in &notes {
                tx.insert_note(note).await?;
            }
            report.updated += 1;
            Ok(true)
        }
        Err(errors) => {
            report.fail(errors);
            Ok(false)
        }
    }
}

/// Leads by their duplicate keys (the first one found for each key).
#[derive(Default)]
struct Existing {
    by_email: HashMap<String, Uuid>,
    by_phone: HashMap<String, Uuid>,
}

/// The rows' different e-mails and phone digits.
fn key_lists<'a>(keys: impl Iterator<Item = &'a DuplicateKeys> + Clone) -> (Vec<String>, Vec<String>) {
    let emails: Vec<String> = keys.clone().filter_map(|k| k.email.clone()).collect::<HashSet<_>>().into_iter().collect();
    let phones: Vec<String> = keys.filter_map(|k| k.phone_digits.clone()).collect::<HashSet<_>>().into_iter().collect();
    (emails, phones)
}

impl Existing {
    /// The organization's leads that the rows duplicate.
    async fn find(tx: &mut dyn Tx, org_id: Uuid, emails: &[String], phones: &[String]) -> Result<Existing> {
        let mut existing = Existing::default();
        for (id, keys) in tx.leads_matching(org_id, emails, phones).await? {
            existing.add(id, &keys);
        }
        Ok(existing)
    }

    fn add(&mut self, id: Uuid, keys: &DuplicateKeys) {
        if let Some(email) = &keys.email {
            self.by_email.entry(email.clone()).or_insert(id);
        }
        if let Some(phone) = &keys.phone_digits {
            self.by_phone.entry(phone.clone()).or_insert(id);
        }
    }

    fn get(&self, keys: &DuplicateKeys) -> Option<Uuid> {
        let by_email = keys.email.as_ref().and_then(|email| self.by_email.get(email));
        by_email.or_else(|| keys.phone_digits.as_ref().and_then(|phone| self.by_phone.get(phone))).copied()
    }
}
