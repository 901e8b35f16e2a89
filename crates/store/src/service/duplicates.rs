//! Possible duplicates of a lead, and merging one lead into another.

use domain::auth::Actor;
use domain::duplicates::{self, DuplicateKeys, MergeOpportunities, PossibleDuplicate};
use domain::opportunity::{Opportunity, OpportunityView, StageEntry};
use domain::webhook::EventType;
use domain::{Input, Result, Timestamp};
use uuid::Uuid;

use super::{Record, announce, locked_opportunity, retrying, view, write_change};
use crate::Store;

/// The open leads and the clients that may be the same person as `opportunity` (by its
/// prospect's e-mail or phone digits), itself and its own client aside.
pub async fn possible_duplicates(store: &dyn Store, actor: &Actor, opportunity: &Opportunity) -> Result<Vec<PossibleDuplicate>> {
    let keys = DuplicateKeys::of(opportunity);
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    let candidates = store.duplicate_candidates(actor.org_id, &keys).await?;
    let own: Vec<Uuid> = [Some(opportunity.id), opportunity.client_id].into_iter().flatten().collect();
    Ok(duplicates::possible_duplicates(&keys, &candidates, &own))
}

/// Merges the lead `from_id` into the lead `id` (at the version the caller expects, if it
/// expects one) in one transaction: `from_id`'s notes, activities and stage history move to
/// `id`, its values fill `id`'s empty fields, an activity records the merge, and `from_id` is
/// deleted. Both leads are locked in the order of their ids, so two merges of the same pair in
/// opposite directions wait for each other instead of deadlocking; the second of two merges of
/// one lead finds it gone (404).
pub async fn merge_opportunities(
    store: &dyn Store,
    actor: &Actor,
    id: Uuid,
    expected_version: Option<i64>,
    input: Input<MergeOpportunities>,
) -> Result<OpportunityView> {
    let from_id = input.check(|fields| fields.source(id))?;
    retrying(|| async {
        let now = Timestamp::now();
        let mut tx = store.begin().await?;
        let settings = tx.pipeline_settings(actor.org_id).await?;
        let (into, from) = if id < from_id {
            let into = locked_opportunity(tx.as_mut(), actor, id, expected_version).await?;
            (into, locked_opportunity(tx.as_mut(), actor, from_id, None).await?)
        } else {
            let from = locked_opportunity(tx.as_mut(), actor, from_id, None).await?;
            (locked_opportunity(tx.as_mut(), actor, id, expected_version).await?, from)
        };
        let (mut change, taken) = into.merged(actor, &settings, &from, now)?;
        // A category or assignee deactivated since the other lead got it is left off.
        for (field, _) in tx.unusable_references(actor.org_id, &taken).await?.iter() {
            match field {
                "category_id" => change.opportunity.category_id = into.category_id,
                "assigned_to" => change.opportunity.assigned_to = into.assigned_to,
                _ => {}
            }
        }
        let latest_before = tx.latest_stage_entry(actor.org_id, id).await?;
        announce(tx.as_mut(), actor.org_id, &[EventType::OpportunityDeleted], Record::Opportunity(from_id)).await?;
        tx.move_lead_records(actor.org_id, from_id, id).await?;
        tx.delete_opportunity(actor.org_id, from_id).await?;
        // The histories interleave by time. When the other lead's last move is the latest, the
        // kept lead enters its own stage again now, so that its history ends in its stage.
        let latest_after = tx.latest_stage_entry(actor.org_id, id).await?;
        if latest_after.map(|entry| entry.id) != latest_before.map(|entry| entry.id) {
            let status = change.opportunity.stage.status();
            let entry = StageEntry {
                id: Uuid::now_v7(),
                org_id: actor.org_id,
                opportunity_id: id,
                status,
                entered_at: now,
                changed_by: Some(actor.staff_id),
                left_at: None,
                lead_created_at: change.opportunity.created_at,
            };
            change.entered = Some(entry);
        }
        write_change(tx.as_mut(), Some(&into), &change).await?;
        tx.commit().await
    })
    .await?;
    view(store, actor, id).await
}
