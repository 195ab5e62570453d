//! Claiming due rows of a queue table under a lease, shared by the outbox
//! and webhook deliveries: both keep `status`, `next_attempt_at`,
//! `locked_until` and `lease_token` columns and are sent by the same worker.

use chrono::TimeDelta;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    Value,
    sea_query::{Expr, ExprTrait, LockBehavior, LockType},
};
use uuid::Uuid;

use crate::{
    db,
    entities::{
        notifications::{self, NotificationStatus},
        webhook_deliveries::{self, DeliveryStatus},
    },
};

/// A table whose rows wait to be sent and are claimed under a lease.
pub trait Queue: EntityTrait {
    const ID: Self::Column;
    const STATUS: Self::Column;
    const NEXT_ATTEMPT_AT: Self::Column;
    const LOCKED_UNTIL: Self::Column;
    const LEASE_TOKEN: Self::Column;
    /// The status of a row waiting to be sent.
    fn pending() -> Value;
    fn id_of(row: &Self::Model) -> Uuid;
}

impl Queue for notifications::Entity {
    const ID: Self::Column = notifications::Column::Id;
    const STATUS: Self::Column = notifications::Column::Status;
    const NEXT_ATTEMPT_AT: Self::Column = notifications::Column::NextAttemptAt;
    const LOCKED_UNTIL: Self::Column = notifications::Column::LockedUntil;
    const LEASE_TOKEN: Self::Column = notifications::Column::LeaseToken;
    fn pending() -> Value {
        NotificationStatus::Pending.into()
    }
    fn id_of(row: &notifications::Model) -> Uuid {
        row.id
    }
}

impl Queue for webhook_deliveries::Entity {
    const ID: Self::Column = webhook_deliveries::Column::Id;
    const STATUS: Self::Column = webhook_deliveries::Column::Status;
    const NEXT_ATTEMPT_AT: Self::Column = webhook_deliveries::Column::NextAttemptAt;
    const LOCKED_UNTIL: Self::Column = webhook_deliveries::Column::LockedUntil;
    const LEASE_TOKEN: Self::Column = webhook_deliveries::Column::LeaseToken;
    fn pending() -> Value {
        DeliveryStatus::Pending.into()
    }
    fn id_of(row: &webhook_deliveries::Model) -> Uuid {
        row.id
    }
}

/// Claims up to `batch` due rows under one new lease token, in a write
/// transaction that selects them `FOR UPDATE SKIP LOCKED` on PostgreSQL
/// (concurrent workers skip each other's rows; on SQLite the `BEGIN
/// IMMEDIATE` of [`db::begin_write`] serialises claimers instead).
pub async fn claim<Q: Queue>(
    db_conn: &DatabaseConnection,
    batch: u64,
    lease: TimeDelta,
) -> Result<(Vec<Q::Model>, Uuid), DbErr>
where
    Q::Model: Sync,
{
    let txn = db::begin_write(db_conn).await?;
    let now = db::now();
    let rows = Q::find()
        .filter(Q::STATUS.eq(Q::pending()))
        .filter(Q::NEXT_ATTEMPT_AT.lte(now))
        .filter(Q::LOCKED_UNTIL.is_null().or(Q::LOCKED_UNTIL.lt(now)))
        .order_by_asc(Q::NEXT_ATTEMPT_AT)
        .limit(batch)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
        .all(&txn)
        .await?;
    let token = Uuid::new_v4();
    if !rows.is_empty() {
        Q::update_many()
            .col_expr(Q::LOCKED_UNTIL, Expr::value(Some(now + lease)))
            .col_expr(Q::LEASE_TOKEN, Expr::value(Some(token)))
            .filter(Q::ID.is_in(rows.iter().map(Q::id_of)))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok((rows, token))
}
