//! Erasing a student's identity (个人信息保护法 第四十七条), by the student
//! (`DELETE /me`) or by retention. What names, reaches or describes the
//! person goes; what the campaign's figures count stays: the account row
//! keeps its id, role, university, degree and graduation year, and its
//! registrations, check-ins and intents stay as anonymous rows, so every
//! report gives the same totals before and after.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, UpdateMany,
    sea_query::{Expr, Query},
};
use uuid::Uuid;

use super::types::DeleteMeRequest;
use crate::{
    accounts::{password, service::new_referral_code},
    db,
    entities::{
        action_tokens, consents, intent_history, intents,
        notifications::{self, NotificationStatus},
        refresh_tokens,
        users::{self, Role},
    },
    http::{ApiError, Caller},
    state::AppState,
};

/// The name an erased account shows wherever a name is listed.
pub const ERASED_NAME: &str = "已注销用户";

/// A unique address that cannot receive mail (`.invalid` is reserved, RFC
/// 2606), since `users.email` is unique and not null.
pub fn placeholder_email(id: Uuid) -> String {
    format!("erased-{}@erased.invalid", id.simple())
}

/// Whether the caller may erase their own account: students may. Staff
/// accounts are closed by an admin (disabled), not erased by their owner:
/// their names stand in other people's records (who admitted a student, who
/// changed an intent). Checked before the body is read, like a role.
pub fn may_erase_self(caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Candidate {
        return Ok(());
    }
    Err(ApiError::Denied {
        code: "staff_cannot_self_erase",
        detail: "only student accounts are erased by their owner; an admin disables staff accounts"
            .into(),
    })
}

/// `DELETE /me`: a student erases their own identity, confirming with their
/// password. An account that never set a password (a walk-in) sets one
/// through the password reset email first: an access token alone is not
/// enough to erase someone.
#[tracing::instrument(skip(state, caller, input), fields(user = %caller.id))]
pub async fn delete_me(
    state: &AppState,
    caller: &Caller,
    input: DeleteMeRequest,
) -> Result<(), ApiError> {
    may_erase_self(caller)?;
    if input.password.is_empty() {
        return Err(ApiError::field(
            "password",
            "required",
            "confirm with your password",
        ));
    }
    let user = users::Entity::find_by_id(caller.id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "the account no longer exists"))?;
    if user.password_hash.is_none() {
        return Err(ApiError::conflict(
            "password_required",
            "this account has no password: set one with the password reset email, then confirm with it",
        ));
    }
    if !password::verify(&state.hashing, input.password, user.password_hash.clone()).await? {
        return Err(ApiError::rule("wrong_password", "the password is wrong"));
    }
    let txn = db::begin_write(&state.db).await?;
    erase(&txn, &user, db::now()).await?;
    txn.commit().await?;
    state.callers.forget(user.id);
    Ok(())
}

/// Erases `user`'s identity; `false` when it was erased already (by a
/// concurrent request or retention run), in which case nothing changes.
/// Run it in a transaction: it is several statements.
pub async fn erase<C: ConnectionTrait>(
    conn: &C,
    user: &users::Model,
    now: DateTime<Utc>,
) -> Result<bool, DbErr> {
    use users::Column as U;
    let placeholder = placeholder_email(user.id);
    let changed = users::Entity::update_many()
        .col_expr(U::FullName, Expr::value(ERASED_NAME))
        .col_expr(U::Email, Expr::value(placeholder.clone()))
        .col_expr(U::Phone, Expr::value(Option::<String>::None))
        .col_expr(U::PasswordHash, Expr::value(Option::<String>::None))
        // With university, degree and year, a major narrows a person down;
        // no report groups by it.
        .col_expr(U::Major, Expr::value(Option::<String>::None))
        // The old code was shared in messages that name the person; new
        // signups with it no longer count for an erased account.
        .col_expr(U::ReferralCode, Expr::value(new_referral_code()))
        .col_expr(
            U::EmailVerifiedAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            U::ContactSharingAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(U::DisabledAt, Expr::value(Some(now)))
        .col_expr(U::TokensValidAfter, Expr::value(Some(now)))
        .col_expr(U::AnonymisedAt, Expr::value(Some(now)))
        .col_expr(U::UpdatedAt, Expr::value(now))
        .filter(U::Id.eq(user.id))
        .filter(U::AnonymisedAt.is_null())
        .exec(conn)
        .await?;
    if changed.rows_affected == 0 {
        return Ok(false);
    }
    refresh_tokens::Entity::delete_many()
        .filter(refresh_tokens::Column::UserId.eq(user.id))
        .exec(conn)
        .await?;
    action_tokens::Entity::delete_many()
        .filter(action_tokens::Column::UserId.eq(user.id))
        .exec(conn)
        .await?;
    forget_mail(conn, &user.email, &placeholder).await?;
    // Notes staff wrote about the person may name or describe them.
    let own_intents = Query::select()
        .column(intents::Column::Id)
        .from(intents::Entity)
        .and_where(intents::Column::CandidateId.eq(user.id))
        .to_owned();
    intent_history::Entity::update_many()
        .col_expr(intent_history::Column::Note, Expr::value(""))
        .filter(intent_history::Column::IntentId.in_subquery(own_intents))
        .exec(conn)
        .await?;
    intents::Entity::update_many()
        .col_expr(intents::Column::Note, Expr::value(""))
        .filter(intents::Column::CandidateId.eq(user.id))
        .exec(conn)
        .await?;
    // The consents stay as the record of what was agreed; the address goes.
    consents::Entity::update_many()
        .col_expr(consents::Column::Ip, Expr::value(Option::<String>::None))
        .filter(consents::Column::UserId.eq(user.id))
        .exec(conn)
        .await?;
    Ok(true)
}

/// Mail not sent yet is dropped; a sent email keeps its row (kind, subject,
/// times) under the placeholder address, without text or attachments.
async fn forget_mail<C: ConnectionTrait>(
    conn: &C,
    email: &str,
    placeholder: &str,
) -> Result<(), DbErr> {
    use notifications::Column as N;
    notifications::Entity::delete_many()
        .filter(N::ToEmail.eq(email))
        .filter(N::Status.ne(NotificationStatus::Sent))
        .exec(conn)
        .await?;
    strip_bodies(notifications::Entity::update_many())
        .col_expr(N::ToEmail, Expr::value(placeholder))
        .col_expr(N::LastError, Expr::value(Option::<String>::None))
        .filter(N::ToEmail.eq(email))
        .exec(conn)
        .await?;
    Ok(())
}

/// An update that deletes emails' text, attachments and unsubscribe link,
/// keeping the rows.
pub(super) fn strip_bodies(
    update: UpdateMany<notifications::Entity>,
) -> UpdateMany<notifications::Entity> {
    use notifications::Column as N;
    update
        .col_expr(N::TextBody, Expr::value(""))
        .col_expr(N::HtmlBody, Expr::value(""))
        .col_expr(
            N::Attachments,
            Expr::value(Option::<serde_json::Value>::None),
        )
        .col_expr(N::ListUnsubscribe, Expr::value(Option::<String>::None))
}
