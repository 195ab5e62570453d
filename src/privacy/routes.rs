//! HTTP for privacy: extract, call the service, respond.

use actix_web::{HttpRequest, HttpResponse, http::header, web};

use super::{access, consents, erase, export, types::*};
use crate::{
    http::{Admin, ApiError, Caller, Json, Page, PageQuery, error::Problem, ratelimit::client_ip},
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/privacy/notice", web::get().to(notice))
        .route("/me/consents", web::get().to(my_consents))
        .route("/me/consents", web::patch().to(update_my_consents))
        .route("/me/access-log", web::get().to(my_access_log))
        .route("/me/export", web::get().to(export_my_data))
        .route("/me", web::delete().to(delete_me))
        .route("/audit", web::get().to(audit_log));
}

/// The privacy notice in force: its version (to send at signup) and where to read it.
#[utoipa::path(get, path = "/api/v1/privacy/notice", tag = "privacy",
    responses((status = 200, body = NoticeView)))]
pub async fn notice(state: web::Data<AppState>) -> HttpResponse {
    let privacy = &state.settings.privacy;
    HttpResponse::Ok().json(NoticeView {
        version: privacy.notice_version.clone(),
        url: privacy.notice_url.clone(),
    })
}

/// What the caller has agreed to, with its history.
#[utoipa::path(get, path = "/api/v1/me/consents", tag = "privacy", security(("bearer" = [])),
    responses((status = 200, body = ConsentsView), (status = 401, body = Problem)))]
pub async fn my_consents(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(consents::current(&state, caller.id).await?))
}

/// Accept the notice in force, or grant or withdraw sharing email and phone
/// with employers. A withdrawal holds from the next request on.
#[utoipa::path(patch, path = "/api/v1/me/consents", tag = "privacy", security(("bearer" = [])),
    request_body = UpdateConsentsRequest,
    responses((status = 200, body = ConsentsView), (status = 401, body = Problem),
        (status = 422, body = Problem, description = "outdated_privacy_notice")))]
pub async fn update_my_consents(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: Json<UpdateConsentsRequest>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner()?;
    let ip = client_ip(&req, &state.settings.http).to_string();
    let view = consents::update(&state, caller.id, body, ip).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Who else read or exported the caller's personal data, newest first.
#[utoipa::path(get, path = "/api/v1/me/access-log", tag = "privacy", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<AccessEntry>), (status = 400, body = Problem),
        (status = 401, body = Problem)))]
pub async fn my_access_log(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page.parse()?;
    Ok(HttpResponse::Ok().json(access::access_log(&state.db, caller.id, page).await?))
}

/// The audit log (admins): every write, and every read or export of someone
/// else's personal data, newest first. Append-only: nothing changes it.
#[utoipa::path(get, path = "/api/v1/audit", tag = "privacy", security(("bearer" = [])),
    params(AuditQuery),
    responses((status = 200, body = Page<AuditEntry>), (status = 400, body = Problem),
        (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn audit_log(
    state: web::Data<AppState>,
    _admin: Admin,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    Ok(HttpResponse::Ok().json(access::list(&state.db, &query, page).await?))
}

/// Everything the platform holds about the caller, as one JSON document:
/// profile, consents, registrations, check-ins, intents with their history,
/// and the emails sent to them. It names nobody else, except staff who
/// changed an intent, by name only.
#[utoipa::path(get, path = "/api/v1/me/export", tag = "privacy", security(("bearer" = [])),
    responses((status = 200, body = PersonalDataExport,
        description = "JSON, offered as a download (Content-Disposition: attachment)")))]
pub async fn export_my_data(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let document = export::export_of(&state.db, caller.id).await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!(
                "attachment; filename=\"nuancheng-my-data-{}.json\"",
                document.generated_at.format("%Y%m%d")
            ),
        ))
        .json(document))
}

/// Erase the caller's identity (students only), confirmed with the
/// password. Name, email, phone, major, password and the notes staff wrote
/// about them are removed, sessions end, unsent mail is dropped; the
/// registrations, check-ins and intents stay as anonymous rows for the
/// campaign's figures. The access token stops working at once.
#[utoipa::path(delete, path = "/api/v1/me", tag = "privacy", security(("bearer" = [])),
    request_body = DeleteMeRequest,
    responses((status = 204, description = "erased"),
        (status = 403, body = Problem, description = "staff_cannot_self_erase: staff accounts are disabled by an admin"),
        (status = 409, body = Problem, description = "password_required: the account has no password yet; set one through the password reset email"),
        (status = 422, body = Problem, description = "wrong_password; validation_failed when `password` is empty"),
        (status = 429, body = Problem),
        (status = 503, body = Problem, description = "busy")))]
pub async fn delete_me(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    body: Json<DeleteMeRequest>,
) -> Result<HttpResponse, ApiError> {
    erase::may_erase_self(&caller)?;
    let body = body.into_inner()?;
    // A stolen access token must not let anyone guess the password here.
    state
        .limiter
        .check("erase", client_ip(&req, &state.settings.http))
        .await?;
    erase::delete_me(&state, &caller, body).await?;
    Ok(HttpResponse::NoContent().finish())
}
