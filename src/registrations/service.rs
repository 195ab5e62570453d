//! Registrations after they are made (see `register` for making one):
//! cancelling, which locks the event row first (see [`lock_event`]) and
//! moves the event's counters in the same transaction, so confirmed never
//! exceeds capacity and waitlist positions stay 1, 2, 3, … however many
//! requests arrive at once; and the lists and tickets students, organisers
//! and recruiters read.
use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set, sea_query::Query,
};
use uuid::Uuid;

use super::{contacts::contacts, export, tickets::qr_svg, types::*};
use crate::{
    db,
    entities::{
        events::{self, EventStatus},
        registrations::{self, RegistrationStatus},
        users::{self, Role},
    },
    events::{
        access::{Access, access_of, find_visible_event, lock_event},
        calendar::facts,
        seats::{close_gap, fill_seats, save_counts, with_users},
    },
    http::{ApiError, Caller, Page, PageQuery, export::Format, paged_export::PeoplePages},
    notify::{
        self,
        custom::{Student, Wording},
        kinds::{Extras, TemplateKind},
        webhooks::{self, WebhookEvent},
    },
    state::AppState,
};

/// Cancels a registration (its student or an organiser) and gives a freed
/// seat to the first eligible student on the waitlist, in one transaction.
pub async fn cancel(
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
        let access = access_of(&state.db, Some(caller), found.event_id).await?;
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
    let wording = Wording::load(
        &txn,
        &state.settings,
        &event,
        TemplateKind::RegistrationCancelled,
    )
    .await?;
    let extras = Extras {
        by_organiser: caller.id != student.id,
        ..Extras::default()
    };
    let facts = facts(&state.settings, &event);
    let mail = wording.render(Student::of(&student), &facts, &[], &extras);
    notify::enqueue(&txn, &student.email, mail, Vec::new()).await?;
    webhooks::emit(
        &txn,
        WebhookEvent::RegistrationCancelled,
        webhooks::registration_data(&cancelled),
    )
    .await?;
    txn.commit().await?;
    state.changed(event.id);
    Ok(cancelled)
}

/// Reads a registration the caller may see: its own, or any of an event the
/// caller organises or recruits at. Everything else is 404.
async fn visible_registration(
    conn: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<(registrations::Model, Access), ApiError> {
    let registration = registrations::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound("registration"))?;
    let access = access_of(conn, Some(caller), registration.event_id).await?;
    if registration.user_id != caller.id && access == Access::Public {
        return Err(ApiError::NotFound("registration"));
    }
    Ok((registration, access))
}

/// The student's registrations, newest first, with their events.
pub async fn mine(
    conn: &DatabaseConnection,
    caller: &Caller,
    page: PageQuery,
) -> Result<Page<RegistrationView>, ApiError> {
    use registrations::Column as R;
    let page = page.parse()?;
    let mut select = registrations::Entity::find()
        .filter(R::UserId.eq(caller.id))
        .order_by_desc(R::Id);
    if let Some(before) = page.after {
        select = select.filter(R::Id.lt(before));
    }
    let rows = select.limit(page.limit + 1).all(conn).await?;
    let events: HashMap<Uuid, events::Model> = events::Entity::find()
        .filter(events::Column::Id.is_in(rows.iter().map(|r| r.event_id)))
        .all(conn)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    Ok(Page::from_rows(
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
    ))
}

/// One registration as the caller may see it: the student sees its own with
/// the ticket; staff and participating recruiters see the student too.
pub async fn get(
    conn: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<RegistrationView, ApiError> {
    let (registration, access) = visible_registration(conn, caller, id).await?;
    let owner = registration.user_id == caller.id;
    let event = events::Entity::find_by_id(registration.event_id)
        .one(conn)
        .await?;
    let candidate = if owner {
        None
    } else {
        let contacts = contacts(conn, caller, access, &[registration.user_id]).await?;
        users::Entity::find_by_id(registration.user_id)
            .one(conn)
            .await?
            .map(|u| Registrant::of(&u, contacts.contains(&u.id)))
    };
    Ok(RegistrationView {
        event: event.as_ref().map(EventSummary::from),
        candidate,
        ..RegistrationView::new(registration, owner)
    })
}

/// The ticket and its QR code, for the student itself while confirmed.
pub async fn ticket(
    conn: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<TicketView, ApiError> {
    let registration = registrations::Entity::find_by_id(id)
        .one(conn)
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
    Ok(TicketView {
        registration_id: registration.id,
        ticket_code: registration.ticket_code,
        qr_svg,
    })
}

/// An event's registrations as the caller asked for them: a page of JSON,
/// or every matching row as a spreadsheet.
pub enum Listing {
    Page(Page<RegistrationView>),
    File {
        pages: PeoplePages,
        format: Format,
        name: String,
    },
}

/// An event's registrations (organisers, participating recruiters),
/// filtered by status and a search over name, university, major and, for
/// those who may read them, emails.
pub async fn list_for_event(
    conn: &DatabaseConnection,
    caller: &Caller,
    event_id: Uuid,
    query: RegistrationsQuery,
    file: Option<Format>,
) -> Result<Listing, ApiError> {
    use registrations::Column as R;
    let (event, access) = find_visible_event(conn, Some(caller), event_id).await?;
    if access == Access::Public {
        return Err(ApiError::Forbidden(
            "only organisers and recruiters taking part see an event's registrations".into(),
        ));
    }
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
    if let Some(format) = file {
        return Ok(Listing::File {
            pages: export::pages(conn.clone(), caller.clone(), access, filter),
            format,
            name: format!("registrations-{}", event.id),
        });
    }
    let mut select = registrations::Entity::find()
        .filter(filter)
        .order_by_asc(R::Id);
    if let Some(after) = page.after {
        select = select.filter(R::Id.gt(after));
    }
    let rows = select.limit(page.limit + 1).all(conn).await?;
    let rows = with_users(conn, rows).await?;
    let ids: Vec<Uuid> = rows.iter().map(|(r, _)| r.user_id).collect();
    let contacts = contacts(conn, caller, access, &ids).await?;
    Ok(Listing::Page(Page::from_rows(
        rows,
        page,
        |(r, _)| r.id,
        |(r, u)| RegistrationView {
            candidate: Some(Registrant::of(&u, contacts.contains(&u.id))),
            ..RegistrationView::new(r, false)
        },
    )))
}
