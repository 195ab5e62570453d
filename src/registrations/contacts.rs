//! Whose email and phone a caller may see.

use std::collections::HashSet;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use crate::{
    entities::{checkins, users},
    events::access::Access,
    http::{ApiError, Caller},
};

/// Of these students, those whose email and phone the caller may see:
/// organisers see all; a recruiter only those who agreed to share them with
/// employers and checked in at an event of its employer (they met at the
/// door). A withdrawn consent counts from the next request on.
pub async fn contacts(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    access: Access,
    user_ids: &[Uuid],
) -> Result<HashSet<Uuid>, ApiError> {
    match (access, caller.employer_id) {
        (Access::Staff, _) => Ok(user_ids.iter().copied().collect()),
        (Access::Participant, Some(employer_id)) => contactable(conn, employer_id, user_ids).await,
        _ => Ok(HashSet::new()),
    }
}

/// Of these students, the ones a recruiter of `employer_id` may contact:
/// those sharing their contacts who checked in at an event its employer
/// took part in.
pub async fn contactable<C: ConnectionTrait>(
    conn: &C,
    employer_id: Uuid,
    user_ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, ApiError> {
    use sea_orm::sea_query::Query;
    if user_ids.is_empty() {
        return Ok(Default::default());
    }
    let events_of_employer = Query::select()
        .column(crate::entities::event_employers::Column::EventId)
        .from(crate::entities::event_employers::Entity)
        .and_where(crate::entities::event_employers::Column::EmployerId.eq(employer_id))
        .to_owned();
    let sharing = Query::select()
        .column(users::Column::Id)
        .from(users::Entity)
        .and_where(users::Column::Id.is_in(user_ids.iter().copied()))
        .and_where(users::Column::ContactSharingAt.is_not_null())
        .to_owned();
    Ok(checkins::Entity::find()
        .filter(checkins::Column::UserId.in_subquery(sharing))
        .filter(checkins::Column::EventId.in_subquery(events_of_employer))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| c.user_id)
        .collect())
}
