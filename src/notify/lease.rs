//! Claiming due rows of a queue table under a lease, shared by the outbox
//! and webhook deliveries: both keep `status`, `next_attempt_at`,
//! `locked_until` and `lease_token` columns and are sent by the same worker.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Select, UpdateMany, Value,
    sea_query::{Expr, LockBehavior, LockType},
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

/// The oldest `batch` rows due at `now` that no live lease holds and that
/// meet `also`, locked (skipping rows another claimer locked first).
pub fn due<Q: Queue>(now: DateTime<Utc>, batch: u64, also: Condition) -> Select<Q> {
    Q::find()
        .filter(Q::STATUS.eq(Q::pending()))
        .filter(Q::NEXT_ATTEMPT_AT.lte(now))
        .filter(unheld::<Q>(now))
        .filter(also)
        .order_by_asc(Q::NEXT_ATTEMPT_AT)
        .limit(batch)
        .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
}

/// Set on PostgreSQL in a claim's transaction before [`due`]: the rows
/// come off the `(status, next_attempt_at)` index already in order and
/// the scan stops after `batch`. The planner's own choice depends on the
/// table's statistics, and those are taken while the queue is nearly
/// empty (everything sent); when a mailing or a day of check-ins then
/// queues thousands of rows, it reads every pending row with its bodies
/// and sorts them, on disk, for each batch of a few dozen: a backlog made
/// each claim slower, in proportion to itself. These settings end with
/// the transaction.
pub const IN_INDEX_ORDER: &str = "SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off";

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
    claim_where::<Q>(db_conn, batch, lease, Condition::all()).await
}

/// [`claim`], of the due rows that also meet `also`.
pub async fn claim_where<Q: Queue>(
    db_conn: &DatabaseConnection,
    batch: u64,
    lease: TimeDelta,
    also: Condition,
) -> Result<(Vec<Q::Model>, Uuid), DbErr>
where
    Q::Model: Sync,
{
    let txn = db::begin_write(db_conn).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared(IN_INDEX_ORDER).await?;
    }
    let now = db::now();
    let rows = due::<Q>(now, batch, also).all(&txn).await?;
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

/// Rows no live lease holds at `now`: never leased, or the lease ran out.
pub fn unheld<Q: Queue>(now: DateTime<Utc>) -> Condition {
    Condition::any()
        .add(Q::LOCKED_UNTIL.is_null())
        .add(Q::LOCKED_UNTIL.lt(now))
}

/// An update that clears the lease of the rows it is then given.
pub fn unleasing<Q: Queue>() -> UpdateMany<Q> {
    Q::update_many()
        .col_expr(Q::LOCKED_UNTIL, Expr::value(Option::<DateTime<Utc>>::None))
        .col_expr(Q::LEASE_TOKEN, Expr::value(Option::<Uuid>::None))
}

/// The rows `ids` that `token` still holds, their lease cleared (an update
/// to run, or to add the row's outcome to first).
pub fn released<Q: Queue>(ids: impl IntoIterator<Item = Uuid>, token: Uuid) -> UpdateMany<Q> {
    unleasing::<Q>()
        .filter(Q::ID.is_in(ids))
        .filter(Q::LEASE_TOKEN.eq(token))
}

/// `update`, the record of what a send did, committed without waiting for
/// PostgreSQL to write it to disk (`synchronous_commit = off` for the
/// statement's own transaction only, set by a condition that holds for
/// every row it is evaluated on). Nothing is lost that matters: a record
/// lost in a crash of the database leaves the row leased as before, so it
/// is sent again once the lease runs out, as it is after a worker killed
/// in the middle of a send (and each email keeps its `Message-ID`, each
/// delivery its id, for the receiver to drop the copy). What a request
/// answered is never written this way. The gain: an email sent is one
/// commit, and the worker's commits no longer each wait for, and queue
/// behind, a flush of the log that the requests' commits wait for too.
pub fn unflushed<Q: Queue>(update: UpdateMany<Q>, backend: DbBackend) -> UpdateMany<Q> {
    match backend {
        DbBackend::Postgres => update.filter(Expr::cust(
            "set_config('synchronous_commit', 'off', true) = 'off'",
        )),
        _ => update,
    }
}

/// Gives the claimed rows `ids` that were not sent back to the queue, due
/// as before, if `token` still holds them.
pub async fn release<Q: Queue>(
    db_conn: &DatabaseConnection,
    ids: impl IntoIterator<Item = Uuid>,
    token: Uuid,
) -> Result<(), DbErr> {
    released::<Q>(ids, token).exec(db_conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sea_orm::QueryTrait;

    use super::*;

    /// On PostgreSQL the outcome's statement turns the flush wait off for
    /// its own transaction (`true`: local), by a condition that is true on
    /// every row; SQLite, which has no such setting, gets the update as is.
    #[test]
    fn only_postgres_outcomes_skip_the_flush_and_only_for_their_transaction() {
        let update = || released::<notifications::Entity>([Uuid::nil()], Uuid::nil());
        let postgres = unflushed(update(), DbBackend::Postgres)
            .build(DbBackend::Postgres)
            .to_string();
        assert!(
            postgres.contains("set_config('synchronous_commit', 'off', true) = 'off'"),
            "{postgres}"
        );
        let sqlite = unflushed(update(), DbBackend::Sqlite)
            .build(DbBackend::Sqlite)
            .to_string();
        assert_eq!(sqlite, update().build(DbBackend::Sqlite).to_string());
        assert!(!sqlite.contains("set_config"), "{sqlite}");
    }
}
