//! The webhook worker: takes due deliveries from the store's outbox, POSTs each, signed, to its
//! webhook, and records the attempt and what follows it (done, a retry later, or giving up).
//! Every replica may run one: the store hands each delivery to one of them at a time, under a
//! lease that lets another take it over if the holder dies mid-delivery.

#![forbid(unsafe_code)]

mod sender;
#[cfg(feature = "testing")]
pub mod testing;

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::webhook::{Attempt, RetryPolicy, TargetPolicy};
use domain::{Result, Timestamp};
use store::service;
use store::{AfterAttempt, DueDelivery, Store};
use tokio::sync::Semaphore;

use sender::Sender;

/// How the worker runs: the operator's knobs.
#[derive(Debug, Clone)]
pub struct Config {
    /// How long the worker rests when nothing is due.
    pub interval: Duration,
    /// Deliveries sent at once, so that slow receivers cannot hold up all the others.
    pub concurrency: usize,
    /// The longest a receiver may take to answer.
    pub timeout: Duration,
    pub retry: RetryPolicy,
    pub targets: TargetPolicy,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            interval: Duration::from_secs(1),
            concurrency: 16,
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::default(),
            targets: TargetPolicy::default(),
        }
    }
}

impl Config {
    /// How long a claim lasts: long enough for an attempt at its time limit and the recording
    /// of it, so that a live worker never loses a claim, short enough that a dead one's
    /// deliveries are soon taken over.
    fn lease(&self) -> Duration {
        self.timeout * 2 + Duration::from_secs(5)
    }
}

/// How often delivered events older than [`service::WEBHOOK_EVENT_RETENTION`] are deleted.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// Runs the worker until the task is dropped.
pub async fn run(store: Arc<dyn Store>, config: Config) {
    let sender = Arc::new(Sender::new(config.targets, config.timeout));
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let mut last_purge: Option<Instant> = None;
    loop {
        if last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
            purge(store.as_ref()).await;
            last_purge = Some(Instant::now());
        }
        // Wait for a free slot, then claim no more than the slots free.
        drop(slots.acquire().await);
        let free = slots.available_permits();
        let claimed = match claim(store.as_ref(), &config, free).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::warn!(error = %error.describe(), "could not claim webhook deliveries");
                Vec::new()
            }
        };
        let all_due_taken = claimed.len() < free;
        for due in claimed {
            let Ok(slot) = slots.clone().acquire_owned().await else { return };
            let (store, sender, retry) = (store.clone(), sender.clone(), config.retry);
            tokio::spawn(async move {
                deliver(store.as_ref(), &sender, retry, &due).await;
                drop(slot);
            });
        }
        if all_due_taken {
            tokio::time::sleep(config.interval).await;
        }
    }
}

async fn claim(store: &dyn Store, config: &Config, limit: usize) -> Result<Vec<DueDelivery>> {
    let now = Timestamp::now();
    let leased_until = Timestamp::from_datetime(now.datetime() + config.lease());
    store.claim_deliveries(now, leased_until, i64::try_from(limit).unwrap_or(i64::MAX)).await
}

/// Sends one claimed delivery and records what came of it. If recording fails the lease runs
/// out and the delivery is sent again: at least once.
async fn deliver(store: &dyn Store, sender: &Sender, retry: RetryPolicy, due: &DueDelivery) {
    let started_at = Timestamp::now();
    let clock = Instant::now();
    let answer = sender.send(&due.url, &due.secret, &due.body, started_at.datetime().unix_timestamp()).await;
    let attempt = Attempt {
        id: uuid::Uuid::now_v7(),
        started_at,
        duration_ms: i64::try_from(clock.elapsed().as_millis()).unwrap_or(i64::MAX),
        response_status: answer.status.map(i64::from),
        succeeded: answer.error.is_none(),
        error: answer.error,
    };
    let next = after(retry, due, &attempt);
    if let Err(error) = store.record_attempt(due, &attempt, next).await {
        tracing::warn!(error = %error.describe(), delivery = %due.id, "could not record a webhook attempt; it will be sent again");
    }
}

/// What follows an attempt: done, a retry after a pause that grows, or, after a day of
/// failures, giving up and disabling the webhook.
fn after(retry: RetryPolicy, due: &DueDelivery, attempt: &Attempt) -> AfterAttempt {
    let Some(error) = &attempt.error else { return AfterAttempt::Delivered };
    let now = Timestamp::now();
    if retry.gives_up(due.due_since, now) {
        let hours = retry.give_up_after.as_secs_f64() / 3600.0;
        return AfterAttempt::GiveUp(format!("deliveries failed for {hours:.1} hours; the last error: {error}"));
    }
    let failures = u32::try_from(due.attempts).unwrap_or(u32::MAX);
    let pause = retry.delay(failures, rand::random::<f64>());
    AfterAttempt::RetryAt(Timestamp::from_datetime(now.datetime() + pause))
}

async fn purge(store: &dyn Store) {
    match service::purge_old_webhook_events(store).await {
        Ok(purged) => tracing::debug!(purged, "purged old webhook events"),
        Err(error) => tracing::warn!(error = %error.describe(), "could not purge old webhook events"),
    }
}
