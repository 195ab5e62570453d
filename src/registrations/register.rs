//! Taking a place at an event: confirmed while seats are left, then
//! waitlisted up to the event's limit, then refused. The seat is taken by
//! the statement that locks the event row, and the lock is held for as few
//! statements as the rules allow (see [`register`]).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, Set,
    sea_query::{Expr, ExprTrait},
};
use uuid::Uuid;

use super::{tickets::new_ticket_code, types::*};
use crate::{
    audit, db,
    entities::{
        events::{self, EventStatus},
        registrations::{self, RegistrationStatus},
        users,
    },
    events::{
        access::lock_event,
        calendar::{calendar, facts},
        seats::eligibility,
    },
    http::{ApiError, Caller, error::is_unique_violation, idempotency::Recorder},
    notify::{
        self,
        custom::{Student, Wording},
        kinds::{Extras, TemplateKind},
        webhooks::{self, WebhookEvent},
    },
    state::AppState,
};

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

/// Registers the calling student for an event. The answer is recorded for
/// the request's `Idempotency-Key`, and `audit` in the audit trail, in the
/// registration's own transaction, so a retry after a crash gets the same
/// answer whenever the registration exists, and it is never unrecorded.
///
/// What does not need the event's lock is read first: the event as it was
/// (to refuse early and to word the email), an earlier registration, the
/// organisers' wording and the webhook endpoints. The lock is then taken by
/// the statement that takes the seat (see [`take_seat`]), and held for the
/// registration, its email and its webhook rows only; every rule is checked
/// again on the locked row, since an organiser may have changed the event
/// in between.
pub async fn register(
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
    input: RegisterRequest,
    recorder: &Recorder,
    mut audit: audit::Entry,
) -> Result<RegistrationView, ApiError> {
    if state.settings.registration.require_verified_email && !caller.email_verified {
        return Err(ApiError::Denied {
            code: "email_not_verified",
            detail: "confirm your email address with the link we sent, then register".into(),
        });
    }
    let referrer_id = referrer(state, caller, input.referral_code.as_deref()).await?;
    let now = db::now();
    // On PostgreSQL the reads share the transaction's connection (a pooled
    // statement of its own costs a round trip more, the pool's check); the
    // event is locked only by `take_seat`. SQLite's `BEGIN IMMEDIATE` takes
    // the database's write lock at once, so there they come first.
    let (txn, before) = if state.db.get_database_backend() == DbBackend::Postgres {
        let txn = db::begin_write(&state.db).await?;
        let before = before_the_lock(&txn, state, caller, event_id, now).await?;
        (txn, before)
    } else {
        let before = before_the_lock(&state.db, state, caller, event_id, now).await?;
        (db::begin_write(&state.db).await?, before)
    };
    let BeforeTheLock {
        existing,
        likely,
        mut wording,
        hooks,
    } = before;
    let Some((event, position)) = take_seat(&txn, event_id).await? else {
        let event = lock_event(&txn, event_id).await?;
        admissible(&event, caller, now)?;
        return Err(ApiError::rule(
            "event_full",
            "every seat is taken and the waitlist is full",
        ));
    };
    admissible(&event, caller, now)?;
    let (status, kind) = match position {
        None => (
            RegistrationStatus::Confirmed,
            TemplateKind::RegistrationConfirmed,
        ),
        Some(_) => (
            RegistrationStatus::Waitlisted,
            TemplateKind::RegistrationWaitlisted,
        ),
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
    let written = match existing {
        // Still cancelled: a twin request may have re-registered meanwhile.
        Some(cancelled) => registrations::Entity::update_many()
            .set(fresh)
            .filter(registrations::Column::Id.eq(cancelled.id))
            .filter(registrations::Column::Status.eq(RegistrationStatus::Cancelled))
            .exec_with_returning(&txn)
            .await
            .map(|rows| rows.into_iter().next()),
        None => registrations::ActiveModel {
            id: Set(Uuid::now_v7()),
            event_id: Set(event_id),
            user_id: Set(caller.id),
            created_at: Set(now),
            ..fresh
        }
        .insert(&txn)
        .await
        .map(Some),
    };
    let registration = match written {
        Ok(Some(registration)) => registration,
        Ok(None) => return Err(registered_meanwhile(state, txn, caller, event_id).await),
        Err(e) if is_unique_violation(&e) => {
            return Err(registered_meanwhile(state, txn, caller, event_id).await);
        }
        Err(e) => return Err(e.into()),
    };
    let facts = facts(&state.settings, &event);
    let student = Student {
        full_name: &caller.full_name,
        email: &caller.email,
    };
    let (extras, attachments) = match position {
        None => (
            Extras {
                ticket_code: registration.ticket_code.clone(),
                ..Extras::default()
            },
            vec![calendar(&state.settings, &event)],
        ),
        Some(position) => (
            Extras {
                waitlist_position: position,
                ..Extras::default()
            },
            Vec::new(),
        ),
    };
    if kind != likely {
        wording = Wording::load(&txn, &state.settings, &event, kind).await?;
    }
    let mail = wording.render(student, &facts, &[], &extras);
    notify::enqueue(&txn, &caller.email, mail, attachments).await?;
    webhooks::emit_to(
        &txn,
        &hooks,
        WebhookEvent::RegistrationCreated,
        webhooks::registration_data(&registration),
    )
    .await?;
    audit.target_id = Some(registration.id);
    let view = RegistrationView::new(registration, true);
    recorder.record(&txn, 201, &view).await?;
    audit::record(&txn, audit, &[]).await?;
    txn.commit().await?;
    state.changed(event_id);
    Ok(view)
}

/// What registering reads before it takes the event's lock.
struct BeforeTheLock {
    /// The student's cancelled place at the event, taken again if so.
    existing: Option<registrations::Model>,
    /// The email's kind if the seats counted a moment ago still hold.
    likely: TemplateKind,
    wording: Wording,
    hooks: Vec<Uuid>,
}

/// The event as it was (refusing early what its rules refuse), an earlier
/// registration (refusing a second), the email's likely wording and the
/// webhook endpoints.
async fn before_the_lock<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<BeforeTheLock, ApiError> {
    let seen = events::Entity::find_by_id(event_id)
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    admissible(&seen, caller, now)?;
    use registrations::Column as R;
    let existing = registrations::Entity::find()
        .filter(R::EventId.eq(event_id))
        .filter(R::UserId.eq(caller.id))
        .one(conn)
        .await?;
    if let Some(existing) = existing
        .as_ref()
        .filter(|r| r.status != RegistrationStatus::Cancelled)
    {
        return Err(already_registered(existing.clone()));
    }
    let likely = if seen.confirmed_count < seen.capacity {
        TemplateKind::RegistrationConfirmed
    } else {
        TemplateKind::RegistrationWaitlisted
    };
    Ok(BeforeTheLock {
        existing,
        likely,
        wording: Wording::load(conn, &state.settings, &seen, likely).await?,
        hooks: webhooks::subscribers(conn, WebhookEvent::RegistrationCreated).await?,
    })
}

/// Why `caller` may not register for `event` now, in the order a student
/// should hear it: the event's state, the registration window, then the
/// event's degree and graduation-year rules.
fn admissible(
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

/// Takes a seat, or else a place on the waitlist, in the statement that
/// locks the event row until the transaction ends: `UPDATE … SET
/// confirmed_count = confirmed_count + 1 WHERE confirmed_count < capacity
/// RETURNING *` (PostgreSQL's row lock; SQLite's write lock is held since
/// `BEGIN IMMEDIATE`). Gives the event as it now is and the waitlist
/// position, `None` for a seat; `None` overall when both are full or the
/// event is gone.
async fn take_seat(
    txn: &DatabaseTransaction,
    event_id: Uuid,
) -> Result<Option<(events::Model, Option<i32>)>, DbErr> {
    use events::Column as E;
    let seated = events::Entity::update_many()
        .col_expr(E::ConfirmedCount, Expr::col(E::ConfirmedCount).add(1))
        .filter(E::Id.eq(event_id))
        .filter(Expr::col(E::ConfirmedCount).lt(Expr::col(E::Capacity)))
        .exec_with_returning(txn)
        .await?;
    if let Some(event) = seated.into_iter().next() {
        return Ok(Some((event, None)));
    }
    let waiting = events::Entity::update_many()
        .col_expr(E::WaitlistCount, Expr::col(E::WaitlistCount).add(1))
        .filter(E::Id.eq(event_id))
        .filter(Expr::col(E::WaitlistCount).lt(Expr::col(E::WaitlistLimit)))
        .exec_with_returning(txn)
        .await?;
    Ok(waiting.into_iter().next().map(|event| {
        let position = event.waitlist_count;
        (event, Some(position))
    }))
}

/// The answer when a twin request registered the student while this one
/// read: the transaction is undone and the registration that exists shown.
async fn registered_meanwhile(
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
