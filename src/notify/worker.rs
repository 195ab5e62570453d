//! The outbox worker. It claims due rows under a short lease, sends them,
//! and records the outcome: `sent`, or another try after exponential
//! backoff, or `failed` once the tries are used up.
//!
//! Claiming happens in a write transaction that selects due rows with
//! `FOR UPDATE SKIP LOCKED` (PostgreSQL: concurrent workers skip each other's
//! rows) and sets `locked_until` before committing; on SQLite the
//! `BEGIN IMMEDIATE` of [`db::begin_write`] serialises claimers instead. A
//! row whose worker died is claimed again once its lease expires.

use std::time::Duration;

use chrono::TimeDelta;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};

use super::transport::Transport;
use crate::{
    config::EmailSettings,
    db,
    entities::notifications::{self, NotificationStatus},
};

/// How long a claimed row stays with its worker before another may take it.
const LEASE: TimeDelta = TimeDelta::seconds(120);
const BATCH: u64 = 20;

pub struct Worker {
    db: DatabaseConnection,
    settings: EmailSettings,
    transport: Transport,
}

impl Worker {
    pub fn new(db: DatabaseConnection, settings: EmailSettings) -> Result<Self, String> {
        let transport = Transport::from_settings(&settings)?;
        Ok(Self {
            db,
            settings,
            transport,
        })
    }

    /// Runs until the process ends.
    pub async fn run(self) {
        let idle = Duration::from_millis(Ord::max(self.settings.poll_interval_ms, 10));
        tracing::info!(transport = ?self.settings.transport, "mail worker started");
        loop {
            match self.run_once().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "mail worker: claiming failed"),
            }
            tokio::time::sleep(idle).await;
        }
    }

    /// Sends one batch of due emails; returns how many were tried.
    pub async fn run_once(&self) -> Result<usize, DbErr> {
        let rows = claim(&self.db, BATCH).await?;
        for row in &rows {
            let outcome = self.transport.send(&self.settings.from, row).await;
            self.record(row, outcome).await?;
        }
        Ok(rows.len())
    }

    async fn record(
        &self,
        row: &notifications::Model,
        outcome: Result<(), String>,
    ) -> Result<(), DbErr> {
        use notifications::Column as C;
        let now = db::now();
        let attempts = row.attempts + 1;
        let mut update = notifications::Entity::update_many()
            .col_expr(C::Attempts, Expr::value(attempts))
            .col_expr(
                C::LockedUntil,
                Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
            )
            .filter(C::Id.eq(row.id));
        match outcome {
            Ok(()) => {
                tracing::info!(id = %row.id, kind = %row.kind, "mail sent");
                update = update
                    .col_expr(C::Status, Expr::value(NotificationStatus::Sent))
                    .col_expr(C::SentAt, Expr::value(Some(now)))
                    .col_expr(C::LastError, Expr::value(Option::<String>::None));
            }
            Err(error) => {
                let final_try = attempts >= self.settings.max_attempts;
                tracing::warn!(id = %row.id, attempts, final_try, %error, "mail not sent");
                let status = if final_try {
                    NotificationStatus::Failed
                } else {
                    NotificationStatus::Pending
                };
                update = update
                    .col_expr(C::Status, Expr::value(status))
                    .col_expr(
                        C::NextAttemptAt,
                        Expr::value(now + backoff(&self.settings, attempts)),
                    )
                    .col_expr(C::LastError, Expr::value(Some(truncate(&error, 1000))));
            }
        }
        update.exec(&self.db).await.map(|_| ())
    }
}

async fn claim(
    db_conn: &DatabaseConnection,
    batch: u64,
) -> Result<Vec<notifications::Model>, DbErr> {
    use notifications::Column as C;
    let txn = db::begin_write(db_conn).await?;
    let now = db::now();
    let rows = notifications::Entity::find()
        .filter(C::Status.eq(NotificationStatus::Pending))
        .filter(C::NextAttemptAt.lte(now))
        .filter(C::LockedUntil.is_null().or(C::LockedUntil.lt(now)))
        .order_by_asc(C::NextAttemptAt)
        .limit(batch)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    if !rows.is_empty() {
        notifications::Entity::update_many()
            .col_expr(C::LockedUntil, Expr::value(Some(now + LEASE)))
            .filter(C::Id.is_in(rows.iter().map(|r| r.id)))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(rows)
}

/// The wait before the next try after `attempts` failed ones.
fn backoff(settings: &EmailSettings, attempts: i32) -> TimeDelta {
    let exp = attempts.clamp(1, 30) as u32 - 1;
    let secs = Ord::min(
        settings
            .backoff_base_secs
            .saturating_mul(1u64 << Ord::min(exp, 20)),
        settings.backoff_max_secs,
    );
    TimeDelta::seconds(secs as i64)
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Puts a failed or pending email back in the queue, due now, with a fresh
/// set of tries.
pub async fn retry(db_conn: &DatabaseConnection, id: uuid::Uuid) -> Result<u64, DbErr> {
    use notifications::Column as C;
    let res = notifications::Entity::update_many()
        .col_expr(C::Status, Expr::value(NotificationStatus::Pending))
        .col_expr(C::Attempts, Expr::value(0))
        .col_expr(C::NextAttemptAt, Expr::value(db::now()))
        .col_expr(
            C::LockedUntil,
            Expr::value(Option::<chrono::DateTime<chrono::Utc>>::None),
        )
        .filter(C::Id.eq(id))
        .filter(C::Status.ne(NotificationStatus::Sent))
        .exec(db_conn)
        .await?;
    Ok(res.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let settings = EmailSettings {
            transport: crate::config::EmailTransportKind::File,
            file_dir: "var/mail".into(),
            smtp_url: String::new(),
            from: "a@b.cn".into(),
            max_attempts: 8,
            backoff_base_secs: 30,
            backoff_max_secs: 3600,
            poll_interval_ms: 1000,
        };
        let secs: Vec<i64> = (1..=9)
            .map(|n| backoff(&settings, n).num_seconds())
            .collect();
        assert_eq!(secs, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
