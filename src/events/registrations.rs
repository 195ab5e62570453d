//! Registrations: confirmed while seats are left, then waitlisted up to the
//! event's limit, then refused. Every change locks the event row first (see
//! [`lock_event`]) and moves the event's counters in the same transaction,
//! so confirmed never exceeds capacity and waitlist positions stay 1, 2, 3, …
//! however many requests arrive at once.

use std::collections::{HashMap, HashSet};

use actix_web::{
    HttpRequest, HttpResponse,
    http::{StatusCode, header},
    web,
};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Query,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    catalog::{Access, calendar, facts, find_visible_event, graduation_years_of, lock_event},
    tickets::{new_ticket_code, qr_svg},
};
use crate::{
    config::Settings,
    db,
    entities::{
        events::{self, EventStatus},
        registrations::{self, RegistrationStatus},
        users::{self, Degree, Role},
    },
    http::{
        ApiError, Caller, Candidate, Page, PageQuery,
        error::Problem,
        export::{self, Cell, Table},
        idempotency::{self, IdempotencyKey},
        json::OptionalJson,
    },
    notify::{self, templates},
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events/{id}/registrations", web::post().to(register))
        .route("/events/{id}/registrations", web::get().to(list_for_event))
        .route("/me/registrations", web::get().to(mine))
        .route("/registrations/{id}", web::get().to(get))
        .route("/registrations/{id}/cancel", web::post().to(cancel))
        .route("/registrations/{id}/ticket", web::get().to(ticket));
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// The referral code of whoever told the student about the event (以才引才).
    pub referral_code: Option<String>,
}

/// The event as a registration shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventSummary {
    pub id: Uuid,
    pub title: String,
    pub status: EventStatus,
    pub university: String,
    pub venue: String,
    pub city: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl From<&events::Model> for EventSummary {
    fn from(e: &events::Model) -> Self {
        Self {
            id: e.id,
            title: e.title.clone(),
            status: e.status,
            university: e.university.clone(),
            venue: e.venue.clone(),
            city: e.city.clone(),
            starts_at: e.starts_at,
            ends_at: e.ends_at,
        }
    }
}

