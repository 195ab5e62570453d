//! The check-in routes: extract, call the service, respond.

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use uuid::Uuid;

use super::{
    fast, live, offline,
    service::{self, Scanned, door},
    stats::{self, EventStats},
    types::*,
    walkins,
};
use crate::{
    http::{
        ApiError, Caller, Json,
        audit::{self, Trail},
        auth::{authenticate, bearer},
        error::Problem,
        metrics::Answered,
    },
    state::AppState,
};

/// Every route of the check-in room, under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events/{id}/checkins", web::post().to(check_in))
        .route(
            "/events/{id}/checkins/batch",
            web::post().to(check_in_batch),
        )
        .route("/events/{id}/checkin-list", web::get().to(get_checkin_list))
        .route("/events/{id}/walk-ins", web::post().to(admit_walk_in))
        .route("/events/{id}/stats", web::get().to(get_event_stats))
        .route("/events/{id}/live", web::get().to(watch_event_live));
}

/// 201 for a first admission, 200 for a ticket already used.
fn respond(scanned: Scanned) -> HttpResponse {
    match scanned {
        Scanned::CheckedIn(answer) => HttpResponse::Created().json(answer),
        Scanned::Already(answer) => HttpResponse::Ok().json(answer),
    }
}

/// Check a ticket in (organisers, recruiters of participating employers).
#[utoipa::path(post, path = "/api/v1/events/{id}/checkins", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CheckinRequest,
    responses((status = 201, body = CheckinAnswer, description = "admitted"),
        (status = 200, body = CheckinAnswer, description = "already_checked_in, with the original check-in"),
        (status = 403, body = Problem), (status = 404, body = Problem, description = "unknown_ticket"),
        (status = 409, body = Problem, description = "ticket_for_other_event"),
        (status = 422, body = Problem, description = "not_confirmed, event_cancelled, event_not_open")))]
pub async fn check_in(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<CheckinRequest>,
) -> Result<HttpResponse, ApiError> {
    let (event_id, input) = (id.into_inner(), body.into_inner()?);
    // The usual scan in one statement on PostgreSQL, else the general way.
    let audit = audit::write_entry(&req, &state, &caller, 201, event_id);
    if let Some(scanned) = fast::scan(&state, &caller, event_id, &input, audit).await? {
        audit::recorded_within(&req);
        state.metrics.answered(Answered::Scan, "one_statement");
        return Ok(respond(scanned));
    }
    let scanned = service::check_in(&state, &caller, event_id, input).await?;
    state.metrics.answered(Answered::Scan, "general");
    Ok(respond(scanned))
}

/// Upload what a scanner admitted while offline: one result per item, in
/// order; each item stands alone, so one bad ticket undoes nothing else.
#[utoipa::path(post, path = "/api/v1/events/{id}/checkins/batch", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = BatchRequest,
    responses((status = 200, body = BatchAnswer), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem, description = "more than 500 items, or the event is not open")))]
pub async fn check_in_batch(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let items = body.into_inner()?.checkins;
    let answer = offline::batch(&state, &caller, id.into_inner(), items).await?;
    Ok(HttpResponse::Ok().json(answer))
}

/// What a scanner needs to admit people with no network: every confirmed
/// registration's hashed ticket code, name, university, major and degree.
#[utoipa::path(get, path = "/api/v1/events/{id}/checkin-list", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CheckinList), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_checkin_list(
    state: web::Data<AppState>,
    trail: Trail,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let event_id = id.into_inner();
    let (list, people) = offline::checkin_list(&state, &caller, event_id).await?;
    let export = trail
        .export(&caller, serde_json::json!({ "event_id": event_id }))
        .await?;
    export.add(&people).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(list))
}

/// Register and admit a student at the door (organisers, recruiters of
/// participating employers). A new student gets an account without a
/// password and an email to set one; an existing one is reused. Recruiters
/// admit walk-ins only while seats are left; organisers may go past the
/// capacity, since they see the room.
#[utoipa::path(post, path = "/api/v1/events/{id}/walk-ins", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = WalkInRequest,
    responses((status = 201, body = CheckinAnswer), (status = 200, body = CheckinAnswer, description = "already_checked_in"),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "not_a_candidate"),
        (status = 422, body = Problem, description = "event_full, validation_failed")))]
pub async fn admit_walk_in(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<WalkInRequest>,
) -> Result<HttpResponse, ApiError> {
    let scanned = walkins::walk_in(&state, &caller, id.into_inner(), body.into_inner()?).await?;
    Ok(respond(scanned))
}

/// An event's figures (organisers, recruiters of participating employers).
#[utoipa::path(get, path = "/api/v1/events/{id}/stats", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventStats), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn get_event_stats(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let event = door(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(stats::event_stats(&state.db, &event).await?))
}

#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    /// For browsers' `EventSource`, which cannot send headers.
    pub access_token: Option<String>,
}

/// The event's figures as Server-Sent Events: one `stats` event at once,
/// then another within a second of every change. Send the token as
/// `Authorization: Bearer`, or as `?access_token=` where headers cannot be set.
/// The stream ends when that token expires: open a new one with a fresh
/// token. One user may hold `live.max_streams_per_user` streams (5) at once.
#[utoipa::path(get, path = "/api/v1/events/{id}/live", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("access_token" = Option<String>, Query, description = "Instead of the Authorization header")),
    responses((status = 200, content_type = "text/event-stream", body = EventStats, description = "`event: stats` messages"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 429, body = Problem, description = "this user, or this server, runs as many streams as it may")))]
pub async fn watch_event_live(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    query: web::Query<LiveQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer(&req).or_else(|| query.into_inner().access_token);
    let lifetime = token
        .as_deref()
        .and_then(|t| state.jwt.verify(t))
        .and_then(|claims| Some((claims.iat, DateTime::<Utc>::from_timestamp(claims.exp, 0)?)));
    let caller = authenticate(state.clone(), token).await?;
    let event = door(&state, &caller, id.into_inner()).await?;
    let (issued_at, until) =
        lifetime.ok_or_else(|| ApiError::internal("a verified token without its times"))?;
    let slot = state.streams.take(caller.id).map_err(|full| {
        tracing::info!(user = %caller.id, ?full, "live stream refused");
        ApiError::RateLimited {
            retry_after_secs: 10,
        }
    })?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(live::stream(
            state, &caller, event.id, issued_at, until, slot,
        )))
}
