//! Events: 宣讲会, 招聘会 and online sessions, with the employers taking part.
//! Lifecycle `draft → published → completed`, or `cancelled`. Only
//! published events are listed publicly and open to registration; an event
//! that was published stays readable after it completes or is cancelled.
use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection,
    DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set, TransactionTrait,
};
use uuid::Uuid;

use super::{
    access::lock_event,
    calendar::{calendar, facts},
    positions::{PositionView, positions_of},
    rules::{EventFields, apply, check_references},
    seats::{active_registrants, fill_seats},
    types::*,
};
use crate::{
    config::Settings,
    db, domain,
    entities::{
        employers, event_employers,
        events::{self, EventStatus},
        registrations::RegistrationStatus,
        users::Role,
    },
    http::{ApiError, Caller, FieldErrors, Page, PageQuery},
    notify::{
        self,
        custom::{Student, Wording},
        kinds::{Extras, TemplateKind},
        templates,
    },
};

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

/// Creates an event in `draft`.
pub async fn create(
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

pub async fn detail<C: ConnectionTrait>(
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

/// Changes an event. A new time or place on a published event emails every
/// confirmed and waitlisted registrant; more seats promote from the waitlist.
pub async fn update(
    conn: &DatabaseConnection,
    settings: &Settings,
    id: Uuid,
    patch: EventPatch,
) -> Result<events::Model, ApiError> {
    let txn = db::begin_write(conn).await?;
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
        fill_seats(&txn, settings, &mut model).await?;
    }
    let event = events::ActiveModel::from(model)
        .reset_all()
        .update(&txn)
        .await?;
    let changed = changes(&before, &event);
    if published && !changed.is_empty() {
        let extras = Extras {
            changes: changed,
            ..Extras::default()
        };
        tell_registrants(&txn, settings, &event, TemplateKind::EventChanged, &extras).await?;
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
    kind: TemplateKind,
    extras: &Extras,
) -> Result<(), ApiError> {
    let facts = facts(settings, event);
    let wording = Wording::load(txn, settings, event, kind).await?;
    for (registration, user) in active_registrants(txn, event.id).await? {
        let attachments = if registration.status == RegistrationStatus::Confirmed {
            vec![calendar(settings, event)]
        } else {
            Vec::new()
        };
        notify::enqueue(
            txn,
            &user.email,
            wording.render(Student::of(&user), &facts, &[], extras),
            attachments,
        )
        .await?;
    }
    Ok(())
}

/// Moves an event along its lifecycle; cancelling a published event emails
/// its registrants with the reason.
pub async fn transition(
    conn: &DatabaseConnection,
    settings: &Settings,
    id: Uuid,
    to: EventStatus,
    reason: Option<String>,
) -> Result<events::Model, ApiError> {
    let txn = db::begin_write(conn).await?;
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
        let extras = Extras {
            reason: reason.unwrap_or_default(),
            ..Extras::default()
        };
        tell_registrants(
            &txn,
            settings,
            &event,
            TemplateKind::EventCancelled,
            &extras,
        )
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

/// Events matching `query`, soonest first. Anyone sees published events;
/// organisers may ask for any `status`.
pub async fn search(
    conn: &DatabaseConnection,
    caller: Option<&Caller>,
    query: EventsQuery,
) -> Result<Page<EventView>, ApiError> {
    use events::Column as C;
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse_timed()?;
    let staff = caller.is_some_and(|c| matches!(c.role, Role::Organiser | Role::Admin));
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
    let rows = select.limit(page.limit + 1).all(conn).await?;
    Ok(Page::from_timed_rows(
        rows,
        page.limit,
        |e| (e.starts_at, e.id),
        EventView::from,
    ))
}