/// Who registered, as organisers and participating recruiters see it.
/// Email and phone are for organisers only.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Registrant {
    pub id: Uuid,
    pub full_name: String,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
    pub graduation_year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Registrant {
    fn of(user: &users::Model, with_contact: bool) -> Self {
        Self {
            id: user.id,
            full_name: user.full_name.clone(),
            university: user.university.clone(),
            major: user.major.clone(),
            degree: user.degree,
            graduation_year: user.graduation_year,
            email: with_contact.then(|| user.email.clone()),
            phone: if with_contact {
                user.phone.clone()
            } else {
                None
            },
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegistrationView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub status: RegistrationStatus,
    /// 1 is next in line. Only while waitlisted.
    pub waitlist_position: Option<i32>,
    /// Only for the student itself, and only while confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<EventSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<Registrant>,
}

impl RegistrationView {
    fn new(r: registrations::Model, owner: bool) -> Self {
        let confirmed = r.status == RegistrationStatus::Confirmed;
        Self {
            id: r.id,
            event_id: r.event_id,
            status: r.status,
            waitlist_position: r.waitlist_position,
            ticket_code: (owner && confirmed).then_some(r.ticket_code),
            created_at: r.created_at,
            confirmed_at: r.confirmed_at,
            cancelled_at: r.cancelled_at,
            event: None,
            candidate: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketView {
    pub registration_id: Uuid,
    pub ticket_code: String,
    /// The ticket code as a QR code, an SVG document.
    pub qr_svg: String,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RegistrationsQuery {
    pub status: Option<RegistrationStatus>,
    /// Part of the name, email, university or major.
    pub q: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Why a student may not attend, or `Ok` if it may.
pub fn eligibility(
    event: &events::Model,
    degree: Option<Degree>,
    graduation_year: Option<i32>,
) -> Result<(), String> {
    if let Some(min) = event.min_degree {
        match degree {
            Some(degree) if degree >= min => {}
            Some(_) => {
                return Err(format!(
                    "this event is for {} graduates and above",
                    degree_name(min)
                ));
            }
            None => {
                return Err(format!(
                    "this event is for {} graduates and above; add your degree to your profile",
                    degree_name(min)
                ));
            }
        }
    }
    let years = graduation_years_of(event);
    if !years.is_empty() {
        let list = years
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        match graduation_year {
            Some(year) if years.contains(&year) => {}
            Some(year) => {
                return Err(format!("this event is for graduates of {list}, not {year}"));
            }
            None => {
                return Err(format!(
                    "this event is for graduates of {list}; add your graduation year to your profile"
                ));
            }
        }
    }
    Ok(())
}

fn degree_name(degree: Degree) -> &'static str {
    match degree {
        Degree::Bachelor => "bachelor",
        Degree::Master => "master",
        Degree::Phd => "PhD",
        Degree::Postdoc => "postdoc",
    }
}

/// Confirmed and waitlisted registrations of an event with their students,
/// in waitlist order after the confirmed ones.
pub async fn active_registrants<C: ConnectionTrait>(
    conn: &C,
    event_id: Uuid,
) -> Result<Vec<(registrations::Model, users::Model)>, ApiError> {
    use registrations::Column as R;
    let rows = registrations::Entity::find()
        .filter(R::EventId.eq(event_id))
        .filter(R::Status.is_in([
            RegistrationStatus::Confirmed,
            RegistrationStatus::Waitlisted,
        ]))
        .order_by_asc(R::WaitlistPosition)
        .order_by_asc(R::Id)
        .all(conn)
        .await?;
    with_users(conn, rows).await
}

async fn with_users<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<registrations::Model>,
) -> Result<Vec<(registrations::Model, users::Model)>, ApiError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut users: HashMap<Uuid, users::Model> = users::Entity::find()
        .filter(users::Column::Id.is_in(rows.iter().map(|r| r.user_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let user = users.remove(&r.user_id)?;
            Some((r, user))
        })
        .collect())
}

/// Moves everyone behind `position` one place up.
pub(crate) async fn close_gap(
    txn: &DatabaseTransaction,
    event_id: Uuid,
    position: i32,
) -> Result<(), ApiError> {
    use registrations::Column as R;
    use sea_orm::sea_query::{Expr, ExprTrait};
    registrations::Entity::update_many()
        .col_expr(R::WaitlistPosition, Expr::col(R::WaitlistPosition).sub(1))
        .filter(R::EventId.eq(event_id))
        .filter(R::Status.eq(RegistrationStatus::Waitlisted))
        .filter(R::WaitlistPosition.gt(position))
        .exec(txn)
        .await?;
    Ok(())
}

/// Promotes waitlisted registrations, in order, while seats are left,
/// skipping anyone the event's rules no longer admit (they keep their
/// place). Updates the counters on `event`; the caller saves it. Runs under
/// the event lock.
pub async fn fill_seats(
    txn: &DatabaseTransaction,
    settings: &Settings,
    event: &mut events::Model,
) -> Result<(), ApiError> {
    use registrations::Column as R;
    let seats = event.capacity - event.confirmed_count;
    if seats <= 0 || event.waitlist_count == 0 {
        return Ok(());
    }
    let waiting = registrations::Entity::find()
        .filter(R::EventId.eq(event.id))
        .filter(R::Status.eq(RegistrationStatus::Waitlisted))
        .order_by_asc(R::WaitlistPosition)
        .all(txn)
        .await?;
    let promoted: Vec<(registrations::Model, users::Model)> = with_users(txn, waiting)
        .await?
        .into_iter()
        .filter(|(_, user)| eligibility(event, user.degree, user.graduation_year).is_ok())
        .take(seats as usize)
        .collect();
    let now = db::now();
    for (registration, _) in &promoted {
        registrations::ActiveModel {
            id: Set(registration.id),
            status: Set(RegistrationStatus::Confirmed),
            waitlist_position: Set(None),
            confirmed_at: Set(Some(now)),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(txn)
        .await?;
    }
    // From the back, so each gap closes over positions not yet moved.
    for (registration, _) in promoted.iter().rev() {
        if let Some(position) = registration.waitlist_position {
            close_gap(txn, event.id, position).await?;
        }
    }
    let count = promoted.len() as i32;
    event.confirmed_count += count;
    event.waitlist_count -= count;
    for (registration, user) in &promoted {
        let mail = templates::registration_promoted(
            &user.full_name,
            &facts(settings, event),
            &registration.ticket_code,
        );
        notify::enqueue(txn, &user.email, mail, vec![calendar(settings, event)]).await?;
    }
    Ok(())
}

pub(crate) async fn save_counts(
    txn: &DatabaseTransaction,
    event: &events::Model,
) -> Result<(), ApiError> {
    events::ActiveModel {
        id: Set(event.id),
        confirmed_count: Set(event.confirmed_count),
        waitlist_count: Set(event.waitlist_count),
        ..Default::default()
    }
    .update(txn)
    .await?;
    Ok(())
}

fn already_registered(existing: registrations::Model) -> ApiError {
    let existing = serde_json::to_value(RegistrationView::new(existing, true)).ok();
    ApiError::Conflict {
        code: "already_registered",
        detail: "you are already registered for this event".into(),
        existing,
    }
}

async fn referrer(
    state: &AppState,
    caller: &Caller,
    code: Option<&str>,
) -> Result<Option<Uuid>, ApiError> {
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let referrer = users::Entity::find()
        .filter(users::Column::ReferralCode.eq(code.to_ascii_uppercase()))
        .one(&state.db)
        .await?
        .filter(|u| u.id != caller.id)
        .ok_or_else(|| {
            ApiError::field(
                "referral_code",
                "unknown",
                "no other user has this referral code",
            )
        })?;
    Ok(Some(referrer.id))
}

/// Registers the calling student for an event.
pub async fn register_for(
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
    input: RegisterRequest,
) -> Result<registrations::Model, ApiError> {
    let referrer_id = referrer(state, caller, input.referral_code.as_deref()).await?;
    let txn = db::begin_write(&state.db).await?;
    let mut event = lock_event(&txn, event_id).await?;
    let now = db::now();
    match event.status {
        EventStatus::Draft => return Err(ApiError::NotFound("event")),
        EventStatus::Cancelled => {
            return Err(ApiError::rule("event_cancelled", "this event is cancelled"));
        }
        EventStatus::Completed => {
            return Err(ApiError::rule(
                "registration_closed",
                "this event has taken place",
            ));
        }
        EventStatus::Published => {}
    }
    let opens = event.registration_opens_at.or(event.published_at);
    if let Some(opens) = opens
        && now < opens
    {
        return Err(ApiError::rule(
            "registration_closed",
            format!("registration opens at {}", opens.to_rfc3339()),
        ));
    }
    let closes = event.registration_closes_at.unwrap_or(event.starts_at);
    if now >= closes {
        return Err(ApiError::rule(
            "registration_closed",
            format!("registration closed at {}", closes.to_rfc3339()),
        ));
    }
    eligibility(&event, caller.degree, caller.graduation_year)
        .map_err(|why| ApiError::rule("not_eligible", why))?;

    use registrations::Column as R;
    let existing = registrations::Entity::find()
        .filter(R::EventId.eq(event_id))
        .filter(R::UserId.eq(caller.id))
        .one(&txn)
        .await?;
    if let Some(existing) = &existing
        && existing.status != RegistrationStatus::Cancelled
    {
        return Err(already_registered(existing.clone()));
    }

    let (status, position) = if event.confirmed_count < event.capacity {
        event.confirmed_count += 1;
        (RegistrationStatus::Confirmed, None)
    } else if event.waitlist_count < event.waitlist_limit {
        event.waitlist_count += 1;
        (RegistrationStatus::Waitlisted, Some(event.waitlist_count))
    } else {
        return Err(ApiError::rule(
            "event_full",
            "every seat is taken and the waitlist is full",
        ));
    };
    let confirmed_at = (status == RegistrationStatus::Confirmed).then_some(now);
    let fresh = registrations::ActiveModel {
        status: Set(status),
        waitlist_position: Set(position),
        // A new code also when re-registering: the cancelled ticket stays dead.
        ticket_code: Set(new_ticket_code()),
        referrer_id: Set(referrer_id),
        confirmed_at: Set(confirmed_at),
        cancelled_at: Set(None),
        cancelled_by: Set(None),
        updated_at: Set(now),
        ..Default::default()
    };
    let registration = match existing {
        Some(cancelled) => {
            registrations::ActiveModel {
                id: Set(cancelled.id),
                ..fresh
            }
            .update(&txn)
            .await?
        }
        None => {
            registrations::ActiveModel {
                id: Set(Uuid::now_v7()),
                event_id: Set(event_id),
                user_id: Set(caller.id),
                created_at: Set(now),
                ..fresh
            }
            .insert(&txn)
            .await?
        }
    };
    save_counts(&txn, &event).await?;
    let facts = facts(&state.settings, &event);
    match position {
        None => {
            let mail = templates::registration_confirmed(
                &caller.full_name,
                &facts,
                &registration.ticket_code,
            );
            let ics = calendar(&state.settings, &event);
            notify::enqueue(&txn, &caller.email, mail, vec![ics]).await?;
        }
        Some(position) => {
            let mail = templates::registration_waitlisted(&caller.full_name, &facts, position);
            notify::enqueue(&txn, &caller.email, mail, Vec::new()).await?;
        }
    }
    txn.commit().await?;
    let _ = state.live.send(event_id);
    Ok(registration)
}

/// Cancels a registration (its student or an organiser) and gives a freed
/// seat to the first eligible student on the waitlist, in one transaction.
pub async fn cancel_registration(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<registrations::Model, ApiError> {
    let found = registrations::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("registration"))?;
    let staff = matches!(caller.role, Role::Organiser | Role::Admin);
    if found.user_id != caller.id && !staff {
        let access = super::catalog::access_of(&state.db, Some(caller), found.event_id).await?;
        return Err(if access == Access::Participant {
            ApiError::Forbidden("only the student or an organiser may cancel".into())
        } else {
            ApiError::NotFound("registration")
        });
    }

    let txn = db::begin_write(&state.db).await?;
    let mut event = lock_event(&txn, found.event_id).await?;
    // Locked, so a scan at the door either finishes first (and this sees
    // its check-in) or waits and then finds the registration cancelled.
    let registration = registrations::Entity::find_by_id(id)
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("registration"))?;
    if event.ends_at <= db::now() {
        return Err(ApiError::rule(
            "event_completed",
            "this event has taken place",
        ));
    }
    match event.status {
        EventStatus::Cancelled => {
            return Err(ApiError::rule("event_cancelled", "this event is cancelled"));
        }
        EventStatus::Completed => {
            return Err(ApiError::rule(
                "event_completed",
                "this event has taken place",
            ));
        }
        EventStatus::Draft | EventStatus::Published => {}
    }
    let checked_in = crate::entities::checkins::Entity::find()
        .filter(crate::entities::checkins::Column::RegistrationId.eq(id))
        .one(&txn)
        .await?;
    if checked_in.is_some() {
        return Err(ApiError::conflict(
            "already_checked_in",
            "this student has been admitted; the registration stays",
        ));
    }
    let was = registration.status;
    match was {
        RegistrationStatus::Cancelled => {
            return Err(ApiError::conflict(
                "already_cancelled",
                "this registration is already cancelled",
            ));
        }
        RegistrationStatus::Confirmed => event.confirmed_count -= 1,
        RegistrationStatus::Waitlisted => event.waitlist_count -= 1,
    }
    let now = db::now();
    let cancelled = registrations::ActiveModel {
        id: Set(id),
        status: Set(RegistrationStatus::Cancelled),
        waitlist_position: Set(None),
        cancelled_at: Set(Some(now)),
        cancelled_by: Set(Some(caller.id)),
        updated_at: Set(now),
        ..Default::default()
    }
    .update(&txn)
    .await?;
    if let Some(position) = registration.waitlist_position {
        close_gap(&txn, event.id, position).await?;
    }
    if was == RegistrationStatus::Confirmed {
        fill_seats(&txn, &state.settings, &mut event).await?;
    }
    save_counts(&txn, &event).await?;
    let student = users::Entity::find_by_id(registration.user_id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::internal("a registration without its student"))?;
    let mail = templates::registration_cancelled(
        &student.full_name,
        &facts(&state.settings, &event),
        caller.id != student.id,
    );
    notify::enqueue(&txn, &student.email, mail, Vec::new()).await?;
    txn.commit().await?;
    let _ = state.live.send(event.id);
    Ok(cancelled)
}

/// Register for an event (students). Confirmed while seats are left, then
/// waitlisted; `Idempotency-Key` makes a retry return the first answer.
#[utoipa::path(post, path = "/api/v1/events/{id}/registrations", tag = "registrations", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    request_body(content = Option<RegisterRequest>, description = "Optional; an empty body is fine"),
    responses((status = 201, body = RegistrationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem),
        (status = 409, body = Problem, description = "already_registered, with `existing`"),
        (status = 422, body = Problem, description = "event_full, registration_closed, event_cancelled, not_eligible")))]
pub async fn register(
    state: web::Data<AppState>,
    Candidate(caller): Candidate,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    body: OptionalJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let event_id = id.into_inner();
    let input = body.into_inner()?.unwrap_or_default();
    idempotency::once(
        &state.db,
        key,
        format!("registration:{}:{event_id}", caller.id),
        input,
        |input| async {
            let registration = register_for(&state, &caller, event_id, input).await?;
            Ok((
                StatusCode::CREATED,
                RegistrationView::new(registration, true),
            ))
        },
    )
    .await
}

/// Cancel a registration (its student, organisers). The first eligible
/// waitlisted student is promoted at once; both get an email.
#[utoipa::path(post, path = "/api/v1/registrations/{id}/cancel", tag = "registrations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RegistrationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "already_cancelled"),
        (status = 422, body = Problem, description = "event_cancelled, event_completed")))]
