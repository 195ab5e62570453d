//! HTTP for scheduled mailings, organisers' templates and unsubscribing.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::IntoParams;
use uuid::Uuid;

use super::{
    service,
    templates::{self, Owner},
    types::*,
};
use crate::{
    http::{ApiError, Json, Organiser, error::Problem},
    notify::kinds::TemplateKind,
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events/{id}/mailings", web::get().to(list_mailings))
        .route("/events/{id}/mailings", web::patch().to(update_mailings))
        .route("/events/{id}/templates", web::get().to(list_templates))
        .route("/events/{id}/templates/{kind}", web::get().to(get_template))
        .route(
            "/events/{id}/templates/{kind}",
            web::put().to(save_template),
        )
        .route(
            "/events/{id}/templates/{kind}",
            web::delete().to(delete_template),
        )
        .route(
            "/events/{id}/templates/{kind}/preview",
            web::post().to(preview_template),
        )
        .route(
            "/campaigns/{id}/templates/{kind}",
            web::get().to(get_campaign_template),
        )
        .route(
            "/campaigns/{id}/templates/{kind}",
            web::put().to(save_campaign_template),
        )
        .route(
            "/campaigns/{id}/templates/{kind}",
            web::delete().to(delete_campaign_template),
        )
        .route(
            "/campaigns/{id}/templates/{kind}/preview",
            web::post().to(preview_campaign_template),
        )
        .route("/unsubscribe", web::post().to(unsubscribe));
}

/// An event's scheduled mail: reminders and follow-ups, when each is due,
/// whether it is on and how many emails it queued (organisers).
#[utoipa::path(get, operation_id = "list_mailings", path = "/api/v1/events/{id}/mailings", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = MailingsView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_mailings(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(service::mailings(&state, id.into_inner()).await?))
}

/// Turns kinds of scheduled mail on or off for one event (organisers).
#[utoipa::path(patch, operation_id = "update_mailings", path = "/api/v1/events/{id}/mailings", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = UpdateMailingsRequest,
    responses((status = 200, body = MailingsView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem)))]
pub async fn update_mailings(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
    body: Json<UpdateMailingsRequest>,
) -> Result<HttpResponse, ApiError> {
    let view = service::update_mailings(&state, id.into_inner(), body.into_inner()?).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Every kind of the event's email: whether the event or its campaign
/// words it, the built-in subject, and the variables (organisers).
#[utoipa::path(get, operation_id = "list_mail_templates", path = "/api/v1/events/{id}/templates", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TemplatesView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_templates(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(templates::list(&state, id.into_inner()).await?))
}

/// The event's own wording of one email kind; 404 `template_not_set` when
/// it has none (organisers).
#[utoipa::path(get, operation_id = "get_mail_template", path = "/api/v1/events/{id}/templates/{kind}", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("kind" = TemplateKind, Path)),
    responses((status = 200, body = TemplateView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "not_found, unknown_template_kind, template_not_set")))]
pub async fn get_template(
    state: web::Data<AppState>,
    _organiser: Organiser,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    Ok(HttpResponse::Ok().json(templates::get(&state, Owner::Event(id), &kind).await?))
}

/// Saves the event's own wording of one email kind as minijinja templates;
/// it wins over the campaign's. A template that does not compile or uses an
/// unknown variable is 422 `template_invalid` on its part, with the line
/// (organisers).
#[utoipa::path(put, operation_id = "save_mail_template", path = "/api/v1/events/{id}/templates/{kind}", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("kind" = TemplateKind, Path)), request_body = TemplateRequest,
    responses((status = 200, body = TemplateView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "not_found, unknown_template_kind"),
        (status = 422, body = Problem, description = "template_invalid, too_long")))]
pub async fn save_template(
    state: web::Data<AppState>,
    Organiser(caller): Organiser,
    path: web::Path<(Uuid, String)>,
    body: Json<TemplateRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let input = body.into_inner()?;
    let view = templates::save(&state, caller.id, Owner::Event(id), &kind, input).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Goes back to the campaign's or the built-in wording of one email kind
/// for the event (organisers).
#[utoipa::path(delete, operation_id = "delete_mail_template", path = "/api/v1/events/{id}/templates/{kind}", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("kind" = TemplateKind, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "not_found, unknown_template_kind, template_not_set")))]
pub async fn delete_template(
    state: web::Data<AppState>,
    _organiser: Organiser,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    templates::delete(&state, Owner::Event(id), &kind).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Renders one email kind for the event: the parts given, else the saved
/// template (the event's, else its campaign's), else the built-in wording;
/// for one of its registrations or a sample student. A real ticket code is
/// never shown (organisers).
#[utoipa::path(post, operation_id = "preview_mail_template", path = "/api/v1/events/{id}/templates/{kind}/preview", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("kind" = TemplateKind, Path)), request_body = PreviewRequest,
    responses((status = 200, body = PreviewView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "not_found, unknown_template_kind"),
        (status = 422, body = Problem, description = "template_invalid, too_long, incomplete_template, unknown registration_id")))]
