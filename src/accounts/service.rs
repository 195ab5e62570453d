//! The rules of accounts. No HTTP types here: routes parse, call, respond.

use chrono::TimeDelta;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use uuid::Uuid;

use super::{password, types::*};
use crate::{
    db,
    domain::{self, Email, Password, Phone},
    entities::{
        action_tokens::{self, Purpose},
        employers, invitations, refresh_tokens,
        users::{self, Role},
    },
    http::{
        ApiError, FieldError, FieldErrors, Page, error::is_unique_violation,
        pagination::PageRequest,
    },
    notify::{self, templates},
    state::AppState,
    tokens::{hash_token, random_token},
};

const REFERRAL_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// An 8-character referral code (40 bits), free of look-alike characters.
pub fn new_referral_code() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    bytes
        .iter()
        .map(|b| REFERRAL_ALPHABET[(*b as usize) % REFERRAL_ALPHABET.len()] as char)
        .collect()
}

/// A new account with the fields every role has; callers set the rest.
fn new_user(
    email: String,
    password_hash: Option<String>,
    full_name: String,
    role: Role,
) -> users::ActiveModel {
    let now = db::now();
    users::ActiveModel {
        id: Set(Uuid::now_v7()),
        email: Set(email),
        password_hash: Set(password_hash),
        full_name: Set(full_name),
        phone: Set(None),
        university: Set(None),
        major: Set(None),
        degree: Set(None),
        graduation_year: Set(None),
        role: Set(role),
        employer_id: Set(None),
        referral_code: Set(new_referral_code()),
        referred_by: Set(None),
        email_verified_at: Set(None),
        disabled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Inserts an account; a taken address is 409 `email_taken`, also when
/// another request took it a moment ago.
async fn insert_user<C: ConnectionTrait>(
    conn: &C,
    user: users::ActiveModel,
) -> Result<users::Model, ApiError> {
    user.insert(conn).await.map_err(|e| {
        if is_unique_violation(&e) {
            email_taken()
        } else {
            e.into()
        }
    })
}

fn bad_link() -> ApiError {
    ApiError::rule("invalid_token", "the link is invalid, used or expired")
}

fn email_taken() -> ApiError {
    ApiError::conflict("email_taken", "an account with this email already exists")
}

/// Issues an access token and a new refresh token. `family` continues a
/// rotation chain; `None` starts one (a login).
async fn start_session<C: ConnectionTrait>(
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

/// Writes a single-use email token and returns the raw token for the link.
async fn new_action_token<C: ConnectionTrait>(
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

/// Marks a single-use token used, exactly once, and gives its user.
async fn redeem_action_token<C: ConnectionTrait>(
    conn: &C,
    token: &str,
    purpose: Purpose,
) -> Result<Uuid, ApiError> {
    use action_tokens::Column as C;
    let now = db::now();
    let row = action_tokens::Entity::find()
        .filter(C::TokenHash.eq(hash_token(token.trim())))
        .filter(C::Purpose.eq(purpose))
        .one(conn)
        .await?
        .ok_or_else(bad_link)?;
    if row.used_at.is_some() || row.expires_at <= now {
        return Err(bad_link());
    }
    let updated = action_tokens::Entity::update_many()
        .col_expr(C::UsedAt, Expr::value(Some(now)))
        .filter(C::Id.eq(row.id))
        .filter(C::UsedAt.is_null())
        .exec(conn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(bad_link());
    }
    Ok(row.user_id)
}

async fn enqueue_verification<C: ConnectionTrait>(
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

#[tracing::instrument(skip(state, input), fields(email = %input.email))]
pub async fn signup(state: &AppState, input: SignupRequest) -> Result<AuthResponse, ApiError> {
    let mut errors = FieldErrors::new();
    let email = errors.take(Email::parse("email", &input.email));
    let password = errors.take(Password::parse("password", &input.password));
    let full_name = errors.take(domain::text("full_name", &input.full_name, 100));
    let phone = errors.take(
        input
            .phone
            .as_deref()
            .filter(|p| !p.trim().is_empty())
            .map(|p| Phone::parse("phone", p).map(Phone::into_inner))
            .transpose(),
    );
    let university = errors.take(domain::text("university", &input.university, 100));
    let major = errors.take(domain::text("major", &input.major, 100));
    let graduation_year = errors.take(domain::graduation_year(
        "graduation_year",
        input.graduation_year,
    ));
    let referral = errors.take(domain::optional_text(
        "referral_code",
        input.referral_code.as_deref(),
        16,
    ));
    errors.finish()?;
    let (
        Some(email),
        Some(password),
        Some(full_name),
        Some(phone),
        Some(university),
        Some(major),
        Some(graduation_year),
        Some(referral),
    ) = (
        email,
        password,
        full_name,
        phone,
        university,
        major,
        graduation_year,
        referral,
    )
    else {
        unreachable!("FieldErrors::finish returned early on every missing value")
    };

    let password_hash = password::hash(password).await?;
    let txn = db::begin_write(&state.db).await?;
    let referred_by = match referral {
        None => None,
        Some(code) => Some(
            users::Entity::find()
                .filter(users::Column::ReferralCode.eq(code.to_uppercase()))
                .one(&txn)
                .await?
                .ok_or_else(|| {
                    ApiError::field("referral_code", "unknown", "no user has this referral code")
                })?
                .id,
        ),
    };
    let mut user = new_user(
        email.into_inner(),
        Some(password_hash),
        full_name,
        Role::Candidate,
    );
    user.phone = Set(phone);
    user.university = Set(Some(university));
    user.major = Set(Some(major));
    user.degree = Set(Some(input.degree));
    user.graduation_year = Set(Some(graduation_year));
    user.referred_by = Set(referred_by);
    let user = insert_user(&txn, user).await?;
    enqueue_verification(&txn, state, &user).await?;
    let session = start_session(&txn, state, user, None).await?;
    txn.commit().await?;
    Ok(session)
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
    if !password::verify(input.password, stored).await? {
        return Err(invalid());
    }
    let user = user.ok_or_else(invalid)?;
    if user.disabled_at.is_some() {
        return Err(ApiError::unauthorized(
            "account_disabled",
            "this account is disabled",
        ));
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

pub async fn verify_email(state: &AppState, input: TokenRequest) -> Result<(), ApiError> {
    let txn = db::begin_write(&state.db).await?;
    let user_id = redeem_action_token(&txn, &input.token, Purpose::VerifyEmail).await?;
    users::Entity::update_many()
        .col_expr(users::Column::EmailVerifiedAt, Expr::value(Some(db::now())))
        .filter(users::Column::Id.eq(user_id))
        .filter(users::Column::EmailVerifiedAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
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

/// A student met at the door: an account with the profile given there and
/// no password, plus an email with a link to set one (the password-reset
/// link, valid as long as an invitation). Runs in the caller's transaction.
pub async fn create_walk_in_candidate<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    profile: WalkInProfile,
) -> Result<users::Model, ApiError> {
    let mut user = new_user(profile.email, None, profile.full_name, Role::Candidate);
    user.phone = Set(profile.phone);
    user.university = Set(Some(profile.university));
    user.major = Set(Some(profile.major));
    user.degree = Set(Some(profile.degree));
    user.graduation_year = Set(Some(profile.graduation_year));
    let user = insert_user(conn, user).await?;
    let days = state.settings.auth.invitation_ttl_days;
    let token =
        new_action_token(conn, user.id, Purpose::PasswordReset, TimeDelta::days(days)).await?;
    let link = state.settings.link("/reset-password", &token);
    notify::enqueue(
        conn,
        &user.email,
        templates::walk_in_welcome(&user.full_name, &link, days),
        vec![],
    )
    .await?;
    Ok(user)
}

/// What a walk-in student tells the recruiter at the door, already checked.
pub struct WalkInProfile {
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub university: String,
    pub major: String,
    pub degree: crate::entities::users::Degree,
    pub graduation_year: i32,
}

/// Sets a new password from a reset link and signs out every session.
pub async fn confirm_password_reset(
    state: &AppState,
    input: PasswordResetConfirm,
) -> Result<(), ApiError> {
    let password = Password::parse("new_password", &input.new_password)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let hash = password::hash(password).await?;
    let txn = db::begin_write(&state.db).await?;
    let user_id = redeem_action_token(&txn, &input.token, Purpose::PasswordReset).await?;
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
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(Some(now)))
        .filter(refresh_tokens::Column::UserId.eq(user_id))
        .filter(refresh_tokens::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(())
}

pub async fn find_user(db_conn: &DatabaseConnection, id: Uuid) -> Result<users::Model, ApiError> {
    users::Entity::find_by_id(id)
        .one(db_conn)
        .await?
        .ok_or(ApiError::NotFound("user"))
}

pub async fn update_me(
    state: &AppState,
    user_id: Uuid,
    input: UpdateMeRequest,
) -> Result<users::Model, ApiError> {
    let mut errors = FieldErrors::new();
    let mut user: users::ActiveModel = find_user(&state.db, user_id).await?.into();
    if let Some(v) = input.full_name.as_deref()
        && let Some(v) = errors.take(domain::text("full_name", v, 100))
    {
        user.full_name = Set(v);
    }
    if let Some(v) = input.phone.as_deref() {
        if v.trim().is_empty() {
            user.phone = Set(None);
        } else if let Some(p) = errors.take(Phone::parse("phone", v)) {
            user.phone = Set(Some(p.into_inner()));
        }
    }
    if let Some(v) = input.university.as_deref()
        && let Some(v) = errors.take(domain::text("university", v, 100))
    {
        user.university = Set(Some(v));
    }
    if let Some(v) = input.major.as_deref()
        && let Some(v) = errors.take(domain::text("major", v, 100))
    {
        user.major = Set(Some(v));
    }
    if let Some(v) = input.degree {
        user.degree = Set(Some(v));
    }
    if let Some(v) = input.graduation_year
        && let Some(v) = errors.take(domain::graduation_year("graduation_year", v))
    {
        user.graduation_year = Set(Some(v));
    }
    errors.finish()?;
    user.updated_at = Set(db::now());
    Ok(user.update(&state.db).await?)
}

async fn check_employer<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<employers::Model, ApiError> {
    employers::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::field("employer_id", "unknown", "no employer has this id"))
}

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
    let hash = password::hash(password).await?;
    let txn = db::begin_write(&state.db).await?;
    use invitations::Column as C;
    let invitation = invitations::Entity::find()
        .filter(C::TokenHash.eq(hash_token(input.token.trim())))
        .one(&txn)
        .await?
        .ok_or_else(bad_link)?;
    let now = db::now();
    if invitation.accepted_at.is_some() || invitation.expires_at <= now {
        return Err(bad_link());
    }
    let marked = invitations::Entity::update_many()
        .col_expr(C::AcceptedAt, Expr::value(Some(now)))
        .filter(C::Id.eq(invitation.id))
        .filter(C::AcceptedAt.is_null())
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
        refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::RevokedAt, Expr::value(Some(now)))
            .filter(refresh_tokens::Column::UserId.eq(id))
            .filter(refresh_tokens::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(user)
}

/// What `create-admin` did.
#[derive(Debug, PartialEq, Eq)]
pub enum AdminOutcome {
    Created(Uuid),
    AlreadyExists { id: Uuid, role: Role },
}

/// Creates an admin account unless the address is taken (scripts may run
/// this on every deploy).
pub async fn ensure_admin(
    db_conn: &DatabaseConnection,
    email: &str,
    password: &str,
) -> Result<AdminOutcome, String> {
    let email =
        Email::parse("email", email).map_err(|e: FieldError| format!("--email {}", e.message))?;
    let password =
        Password::parse("password", password).map_err(|e| format!("--password {}", e.message))?;
    if let Some(user) = users::Entity::find()
        .filter(users::Column::Email.eq(email.as_str()))
        .one(db_conn)
        .await
        .map_err(|e| e.to_string())?
    {
        return Ok(AdminOutcome::AlreadyExists {
            id: user.id,
            role: user.role,
        });
    }
    let hash = password::hash(password).await.map_err(|e| e.to_string())?;
    let mut user = new_user(
        email.as_str().to_owned(),
        Some(hash),
        "Administrator".into(),
        Role::Admin,
    );
    user.email_verified_at = Set(Some(db::now()));
    let user = user.insert(db_conn).await.map_err(|e| e.to_string())?;
    Ok(AdminOutcome::Created(user.id))
}
