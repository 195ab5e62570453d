//! HTTP for accounts: extract, call the service, respond.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use uuid::Uuid;

use super::{admin, email_links, invitations, service, sessions, types::*};
use crate::{
    http::{
        Admin, ApiError, Caller, Json, Organiser, Page, PageQuery,
        audit::Trail,
        error::Problem,
        idempotency::{self, IdempotencyKey},
        ratelimit::client_ip,
    },
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/auth/signup", web::post().to(signup))
        .route("/auth/login", web::post().to(login))
        .route("/auth/refresh", web::post().to(refresh))
        .route("/auth/logout", web::post().to(logout))
        .route("/auth/verify-email", web::post().to(verify_email))
        .route("/auth/password-reset", web::post().to(password_reset))
        .route(
            "/auth/password-reset/confirm",
            web::post().to(password_reset_confirm),
        )
        .route("/auth/accept-invitation", web::post().to(accept_invitation))
        .route("/me", web::get().to(me))
        .route("/me", web::patch().to(update_me))
        .route("/users/invitations", web::post().to(invite))
        .route("/users", web::get().to(list_users))
        .route("/users/{id}", web::patch().to(update_user));
}

/// Takes a token from the client's budget for `group`. Handlers call it
/// once the body has been read: a body that cannot be read or parsed is
/// refused without spending a token or a database round trip.
async fn limit(state: &AppState, req: &HttpRequest, group: &'static str) -> Result<(), ApiError> {
    state
        .limiter
        .check(group, client_ip(req, &state.settings.http))
        .await
}

/// Create a candidate account and send a verification email. A second
/// signup with the same address is 409 `email_taken`, which makes retries safe.
#[utoipa::path(post, path = "/api/v1/auth/signup", tag = "accounts", request_body = SignupRequest,
    responses((status = 201, body = AuthResponse), (status = 409, body = Problem, description = "email_taken"),
        (status = 422, body = Problem), (status = 429, body = Problem),
        (status = 503, body = Problem, description = "busy")))]
pub async fn signup(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    limit(&state, &req, "signup").await?;
    let ip = client_ip(&req, &state.settings.http).to_string();
    let session = service::signup(&state, body, Some(ip)).await?;
    Ok(HttpResponse::Created().json(session))
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = AuthResponse), (status = 401, body = Problem, description = "invalid_credentials, account_disabled"),
        (status = 429, body = Problem),
        (status = 503, body = Problem, description = "busy")))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<LoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    limit(&state, &req, "login").await?;
    let session = sessions::login(&state, body).await?;
    Ok(HttpResponse::Ok().json(session))
}

/// Exchange a refresh token for a new pair. Each refresh token works once.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "accounts", request_body = RefreshRequest,
    responses((status = 200, body = AuthResponse),
        (status = 401, body = Problem, description = "invalid_refresh_token, refresh_token_reused, refresh_token_expired"),
        (status = 429, body = Problem)))]
pub async fn refresh(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    limit(&state, &req, "refresh").await?;
    let session = sessions::refresh(&state, body).await?;
    Ok(HttpResponse::Ok().json(session))
}

/// End the session of a refresh token.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "accounts", request_body = RefreshRequest,
    responses((status = 204), (status = 429, body = Problem)))]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    limit(&state, &req, "logout").await?;
    sessions::logout(&state, body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Confirm an email address with the token from the verification email.
#[utoipa::path(post, path = "/api/v1/auth/verify-email", tag = "accounts", request_body = TokenRequest,
    responses((status = 204), (status = 422, body = Problem, description = "invalid_token"),
        (status = 429, body = Problem)))]
pub async fn verify_email(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<TokenRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    limit(&state, &req, "verify_email").await?;
    email_links::verify_email(&state, body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ask for a password reset link. 202 whether or not the address exists.
#[utoipa::path(post, path = "/api/v1/auth/password-reset", tag = "accounts", request_body = PasswordResetRequest,
    responses((status = 202), (status = 422, body = Problem), (status = 429, body = Problem)))]
