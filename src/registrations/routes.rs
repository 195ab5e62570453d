//! The registrations routes: extract, call the service, respond.

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use uuid::Uuid;

use super::{
    export::HEADERS as EXPORT_HEADERS,
    register,
    service::{self, Listing},
    types::*,
};
use crate::{
    http::{
        ApiError, Caller, Candidate, Page, PageQuery,
        audit::{self, Trail},
        error::Problem,
        export,
        idempotency::{self, IdempotencyKey},
        json::OptionalJson,
        paged_export,
    },
    state::AppState,
};

/// Every route of the registrations room, under `/api/v1`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events/{id}/registrations", web::post().to(register))
        .route(
            "/events/{id}/registrations",
            web::get().to(list_event_registrations),
        )
        .route("/me/registrations", web::get().to(list_my_registrations))
        .route("/registrations/{id}", web::get().to(get_registration))
        .route(
            "/registrations/{id}/cancel",
            web::post().to(cancel_registration),
        )
        .route("/registrations/{id}/ticket", web::get().to(get_ticket));
}

/// Register for an event (students). Confirmed while seats are left, then
/// waitlisted; `Idempotency-Key` makes a retry return the first answer.
#[utoipa::path(post, path = "/api/v1/events/{id}/registrations", tag = "registrations", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    request_body(content = Option<RegisterRequest>, description = "Optional; an empty body is fine"),
    responses((status = 201, body = RegistrationView), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "not a student; or email_not_verified while registration.require_verified_email is on"),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "already_registered, with `existing`"),
        (status = 422, body = Problem, description = "event_full, registration_closed, event_cancelled, not_eligible")))]
pub async fn register(
    req: HttpRequest,
    state: web::Data<AppState>,
    Candidate(caller): Candidate,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    body: OptionalJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let event_id = id.into_inner();
    let input = body.into_inner()?.unwrap_or_default();
    // A registration records its audit row in its own transaction; an
    // answer replayed for a retried key is recorded as any other write.
    let audit = audit::write_entry(&req, &state, &caller, 201, event_id);
    let registered = std::cell::Cell::new(false);
    let answer = idempotency::once_recorded(
        &state.db,
        key,
        format!("registration:{}:{event_id}", caller.id),
        input,
        |input, recorder| async {
            let recorder = recorder;
            let view =
                register::register(&state, &caller, event_id, input, &recorder, audit).await?;
            registered.set(true);
            Ok((StatusCode::CREATED, view))
        },
    )
    .await?;
    if registered.get() {
        audit::recorded_within(&req);
    }
    Ok(answer)
}

/// Cancel a registration (its student, organisers). The first eligible
/// waitlisted student is promoted at once; both get an email.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/cancel", tag = "registrations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RegistrationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "already_cancelled"),
        (status = 422, body = Problem, description = "event_cancelled, event_completed")))]
pub async fn cancel_registration(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let registration = service::cancel(&state, &caller, id.into_inner()).await?;
    let owner = registration.user_id == caller.id;
    Ok(HttpResponse::Ok().json(RegistrationView::new(registration, owner)))
}

/// The calling student's registrations, newest first, with their events.
#[utoipa::path(get, path = "/api/v1/me/registrations", tag = "registrations", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<RegistrationView>), (status = 401, body = Problem)))]
pub async fn list_my_registrations(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = service::mine(&state.db, &caller, page.into_inner()).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// One registration (its student, organisers, participating recruiters).
#[utoipa::path(get, path = "/api/v1/registrations/{id}", tag = "registrations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RegistrationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get_registration(
    state: web::Data<AppState>,
    trail: Trail,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = service::get(&state.db, &caller, id.into_inner()).await?;
    let people: Vec<Uuid> = view.candidate.iter().map(|c| c.id).collect();
    trail.read(&caller, &people).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The ticket and its QR code (the student itself, while confirmed).
#[utoipa::path(get, path = "/api/v1/registrations/{id}/ticket", tag = "registrations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TicketView), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem, description = "not_confirmed")))]
pub async fn get_ticket(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let ticket = service::ticket(&state.db, &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(ticket))
}

/// An event's registrations (organisers, participating recruiters), as JSON
/// pages or, with `Accept: text/csv` / XLSX or `?format=`, all matching rows
/// as one file.
#[utoipa::path(get, path = "/api/v1/events/{id}/registrations", tag = "registrations", security(("bearer" = [])),
    params(("id" = Uuid, Path), RegistrationsQuery),
    responses((status = 200, body = Page<RegistrationView>, description = "JSON, or text/csv (UTF-8 with BOM) when asked"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_event_registrations(
    state: web::Data<AppState>,
    req: HttpRequest,
    trail: Trail,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<RegistrationsQuery>,
) -> Result<HttpResponse, ApiError> {
    let event_id = id.into_inner();
    let listing = service::list_for_event(
        &state.db,
        &caller,
        event_id,
        query.into_inner(),
        export::requested(&req)?,
    )
    .await?;
    Ok(match listing {
        Listing::Page(page) => {
            let people: Vec<Uuid> = page
                .items
                .iter()
                .filter_map(|r| r.candidate.as_ref().map(|c| c.id))
                .collect();
            trail.read(&caller, &people).await?;
            HttpResponse::Ok().json(page)
        }
        Listing::File {
            pages,
            format,
            name,
        } => {
            let detail = serde_json::json!({ "event_id": event_id, "query": req.query_string() });
            let pages = trail.export(&caller, detail).await?.pages(pages);
            paged_export::respond(format, &name, &EXPORT_HEADERS, pages).await?
        }
    })
}