pub async fn cancel(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let registration = cancel_registration(&state, &caller, id.into_inner()).await?;
    let owner = registration.user_id == caller.id;
    Ok(HttpResponse::Ok().json(RegistrationView::new(registration, owner)))
}

/// The calling student's registrations, newest first, with their events.
#[utoipa::path(get, path = "/api/v1/me/registrations", tag = "registrations", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<RegistrationView>), (status = 401, body = Problem)))]
pub async fn mine(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    use registrations::Column as R;
    let page = page.parse()?;
    let mut select = registrations::Entity::find()
        .filter(R::UserId.eq(caller.id))
        .order_by_desc(R::Id);
    if let Some(before) = page.after {
        select = select.filter(R::Id.lt(before));
    }
    let rows = select.limit(page.limit + 1).all(&state.db).await?;
    let events: HashMap<Uuid, events::Model> = events::Entity::find()
        .filter(events::Column::Id.is_in(rows.iter().map(|r| r.event_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        page,
        |r| r.id,
        |r| {
            let event = events.get(&r.event_id).map(EventSummary::from);
            RegistrationView {
                event,
                ..RegistrationView::new(r, true)
            }
        },
    )))
}

/// Reads a registration the caller may see: its own, or any of an event the
/// caller organises or recruits at. Everything else is 404.
async fn visible_registration(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
) -> Result<(registrations::Model, Access), ApiError> {
    let registration = registrations::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("registration"))?;
    let access = super::catalog::access_of(&state.db, Some(caller), registration.event_id).await?;
    if registration.user_id != caller.id && access == Access::Public {
        return Err(ApiError::NotFound("registration"));
    }
    Ok((registration, access))
}

