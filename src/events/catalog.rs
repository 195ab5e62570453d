//! Events: 宣讲会, 招聘会 and online sessions, with the employers taking part.
//! Lifecycle `draft → published → completed`, or `cancelled`. Only
//! published events are listed publicly and open to registration; an event
//! that was published stays readable after it completes or is cancelled.

use std::collections::HashMap;

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::{
    campaigns::find_campaign,
    positions::{PositionView, positions_of},
    registrations::{self, active_registrants},
    tickets::{CalendarEvent, ics},
};
use crate::{
    config::Settings,
    db, domain,
    entities::{
        employers, event_employers,
        events::{self, EventKind, EventStatus},
        registrations::RegistrationStatus,
        users::{Degree, Role},
    },
    http::{
        ApiError, Caller, FieldError, FieldErrors, Json, MaybeCaller, Organiser, Page, PageQuery,
        error::Problem,
        idempotency::{self, IdempotencyKey},
    },
    notify::{self, Attachment, templates},
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events", web::post().to(create))
        .route("/events", web::get().to(list))
        .route("/events/{id}", web::get().to(get))
        .route("/events/{id}", web::patch().to(update))
        .route("/events/{id}/publish", web::post().to(publish))
        .route("/events/{id}/complete", web::post().to(complete))
        .route("/events/{id}/cancel", web::post().to(cancel));
}

const MAX_CAPACITY: i32 = 100_000;

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventRequest {
    pub title: String,
    pub kind: EventKind,
    pub campaign_id: Option<Uuid>,
    pub university: String,
    pub venue: String,
    pub city: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    /// How many may wait for a freed seat; 0 (the default) means no waitlist.
    #[serde(default)]
    pub waitlist_limit: i32,
    /// When registration opens; without it, at publication.
    pub registration_opens_at: Option<DateTime<Utc>>,
    /// When registration closes; without it, when the event starts.
    pub registration_closes_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub employer_ids: Vec<Uuid>,
    /// The lowest degree admitted; without it, every degree.
    pub min_degree: Option<Degree>,
    /// The graduation years admitted; without it (or empty), every year.
    pub graduation_years: Option<Vec<i32>>,
}

