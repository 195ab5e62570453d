//! How a caller relates to an event, and the event row as each caller may
//! see or change it.

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, EntityTrait, QuerySelect, sea_query::LockType,
};
use uuid::Uuid;

use crate::{
    entities::{event_employers, events, users::Role},
    http::{ApiError, Caller},
};

/// How the caller relates to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Organisers and admins: everything.
    Staff,
    /// A recruiter of an employer taking part.
    Participant,
    /// Students, other recruiters, anonymous visitors.
    Public,
}

pub async fn access_of<C: ConnectionTrait>(
    conn: &C,
    caller: Option<&Caller>,
    event_id: Uuid,
) -> Result<Access, ApiError> {
    let Some(caller) = caller else {
        return Ok(Access::Public);
    };
    match (caller.role, caller.employer_id) {
        (Role::Organiser | Role::Admin, _) => Ok(Access::Staff),
        (Role::Recruiter, Some(employer_id)) => {
            let taking_part = event_employers::Entity::find_by_id((event_id, employer_id))
                .one(conn)
                .await?
                .is_some();
            Ok(if taking_part {
                Access::Participant
            } else {
                Access::Public
            })
        }
        _ => Ok(Access::Public),
    }
}

/// An event as the caller may see it: drafts exist only for staff and the
/// participating recruiters; for anyone else they are 404.
pub async fn find_visible_event<C: ConnectionTrait>(
    conn: &C,
    caller: Option<&Caller>,
    id: Uuid,
) -> Result<(events::Model, Access), ApiError> {
    let event = events::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let access = access_of(conn, caller, id).await?;
    if access == Access::Public && event.published_at.is_none() {
        return Err(ApiError::NotFound("event"));
    }
    Ok((event, access))
}

/// Locks the event row until the transaction ends (`SELECT … FOR NO KEY
/// UPDATE` on PostgreSQL; on SQLite the `BEGIN IMMEDIATE` of
/// `db::begin_write` already holds the write lock). Every change to an
/// event's registrations takes this lock first, so they happen one after
/// another per event.
///
/// Not `FOR UPDATE`: that also blocks the key-share lock PostgreSQL takes on
/// the event for every row inserted with a foreign key to it. A scan holding
/// its registration row and inserting a check-in would then wait for a
/// cancellation holding the event and waiting for that registration: a
/// deadlock. The key never changes, so the weaker lock loses nothing.
pub async fn lock_event(txn: &DatabaseTransaction, id: Uuid) -> Result<events::Model, ApiError> {
    events::Entity::find_by_id(id)
        .lock(LockType::NoKeyUpdate)
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("event"))
}
