//! The webhook outbox for any [`Backend`]: events written in the transaction of their change,
//! deliveries claimed under a lease, attempts recorded, old events purged.

use domain::query::Page;
use domain::webhook::{Attempt, Delivery, DeliveryState, Event, EventType};
use domain::{Result, Timestamp};
use uuid::Uuid;

use super::reads::all;
use super::rows::parsed;
use super::{Backend, RowReader, Run, Statement};
use crate::{AfterAttempt, DueDelivery};

pub(super) async fn insert_event<R: Run>(run: &mut R, org_id: Uuid, event: &Event, webhook_ids: &[Uuid]) -> Result<()> {
    let statement = Statement::new("INSERT INTO webhook_events (org_id, id, type, body, created_at) VALUES ($1, $2, $3, $4, $5)");
    run.execute(statement.bind(org_id).bind(event.id).bind(event.kind.as_str()).bind(event.body()).bind(event.created_at)).await?;
    for webhook_id in webhook_ids {
        let statement = Statement::new(
            "INSERT INTO webhook_deliveries
             (org_id, id, webhook_id, event_id, state, attempts, next_attempt_at, leased_until, due_since, created_at)
             VALUES ($1, $2, $3, $4, 'pending', 0, $5, NULL, $5, $5)",
        );
        run.execute(statement.bind(org_id).bind(Uuid::now_v7()).bind(*webhook_id).bind(event.id).bind(event.created_at)).await?;
    }
    Ok(())
}

pub(super) async fn redeliver<R: Run>(run: &mut R, org_id: Uuid, webhook_id: Uuid, delivery_id: Uuid, now: Timestamp) -> Result<bool> {
    let statement = Statement::new(
        "UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = $4, due_since = $4, leased_until = NULL
         WHERE org_id = $1 AND webhook_id = $2 AND id = $3",
    );
    Ok(run.execute(statement.bind(org_id).bind(webhook_id).bind(delivery_id).bind(now)).await? == 1)
}

pub(super) async fn deliveries<R: Run>(run: &mut R, org_id: Uuid, webhook_id: Uuid, page: Page) -> Result<(Vec<Delivery>, i64)> {
    let total = Statement::new("SELECT COUNT(*) AS total FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2");
    let total = run.fetch_one(total.bind(org_id).bind(webhook_id)).await?.int("total")?;
    let page_of_ids =
        "SELECT id FROM webhook_deliveries WHERE org_id = $1 AND webhook_id = $2 ORDER BY created_at DESC, id DESC LIMIT $3 OFFSET $4";
    let statement = Statement::new(format!(
        "SELECT d.id, d.event_id, e.type, d.state, d.next_attempt_at, d.created_at
         FROM webhook_deliveries d JOIN webhook_events e ON e.org_id = d.org_id AND e.id = d.event_id
         WHERE d.org_id = $1 AND d.id IN ({page_of_ids}) ORDER BY d.created_at DESC, d.id DESC"
    ));
    let mut deliveries = all(run, statement.bind(org_id).bind(webhook_id).bind(page.limit).bind(page.offset), delivery).await?;
    let statement = Statement::new(format!(
        "SELECT delivery_id, id, started_at, duration_ms, response_status, error, succeeded FROM webhook_attempts
         WHERE org_id = $1 AND delivery_id IN ({page_of_ids}) ORDER BY started_at, id"
    ));
    let attempts = all(run, statement.bind(org_id).bind(webhook_id).bind(page.limit).bind(page.offset), |row| {
        Ok((row.uuid("delivery_id")?, attempt(row)?))
    })
    .await?;
    for (delivery_id, attempt) in attempts {
        if let Some(delivery) = deliveries.iter_mut().find(|delivery| delivery.id == delivery_id) {
            delivery.attempts.push(attempt);
        }
    }
    Ok((deliveries, total))
}

fn delivery(row: &dyn RowReader) -> Result<Delivery> {
    let state = parsed(row, "state", DeliveryState::parse)?;
    Ok(Delivery {
        id: row.uuid("id")?,
        event_id: row.uuid("event_id")?,
        event_type: parsed(row, "type", EventType::parse)?,
        state,
        next_attempt_at: if state == DeliveryState::Pending { Some(row.timestamp("next_attempt_at")?) } else { None },
        created_at: row.timestamp("created_at")?,
        attempts: Vec::new(),
    })
}

fn attempt(row: &dyn RowReader) -> Result<Attempt> {
    Ok(Attempt {
        id: row.uuid("id")?,
        started_at: row.timestamp("started_at")?,
        duration_ms: row.int("duration_ms")?,
        response_status: row.opt_int("response_status")?,
        error: row.opt_text("error")?,
        succeeded: row.boolean("succeeded")?,
    })
}

