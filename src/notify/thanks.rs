//! Thank-you emails after a check-in, written by the mail worker.
//!
//! A scan (or a walk-in, or an offline upload) inserts its check-in and a
//! `checkin_thanks` row naming it, in its own transaction, and answers: it
//! neither reads the employers and the event's wording nor renders an
//! email. The worker takes those rows in batches, reads the employers and
//! wording of all their events at once, renders the emails, queues them
//! on the outbox a few dozen rows per statement and deletes the rows, in
//! one transaction. So the email cannot be lost (the row is committed with
//! the check-in and deleted only with the queued email) and goes out once
//! (on PostgreSQL concurrent workers skip each other's locked rows;
//! SQLite's `BEGIN IMMEDIATE` serialises them).

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect,
    sea_query::{LockBehavior, LockType},
};
use uuid::Uuid;

use super::{
    custom::{self, Student, Wording},
    kinds::{Extras, TemplateKind},
    outbox,
    schedule::facts,
};
use crate::{
    config::Settings,
    db,
    entities::{checkin_thanks, events, users},
};

/// Check-ins whose emails one transaction writes.
const BATCH: u64 = 200;

/// Queues the thank-you emails of up to [`BATCH`] pending check-ins;
/// returns how many check-ins it handled.
pub async fn queue_due(db_conn: &DatabaseConnection, settings: &Settings) -> Result<usize, DbErr> {
    // Oldest first: check-in ids are time-ordered.
    let pending = || checkin_thanks::Entity::find().order_by_asc(checkin_thanks::Column::CheckinId);
    // A look first, outside a transaction: most of the time there is
    // nothing, and SQLite's write lock is not worth taking for that.
    if pending().one(db_conn).await?.is_none() {
        return Ok(0);
    }
    let txn = db::begin_write(db_conn).await?;
    let mut due = pending().limit(BATCH);
    if db_conn.get_database_backend() == DbBackend::Postgres {
        due = due.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let due = due.all(&txn).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let students = users::by_ids(&txn, due.iter().map(|c| c.user_id)).await?;
    let events = events::Entity::find()
        .filter(events::Column::Id.is_in(due.iter().map(|c| c.event_id)))
        .all(&txn)
        .await?;
    let kind = TemplateKind::CheckinThanks;
    let mut templates = custom::find_for(&txn, &events, kind).await?;
    let ids: Vec<Uuid> = events.iter().map(|e| e.id).collect();
    let mut hiring = custom::hiring_at(&txn, &ids).await?;
    let events: HashMap<Uuid, (events::Model, Wording, Vec<_>)> = events
        .into_iter()
        .map(|event| {
            let wording = Wording::new(settings, kind, templates.remove(&event.id));
            let employers = hiring.remove(&event.id).unwrap_or_default();
            (event.id, (event, wording, employers))
        })
        .collect();
    let mut mails = Vec::with_capacity(due.len());
    for checkin in &due {
        let (Some(student), Some((event, wording, employers))) = (
            students.get(&checkin.user_id),
            events.get(&checkin.event_id),
        ) else {
            continue;
        };
        // Erased since the scan: nobody to write to.
        if student.anonymised_at.is_some() {
            continue;
        }
        let mail = wording.render(
            Student::of(student),
            &facts(settings, event),
            employers,
            &Extras::default(),
        );
        mails.push((student.email.clone(), mail));
    }
    outbox::enqueue_all(&txn, mails).await?;
    checkin_thanks::Entity::delete_many()
        .filter(checkin_thanks::Column::CheckinId.is_in(due.iter().map(|c| c.checkin_id)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(due.len())
}
