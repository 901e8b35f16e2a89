//! How the scheduled backups are going, for whoever watches the service: the binary's schedule
//! reports each outcome here; `/metrics` shows counters and times, and `/readyz` a short
//! summary. A failed backup does not make the replica unready (it can serve as well as
//! before); it is an alert for the operator, raised by these numbers and the log.

use std::sync::Mutex;

use domain::Timestamp;
use serde::Serialize;

/// The latest outcomes of the scheduled backups.
#[derive(Default)]
pub struct BackupHealth(Mutex<BackupState>);

#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct BackupState {
    pub last_success_at: Option<Timestamp>,
    pub last_failure_at: Option<Timestamp>,
    /// Failures since the last success: 0 while all is well.
    pub consecutive_failures: u64,
    pub failures_total: u64,
    pub successes_total: u64,
    pub last_size_bytes: u64,
    pub last_duration_seconds: f64,
}

impl BackupHealth {
    pub fn succeeded(&self, at: Timestamp, size_bytes: u64, duration_seconds: f64) {
        self.update(|state| {
            state.last_success_at = Some(at);
            state.consecutive_failures = 0;
            state.successes_total += 1;
            state.last_size_bytes = size_bytes;
            state.last_duration_seconds = duration_seconds;
        });
    }

    pub fn failed(&self, at: Timestamp) {
        self.update(|state| {
            state.last_failure_at = Some(at);
            state.consecutive_failures += 1;
            state.failures_total += 1;
        });
    }

    pub fn state(&self) -> BackupState {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn update(&self, change: impl FnOnce(&mut BackupState)) {
        change(&mut self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner));
    }

    /// Sets the backup series on the current metrics recorder.
    pub(crate) fn record_metrics(&self) {
        let state = self.state();
        let seconds = |at: Option<Timestamp>| at.map_or(0.0, |at| at.unix_micros() as f64 / 1e6);
        metrics::gauge!("backup_last_success_timestamp_seconds").set(seconds(state.last_success_at));
        metrics::gauge!("backup_last_failure_timestamp_seconds").set(seconds(state.last_failure_at));
        metrics::gauge!("backup_consecutive_failures").set(state.consecutive_failures as f64);
        metrics::counter!("backup_failures_total").absolute(state.failures_total);
        metrics::counter!("backup_successes_total").absolute(state.successes_total);
        metrics::gauge!("backup_last_size_bytes").set(state.last_size_bytes as f64);
        metrics::gauge!("backup_last_duration_seconds").set(state.last_duration_seconds);
    }
}
