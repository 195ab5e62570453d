//! HTTP for privacy: extract, call the service, respond.

use actix_web::{HttpRequest, HttpResponse, web};

use super::{access, consents, types::*};
use crate::{
    http::{Admin, ApiError, Caller, Json, Page, PageQuery, error::Problem, ratelimit::client_ip},
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/privacy/notice", web::get().to(notice))
        .route("/me/consents", web::get().to(my_consents))
        .route("/me/consents", web::patch().to(update_my_consents))
        .route("/me/access-log", web::get().to(my_access_log))
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