/// Fields to change; `null` clears the optional ones.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct EventPatch {
    pub title: Option<String>,
    pub kind: Option<EventKind>,
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub campaign_id: Option<Option<Uuid>>,
    pub university: Option<String>,
    pub venue: Option<String>,
    pub city: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub capacity: Option<i32>,
    pub waitlist_limit: Option<i32>,
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub registration_opens_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub registration_closes_at: Option<Option<DateTime<Utc>>>,
    pub description: Option<String>,
    /// Replaces the set of participating employers.
    pub employer_ids: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<Degree>)]
    pub min_degree: Option<Option<Degree>>,
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<Vec<i32>>)]
    pub graduation_years: Option<Option<Vec<i32>>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CancelRequest {
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    pub id: Uuid,
    pub title: String,
    pub kind: EventKind,
    pub status: EventStatus,
    pub campaign_id: Option<Uuid>,
    pub university: String,
    pub venue: String,
    pub city: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub waitlist_limit: i32,
    pub registration_opens_at: Option<DateTime<Utc>>,
    pub registration_closes_at: Option<DateTime<Utc>>,
    pub description: String,
    pub min_degree: Option<Degree>,
    pub graduation_years: Vec<i32>,
    pub confirmed_count: i32,
    pub waitlist_count: i32,
    pub seats_left: i32,
    pub cancel_reason: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<events::Model> for EventView {
    fn from(e: events::Model) -> Self {
        Self {
            graduation_years: graduation_years_of(&e),
            seats_left: (e.capacity - e.confirmed_count).max(0),
            id: e.id,
            title: e.title,
            kind: e.kind,
            status: e.status,
            campaign_id: e.campaign_id,
            university: e.university,
            venue: e.venue,
            city: e.city,
            starts_at: e.starts_at,
            ends_at: e.ends_at,
            capacity: e.capacity,
            waitlist_limit: e.waitlist_limit,
            registration_opens_at: e.registration_opens_at,
            registration_closes_at: e.registration_closes_at,
            description: e.description,
            min_degree: e.min_degree,
            confirmed_count: e.confirmed_count,
            waitlist_count: e.waitlist_count,
            cancel_reason: e.cancel_reason,
            published_at: e.published_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An employer at an event, with the positions it recruits for.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventEmployer {
    pub id: Uuid,
    pub name: String,
    pub industry: String,
    pub district: String,
    pub positions: Vec<PositionView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventDetail {
    #[serde(flatten)]
    pub event: EventView,
    pub employers: Vec<EventEmployer>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Part of the title or the university's name.
    pub q: Option<String>,
    pub university: Option<String>,
    pub city: Option<String>,
    pub campaign_id: Option<Uuid>,
    pub kind: Option<EventKind>,
    /// Events starting at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events starting at or before this time.
    pub to: Option<DateTime<Utc>>,
    /// Organisers only; everyone else sees published events.
    pub status: Option<EventStatus>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

pub fn graduation_years_of(event: &events::Model) -> Vec<i32> {
    event
        .graduation_years
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

/// How the caller relates to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Organisers and admins: everything.
    Staff,
    /// A recruiter of an employer taking part.
    Participant,
    /// Students, other recruiters, anonymous visitors.
    Public,
}

pub async fn access_of<C: ConnectionTrait>(
    conn: &C,
    caller: Option<&Caller>,
    event_id: Uuid,
) -> Result<Access, ApiError> {
    let Some(caller) = caller else {
        return Ok(Access::Public);
    };
    match (caller.role, caller.employer_id) {
        (Role::Organiser | Role::Admin, _) => Ok(Access::Staff),
        (Role::Recruiter, Some(employer_id)) => {
            let taking_part = event_employers::Entity::find_by_id((event_id, employer_id))
                .one(conn)
                .await?
                .is_some();
            Ok(if taking_part {
                Access::Participant
            } else {
                Access::Public
            })
        }
        _ => Ok(Access::Public),
    }
}

/// An event as the caller may see it: drafts exist only for staff and the
/// participating recruiters; for anyone else they are 404.
pub async fn find_visible_event<C: ConnectionTrait>(
    conn: &C,
    caller: Option<&Caller>,
    id: Uuid,
) -> Result<(events::Model, Access), ApiError> {
    let event = events::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let access = access_of(conn, caller, id).await?;
    if access == Access::Public && event.published_at.is_none() {
        return Err(ApiError::NotFound("event"));
    }
    Ok((event, access))
}

/// Locks the event row until the transaction ends (`SELECT … FOR UPDATE` on
/// PostgreSQL; on SQLite the `BEGIN IMMEDIATE` of `db::begin_write` already
/// holds the write lock). Every change to an event's registrations takes
/// this lock first, so they happen one after another per event.
pub async fn lock_event(txn: &DatabaseTransaction, id: Uuid) -> Result<events::Model, ApiError> {
    events::Entity::find_by_id(id)
        .lock_exclusive()
        .one(txn)
        .await?
        .ok_or(ApiError::NotFound("event"))
}

/// What the emails say about an event.
pub fn facts<'a>(settings: &Settings, event: &'a events::Model) -> templates::EventFacts<'a> {
    templates::EventFacts {
        title: &event.title,
        university: &event.university,
        venue: &event.venue,
        city: &event.city,
        starts_at: event.starts_at,
        ends_at: event.ends_at,
        link: settings.page(&format!("/events/{}", event.id)),
    }
}

/// The event as an .ics attachment; `SEQUENCE` follows the last change so a
/// calendar replaces an older copy.
pub fn calendar(settings: &Settings, event: &events::Model) -> Attachment {
    let host = settings
        .public_base_url
        .split("://")
        .nth(1)
        .unwrap_or("nuancheng")
        .trim_end_matches('/');
    let location = format!("{}，{}，{}", event.venue, event.university, event.city);
    let content = ics(
        &CalendarEvent {
            uid: format!("{}@{host}", event.id),
            sequence: event.updated_at.timestamp() - event.created_at.timestamp(),
            title: &event.title,
            location: &location,
            description: &event.description,
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            cancelled: event.status == EventStatus::Cancelled,
        },
        db::now(),
    );
    Attachment {
        filename: "event.ics".into(),
        content_type: "text/calendar; charset=utf-8".into(),
        content,
    }
}

/// An event's fields while they are being checked; the same checks serve
/// creation and every PATCH, so no change can make an event inconsistent.
struct EventFields {
    model: events::Model,
    employer_ids: Option<Vec<Uuid>>,
}

fn apply(model: &mut events::Model, patch: EventPatch) -> (FieldErrors, Option<Vec<Uuid>>) {
    let mut errors = FieldErrors::new();
    let text = |errors: &mut FieldErrors, field: &str, value: Option<String>, max| {
        value.and_then(|v| errors.take(domain::text(field, &v, max)))
    };
    if let Some(v) = text(&mut errors, "title", patch.title, 200) {
        model.title = v;
    }
    if let Some(v) = text(&mut errors, "university", patch.university, 100) {
        model.university = v;
    }
    if let Some(v) = text(&mut errors, "venue", patch.venue, 200) {
        model.venue = v;
    }
    if let Some(v) = text(&mut errors, "city", patch.city, 50) {
        model.city = v;
    }
    if let Some(v) = patch.description.and_then(|v| {
        errors.take(
            domain::optional_text("description", Some(&v), 10_000).map(Option::unwrap_or_default),
        )
    }) {
        model.description = v;
    }
    if let Some(v) = patch.kind {
        model.kind = v;
    }
    if let Some(v) = patch.campaign_id {
        model.campaign_id = v;
    }
    let time = |errors: &mut FieldErrors, field: &str, v: DateTime<Utc>| {
        errors
            .take(domain::plausible_time(field, v))
            .map(db::truncate)
    };
    if let Some(v) = patch
        .starts_at
        .and_then(|v| time(&mut errors, "starts_at", v))
    {
        model.starts_at = v;
    }
    if let Some(v) = patch.ends_at.and_then(|v| time(&mut errors, "ends_at", v)) {
        model.ends_at = v;
    }
    if let Some(v) = patch
        .capacity
        .and_then(|v| errors.take(domain::in_range("capacity", v, 1..=MAX_CAPACITY)))
    {
        model.capacity = v;
    }
    if let Some(v) = patch
        .waitlist_limit
        .and_then(|v| errors.take(domain::in_range("waitlist_limit", v, 0..=MAX_CAPACITY)))
    {
        model.waitlist_limit = v;
    }
    if let Some(v) = patch.registration_opens_at {
        model.registration_opens_at = v.and_then(|v| time(&mut errors, "registration_opens_at", v));
    }
    if let Some(v) = patch.registration_closes_at {
        model.registration_closes_at =
            v.and_then(|v| time(&mut errors, "registration_closes_at", v));
    }
    if let Some(v) = patch.min_degree {
        model.min_degree = v;
    }
    if let Some(years) = patch.graduation_years {
        let years = years.unwrap_or_default();
        if years.len() > 20 {
            errors.take::<()>(Err(FieldError::new(
                "graduation_years",
                "too_many",
                "must have at most 20 years",
            )));
        }
        let mut valid: Vec<i32> = years
            .iter()
            .enumerate()
            .filter_map(|(i, y)| {
                errors.take(domain::graduation_year(
                    &format!("graduation_years[{i}]"),
                    *y,
                ))
            })
            .collect();
        valid.sort_unstable();
        valid.dedup();
        model.graduation_years = (!valid.is_empty()).then(|| serde_json::json!(valid));
    }
    if model.ends_at <= model.starts_at {
        errors.take::<()>(Err(FieldError::new(
            "ends_at",
            "before_start",
            "must be after starts_at",
        )));
    }
    if let Some(closes) = model.registration_closes_at
        && closes > model.ends_at
    {
        errors.take::<()>(Err(FieldError::new(
            "registration_closes_at",
            "after_event_end",
            "registration must close by the time the event ends",
        )));
    }
    if let (Some(opens), Some(closes)) = (model.registration_opens_at, model.registration_closes_at)
        && closes <= opens
    {
        errors.take::<()>(Err(FieldError::new(
            "registration_closes_at",
            "before_opening",
            "must be after registration_opens_at",
        )));
    }
    let employer_ids = patch.employer_ids.map(|mut ids| {
        let mut seen = std::collections::HashSet::new();
        ids.retain(|id| seen.insert(*id));
        ids
    });
    if employer_ids.as_ref().is_some_and(|ids| ids.len() > 200) {
        errors.take::<()>(Err(FieldError::new(
            "employer_ids",
            "too_many",
            "at most 200 employers take part in one event",
        )));
    }
    (errors, employer_ids)
}

/// Checks what needs the database: the campaign and employers exist.
async fn check_references<C: ConnectionTrait>(
    conn: &C,
    fields: &EventFields,
    mut errors: FieldErrors,
) -> Result<(), ApiError> {
    if let Some(campaign_id) = fields.model.campaign_id
        && find_campaign(conn, campaign_id).await.is_err()
    {
        errors.take::<()>(Err(FieldError::new(
            "campaign_id",
            "unknown",
            "no campaign has this id",
        )));
    }
    if let Some(ids) = fields.employer_ids.as_ref().filter(|ids| !ids.is_empty()) {
        let found: Vec<Uuid> = employers::Entity::find()
            .filter(employers::Column::Id.is_in(ids.iter().copied()))
            .all(conn)
            .await?
            .into_iter()
            .map(|e| e.id)
            .collect();
        let unknown: Vec<String> = ids
            .iter()
            .filter(|id| !found.contains(id))
            .map(Uuid::to_string)
            .collect();
        if !unknown.is_empty() {
            errors.take::<()>(Err(FieldError::new(
                "employer_ids",
                "unknown",
                format!("no employer has the id {}", unknown.join(", ")),
            )));
        }
    }
    errors.finish()
}

async fn replace_employers<C: ConnectionTrait>(
    conn: &C,
    event_id: Uuid,
    employer_ids: &[Uuid],
) -> Result<(), ApiError> {
    event_employers::Entity::delete_many()
        .filter(event_employers::Column::EventId.eq(event_id))
        .exec(conn)
        .await?;
    if !employer_ids.is_empty() {
        event_employers::Entity::insert_many(employer_ids.iter().map(|employer_id| {
            event_employers::ActiveModel {
                event_id: Set(event_id),
                employer_id: Set(*employer_id),
            }
        }))
        .exec(conn)
        .await?;
    }
    Ok(())
}

pub async fn create_event(
    db_conn: &DatabaseConnection,
    caller: &Caller,
    input: EventRequest,
) -> Result<events::Model, ApiError> {
    let now = db::now();
    let mut model = events::Model {
        id: Uuid::now_v7(),
        campaign_id: None,
        title: String::new(),
        kind: input.kind,
        university: String::new(),
        venue: String::new(),
        city: String::new(),
        starts_at: now,
        ends_at: now,
        capacity: 1,
        waitlist_limit: 0,
        registration_opens_at: None,
        registration_closes_at: None,
        description: String::new(),
        min_degree: None,
        graduation_years: None,
        status: EventStatus::Draft,
        cancel_reason: None,
        confirmed_count: 0,
        waitlist_count: 0,
        created_by: caller.id,
        published_at: None,
        cancelled_at: None,
        created_at: now,
        updated_at: now,
    };
    let (errors, employer_ids) = apply(
        &mut model,
        EventPatch {
            title: Some(input.title),
            kind: None,
            campaign_id: Some(input.campaign_id),
            university: Some(input.university),
            venue: Some(input.venue),
            city: Some(input.city),
            starts_at: Some(input.starts_at),
            ends_at: Some(input.ends_at),
            capacity: Some(input.capacity),
            waitlist_limit: Some(input.waitlist_limit),
            registration_opens_at: Some(input.registration_opens_at),
            registration_closes_at: Some(input.registration_closes_at),
            description: Some(input.description),
            employer_ids: Some(input.employer_ids),
            min_degree: Some(input.min_degree),
            graduation_years: Some(input.graduation_years),
        },
    );
    let fields = EventFields {
        model,
        employer_ids,
    };
    check_references(db_conn, &fields, errors).await?;
    let txn = db_conn.begin().await?;
    let event = events::ActiveModel::from(fields.model)
        .reset_all()
        .insert(&txn)
        .await?;
    replace_employers(
        &txn,
        event.id,
        fields.employer_ids.as_deref().unwrap_or(&[]),
    )
    .await?;
    txn.commit().await?;
    Ok(event)
}

/// The participating employers with their positions.
pub async fn employers_of<C: ConnectionTrait>(
    conn: &C,
    event_id: Uuid,
) -> Result<Vec<EventEmployer>, ApiError> {
    use sea_orm::sea_query::Query;
    let taking_part = Query::select()
        .column(event_employers::Column::EmployerId)
        .from(event_employers::Entity)
        .and_where(event_employers::Column::EventId.eq(event_id))
        .to_owned();
    let found = employers::Entity::find()
        .filter(employers::Column::Id.in_subquery(taking_part))
        .order_by_asc(employers::Column::Name)
        .all(conn)
        .await?;
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = found.iter().map(|e| e.id).collect();
    let mut positions: HashMap<Uuid, Vec<PositionView>> = HashMap::new();
    for position in positions_of(conn, &ids).await? {
        positions
            .entry(position.employer_id)
            .or_default()
            .push(position.into());
    }
    Ok(found
        .into_iter()
        .map(|e| EventEmployer {
            positions: positions.remove(&e.id).unwrap_or_default(),
            id: e.id,
            name: e.name,
            industry: e.industry,
            district: e.district,
        })
        .collect())
}

async fn detail<C: ConnectionTrait>(
    conn: &C,
    event: events::Model,
) -> Result<EventDetail, ApiError> {
    let employers = employers_of(conn, event.id).await?;
    Ok(EventDetail {
        event: event.into(),
        employers,
    })
}

/// What a change of time or place means to a registrant, line by line.
fn changes(before: &events::Model, after: &events::Model) -> Vec<String> {
    let mut lines = Vec::new();
    if before.starts_at != after.starts_at || before.ends_at != after.ends_at {
        lines.push(format!(
            "时间 / Time：{} – {} → {} – {}",
            templates::beijing_time(before.starts_at),
            templates::beijing_time(before.ends_at),
            templates::beijing_time(after.starts_at),
            templates::beijing_time(after.ends_at)
        ));
    }
    for (label, old, new) in [
        ("地点 / Venue", &before.venue, &after.venue),
        ("学校 / University", &before.university, &after.university),
        ("城市 / City", &before.city, &after.city),
    ] {
        if old != new {
            lines.push(format!("{label}：{old} → {new}"));
        }
    }
    lines
}

pub async fn update_event(
    state: &AppState,
    id: Uuid,
    patch: EventPatch,
) -> Result<events::Model, ApiError> {
    let txn = db::begin_write(&state.db).await?;
    let before = lock_event(&txn, id).await?;
    if matches!(
        before.status,
        EventStatus::Completed | EventStatus::Cancelled
    ) {
        return Err(ApiError::conflict(
            "event_not_editable",
            "a completed or cancelled event cannot be changed",
        ));
    }
    let mut model = before.clone();
    let (errors, employer_ids) = apply(&mut model, patch);
    let fields = EventFields {
        model,
        employer_ids,
    };
    check_references(&txn, &fields, errors).await?;
    let mut model = fields.model;
    if model.capacity < before.capacity && model.capacity < before.confirmed_count {
        return Err(ApiError::rule(
            "capacity_below_confirmed",
            format!(
                "{} registrations are confirmed; cancel some before lowering capacity below that",
                before.confirmed_count
            ),
        ));
    }
    if model.waitlist_limit < before.waitlist_limit && model.waitlist_limit < before.waitlist_count
    {
        return Err(ApiError::rule(
            "waitlist_below_current",
            format!(
                "{} people are waiting; the waitlist cannot be shorter than that",
                before.waitlist_count
            ),
        ));
    }
    model.updated_at = db::now();
    if let Some(ids) = &fields.employer_ids {
        replace_employers(&txn, id, ids).await?;
    }
    let published = model.status == EventStatus::Published;
    if published {
        // More seats, or rules that now admit someone waiting.
        registrations::fill_seats(&txn, &state.settings, &mut model).await?;
    }
    let event = events::ActiveModel::from(model)
        .reset_all()
        .update(&txn)
        .await?;
    let changed = changes(&before, &event);
    if published && !changed.is_empty() {
        tell_registrants(&txn, &state.settings, &event, |name, facts| {
            templates::event_changed(name, facts, &changed)
        })
        .await?;
    }
    txn.commit().await?;
    Ok(event)
}

/// Emails every confirmed and waitlisted registrant of `event`; confirmed
/// ones also get the calendar file, so their calendar follows the change.
async fn tell_registrants(
    txn: &DatabaseTransaction,
    settings: &Settings,
    event: &events::Model,
    render: impl Fn(&str, &templates::EventFacts<'_>) -> notify::Rendered,
) -> Result<(), ApiError> {
    let facts = facts(settings, event);
    for (registration, user) in active_registrants(txn, event.id).await? {
        let attachments = if registration.status == RegistrationStatus::Confirmed {
            vec![calendar(settings, event)]
        } else {
            Vec::new()
        };
        notify::enqueue(
            txn,
            &user.email,
            render(&user.full_name, &facts),
            attachments,
        )
        .await?;
    }
    Ok(())
}

async fn transition(
    state: &AppState,
    id: Uuid,
    to: EventStatus,
    reason: Option<String>,
) -> Result<events::Model, ApiError> {
    let txn = db::begin_write(&state.db).await?;
    let mut event = lock_event(&txn, id).await?;
    let now = db::now();
    let from = event.status;
    match (from, to) {
        (EventStatus::Draft, EventStatus::Published) => {
            if event.starts_at <= now {
                return Err(ApiError::rule(
                    "event_in_past",
                    "an event that has already started cannot be published",
                ));
            }
            event.published_at = Some(now);
        }
        (EventStatus::Published, EventStatus::Completed) => {
            if event.ends_at > now {
                return Err(ApiError::rule(
                    "event_not_over",
                    "an event is completed only after it ends",
                ));
            }
        }
        (EventStatus::Draft | EventStatus::Published, EventStatus::Cancelled) => {
            event.cancelled_at = Some(now);
            event.cancel_reason = reason.clone();
        }
        _ => {
            return Err(ApiError::conflict(
                "invalid_transition",
                format!(
                    "a {} event cannot become {}",
                    status_name(from),
                    status_name(to)
                ),
            ));
        }
    }
    event.status = to;
    event.updated_at = now;
    let event = events::ActiveModel::from(event)
        .reset_all()
        .update(&txn)
        .await?;
    if to == EventStatus::Cancelled && from == EventStatus::Published {
        let reason = reason.unwrap_or_default();
        tell_registrants(&txn, &state.settings, &event, |name, facts| {
            templates::event_cancelled(name, facts, &reason)
        })
        .await?;
    }
    txn.commit().await?;
    Ok(event)
}

fn status_name(status: EventStatus) -> &'static str {
    match status {
        EventStatus::Draft => "draft",
        EventStatus::Published => "published",
        EventStatus::Completed => "completed",
        EventStatus::Cancelled => "cancelled",
    }
}

/// Create an event in `draft` (organisers).
#[utoipa::path(post, path = "/api/v1/events", tag = "events", security(("bearer" = [])),
    request_body = EventRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    responses((status = 201, body = EventDetail), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
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
            let event = create_event(&state.db, &caller, input).await?;
            Ok((StatusCode::CREATED, detail(&state.db, event).await?))
        },
    )
    .await
}

/// Search events, soonest first. Anyone sees published events; organisers
/// may ask for any `status`.
#[utoipa::path(get, path = "/api/v1/events", tag = "events", params(EventsQuery),
    responses((status = 200, body = Page<EventView>), (status = 422, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    MaybeCaller(caller): MaybeCaller,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    use events::Column as C;
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse_timed()?;
    let staff = caller
        .as_ref()
        .is_some_and(|c| matches!(c.role, Role::Organiser | Role::Admin));
    let status = match query.status {
        None | Some(EventStatus::Published) => EventStatus::Published,
        Some(status) if staff => status,
        Some(_) => {
            return Err(ApiError::Forbidden(
                "only organisers may list events that are not published".into(),
            ));
        }
    };
    let mut select = events::Entity::find()
        .order_by_asc(C::StartsAt)
        .order_by_asc(C::Id);
    select = select.filter(C::Status.eq(status));
    if let Some(q) = query.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        select = select.filter(
            Condition::any()
                .add(C::Title.contains(q))
                .add(C::University.contains(q)),
        );
    }
    if let Some(v) = query
        .university
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        select = select.filter(C::University.eq(v));
    }
    if let Some(v) = query
        .city
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        select = select.filter(C::City.eq(v));
    }
    if let Some(v) = query.campaign_id {
        select = select.filter(C::CampaignId.eq(v));
    }
    if let Some(v) = query.kind {
        select = select.filter(C::Kind.eq(v));
    }
    let mut errors = FieldErrors::new();
    let from = query
        .from
        .and_then(|v| errors.take(domain::plausible_time("from", v)));
    let to = query
        .to
        .and_then(|v| errors.take(domain::plausible_time("to", v)));
    errors.finish()?;
    if let Some(v) = from {
        select = select.filter(C::StartsAt.gte(v));
    }
    if let Some(v) = to {
        select = select.filter(C::StartsAt.lte(v));
    }
    if let Some((at, id)) = page.after {
        select = select.filter(
            Condition::any()
                .add(C::StartsAt.gt(at))
                .add(Condition::all().add(C::StartsAt.eq(at)).add(C::Id.gt(id))),
        );
    }
    let rows = select.limit(page.limit + 1).all(&state.db).await?;
    Ok(HttpResponse::Ok().json(Page::from_timed_rows(
        rows,
        page.limit,
        |e| (e.starts_at, e.id),
        EventView::from,
    )))
}

