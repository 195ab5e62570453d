//! A person's consents, read and changed by themselves.

use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::LockType,
};
use uuid::Uuid;

use super::types::*;
use crate::{
    accounts::{consent, service::find_user},
    db,
    entities::{consents, users},
    http::{ApiError, FieldErrors},
    state::AppState,
};

pub async fn view(
    conn: &DatabaseConnection,
    user: &users::Model,
    in_force: &str,
) -> Result<ConsentsView, ApiError> {
    let history = consents::Entity::find()
        .filter(consents::Column::UserId.eq(user.id))
        .order_by_asc(consents::Column::Id)
        .all(conn)
        .await?;
    Ok(ConsentsView::new(user, in_force, history))
}

pub async fn current(state: &AppState, user_id: Uuid) -> Result<ConsentsView, ApiError> {
    let user = find_user(&state.db, user_id).await?;
    view(&state.db, &user, &state.settings.privacy.notice_version).await
}

/// Applies a change; a withdrawal of contact sharing holds from the next
/// request on, in every list and export.
pub async fn update(
    state: &AppState,
    user_id: Uuid,
    input: UpdateConsentsRequest,
    ip: String,
) -> Result<ConsentsView, ApiError> {
    let in_force = &state.settings.privacy.notice_version;
    let mut errors = FieldErrors::new();
    let version = match input.privacy_notice_version.as_deref() {
        None => None,
        given => errors.take(consent::accepted_notice(given, in_force)),
    };
    errors.finish()?;
    let txn = db::begin_write(&state.db).await?;
    // Two changes at once apply one after the other.
    let user = users::Entity::find_by_id(user_id)
        .lock(LockType::NoKeyUpdate)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let user = consent::change(
        &txn,
        user,
        version,
        input.share_contacts,
        Some(ip),
        db::now(),
    )
    .await?;
    txn.commit().await?;
    state.callers.forget(user_id);
    view(&state.db, &user, in_force).await
}
