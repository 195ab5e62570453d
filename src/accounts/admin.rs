//! What admins do to other accounts: list them, change a role or an
//! employer, disable or enable.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use uuid::Uuid;

use super::{service::check_employer, sessions::revoke_all_of, types::*};
use crate::{
    db,
    entities::users::{self, Role},
    http::{ApiError, Page, pagination::PageRequest},
    state::AppState,
};

/// Accounts, newest first, perhaps of one role.
pub async fn list_users(
    db_conn: &DatabaseConnection,
    role: Option<Role>,
    page: PageRequest,
) -> Result<Page<UserView>, ApiError> {
    let mut query = users::Entity::find().order_by_desc(users::Column::Id);
    if let Some(role) = role {
        query = query.filter(users::Column::Role.eq(role));
    }
    if let Some(after) = page.after {
        query = query.filter(users::Column::Id.lt(after));
    }
    let rows = query.limit(page.limit + 1).all(db_conn).await?;
    Ok(Page::from_rows(rows, page, |u| u.id, UserView::from))
}

/// An admin changes a user's role or disables the account. Disabling signs
/// out every session at once.
pub async fn update_user(
    state: &AppState,
    admin: Uuid,
    id: Uuid,
    input: UpdateUserRequest,
) -> Result<users::Model, ApiError> {
    if id == admin && (input.disabled == Some(true) || input.role.is_some_and(|r| r != Role::Admin))
    {
        return Err(ApiError::conflict(
            "cannot_change_self",
            "an admin cannot disable or demote their own account",
        ));
    }
    let txn = db::begin_write(&state.db).await?;
    let current = users::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    if current.anonymised_at.is_some() {
        // Nobody is behind it any more: enabling it or giving it a role
        // would make an account out of anonymous rows.
        return Err(ApiError::conflict(
            "account_erased",
            "this account's identity was erased; it cannot be changed",
        ));
    }
    let role = input.role.unwrap_or(current.role);
    let employer_id = match role {
        Role::Recruiter => match input.employer_id.or(current.employer_id) {
            Some(e) => Some(check_employer(&txn, e).await?.id),
            None => {
                return Err(ApiError::field(
                    "employer_id",
                    "required",
                    "a recruiter belongs to an employer",
                ));
            }
        },
        _ if input.employer_id.is_some() => {
            return Err(ApiError::field(
                "employer_id",
                "not_allowed",
                "only recruiters belong to an employer",
            ));
        }
        _ => None,
    };
    let now = db::now();
    let mut user: users::ActiveModel = current.clone().into();
    user.role = Set(role);
    user.employer_id = Set(employer_id);
    match input.disabled {
        Some(true) if current.disabled_at.is_none() => user.disabled_at = Set(Some(now)),
        Some(false) => user.disabled_at = Set(None),
        _ => {}
    }
    user.updated_at = Set(now);
    let user = user.update(&txn).await?;
    if user.disabled_at.is_some() {
        revoke_all_of(&txn, id, now).await?;
    }
    txn.commit().await?;
    state.callers.forget(id);
    Ok(user)
}