/// One registration (its student, organisers, participating recruiters).
#[utoipa::path(get, path = "/api/v1/registrations/{id}", tag = "registrations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = RegistrationView), (status = 401, body = Problem), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (registration, access) = visible_registration(&state, &caller, id.into_inner()).await?;
    let owner = registration.user_id == caller.id;
    let event = events::Entity::find_by_id(registration.event_id)
        .one(&state.db)
        .await?;
    let candidate = if owner {
        None
    } else {
        let contacts = contacts(&state.db, &caller, access, &[registration.user_id]).await?;
        users::Entity::find_by_id(registration.user_id)
            .one(&state.db)
            .await?
            .map(|u| Registrant::of(&u, contacts.contains(&u.id)))
    };
    Ok(HttpResponse::Ok().json(RegistrationView {
        event: event.as_ref().map(EventSummary::from),
        candidate,
        ..RegistrationView::new(registration, owner)
    }))
}

/// The ticket and its QR code (the student itself, while confirmed).
#[utoipa::path(get, path = "/api/v1/registrations/{id}/ticket", tag = "registrations", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = TicketView), (status = 401, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem, description = "not_confirmed")))]
pub async fn ticket(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let registration = registrations::Entity::find_by_id(id.into_inner())
        .one(&state.db)
        .await?
        .filter(|r| r.user_id == caller.id)
        .ok_or(ApiError::NotFound("registration"))?;
    if registration.status != RegistrationStatus::Confirmed {
        return Err(ApiError::rule(
            "not_confirmed",
            "only a confirmed registration has a ticket",
        ));
    }
    let qr_svg = qr_svg(&registration.ticket_code).map_err(ApiError::internal)?;
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "private, no-store"))
        .json(TicketView {
            registration_id: registration.id,
            ticket_code: registration.ticket_code,
            qr_svg,
        }))
}