/// One event with its counts and the employers with their positions.
#[utoipa::path(get, path = "/api/v1/events/{id}", tag = "events", params(("id" = Uuid, Path)),
    responses((status = 200, body = EventDetail), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    MaybeCaller(caller): MaybeCaller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let (event, _) = find_visible_event(&state.db, caller.as_ref(), id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(detail(&state.db, event).await?))
}

/// Change an event (organisers). A new time or place on a published event
/// emails every confirmed and waitlisted registrant; more seats promote
/// from the waitlist at once.
#[utoipa::path(patch, path = "/api/v1/events/{id}", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = EventPatch,
    responses((status = 200, body = EventDetail), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "event_not_editable"),
        (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
    body: Json<EventPatch>,
) -> Result<HttpResponse, ApiError> {
    let event = update_event(&state, id.into_inner(), body.into_inner()?).await?;
    Ok(HttpResponse::Ok().json(detail(&state.db, event).await?))
}

/// Publish a draft: it becomes visible and open to registration (organisers).
#[utoipa::path(post, path = "/api/v1/events/{id}/publish", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventDetail), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_transition"), (status = 422, body = Problem)))]
pub async fn publish(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let event = transition(&state, id.into_inner(), EventStatus::Published, None).await?;
    Ok(HttpResponse::Ok().json(detail(&state.db, event).await?))
}

/// Mark a published event as held, once it has ended (organisers).
#[utoipa::path(post, path = "/api/v1/events/{id}/complete", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventDetail), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_transition"), (status = 422, body = Problem)))]
pub async fn complete(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let event = transition(&state, id.into_inner(), EventStatus::Completed, None).await?;
    Ok(HttpResponse::Ok().json(detail(&state.db, event).await?))
}

/// Cancel an event; every confirmed and waitlisted registrant gets an email
/// with the reason (organisers).
#[utoipa::path(post, path = "/api/v1/events/{id}/cancel", tag = "events", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CancelRequest,
    responses((status = 200, body = EventDetail), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_transition"), (status = 422, body = Problem)))]
pub async fn cancel(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
    body: Json<CancelRequest>,
) -> Result<HttpResponse, ApiError> {
    let reason = domain::text("reason", &body.into_inner()?.reason, 500)
        .map_err(|e| ApiError::Validation(vec![e]))?;
    let event = transition(
        &state,
        id.into_inner(),
        EventStatus::Cancelled,
        Some(reason),
    )
    .await?;
    Ok(HttpResponse::Ok().json(detail(&state.db, event).await?))
}
