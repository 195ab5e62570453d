//! The wait between tries, shared by the outbox and webhook deliveries.

use chrono::TimeDelta;

/// `base * 2^(attempts - 1)` seconds, at most `max`.
pub fn backoff_after(base: u64, max: u64, attempts: i32) -> TimeDelta {
    let exp = attempts.clamp(1, 30) as u32 - 1;
    let secs = Ord::min(base.saturating_mul(1u64 << Ord::min(exp, 20)), max);
    TimeDelta::seconds(secs as i64)
}