/// Of these students, those whose email and phone the caller may see:
/// organisers see all; a recruiter only those who checked in at an event of
/// its employer (they met at the door).
async fn contacts(
    conn: &impl ConnectionTrait,
    caller: &Caller,
    access: Access,
    user_ids: &[Uuid],
) -> Result<HashSet<Uuid>, ApiError> {
    match (access, caller.employer_id) {
        (Access::Staff, _) => Ok(user_ids.iter().copied().collect()),
        (Access::Participant, Some(employer_id)) => {
            super::checkins::contactable(conn, employer_id, user_ids).await
        }
        _ => Ok(HashSet::new()),
    }
}

/// An event's registrations (organisers, participating recruiters), as JSON
/// pages or, with `Accept: text/csv` / XLSX or `?format=`, all matching rows
/// as one file.
#[utoipa::path(get, path = "/api/v1/events/{id}/registrations", tag = "registrations", security(("bearer" = [])),
    params(("id" = Uuid, Path), RegistrationsQuery),
    responses((status = 200, body = Page<RegistrationView>, description = "JSON, or text/csv (UTF-8 with BOM) when asked"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_for_event(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<RegistrationsQuery>,
) -> Result<HttpResponse, ApiError> {
    use registrations::Column as R;
    let (event, access) = find_visible_event(&state.db, Some(&caller), id.into_inner()).await?;
    if access == Access::Public {
        return Err(ApiError::Forbidden(
            "only organisers and recruiters taking part see an event's registrations".into(),
        ));
    }
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let mut filter = Condition::all().add(R::EventId.eq(event.id));
    if let Some(status) = query.status {
        filter = filter.add(R::Status.eq(status));
    }
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        use users::Column as U;
        let mut any = Condition::any()
            .add(U::FullName.contains(q))
            .add(U::University.contains(q))
            .add(U::Major.contains(q));
        // Only those who may read emails may search by them.
        if access == Access::Staff {
            any = any.add(U::Email.contains(q));
        }
        let matching = Query::select()
            .column(U::Id)
            .from(users::Entity)
            .cond_where(any)
            .to_owned();
        filter = filter.add(R::UserId.in_subquery(matching));
    }
    if let Some(format) = export::requested(&req)? {
        let table = export_table(&state, &caller, access, filter).await?;
        return Ok(table.respond(format, &format!("registrations-{}", event.id)));
    }
    let mut select = registrations::Entity::find()
        .filter(filter)
        .order_by_asc(R::Id);
    if let Some(after) = page.after {
        select = select.filter(R::Id.gt(after));
    }
    let rows = select.limit(page.limit + 1).all(&state.db).await?;
    let rows = with_users(&state.db, rows).await?;
    let ids: Vec<Uuid> = rows.iter().map(|(r, _)| r.user_id).collect();
    let contacts = contacts(&state.db, &caller, access, &ids).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        page,
        |(r, _)| r.id,
        |(r, u)| RegistrationView {
            candidate: Some(Registrant::of(&u, contacts.contains(&u.id))),
            ..RegistrationView::new(r, false)
        },
    )))
}

