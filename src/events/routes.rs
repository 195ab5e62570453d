//! The events routes: extract, call the service, respond.

use actix_web::{HttpResponse, http::StatusCode, web};
use uuid::Uuid;

use super::{access::find_visible_event, campaigns, employers, positions, service, types::*};
use crate::{
    domain,
    entities::events::EventStatus,
    http::{
        ApiError, Json, MaybeCaller, Organiser, Page,
        error::Problem,
        idempotency::{self, IdempotencyKey},
    },
    state::AppState,
};

/// Every route of the events room, under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    employers::configure(cfg);
    positions::configure(cfg);
    campaigns::configure(cfg);
    cfg.route("/events", web::post().to(create_event))
        .route("/events", web::get().to(list_events))
        .route("/events/{id}", web::get().to(get_event))
        .route("/events/{id}", web::patch().to(update_event))
        .route("/events/{id}/publish", web::post().to(publish_event))
        .route("/events/{id}/complete", web::post().to(complete_event))
        .route("/events/{id}/cancel", web::post().to(cancel_event));
}

/// Create an event in `draft` (organisers).
#[utoipa::path(post, path = "/api/v1/events", tag = "events", security(("bearer" = [])),
    request_body = EventRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    responses((status = 201, body = EventDetail), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create_event(
    state: web::Data<AppState>,
    Organiser(caller): Organiser,
    key: IdempotencyKey,
    body: Json<EventRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner()?;
    idempotency::once(
        &state.db,
        key,
        format!("event:{}", caller.id),
        input,
        |input| async {
            let event = service::create(&state.db, &caller, input).await?;
            Ok((
                StatusCode::CREATED,
                service::detail(&state.db, event).await?,
            ))
        },
    )
    .await
}

/// Search events, soonest first. Anyone sees published events; organisers
/// may ask for any `status`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", security((), ("bearer" = [])),
    params(EventsQuery),
    responses((status = 200, body = Page<EventView>),
        (status = 403, body = Problem, description = "forbidden: a `status` other than published, asked by someone not an organiser"),
        (status = 422, body = Problem)))]
pub async fn list_events(
    state: web::Data<AppState>,
    MaybeCaller(caller): MaybeCaller,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = service::search(&state.db, caller.as_ref(), query.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One event with its counts and the employers with their positions.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", security((), ("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventDetail), (status = 404, body = Problem)))]
pub async fn get_event(
    state: web::Data<AppState>,
    MaybeCaller(caller): MaybeCaller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (event, _) = find_visible_event(&state.db, caller.as_ref(), id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(service::detail(&state.db, event).await?))
}

/// Change an event (organisers). A new time or place on a published event
/// emails every confirmed and waitlisted registrant; more seats promote
/// from the waitlist at once.
#[utoipa::path(patch, path = "/api/v1/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = EventPatch,
    responses((status = 200, body = EventDetail), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "event_not_editable"),
        (status = 422, body = Problem)))]
pub async fn update_event(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
    body: Json<EventPatch>,
) -> Result<HttpResponse, ApiError> {
    let event = service::update(
        &state.db,
        &state.settings,
        id.into_inner(),
        body.into_inner()?,
    )
    .await?;
    Ok(HttpResponse::Ok().json(service::detail(&state.db, event).await?))
}

/// Publish a draft: it becomes visible and open to registration (organisers).
#[utoipa::path(post, path = "/api/v1/events/{id}/publish", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventDetail), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_transition"), (status = 422, body = Problem)))]
pub async fn publish_event(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    move_to(&state, id.into_inner(), EventStatus::Published, None).await
}

/// Mark a published event as held, once it has ended (organisers).
#[utoipa::path(post, path = "/api/v1/events/{id}/complete", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventDetail), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_transition"), (status = 422, body = Problem)))]
pub async fn complete_event(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    move_to(&state, id.into_inner(), EventStatus::Completed, None).await
}

/// Cancel an event; every confirmed and waitlisted registrant gets an email
/// with the reason (organisers).
#[utoipa::path(post, path = "/api/v1/events/{id}/cancel", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CancelRequest,
    responses((status = 200, body = EventDetail), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_transition"), (status = 422, body = Problem)))]
pub async fn cancel_event(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
    body: Json<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = domain::text("reason", &body.into_inner()?.reason, 500)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    move_to(
        &state,
        id.into_inner(),
        EventStatus::Cancelled,
        Some(reason),
    )
    .await
}

/// Moves an event along its lifecycle and answers with its detail.
async fn move_to(
    state: &AppState,
    id: Uuid,
    to: EventStatus,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let event = service::transition(&state.db, &state.settings, id, to, reason).await?;
    Ok(HttpResponse::Ok().json(service::detail(&state.db, event).await?))
}
