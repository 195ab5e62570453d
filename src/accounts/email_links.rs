//! Single-use links sent by email: verifying an address and resetting a
//! password. Only a token's hash is stored; redeeming it works once.

use chrono::TimeDelta;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr,
};
use uuid::Uuid;

use super::{password, sessions::revoke_all_of, types::*};
use crate::{
    db,
    domain::{Email, Password},
    entities::{
        action_tokens::{self, Purpose},
        users,
    },
    http::ApiError,
    notify::{self, templates},
    state::AppState,
    tokens::{hash_token, random_token},
};

pub(super) fn bad_link() -> ApiError {
    ApiError::rule("invalid_token", "the link is invalid, used or expired")
}

/// Writes a single-use email token and returns the raw token for the link.
pub(super) async fn new_action_token<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    purpose: Purpose,
    ttl: TimeDelta,
) -> Result<String, ApiError> {
    let token = random_token(32);
    let now = db::now();
    action_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        purpose: Set(purpose),
        token_hash: Set(hash_token(&token)),
        expires_at: Set(now + ttl),
        used_at: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(token)
}

/// The unused, unexpired single-use token for this purpose, or 422
/// `invalid_token`. One indexed read: callers look a token up before any
/// costly work, so a made-up token costs next to nothing.
async fn find_action_token<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    purpose: Purpose,
) -> Result<action_tokens::Model, ApiError> {
    use action_tokens::Column as C;
    let row = action_tokens::Entity::find()
        .filter(C::TokenHash.eq(hash_token(token.trim())))
        .filter(C::Purpose.eq(purpose))
        .one(conn)
        .await?
        .ok_or_else(bad_link)?;
    if row.used_at.is_some() || row.expires_at <= db::now() {
        return Err(bad_link());
    }
    Ok(row)
}

/// Marks a token that [`find_action_token`] gave used, exactly once: of two
/// requests with one link, one wins and the other is 422 `invalid_token`.
async fn redeem_action_token<C: ConnectionTrait>(
    conn: &C,
    row: &action_tokens::Model,
) -> Result<(), ApiError> {
    use action_tokens::Column as C;
    let now = db::now();
    let updated = action_tokens::Entity::update_many()
        .col_expr(C::UsedAt, Expr::value(Some(now)))
        .filter(C::Id.eq(row.id))
        .filter(C::UsedAt.is_null())
        .filter(C::ExpiresAt.gt(now))
        .exec(conn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(bad_link());
    }
    Ok(())
}

/// Emails a new account the link that proves its address.
pub(super) async fn enqueue_verification<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    user: &users::Model,
) -> Result<(), ApiError> {
    let hours = state.settings.auth.verify_email_ttl_hours;
    let token =
        new_action_token(conn, user.id, Purpose::VerifyEmail, TimeDelta::hours(hours)).await?;
    let link = state.settings.link("/verify-email", &token);
    notify::enqueue(
        conn,
        &user.email,
        templates::verify_email(&user.full_name, &link, hours),
        vec![],
    )
    .await?;
    Ok(())
}

/// Marks the address of the link's account verified.
pub async fn verify_email(state: &AppState, input: TokenRequest) -> Result<(), ApiError> {
    let txn = db::begin_write(&state.db).await?;
    let link = find_action_token(&txn, &input.token, Purpose::VerifyEmail).await?;
    redeem_action_token(&txn, &link).await?;
    let user_id = link.user_id;
    users::Entity::update_many()
        .col_expr(users::Column::EmailVerifiedAt, Expr::value(Some(db::now())))
        .filter(users::Column::Id.eq(user_id))
        .filter(users::Column::EmailVerifiedAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    state.callers.forget(user_id);
    Ok(())
}

/// Sends a reset link if the address belongs to an enabled account. The
/// caller answers 202 either way, so the endpoint does not reveal accounts.
pub async fn request_password_reset(
    state: &AppState,
    input: PasswordResetRequest,
) -> Result<(), ApiError> {
    let email = Email::parse("email", &input.email).map_err(|e| ApiError::Validation(vec![e]))?;
    let txn = db::begin_write(&state.db).await?;
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&txn)
        .await?;
    if let Some(user) = user.filter(|u| u.disabled_at.is_none()) {
        let hours = state.settings.auth.password_reset_ttl_hours;
        let token = new_action_token(
            &txn,
            user.id,
            Purpose::PasswordReset,
            TimeDelta::hours(hours),
        )
        .await?;
        let link = state.settings.link("/reset-password", &token);
        notify::enqueue(
            &txn,
            &user.email,
            templates::password_reset(&user.full_name, &link, hours),
            vec![],
        )
        .await?;
    }
    txn.commit().await?;
    Ok(())
}

/// Sets a new password from a reset link, makes the account's other reset
/// links useless and signs out every session.
pub async fn confirm_password_reset(
    state: &AppState,
    input: PasswordResetConfirm,
) -> Result<(), ApiError> {
    let password = Password::parse("new_password", &input.new_password)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    // The link first: a made-up token must not cost a password hash.
    let link = find_action_token(&state.db, &input.token, Purpose::PasswordReset).await?;
    let hash = password::hash(&state.hashing, password).await?;
    let txn = db::begin_write(&state.db).await?;
    redeem_action_token(&txn, &link).await?;
    let user_id = link.user_id;
    let now = db::now();
    let user = users::Entity::find_by_id(user_id)
        .one(&txn)
        .await?
        .ok_or_else(bad_link)?;
    let verified = user.email_verified_at.unwrap_or(now);
    let mut user: users::ActiveModel = user.into();
    user.password_hash = Set(Some(hash));
    // The link reached the inbox, which proves the address.
    user.email_verified_at = Set(Some(verified));
    user.updated_at = Set(now);
    user.update(&txn).await?;
    // Every other reset link of the account dies with this one: whoever
    // else got one of those mails cannot set the password again.
    action_tokens::Entity::update_many()
        .col_expr(action_tokens::Column::UsedAt, Expr::value(Some(now)))
        .filter(action_tokens::Column::UserId.eq(user_id))
        .filter(action_tokens::Column::Purpose.eq(Purpose::PasswordReset))
        .filter(action_tokens::Column::UsedAt.is_null())
        .exec(&txn)
        .await?;
    revoke_all_of(&txn, user_id, now).await?;
    txn.commit().await?;
    state.callers.forget(user_id);
    Ok(())
}

/// Deletes links that were used or have expired (with `dry_run`, counts
/// them); either way they open nothing any more.
pub async fn purge_spent<C: ConnectionTrait>(
    conn: &C,
    now: chrono::DateTime<chrono::Utc>,
    dry_run: bool,
) -> Result<u64, sea_orm::DbErr> {
    use action_tokens::Column as C;
    db::purge::<action_tokens::Entity, _>(
        conn,
        sea_orm::Condition::any()
            .add(C::UsedAt.is_not_null())
            .add(C::ExpiresAt.lte(now)),
        dry_run,
    )
    .await
}