const CSV_BATCH: u64 = 500;

/// Every matching registration as a table for CSV or XLSX, read in
/// batches by id.
async fn export_table(
    state: &AppState,
    caller: &Caller,
    access: Access,
    filter: Condition,
) -> Result<Table, ApiError> {
    use registrations::Column as R;
    let mut table = Table::new(&[
        "registration_id",
        "status",
        "waitlist_position",
        "full_name",
        "university",
        "major",
        "degree",
        "graduation_year",
        "email",
        "phone",
        "registered_at",
        "confirmed_at",
        "cancelled_at",
    ]);
    let mut after: Option<Uuid> = None;
    loop {
        let mut select = registrations::Entity::find()
            .filter(filter.clone())
            .order_by_asc(R::Id)
            .limit(CSV_BATCH);
        if let Some(after) = after {
            select = select.filter(R::Id.gt(after));
        }
        let rows = select.all(&state.db).await?;
        let done = (rows.len() as u64) < CSV_BATCH;
        after = rows.last().map(|r| r.id);
        let ids: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
        let contacts = contacts(&state.db, caller, access, &ids).await?;
        for (r, u) in with_users(&state.db, rows).await? {
            let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
            let status = serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let degree = u
                .degree
                .and_then(|d| serde_json::to_value(d).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let mut cells = vec![
                r.id.to_string(),
                status,
                r.waitlist_position
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                u.full_name.clone(),
                u.university.clone().unwrap_or_default(),
                u.major.clone().unwrap_or_default(),
                degree,
                u.graduation_year.map(|y| y.to_string()).unwrap_or_default(),
            ];
            if contacts.contains(&u.id) {
                cells.push(u.email.clone());
                cells.push(u.phone.clone().unwrap_or_default());
            } else {
                cells.extend([String::new(), String::new()]);
            }
            cells.extend([
                time(Some(r.created_at)),
                time(r.confirmed_at),
                time(r.cancelled_at),
            ]);
            table.push(cells.into_iter().map(Cell::Text).collect());
        }
        if done {
            break;
        }
    }
    Ok(table)
}