/// Claims in one transaction: the lease is taken, then what to send is read.
pub(super) async fn claim<B: Backend>(backend: &B, now: Timestamp, leased_until: Timestamp, limit: i64) -> Result<Vec<DueDelivery>> {
    let mut tx = backend.begin().await?;
    let statement = Statement::new(format!(
        "UPDATE webhook_deliveries SET leased_until = $1, attempts = attempts + 1
         WHERE (org_id, id) IN (
             SELECT d.org_id, d.id FROM webhook_deliveries d
             WHERE d.state = 'pending' AND d.next_attempt_at <= $2 AND (d.leased_until IS NULL OR d.leased_until <= $2)
               AND EXISTS (SELECT 1 FROM webhooks w WHERE w.org_id = d.org_id AND w.id = d.webhook_id AND w.is_active = TRUE)
             ORDER BY d.next_attempt_at LIMIT $3{})
         RETURNING org_id, id",
        B::DIALECT.skip_locked
    ));
    let claimed =
        all(&mut tx, statement.bind(leased_until).bind(now).bind(limit), |row| Ok((row.uuid("org_id")?, row.uuid("id")?))).await?;
    let mut due = Vec::with_capacity(claimed.len());
    for (org_id, id) in claimed {
        let statement = Statement::new(
            "SELECT d.org_id, d.id, d.webhook_id, d.attempts, d.due_since, w.url, w.secret, e.body
             FROM webhook_deliveries d
             JOIN webhooks w ON w.org_id = d.org_id AND w.id = d.webhook_id
             JOIN webhook_events e ON e.org_id = d.org_id AND e.id = d.event_id
             WHERE d.org_id = $1 AND d.id = $2",
        );
        due.push(due_delivery(&tx.fetch_one(statement.bind(org_id).bind(id)).await?)?);
    }
    B::commit(tx).await?;
    Ok(due)
}

fn due_delivery(row: &dyn RowReader) -> Result<DueDelivery> {
    Ok(DueDelivery {
        org_id: row.uuid("org_id")?,
        id: row.uuid("id")?,
        webhook_id: row.uuid("webhook_id")?,
        attempts: row.int("attempts")?,
        due_since: row.timestamp("due_since")?,
        url: row.text("url")?,
        secret: row.text("secret")?,
        body: row.text("body")?,
    })
}

pub(super) async fn record_attempt<B: Backend>(backend: &B, due: &DueDelivery, attempt: &Attempt, next: AfterAttempt) -> Result<()> {
    let mut tx = backend.begin().await?;
    let statement = Statement::new(
        "INSERT INTO webhook_attempts (org_id, id, delivery_id, started_at, duration_ms, response_status, error, succeeded)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    );
    tx.execute(
        statement
            .bind(due.org_id)
            .bind(attempt.id)
            .bind(due.id)
            .bind(attempt.started_at)
            .bind(attempt.duration_ms)
            .bind(attempt.response_status)
            .bind(&attempt.error)
            .bind(attempt.succeeded),
    )
    .await?;
    let (state, next_attempt_at) = match &next {
        AfterAttempt::Delivered => (DeliveryState::Delivered, attempt.started_at),
        AfterAttempt::RetryAt(at) => (DeliveryState::Pending, *at),
        AfterAttempt::GiveUp(_) => (DeliveryState::Failed, attempt.started_at),
    };
    // The attempt count fences the update: if the lease expired and another worker claimed the
    // delivery meanwhile, the count moved on and the newer claim decides what follows.
    let statement = Statement::new(
        "UPDATE webhook_deliveries SET state = $4, next_attempt_at = $5, leased_until = NULL
         WHERE org_id = $1 AND id = $2 AND attempts = $3",
    );
    let updated = tx.execute(statement.bind(due.org_id).bind(due.id).bind(due.attempts).bind(state.as_str()).bind(next_attempt_at)).await?;
    if let (1, AfterAttempt::GiveUp(reason)) = (updated, &next) {
        let statement = Statement::new(
            "UPDATE webhooks SET is_active = FALSE, disabled_reason = $3, updated_at = $4 WHERE org_id = $1 AND id = $2 AND is_active = TRUE",
        );
        tx.execute(statement.bind(due.org_id).bind(due.webhook_id).bind(reason.as_str()).bind(Timestamp::now())).await?;
    }
    B::commit(tx).await
}

pub(super) async fn purge_events<R: Run>(run: &mut R, before: Timestamp) -> Result<u64> {
    let statement = Statement::new(
        "DELETE FROM webhook_events WHERE created_at < $1 AND NOT EXISTS (
             SELECT 1 FROM webhook_deliveries d
             WHERE d.org_id = webhook_events.org_id AND d.event_id = webhook_events.id AND d.state = 'pending')",
    );
    run.execute(statement.bind(before)).await
}
