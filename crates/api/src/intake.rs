//! Flood protection for public lead forms: per client address and per form, so one noisy
//! visitor cannot use up a form's budget and a botnet cannot bury a clinic in fake leads.
//! Limits are kept in memory, per replica.
//!
//! The address limit counts every request, before any work. The form's budget counts only
//! submissions that would become a lead (valid, and not caught by the honeypot): were junk
//! counted, a few addresses posting rubbish could close a form to real visitors.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, NotUntil, Quota, RateLimiter};
use uuid::Uuid;

use crate::ApiError;

/// Submissions allowed per minute (as a burst, refilled evenly over the minute).
#[derive(Debug, Clone, Copy)]
pub struct IntakeLimits {
    pub per_address_per_minute: NonZeroU32,
    pub per_form_per_minute: NonZeroU32,
}

impl Default for IntakeLimits {
    fn default() -> Self {
        IntakeLimits {
            per_address_per_minute: NonZeroU32::new(5).unwrap_or(NonZeroU32::MIN),
            per_form_per_minute: NonZeroU32::new(60).unwrap_or(NonZeroU32::MIN),
        }
    }
}

pub struct IntakeGuard {
    per_address: DefaultKeyedRateLimiter<IpAddr>,
    per_form: DefaultKeyedRateLimiter<Uuid>,
    checks: AtomicU64,
}

impl IntakeGuard {
    pub fn new(limits: IntakeLimits) -> Self {
        IntakeGuard {
            per_address: RateLimiter::keyed(Quota::per_minute(limits.per_address_per_minute)),
            per_form: RateLimiter::keyed(Quota::per_minute(limits.per_form_per_minute)),
            checks: AtomicU64::new(0),
        }
    }

    /// Counts one request from `address`, or says how long to wait (429 with `Retry-After`).
    pub fn admit_request(&self, address: IpAddr) -> Result<(), ApiError> {
        // Forget idle keys now and then, so memory follows the active visitors only.
        if self.checks.fetch_add(1, Ordering::Relaxed) % 4096 == 4095 {
            self.per_address.retain_recent();
            self.per_form.retain_recent();
        }
        admitted(self.per_address.check_key(&address))
    }

    /// Counts one lead for the form `form_id`, or says how long to wait.
    pub fn admit_lead(&self, form_id: Uuid) -> Result<(), ApiError> {
        admitted(self.per_form.check_key(&form_id))
    }
}

fn admitted(check: Result<(), NotUntil<<DefaultClock as Clock>::Instant>>) -> Result<(), ApiError> {
    let now = DefaultClock::default().now();
    check.map_err(|not_until| {
        let wait = not_until.wait_time_from(now);
        ApiError::RateLimited { retry_after_secs: wait.as_secs() + u64::from(wait.subsec_nanos() > 0) }
    })
}
