//! The rules of accounts: making them (signup, walk-ins at the door, the
//! first admin) and a user's own profile. Sessions, email links,
//! invitations and the admin's user list have their own files. No HTTP types
//! here: routes parse, call, respond.

use chrono::TimeDelta;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use uuid::Uuid;

use super::{
    consent,
    email_links::{enqueue_verification, new_action_token},
    password,
    sessions::start_session,
    types::*,
};
use crate::{
    db,
    domain::{self, Email, Password, Phone},
    entities::{
        action_tokens::Purpose,
        employers,
        users::{self, Role},
    },
    http::{ApiError, FieldError, FieldErrors, error::is_unique_violation},
    notify::{self, templates},
    state::AppState,
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
pub(super) fn new_user(
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
        tokens_valid_after: Set(None),
        privacy_notice_version: Set(None),
        privacy_accepted_at: Set(None),
        contact_sharing_at: Set(None),
        anonymised_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

/// Inserts an account; a taken address is 409 `email_taken`, also when
/// another request took it a moment ago.
pub(super) async fn insert_user<C: ConnectionTrait>(
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

pub(super) fn email_taken() -> ApiError {
    ApiError::conflict("email_taken", "an account with this email already exists")
}

#[tracing::instrument(skip(state, input), fields(email = %input.email))]
pub async fn signup(
    state: &AppState,
    input: SignupRequest,
    ip: Option<String>,
) -> Result<AuthResponse, ApiError> {
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
    let notice = errors.take(consent::accepted_notice(
        input.privacy_notice_version.as_deref(),
        &state.settings.privacy.notice_version,
    ));
    errors.finish()?;
    let given = consent::Given {
        notice_version: notice.unwrap_or_default(),
        share_contacts: input.share_contacts.unwrap_or(false),
        ip,
    };
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

    let password_hash = password::hash(&state.hashing, password).await?;
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
    let now = db::now();
    consent::apply(&mut user, &given, now);
    let user = insert_user(&txn, user).await?;
    consent::record_given(&txn, user.id, &given, now).await?;
    enqueue_verification(&txn, state, &user).await?;
    let session = start_session(&txn, state, user, None).await?;
    txn.commit().await?;
    Ok(session)
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
    let now = db::now();
    consent::apply(&mut user, &profile.consent, now);
    let user = insert_user(conn, user).await?;
    consent::record_given(conn, user.id, &profile.consent, now).await?;
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
    /// What the student agreed to at the door.
    pub consent: consent::Given,
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
    if let Some(follow_ups) = input.follow_up_emails {
        crate::notify::unsubscribe::set_follow_ups(&state.db, user_id, follow_ups).await?;
    }
    user.updated_at = Set(db::now());
    let user = user.update(&state.db).await?;
    state.callers.forget(user_id);
    Ok(user)
}

/// The employer an account is to belong to, or 422 on `employer_id`.
pub(super) async fn check_employer<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<employers::Model, ApiError> {
    employers::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or_else(|| ApiError::field("employer_id", "unknown", "no employer has this id"))
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
    let hash = password::hash_ungated(password)
        .await
        .map_err(|e| e.to_string())?;
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
