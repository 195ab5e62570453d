//! Invitations: an admin invites a recruiter (for an employer) or an
//! organiser by email; accepting the link makes the account and signs in.

use chrono::TimeDelta;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};
use uuid::Uuid;

use super::{
    email_links::bad_link,
    password,
    service::{check_employer, email_taken, insert_user, new_user},
    sessions::start_session,
    types::*,
};
use crate::{
    db,
    domain::{self, Email, Password},
    entities::{invitations, users},
    http::{ApiError, FieldErrors},
    notify::{self, templates},
    state::AppState,
    tokens::{hash_token, random_token},
};

/// Invites a recruiter or an organiser; an address with an account is 409
/// `email_taken`.
#[tracing::instrument(skip(state, input), fields(inviter = %inviter))]
pub async fn invite(
    state: &AppState,
    inviter: Uuid,
    input: InvitationRequest,
) -> Result<InvitationView, ApiError> {
    let email = Email::parse("email", &input.email).map_err(|e| ApiError::Validation(vec![e]))?;
    let txn = db::begin_write(&state.db).await?;
    let employer = match (input.role, input.employer_id) {
        (InviteRole::Recruiter, None) => {
            return Err(ApiError::field(
                "employer_id",
                "required",
                "a recruiter belongs to an employer",
            ));
        }
        (InviteRole::Recruiter, Some(id)) => Some(check_employer(&txn, id).await?),
        (InviteRole::Organiser, Some(_)) => {
            return Err(ApiError::field(
                "employer_id",
                "not_allowed",
                "organisers belong to no employer",
            ));
        }
        (InviteRole::Organiser, None) => None,
    };
    let exists = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(&txn)
        .await?
        .is_some();
    if exists {
        return Err(email_taken());
    }
    let token = random_token(32);
    let now = db::now();
    let days = state.settings.auth.invitation_ttl_days;
    let invitation = invitations::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email.into_inner()),
        role: Set(input.role.into()),
        employer_id: Set(employer.as_ref().map(|e| e.id)),
        invited_by: Set(inviter),
        token_hash: Set(hash_token(&token)),
        expires_at: Set(now + TimeDelta::days(days)),
        accepted_at: Set(None),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    let (zh, en) = match input.role {
        InviteRole::Recruiter => ("招聘专员", "a recruiter"),
        InviteRole::Organiser => ("活动组织者", "an organiser"),
    };
    let link = state.settings.link("/accept-invitation", &token);
    let mail = templates::invitation(
        zh,
        en,
        employer.as_ref().map(|e| e.name.as_str()),
        &link,
        days,
    );
    notify::enqueue(&txn, &invitation.email, mail, vec![]).await?;
    txn.commit().await?;
    Ok(InvitationView {
        id: invitation.id,
        email: invitation.email,
        role: invitation.role,
        employer_id: invitation.employer_id,
        expires_at: invitation.expires_at,
        created_at: invitation.created_at,
    })
}

/// Makes the invited account from an invitation link, once, and signs in.
pub async fn accept_invitation(
    state: &AppState,
    input: AcceptInvitationRequest,
) -> Result<AuthResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let password = errors.take(Password::parse("password", &input.password));
    let full_name = errors.take(domain::text("full_name", &input.full_name, 100));
    errors.finish()?;
    let (Some(password), Some(full_name)) = (password, full_name) else {
        unreachable!("FieldErrors::finish returned early on every missing value")
    };
    use invitations::Column as C;
    // The invitation first: a made-up token must not cost a password hash.
    let invitation = invitations::Entity::find()
        .filter(C::TokenHash.eq(hash_token(input.token.trim())))
        .one(&state.db)
        .await?
        .ok_or_else(bad_link)?;
    if invitation.accepted_at.is_some() || invitation.expires_at <= db::now() {
        return Err(bad_link());
    }
    let hash = password::hash(&state.hashing, password).await?;
    let txn = db::begin_write(&state.db).await?;
    let now = db::now();
    let marked = invitations::Entity::update_many()
        .col_expr(C::AcceptedAt, Expr::value(Some(now)))
        .filter(C::Id.eq(invitation.id))
        .filter(C::AcceptedAt.is_null())
        .filter(C::ExpiresAt.gt(now))
        .exec(&txn)
        .await?;
    if marked.rows_affected != 1 {
        return Err(bad_link());
    }
    let mut user = new_user(invitation.email, Some(hash), full_name, invitation.role);
    user.employer_id = Set(invitation.employer_id);
    // The invitation reached the inbox, which proves the address.
    user.email_verified_at = Set(Some(now));
    let user = insert_user(&txn, user).await?;
    let session = start_session(&txn, state, user, None).await?;
    txn.commit().await?;
    Ok(session)
}

/// Deletes invitations that expired unaccepted (with `dry_run`, counts
/// them): they hold an address that never became an account. Accepted
/// ones stay as the record of who invited whom.
pub async fn purge_expired<C: sea_orm::ConnectionTrait>(
    conn: &C,
    now: chrono::DateTime<chrono::Utc>,
    dry_run: bool,
) -> Result<u64, sea_orm::DbErr> {
    use invitations::Column as C;
    db::purge::<invitations::Entity, _>(
        conn,
        sea_orm::Condition::all()
            .add(C::AcceptedAt.is_null())
            .add(C::ExpiresAt.lte(now)),
        dry_run,
    )
    .await
}
