//! Retention (个人信息保护法 第十九条, 第四十七条): personal data is kept no
//! longer than the purpose needs. Once a day, beside the mail worker, and on
//! demand with `nuancheng retention [--dry-run]`:
//! - students with no activity for `privacy.retention_days` have their
//!   identity erased ([`erase`]); their registrations, check-ins and intents
//!   stay as anonymous rows for the reports;
//! - the text and attachments of emails sent more than
//!   `privacy.outbox_body_days` ago are deleted (the row stays);
//! - idempotency keys, spent tokens and expired invitations are deleted.
//!
//! Activity is read from what the database holds already: the account's
//! own changes, sessions (refresh tokens issued at sign-in and refresh),
//! registrations, check-ins and intents.

use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, PaginatorTrait, QueryFilter,
    sea_query::{Query, SelectStatement},
};
use serde_json::json;
use uuid::Uuid;

use super::{
    erase::{erase, strip_bodies},
    types::RetentionReport,
};
use crate::{
    accounts::{email_links, invitations, sessions},
    audit::{self, Entry},
    config::PrivacySettings,
    db,
    entities::{
        checkins, intents,
        notifications::{self, NotificationStatus},
        refresh_tokens, registrations,
        users::{self, Role},
    },
    http::idempotency,
};

/// How long after start the first daily run waits, so that a process that
/// is restarted often still runs it, and one that lives a few seconds does not.
const FIRST_RUN_AFTER: Duration = Duration::from_secs(600);
const EVERY: Duration = Duration::from_secs(24 * 3600);

/// Runs for ever beside the mail worker; a failed run is logged and tried
/// again the next day.
pub async fn run_daily(conn: DatabaseConnection, settings: PrivacySettings) {
    let start = tokio::time::Instant::now() + FIRST_RUN_AFTER;
    let mut tick = tokio::time::interval_at(start, EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match run(&conn, &settings, false).await {
            Ok(report) => tracing::info!(?report, "retention run"),
            Err(error) => tracing::warn!(%error, "retention run failed"),
        }
    }
}

/// One retention run. With `dry_run` nothing changes and nothing is
/// recorded: the report says what would be done. Otherwise one audit row
/// records the counts and names the students whose identity was erased.
#[tracing::instrument(skip(conn, settings))]
pub async fn run(
    conn: &DatabaseConnection,
    settings: &PrivacySettings,
    dry_run: bool,
) -> Result<RetentionReport, DbErr> {
    let now = db::now();
    let inactive = inactive_students(conn, now - TimeDelta::days(settings.retention_days)).await?;
    let mut anonymised: Vec<Uuid> = Vec::new();
    if dry_run {
        anonymised = inactive.iter().map(|u| u.id).collect();
    } else {
        // One transaction per student: a failure leaves the others done.
        for user in &inactive {
            let txn = db::begin_write(conn).await?;
            if erase(&txn, user, now).await? {
                anonymised.push(user.id);
            }
            txn.commit().await?;
        }
    }
    let report = RetentionReport {
        dry_run,
        students_anonymised: anonymised.len() as u64,
        email_bodies_deleted: old_bodies(
            conn,
            now - TimeDelta::days(settings.outbox_body_days),
            dry_run,
        )
        .await?,
        idempotency_keys_deleted: idempotency::purge_expired(conn, dry_run).await?,
        refresh_tokens_deleted: sessions::purge_spent(conn, now, dry_run).await?,
        action_tokens_deleted: email_links::purge_spent(conn, now, dry_run).await?,
        invitations_deleted: invitations::purge_expired(conn, now, dry_run).await?,
    };
    if !dry_run {
        audit::record(
            conn,
            Entry::system(
                "retention",
                json!({
                    "retention_days": settings.retention_days,
                    "outbox_body_days": settings.outbox_body_days,
                    "students_anonymised": report.students_anonymised,
                    "email_bodies_deleted": report.email_bodies_deleted,
                    "idempotency_keys_deleted": report.idempotency_keys_deleted,
                    "refresh_tokens_deleted": report.refresh_tokens_deleted,
                    "action_tokens_deleted": report.action_tokens_deleted,
                    "invitations_deleted": report.invitations_deleted,
                }),
            ),
            &anonymised,
        )
        .await?;
    }
    Ok(report)
}

/// Ids in `table.column` of rows whose `time` is at or after `since`.
fn active_since<E, C, T>(table: E, column: C, time: T, since: DateTime<Utc>) -> SelectStatement
where
    E: EntityTrait,
    C: ColumnTrait,
    T: ColumnTrait,
{
    Query::select()
        .column(column)
        .from(table)
        .and_where(time.gte(since))
        .to_owned()
}

/// Students, not yet anonymised, with nothing done since `cutoff`.
async fn inactive_students(
    conn: &DatabaseConnection,
    cutoff: DateTime<Utc>,
) -> Result<Vec<users::Model>, DbErr> {
    use users::Column as U;
    let active = [
        active_since(
            registrations::Entity,
            registrations::Column::UserId,
            registrations::Column::UpdatedAt,
            cutoff,
        ),
        active_since(
            checkins::Entity,
            checkins::Column::UserId,
            checkins::Column::CreatedAt,
            cutoff,
        ),
        active_since(
            intents::Entity,
            intents::Column::CandidateId,
            intents::Column::UpdatedAt,
            cutoff,
        ),
        active_since(
            refresh_tokens::Entity,
            refresh_tokens::Column::UserId,
            refresh_tokens::Column::CreatedAt,
            cutoff,
        ),
    ];
    let mut select = users::Entity::find()
        .filter(U::Role.eq(Role::Candidate))
        .filter(U::AnonymisedAt.is_null())
        .filter(U::CreatedAt.lt(cutoff))
        .filter(U::UpdatedAt.lt(cutoff));
    for recent in active {
        select = select.filter(U::Id.not_in_subquery(recent));
    }
    select.all(conn).await
}

/// Deletes (or with `dry_run` counts) the text and attachments of emails
/// sent before `cutoff`; the rows stay.
async fn old_bodies(
    conn: &DatabaseConnection,
    cutoff: DateTime<Utc>,
    dry_run: bool,
) -> Result<u64, DbErr> {
    use notifications::Column as N;
    let filter = Condition::all()
        .add(N::Status.eq(NotificationStatus::Sent))
        .add(N::SentAt.lt(cutoff))
        .add(
            Condition::any()
                .add(N::TextBody.ne(""))
                .add(N::HtmlBody.ne(""))
                .add(N::Attachments.is_not_null()),
        );
    if dry_run {
        return notifications::Entity::find()
            .filter(filter)
            .count(conn)
            .await;
    }
    Ok(strip_bodies(notifications::Entity::update_many())
        .filter(filter)
        .exec(conn)
        .await?
        .rows_affected)
}
