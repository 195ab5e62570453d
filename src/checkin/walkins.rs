//! Walk-ins: a student registered and admitted at the door in one step.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::{
    service::{Scanned, answer, door, insert_checkin, original, parse_gate, refuse_closed},
    types::*,
};
use crate::{
    accounts::{
        consent,
        service::{WalkInProfile, create_walk_in_candidate},
    },
    db,
    domain::{self, Email, Phone},
    entities::{
        checkins::{self, CheckinSource},
        registrations::{self, RegistrationStatus},
        users::{self, Role},
    },
    events::{
        access::lock_event,
        seats::{close_gap, save_counts},
    },
    http::{ApiError, Caller, FieldErrors, error::is_unique_violation},
    notify,
    registrations::tickets::new_ticket_code,
    state::AppState,
};

fn parse_walk_in(
    input: &WalkInRequest,
    notice_in_force: &str,
) -> Result<(WalkInProfile, Option<String>), ApiError> {
    let mut errors = FieldErrors::new();
    let email = errors.take(Email::parse("email", &input.email).map(Email::into_inner));
    let full_name = errors.take(domain::text("full_name", &input.full_name, 100));
    let phone = input
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .and_then(|p| errors.take(Phone::parse("phone", p).map(Phone::into_inner)));
    let university = errors.take(domain::text("university", &input.university, 100));
    let major = errors.take(domain::text("major", &input.major, 100));
    let year = errors.take(domain::graduation_year(
        "graduation_year",
        input.graduation_year,
    ));
    let gate = parse_gate(&mut errors, "", input.gate.as_deref());
    let notice = errors.take(consent::accepted_notice(
        input.privacy_notice_version.as_deref(),
        notice_in_force,
    ));
    errors.finish()?;
    Ok((
        WalkInProfile {
            email: email.unwrap_or_default(),
            full_name: full_name.unwrap_or_default(),
            phone,
            university: university.unwrap_or_default(),
            major: major.unwrap_or_default(),
            degree: input.degree,
            graduation_year: year.unwrap_or_default(),
            consent: consent::Given {
                notice_version: notice.unwrap_or_default(),
                share_contacts: input.share_contacts.unwrap_or(false),
                ip: None,
            },
        },
        gate,
    ))
}

/// Registers and admits a student at the door. A new student gets an
/// account without a password and an email to set one; an existing one is
/// reused. Recruiters admit walk-ins only while seats are left; organisers
/// may go past the capacity, since they see the room.
pub async fn walk_in(
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
    input: WalkInRequest,
) -> Result<Scanned, ApiError> {
    let event = door(state, caller, event_id).await?;
    refuse_closed(&event)?;
    let (profile, gate) = parse_walk_in(&input, &state.settings.privacy.notice_version)?;
    let may_exceed = matches!(caller.role, Role::Organiser | Role::Admin);
    let by = Admitter::of(caller);
    // A retry of a walk-in already recorded: the first answer again.
    if let Some(client_id) = input.client_checkin_id
        && let Some(first) = checkins::Entity::find()
            .filter(checkins::Column::ClientCheckinId.eq(client_id))
            .filter(checkins::Column::EventId.eq(event.id))
            .one(&state.db)
            .await?
        && let Some((registration, Some(student))) =
            registrations::Entity::find_by_id(first.registration_id)
                .find_also_related(users::Entity)
                .one(&state.db)
                .await?
    {
        let answer = answer(&state.db, "checked_in", first, &registration, &student, &by).await?;
        return Ok(Scanned::CheckedIn(answer));
    }
    let txn = db::begin_write(&state.db).await?;
    let mut event = lock_event(&txn, event.id).await?;
    refuse_closed(&event)?;
    let existing_user = users::Entity::find()
        .filter(users::Column::Email.eq(profile.email.as_str()))
        .one(&txn)
        .await?;
    let (student, account_created) = match existing_user {
        Some(user) if user.role != Role::Candidate => {
            return Err(ApiError::conflict(
                "not_a_candidate",
                "this email belongs to a staff account",
            ));
        }
        Some(user) if user.disabled_at.is_some() => {
            return Err(ApiError::conflict(
                "account_disabled",
                "this account is disabled",
            ));
        }
        // A recruiter could otherwise admit any student it names, and so
        // see their contact details; a registered student shows a ticket.
        Some(_) if !may_exceed => {
            return Err(ApiError::conflict(
                "account_exists",
                "this student has an account: scan the ticket, or ask an organiser",
            ));
        }
        Some(user) => (user, false),
        None => (create_walk_in_candidate(&txn, state, profile).await?, true),
    };
    let registration = registrations::Entity::find()
        .filter(registrations::Column::EventId.eq(event.id))
        .filter(registrations::Column::UserId.eq(student.id))
        .one(&txn)
        .await?;
    let now = db::now();
    let registration = match registration {
        Some(r) if r.status == RegistrationStatus::Confirmed => r,
        other => {
            if !may_exceed && event.confirmed_count >= event.capacity {
                return Err(ApiError::rule(
                    "event_full",
                    "every seat is taken; an organiser may admit more",
                ));
            }
            event.confirmed_count += 1;
            let confirmed = registrations::ActiveModel {
                status: Set(RegistrationStatus::Confirmed),
                waitlist_position: Set(None),
                confirmed_at: Set(Some(now)),
                cancelled_at: Set(None),
                cancelled_by: Set(None),
                updated_at: Set(now),
                ..Default::default()
            };
            match other {
                Some(r) => {
                    if let Some(position) = r.waitlist_position {
                        event.waitlist_count -= 1;
                        close_gap(&txn, event.id, position).await?;
                    }
                    let ticket = if r.status == RegistrationStatus::Cancelled {
                        new_ticket_code()
                    } else {
                        r.ticket_code.clone()
                    };
                    registrations::ActiveModel {
                        id: Set(r.id),
                        ticket_code: Set(ticket),
                        ..confirmed
                    }
                    .update(&txn)
                    .await?
                }
                None => {
                    registrations::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        event_id: Set(event.id),
                        user_id: Set(student.id),
                        ticket_code: Set(new_ticket_code()),
                        referrer_id: Set(None),
                        created_at: Set(now),
                        ..confirmed
                    }
                    .insert(&txn)
                    .await?
                }
            }
        }
    };
    save_counts(&txn, &event).await?;
    let checkin = checkins::Model {
        id: Uuid::now_v7(),
        event_id: event.id,
        registration_id: registration.id,
        user_id: student.id,
        checked_in_by: by.id,
        client_checkin_id: input.client_checkin_id,
        gate,
        source: CheckinSource::WalkIn,
        scanned_at: now,
        created_at: now,
    };
    let inserted = insert_checkin(&txn, checkin).await.map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::conflict(
                "client_checkin_id_reused",
                "this client_checkin_id was sent before",
            )
        } else {
            e.into()
        }
    })?;
    let Some(checkin) = inserted else {
        drop(txn);
        let already = original(state, &registration, &student, &by)
            .await?
            .ok_or_else(|| ApiError::internal("a conflicting check-in vanished"))?;
        return Ok(Scanned::Already(already));
    };
    notify::webhooks::emit(
        &txn,
        notify::webhooks::WebhookEvent::CheckinCreated,
        notify::webhooks::checkin_data(&checkin),
    )
    .await?;
    txn.commit().await?;
    state.changed(event.id);
    let mut answer = answer(
        &state.db,
        "checked_in",
        checkin,
        &registration,
        &student,
        &by,
    )
    .await?;
    answer.account_created = Some(account_created);
    Ok(Scanned::CheckedIn(answer))
}