pub async fn preview_template(
    state: web::Data<AppState>,
    _organiser: Organiser,
    path: web::Path<(Uuid, String)>,
    body: Json<PreviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let view = templates::preview(&state, Owner::Event(id), &kind, body.into_inner()?).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The campaign's wording of one email kind; 404 `template_not_set` when it
/// has none (organisers).
#[utoipa::path(get, operation_id = "get_campaign_mail_template", path = "/api/v1/campaigns/{id}/templates/{kind}", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("kind" = TemplateKind, Path)),
    responses((status = 200, body = TemplateView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "not_found, unknown_template_kind, template_not_set")))]
pub async fn get_campaign_template(
    state: web::Data<AppState>,
    _organiser: Organiser,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    Ok(HttpResponse::Ok().json(templates::get(&state, Owner::Campaign(id), &kind).await?))
}

/// Saves the wording of one email kind for every event of the campaign
/// that has none of its own; checked like an event's (organisers).
#[utoipa::path(put, operation_id = "save_campaign_mail_template", path = "/api/v1/campaigns/{id}/templates/{kind}", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("kind" = TemplateKind, Path)), request_body = TemplateRequest,
    responses((status = 200, body = TemplateView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "not_found, unknown_template_kind"),
        (status = 422, body = Problem, description = "template_invalid, too_long")))]
pub async fn save_campaign_template(
    state: web::Data<AppState>,
    Organiser(caller): Organiser,
    path: web::Path<(Uuid, String)>,
    body: Json<TemplateRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let input = body.into_inner()?;
    let view = templates::save(&state, caller.id, Owner::Campaign(id), &kind, input).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Goes back to the built-in wording of one email kind for the campaign's
/// events (organisers).
#[utoipa::path(delete, operation_id = "delete_campaign_mail_template", path = "/api/v1/campaigns/{id}/templates/{kind}", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("kind" = TemplateKind, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "not_found, unknown_template_kind, template_not_set")))]
pub async fn delete_campaign_template(
    state: web::Data<AppState>,
    _organiser: Organiser,
    path: web::Path<(Uuid, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    templates::delete(&state, Owner::Campaign(id), &kind).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Renders one email kind for the campaign with a made-up event and
/// student: the parts given, else the campaign's template, else the
/// built-in wording (organisers).
#[utoipa::path(post, operation_id = "preview_campaign_mail_template", path = "/api/v1/campaigns/{id}/templates/{kind}/preview", tag = "mailings", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("kind" = TemplateKind, Path)), request_body = PreviewRequest,
    responses((status = 200, body = PreviewView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "not_found, unknown_template_kind"),
        (status = 422, body = Problem, description = "template_invalid, too_long, incomplete_template, registration_id not_allowed")))]
pub async fn preview_campaign_template(
    state: web::Data<AppState>,
    _organiser: Organiser,
    path: web::Path<(Uuid, String)>,
    body: Json<PreviewRequest>,
) -> Result<HttpResponse, ApiError> {
    let (id, kind) = path.into_inner();
    let input = body.into_inner()?;
    let view = templates::preview(&state, Owner::Campaign(id), &kind, input).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct UnsubscribeQuery {
    /// The token of the link in the email.
    pub token: String,
}

/// One-click unsubscribe from follow-up emails (RFC 8058): the link in an
/// optional email's `List-Unsubscribe` header. Needs no sign-in; the body
/// (`List-Unsubscribe=One-Click`) is not read.
#[utoipa::path(post, operation_id = "unsubscribe", path = "/api/v1/unsubscribe", tag = "mailings",
    params(UnsubscribeQuery),
    responses((status = 200, body = UnsubscribedView), (status = 400, body = Problem, description = "invalid_token, invalid_query")))]
pub async fn unsubscribe(
    state: web::Data<AppState>,
    query: web::Query<UnsubscribeQuery>,
) -> Result<HttpResponse, ApiError> {
    service::unsubscribe(&state, &query.token).await?;
    Ok(HttpResponse::Ok().json(UnsubscribedView {
        follow_up_emails: false,
    }))
}
