//! HTTP for privacy: extract, call the service, respond.

use actix_web::{HttpRequest, HttpResponse, http::header, web};

use super::{
    erase, export,
    types::{DeleteMeRequest, PersonalDataExport},
};
use crate::{
    http::{ApiError, Caller, Json, error::Problem, ratelimit::client_ip},
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/me/export", web::get().to(export_my_data))
        .route("/me", web::delete().to(delete_me));
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
