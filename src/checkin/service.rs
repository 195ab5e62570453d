//! Check-in at the door. A scan admits a confirmed registration once: the
//! unique index on `checkins.registration_id` decides between simultaneous
//! scans of one ticket, and a scanner's `client_checkin_id` makes a retried
//! request the same check-in. Offline scanners download a check-in list
//! with hashed codes and upload what they admitted in a batch; walk-ins are
//! registered and admitted in one step.

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QuerySelect, TryInsertResult,
};
use uuid::Uuid;

use super::types::*;
use crate::{
    db, domain,
    entities::{
        checkin_thanks,
        checkins::{self, CheckinSource},
        events::{self, EventStatus},
        registrations::{self, RegistrationStatus},
        users,
    },
    events::access::{Access, find_visible_event},
    http::{ApiError, Caller, FieldErrors, error::is_unique_violation},
    notify,
    state::AppState,
};

/// How far ahead of the server's clock a scanner's clock may run.
pub(super) const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

/// A ticket code as scanners send it: trimmed, upper-case.
pub(super) fn normal_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// The caller at an event's door: an organiser, or a recruiter of an
/// employer taking part. Anyone else is 403 (404 for a draft they cannot see).
pub async fn door(
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
) -> Result<events::Model, ApiError> {
    let (event, access) = find_visible_event(&state.db, Some(caller), event_id).await?;
    if access == Access::Public {
        return Err(ApiError::Forbidden(
            "only organisers and recruiters of employers taking part check people in".into(),
        ));
    }
    Ok(event)
}

pub(super) fn refuse_closed(event: &events::Model) -> Result<(), ApiError> {
    match event.status {
        EventStatus::Published => Ok(()),
        EventStatus::Cancelled => Err(ApiError::rule("event_cancelled", "this event is cancelled")),
        EventStatus::Draft | EventStatus::Completed => Err(ApiError::rule(
            "event_not_open",
            "check-in is open while the event is published",
        )),
    }
}

pub(super) fn parse_gate(
    errors: &mut FieldErrors,
    prefix: &str,
    gate: Option<&str>,
) -> Option<String> {
    errors
        .take(domain::optional_text(&format!("{prefix}gate"), gate, 50))
        .flatten()
}

fn parse_scanned_at(
    errors: &mut FieldErrors,
    prefix: &str,
    event: &events::Model,
    scanned_at: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let now = db::now();
    let Some(at) = scanned_at.map(db::truncate) else {
        return now;
    };
    if at > now + CLOCK_SKEW || at < event.starts_at - TimeDelta::days(1) {
        errors.take::<()>(Err(crate::http::FieldError::new(
            format!("{prefix}scanned_at"),
            "out_of_range",
            "must be between a day before the event starts and now",
        )));
    }
    at
}

async fn admitter<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Admitter, ApiError> {
    let user = users::Entity::find_by_id(id).one(conn).await?;
    Ok(Admitter {
        id,
        full_name: user.map(|u| u.full_name).unwrap_or_default(),
    })
}

/// The answer about a check-in. `caller` saves a query when the caller is
/// the one who admitted the student.
pub(super) async fn answer<C: ConnectionTrait>(
    conn: &C,
    result: &str,
    checkin: checkins::Model,
    registration: &registrations::Model,
    student: &users::Model,
    caller: &Admitter,
) -> Result<CheckinAnswer, ApiError> {
    let checked_in_by = if checkin.checked_in_by == caller.id {
        caller.clone()
    } else {
        admitter(conn, checkin.checked_in_by).await?
    };
    Ok(CheckinAnswer {
        result: result.into(),
        checkin: CheckinView {
            id: checkin.id,
            event_id: checkin.event_id,
            registration_id: checkin.registration_id,
            gate: checkin.gate,
            source: checkin.source,
            scanned_at: checkin.scanned_at,
            checked_in_at: checkin.created_at,
            checked_in_by,
        },
        registration: RegistrationBrief {
            id: registration.id,
            status: registration.status,
        },
        candidate: Arrival::from(student),
        account_created: None,
    })
}

