//! Work that keeps the database tidy, run beside the mail worker (in the
//! server process, or in `nuancheng worker`): idempotency keys past their
//! retention, and rate-limit buckets idle for an hour, are deleted every hour.

use std::time::Duration;

use sea_orm::DatabaseConnection;

use crate::http::{idempotency, ratelimit};

const EVERY: Duration = Duration::from_secs(3600);

/// Runs for ever; a failed round is logged and tried again next time.
pub async fn run(conn: DatabaseConnection) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match idempotency::purge_expired(&conn, false).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "expired idempotency keys deleted"),
            Err(error) => tracing::warn!(%error, "idempotency keys not purged"),
        }
        match ratelimit::purge_idle(&conn).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(deleted = n, "idle rate-limit buckets deleted"),
            Err(error) => tracing::warn!(%error, "rate-limit buckets not purged"),
        }
    }
}
