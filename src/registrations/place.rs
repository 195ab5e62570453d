//! What both ways of registering share (`register`'s general way and the
//! one statement of `fast`): who registers where, what was read before the
//! lock, the registration and its email as they are written, the event's
//! rules, and the answers when a place is refused or was taken meanwhile.

use sea_orm::{
    ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set, UpdateMany,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{tickets::new_ticket_code, types::*};
use crate::{
    config::Settings,
    entities::{
        events::{self, EventStatus},
        registrations::{self, RegistrationStatus},
    },
    events::{
        calendar::{calendar, facts},
        seats::eligibility,
    },
    http::{ApiError, Caller},
    notify::{
        Attachment, Rendered,
        custom::{Student, Wording},
        kinds::{Extras, TemplateKind},
    },
    state::AppState,
};

pub(super) fn already_registered(existing: registrations::Model) -> ApiError {
    let existing = serde_json::to_value(RegistrationView::new(existing, true)).ok();
    ApiError::Conflict {
        code: "already_registered",
        detail: "you are already registered for this event".into(),
        existing,
    }
}

/// Who registers where, and when.
pub(super) struct Place<'a> {
    pub state: &'a AppState,
    pub caller: &'a Caller,
    pub event_id: Uuid,
    pub referrer_id: Option<Uuid>,
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Place<'_> {
    /// The registration as it is written: confirmed (`position` `None`) or
    /// waitlisted, with a new ticket code (also when a cancelled place is
    /// taken again: the cancelled ticket stays dead).
    pub fn registration(&self, position: Option<i32>) -> registrations::ActiveModel {
        let status = match position {
            None => RegistrationStatus::Confirmed,
            Some(_) => RegistrationStatus::Waitlisted,
        };
        registrations::ActiveModel {
            status: Set(status),
            waitlist_position: Set(position),
            ticket_code: Set(new_ticket_code()),
            referrer_id: Set(self.referrer_id),
            confirmed_at: Set(position.is_none().then_some(self.now)),
            cancelled_at: Set(None),
            cancelled_by: Set(None),
            updated_at: Set(self.now),
            ..Default::default()
        }
    }

    /// A new registration, not yet written.
    pub fn new_registration(&self, position: Option<i32>) -> registrations::ActiveModel {
        registrations::ActiveModel {
            id: Set(Uuid::now_v7()),
            event_id: Set(self.event_id),
            user_id: Set(self.caller.id),
            created_at: Set(self.now),
            ..self.registration(position)
        }
    }
}

/// The email that tells `student` of `registration` at `event`: the ticket
/// and a calendar entry for a seat, the position for the waitlist.
pub(super) fn email(
    settings: &Settings,
    student: &Caller,
    wording: &Wording,
    event: &events::Model,
    registration: &registrations::Model,
) -> (Rendered, Vec<Attachment>) {
    let (extras, attachments) = match registration.waitlist_position {
        None => (
            Extras {
                ticket_code: registration.ticket_code.clone(),
                ..Extras::default()
            },
            vec![calendar(settings, event)],
        ),
        Some(position) => (
            Extras {
                waitlist_position: position,
                ..Extras::default()
            },
            Vec::new(),
        ),
    };
    let facts = facts(settings, event);
    let student = Student {
        full_name: &student.full_name,
        email: &student.email,
    };
    let mail = wording.render(student, &facts, &[], &extras);
    (mail, attachments)
}

/// The `UPDATE` that takes a seat at `event_id` if one is left, and so
/// locks the event row until the transaction ends.
pub(super) fn seat_taking(event_id: Uuid) -> UpdateMany<events::Entity> {
    use events::Column as E;
    events::Entity::update_many()
        .col_expr(E::ConfirmedCount, Expr::col(E::ConfirmedCount).add(1))
        .filter(E::Id.eq(event_id))
        .filter(Expr::col(E::ConfirmedCount).lt(Expr::col(E::Capacity)))
}

/// What registering reads before it takes the event's lock.
pub(super) struct BeforeTheLock {
    /// The event as it was read.
    pub seen: events::Model,
    /// The student's cancelled place at the event, taken again if so.
    pub existing: Option<registrations::Model>,
    /// The email's kind if the seats counted a moment ago still hold.
    pub likely: TemplateKind,
    pub wording: Wording,
    /// The webhook endpoints, if read already.
    pub hooks: Option<Vec<Uuid>>,
}

pub(super) fn event_full() -> ApiError {
    ApiError::rule("event_full", "every seat is taken and the waitlist is full")
}

/// Why `caller` may not register for `event` now, in the order a student
/// should hear it: the event's state, the registration window, then the
/// event's degree and graduation-year rules.
pub(super) fn admissible(
    event: &events::Model,
    caller: &Caller,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<(), ApiError> {
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
    eligibility(event, caller.degree, caller.graduation_year)
        .map_err(|why| ApiError::rule("not_eligible", why))
}

/// The answer when a twin request registered the student while this one
/// read: the transaction is undone and the registration that exists shown.
pub(super) async fn registered_meanwhile(
    state: &AppState,
    txn: DatabaseTransaction,
    caller: &Caller,
    event_id: Uuid,
) -> ApiError {
    drop(txn);
    use registrations::Column as R;
    match registrations::Entity::find()
        .filter(R::EventId.eq(event_id))
        .filter(R::UserId.eq(caller.id))
        .one(&state.db)
        .await
    {
        Ok(Some(existing)) => already_registered(existing),
        Ok(None) => ApiError::conflict("registration_in_progress", "retry shortly"),
        Err(e) => e.into(),
    }
}