/// Inserts a check-in unless the registration has one, with its
/// thank-you email still to write (`notify::thanks`); `None` when another
/// scan got there first.
pub(super) async fn insert_checkin(
    txn: &DatabaseTransaction,
    checkin: checkins::Model,
) -> Result<Option<checkins::Model>, DbErr> {
    let inserted = checkins::Entity::insert(checkins::ActiveModel::from(checkin.clone()))
        .on_conflict_do_nothing_on([checkins::Column::RegistrationId])
        .exec(txn)
        .await?;
    match inserted {
        TryInsertResult::Inserted(_) => {
            checkin_thanks::Entity::insert(checkin_thanks::ActiveModel::from(
                checkin_thanks::Model {
                    checkin_id: checkin.id,
                    event_id: checkin.event_id,
                    user_id: checkin.user_id,
                },
            ))
            .exec_without_returning(txn)
            .await?;
            Ok(Some(checkin))
        }
        TryInsertResult::Conflicted | TryInsertResult::Empty => Ok(None),
    }
}

/// The `already_checked_in` answer with the registration's original
/// check-in, if it has one.
pub(super) async fn original(
    state: &AppState,
    registration: &registrations::Model,
    student: &users::Model,
    by: &Admitter,
) -> Result<Option<CheckinAnswer>, ApiError> {
    let Some(first) = existing_for(&state.db, registration.id).await? else {
        return Ok(None);
    };
    Ok(Some(
        answer(
            &state.db,
            "already_checked_in",
            first,
            registration,
            student,
            by,
        )
        .await?,
    ))
}

async fn existing_for(
    conn: &impl ConnectionTrait,
    registration_id: Uuid,
) -> Result<Option<checkins::Model>, DbErr> {
    checkins::Entity::find()
        .filter(checkins::Column::RegistrationId.eq(registration_id))
        .one(conn)
        .await
}

/// What a scan found out, before any HTTP status is chosen.
pub enum Scanned {
    /// 201: admitted now (or a retry of that same scan).
    CheckedIn(CheckinAnswer),
    /// 200: the ticket was used already; the original check-in.
    Already(CheckinAnswer),
}