pub async fn password_reset(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<PasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    limit(&state, &req, "password_reset").await?;
    email_links::request_password_reset(&state, body).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Set a new password with the token from the reset email.
#[utoipa::path(post, path = "/api/v1/auth/password-reset/confirm", tag = "accounts", request_body = PasswordResetConfirm,
    responses((status = 204), (status = 422, body = Problem, description = "invalid_token or a weak password"),
        (status = 429, body = Problem),
        (status = 503, body = Problem, description = "busy")))]
pub async fn password_reset_confirm(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<PasswordResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    limit(&state, &req, "password_reset_confirm").await?;
    email_links::confirm_password_reset(&state, body).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Create a recruiter or organiser account from an invitation.
#[utoipa::path(post, path = "/api/v1/auth/accept-invitation", tag = "accounts", request_body = AcceptInvitationRequest,
    responses((status = 201, body = AuthResponse), (status = 409, body = Problem, description = "email_taken"),
        (status = 422, body = Problem, description = "invalid_token or invalid fields"),
        (status = 429, body = Problem),
        (status = 503, body = Problem, description = "busy")))]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: Json<AcceptInvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    limit(&state, &req, "accept_invitation").await?;
    let session = invitations::accept_invitation(&state, body).await?;
    Ok(HttpResponse::Created().json(session))
}

/// The caller's own account.
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = UserView), (status = 401, body = Problem)))]
pub async fn me(state: web::Data<AppState>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let user = service::find_user(&state.db, caller.id).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Change the caller's profile.
#[utoipa::path(patch, path = "/api/v1/me", tag = "accounts", security(("bearer" = [])), request_body = UpdateMeRequest,
    responses((status = 200, body = UserView), (status = 401, body = Problem), (status = 422, body = Problem)))]
pub async fn update_me(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<UpdateMeRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = service::update_me(&state, caller.id, body.into_inner()?).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}

/// Invite a recruiter (bound to an employer) or an organiser by email.
#[utoipa::path(post, path = "/api/v1/users/invitations", tag = "accounts", security(("bearer" = [])),
    request_body = InvitationRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    responses((status = 201, body = InvitationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "email_taken"), (status = 422, body = Problem)))]
pub async fn invite(
    state: web::Data<AppState>,
    Organiser(caller): Organiser,
    key: IdempotencyKey,
    body: Json<InvitationRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner()?;
    let scope = format!("invite:{}", caller.id);
    idempotency::once(&state.db, key, scope, input, |input| async {
        let invitation = invitations::invite(&state, caller.id, input).await?;
        Ok((StatusCode::CREATED, invitation))
    })
    .await
}

/// Every account, newest first (admins).
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts", security(("bearer" = [])), params(UsersQuery),
    responses((status = 200, body = Page<UserView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_users(
    state: web::Data<AppState>,
    trail: Trail,
    Admin(admin): Admin,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let users = admin::list_users(&state.db, query.role, page).await?;
    let people: Vec<Uuid> = users.items.iter().map(|u| u.id).collect();
    trail.read(&admin, &people).await?;
    Ok(HttpResponse::Ok().json(users))
}

/// Change a user's role or disable the account (admins).
#[utoipa::path(patch, path = "/api/v1/users/{id}", tag = "accounts", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateUserRequest,
    responses((status = 200, body = UserView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "cannot_change_self; account_erased: the account's identity was erased"),
        (status = 422, body = Problem)))]
pub async fn update_user(
    state: web::Data<AppState>,
    Admin(admin): Admin,
    id: web::Path<Uuid>,
    body: Json<UpdateUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let user = admin::update_user(&state, admin.id, id.into_inner(), body.into_inner()?).await?;
    Ok(HttpResponse::Ok().json(UserView::from(user)))
}
