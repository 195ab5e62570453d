//! Sessions: an access token with a rotating refresh token. Login starts a
//! rotation family, refresh moves it on, logout or a reused token ends it.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, sea_query::Expr,
};
use uuid::Uuid;

use super::{password, types::*};
use crate::{
    db,
    domain::Email,
    entities::{refresh_tokens, users},
    http::ApiError,
    state::AppState,
    tokens::{hash_token, random_token},
};

/// Issues an access token and a new refresh token. `family` continues a
/// rotation chain; `None` starts one (a login).
pub(super) async fn start_session<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    user: users::Model,
    family: Option<Uuid>,
) -> Result<AuthResponse, ApiError> {
    let refresh = random_token(32);
    let now = db::now();
    refresh_tokens::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user.id),
        family_id: Set(family.unwrap_or_else(Uuid::now_v7)),
        token_hash: Set(hash_token(&refresh)),
        expires_at: Set(now + TimeDelta::days(state.settings.auth.refresh_token_ttl_days)),
        used_at: Set(None),
        revoked_at: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(AuthResponse {
        access_token: state.jwt.issue(user.id, user.role),
        refresh_token: refresh,
        expires_in: state.jwt.ttl_secs(),
        token_type: "Bearer".into(),
        user: user.into(),
    })
}

#[tracing::instrument(skip(state, input))]
pub async fn login(state: &AppState, input: LoginRequest) -> Result<AuthResponse, ApiError> {
    let invalid = || ApiError::unauthorized("invalid_credentials", "wrong email or password");
    let email = Email::parse("email", &input.email).map_err(|_| invalid())?;
    let user = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&state.db)
        .await?;
    let stored = user.as_ref().and_then(|u| u.password_hash.clone());
    let checked = password::check(&state.hashing, input.password, stored.clone(), true).await?;
    if !checked.matches {
        return Err(invalid());
    }
    let user = user.ok_or_else(invalid)?;
    if user.disabled_at.is_some() {
        return Err(ApiError::unauthorized(
            "account_disabled",
            "this account is disabled",
        ));
    }
    if let (Some(new), Some(old)) = (checked.rehashed, stored) {
        // Unless the password changed meanwhile. The sign-in goes on if
        // this fails: the old hash still serves.
        let stored = users::Entity::update_many()
            .col_expr(users::Column::PasswordHash, Expr::value(Some(new)))
            .filter(users::Column::Id.eq(user.id))
            .filter(users::Column::PasswordHash.eq(old))
            .exec(&state.db)
            .await;
        if let Err(error) = stored {
            tracing::warn!(%error, "a password hash with old parameters was not replaced");
        }
    }
    start_session(&state.db, state, user, None).await
}

/// Revokes every live token of a rotation family.
async fn revoke_family<C: ConnectionTrait>(conn: &C, family_id: Uuid) -> Result<(), ApiError> {
    use refresh_tokens::Column as C;
    refresh_tokens::Entity::update_many()
        .col_expr(C::RevokedAt, Expr::value(Some(db::now())))
        .filter(C::FamilyId.eq(family_id))
        .filter(C::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Rotates a refresh token. A token presented twice means it leaked: the
/// whole family is revoked, so the thief's copy dies with the owner's.
#[tracing::instrument(skip_all)]
pub async fn refresh(state: &AppState, input: RefreshRequest) -> Result<AuthResponse, ApiError> {
    use refresh_tokens::Column as C;
    let invalid =
        || ApiError::unauthorized("invalid_refresh_token", "the refresh token is invalid");
    let row = refresh_tokens::Entity::find()
        .filter(C::TokenHash.eq(hash_token(input.refresh_token.trim())))
        .one(&state.db)
        .await?
        .ok_or_else(invalid)?;
    let reused = || {
        ApiError::unauthorized(
            "refresh_token_reused",
            "this refresh token was already used; every session it belongs to is now signed out",
        )
    };
    if row.revoked_at.is_some() {
        return Err(invalid());
    }
    if row.used_at.is_some() {
        revoke_family(&state.db, row.family_id).await?;
        return Err(reused());
    }
    let now = db::now();
    if row.expires_at <= now {
        return Err(ApiError::unauthorized(
            "refresh_token_expired",
            "the refresh token has expired",
        ));
    }
    let user = users::Entity::find_by_id(row.user_id)
        .one(&state.db)
        .await?
        .ok_or_else(invalid)?;
    if user.disabled_at.is_some() {
        return Err(ApiError::unauthorized(
            "account_disabled",
            "this account is disabled",
        ));
    }
    let txn = db::begin_write(&state.db).await?;
    let marked = refresh_tokens::Entity::update_many()
        .col_expr(C::UsedAt, Expr::value(Some(now)))
        .filter(C::Id.eq(row.id))
        .filter(C::UsedAt.is_null())
        .filter(C::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        // Another request used it a moment ago: the same token twice.
        txn.rollback().await?;
        revoke_family(&state.db, row.family_id).await?;
        return Err(reused());
    }
    let session = start_session(&txn, state, user, Some(row.family_id)).await?;
    txn.commit().await?;
    Ok(session)
}

/// Ends the session the refresh token belongs to. Unknown tokens are fine:
/// logging out twice is not an error.
pub async fn logout(state: &AppState, input: RefreshRequest) -> Result<(), ApiError> {
    let row = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::TokenHash.eq(hash_token(input.refresh_token.trim())))
        .one(&state.db)
        .await?;
    if let Some(row) = row {
        revoke_family(&state.db, row.family_id).await?;
    }
    Ok(())
}

/// Signs a user out everywhere: every live refresh token of every family,
/// and every access token issued before this second (the auth extractor
/// compares `iat`, which is whole seconds; cutting `at` down to the second
/// keeps a token issued right after this, in the same second, good).
pub(super) async fn revoke_all_of<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    at: DateTime<Utc>,
) -> Result<(), ApiError> {
    let cutoff = at.duration_trunc(TimeDelta::seconds(1)).unwrap_or(at);
    users::Entity::update_many()
        .col_expr(users::Column::TokensValidAfter, Expr::value(Some(cutoff)))
        .filter(users::Column::Id.eq(user_id))
        .exec(conn)
        .await?;
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(Some(at)))
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

/// Deletes refresh tokens past their expiry (with `dry_run`, counts them),
/// except each user's newest: when a person last signed in is what
/// retention reads as their latest activity. Until it expires, a used or
/// revoked token stays, so that presenting it again is seen as a reuse.
pub async fn purge_spent<C: ConnectionTrait>(
    conn: &C,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<u64, sea_orm::DbErr> {
    use refresh_tokens::Column as C;
    use sea_orm::{
        Condition,
        sea_query::{Alias, ExprTrait, Query},
    };
    let newer = Alias::new("newer");
    let a_newer_one = Query::select()
        .expr(Expr::val(1))
        .from_as(refresh_tokens::Entity, newer.clone())
        .and_where(
            Expr::col((newer.clone(), C::UserId)).equals((refresh_tokens::Entity, C::UserId)),
        )
        .and_where(
            Expr::col((newer, C::CreatedAt)).gt(Expr::col((refresh_tokens::Entity, C::CreatedAt))),
        )
        .to_owned();
    db::purge::<refresh_tokens::Entity, _>(
        conn,
        Condition::all()
            .add(C::ExpiresAt.lte(now))
            .add(Expr::exists(a_newer_one)),
        dry_run,
    )
    .await
}