/// One scan at an event's door, by `by` (whose right to be there the
/// caller has checked).
pub async fn scan(
    state: &AppState,
    by: &Admitter,
    event: &events::Model,
    input: CheckinRequest,
    source: CheckinSource,
    field_prefix: &str,
) -> Result<Scanned, ApiError> {
    refuse_closed(event)?;
    let mut errors = FieldErrors::new();
    let gate = parse_gate(&mut errors, field_prefix, input.gate.as_deref());
    let scanned_at = parse_scanned_at(&mut errors, field_prefix, event, input.scanned_at);
    errors.finish()?;
    let code = normal_code(&input.ticket_code);

    // A retry of a scan already recorded: the same answer again.
    if let Some(client_id) = input.client_checkin_id
        && let Some(replay) = replay(state, event.id, client_id, &code, by).await?
    {
        return Ok(replay);
    }

    let (registration, student) = registrations::Entity::find()
        .filter(registrations::Column::TicketCode.eq(code.as_str()))
        .find_also_related(users::Entity)
        .one(&state.db)
        .await?
        .filter(|_| !code.is_empty())
        .ok_or_else(unknown_ticket)?;
    if registration.event_id != event.id {
        return Err(ApiError::conflict(
            "ticket_for_other_event",
            "this ticket is for another event",
        ));
    }
    if registration.status != RegistrationStatus::Confirmed {
        return Err(ApiError::rule(
            "not_confirmed",
            match registration.status {
                RegistrationStatus::Waitlisted => "this registration is on the waitlist",
                _ => "this registration was cancelled",
            },
        ));
    }
    let student =
        student.ok_or_else(|| ApiError::internal("a registration without its student"))?;
    if let Some(already) = original(state, &registration, &student, by).await? {
        // The same scan, recorded by its twin since the look-up above: the
        // first answer, not "already used" (the scanner would warn of a
        // ticket used twice).
        if let Some(client_id) = input.client_checkin_id
            && let Some(replayed) = replay(state, event.id, client_id, &code, by).await?
        {
            return Ok(replayed);
        }
        return Ok(Scanned::Already(already));
    }

    let now = db::now();
    let checkin = checkins::Model {
        id: Uuid::now_v7(),
        event_id: event.id,
        registration_id: registration.id,
        user_id: student.id,
        checked_in_by: by.id,
        client_checkin_id: input.client_checkin_id,
        gate,
        source,
        scanned_at,
        created_at: now,
    };
    let txn = db::begin_write(&state.db).await?;
    // Still confirmed? A cancellation holds this row while it decides.
    let still = registrations::Entity::find_by_id(registration.id)
        .lock_shared()
        .one(&txn)
        .await?;
    if still.is_none_or(|r| r.status != RegistrationStatus::Confirmed) {
        return Err(ApiError::rule(
            "not_confirmed",
            "this registration was cancelled",
        ));
    }
    let inserted = match insert_checkin(&txn, checkin).await {
        Ok(inserted) => inserted,
        // The same client_checkin_id, sent twice at once.
        Err(e) if is_unique_violation(&e) => {
            drop(txn);
            let client_id = input.client_checkin_id.ok_or_else(|| ApiError::from(e))?;
            return replay(state, event.id, client_id, &code, by)
                .await?
                .ok_or_else(|| ApiError::conflict("checkin_in_progress", "retry shortly"));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(checkin) = inserted else {
        drop(txn);
        // The same scan sent twice at once: both get the first answer.
        if let Some(client_id) = input.client_checkin_id
            && let Some(replayed) = replay(state, event.id, client_id, &code, by).await?
        {
            return Ok(replayed);
        }
        return original(state, &registration, &student, by)
            .await?
            .map(Scanned::Already)
            .ok_or_else(|| ApiError::internal("a conflicting check-in vanished"));
    };
    notify::webhooks::emit(
        &txn,
        notify::webhooks::WebhookEvent::CheckinCreated,
        notify::webhooks::checkin_data(&checkin),
    )
    .await?;
    txn.commit().await?;
    state.changed(event.id);
    Ok(Scanned::CheckedIn(
        answer(
            &state.db,
            "checked_in",
            checkin,
            &registration,
            &student,
            by,
        )
        .await?,
    ))
}

fn unknown_ticket() -> ApiError {
    ApiError::Unknown {
        code: "unknown_ticket",
        detail: "no registration has this ticket code".into(),
    }
}

/// The answer to a scan whose `client_checkin_id` is already recorded.
async fn replay(
    state: &AppState,
    event_id: Uuid,
    client_id: Uuid,
    code: &str,
    by: &Admitter,
) -> Result<Option<Scanned>, ApiError> {
    let Some(original) = checkins::Entity::find()
        .filter(checkins::Column::ClientCheckinId.eq(client_id))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    let registration = registrations::Entity::find_by_id(original.registration_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("a check-in without its registration"))?;
    if original.event_id != event_id || registration.ticket_code != code {
        return Err(ApiError::conflict(
            "client_checkin_id_reused",
            "this client_checkin_id was sent with another ticket",
        ));
    }
    let student = users::Entity::find_by_id(registration.user_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("a registration without its student"))?;
    Ok(Some(Scanned::CheckedIn(
        answer(
            &state.db,
            "checked_in",
            original,
            &registration,
            &student,
            by,
        )
        .await?,
    )))
}

/// A scan at the door by the calling organiser or recruiter.
pub async fn check_in(
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
    input: CheckinRequest,
) -> Result<Scanned, ApiError> {
    let event = door(state, caller, event_id).await?;
    scan(
        state,
        &Admitter::of(caller),
        &event,
        input,
        CheckinSource::Scan,
        "",
    )
    .await
}
