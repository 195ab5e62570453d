//! The rules of intents to join (引进意向): who may record an intent for
//! which employer, the forward-only pipeline (see [`IntentStatus::can_become`])
//! with every change kept, the signed email, and who sees which intents.
//! No HTTP types here: routes parse, call, respond.

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    Set,
};
use uuid::Uuid;

use super::{
    lookups::{Lookups, view_one},
    types::{IntentRequest, IntentView, TransitionRequest},
};
use crate::{
    config::Settings,
    db, domain,
    entities::{
        checkins, employers, event_employers, intent_history,
        intents::{self, IntentStatus},
        positions::{self, TalentCategory},
        users::{self, Role},
    },
    events::positions::strings_of,
    http::{ApiError, Caller, FieldError, FieldErrors, error::is_unique_violation},
    notify::{self, templates},
};

/// The key that keeps one open intent per candidate, employer and position.
fn open_key(candidate: Uuid, employer: Uuid, position: Option<Uuid>) -> String {
    format!(
        "{}:{}:{}",
        candidate.simple(),
        employer.simple(),
        position.map_or_else(|| "none".to_owned(), |p| p.simple().to_string())
    )
}

/// The employer a caller acts for, or 403.
pub(super) fn acting_employer(caller: &Caller, asked: Option<Uuid>) -> Result<Uuid, ApiError> {
    match caller.role {
        Role::Organiser | Role::Admin => asked.ok_or_else(|| {
            ApiError::field("employer_id", "required", "organisers name the employer")
        }),
        Role::Recruiter => match (caller.employer_id, asked) {
            (Some(own), None) => Ok(own),
            (Some(own), Some(asked)) if own == asked => Ok(own),
            _ => Err(ApiError::Forbidden(
                "recruiters act only for their own employer".into(),
            )),
        },
        Role::Candidate => Err(ApiError::Forbidden(
            "intents are recorded by recruiters and organisers".into(),
        )),
    }
}

/// Keeps one change of an intent's status in its history.
async fn record<C: ConnectionTrait>(
    conn: &C,
    intent: Uuid,
    actor: Uuid,
    from: Option<IntentStatus>,
    to: IntentStatus,
    note: &str,
) -> Result<(), ApiError> {
    intent_history::ActiveModel {
        id: Set(Uuid::now_v7()),
        intent_id: Set(intent),
        actor_id: Set(actor),
        from_status: Set(from),
        to_status: Set(to),
        note: Set(note.to_owned()),
        created_at: Set(db::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Emails the candidate on reaching `signed`: employer, position, benefits.
async fn tell_signed<C: ConnectionTrait>(
    conn: &C,
    settings: &Settings,
    intent: &intents::Model,
) -> Result<(), ApiError> {
    let lookups = Lookups::load(conn, std::slice::from_ref(intent)).await?;
    let Some(candidate) = lookups.users.get(&intent.candidate_id) else {
        return Ok(());
    };
    let employer = lookups
        .employers
        .get(&intent.employer_id)
        .cloned()
        .unwrap_or_default();
    let position = intent.position_id.and_then(|id| lookups.positions.get(&id));
    let mail = templates::intent_signed(
        &candidate.full_name,
        &employer,
        position.map(|p| p.title.as_str()),
        &position
            .map(|p| strings_of(&p.benefits))
            .unwrap_or_default(),
        &settings.page("/me/intents"),
    );
    notify::enqueue(conn, &candidate.email, mail, Vec::new()).await?;
    notify::webhooks::emit(
        conn,
        notify::webhooks::WebhookEvent::IntentSigned,
        notify::webhooks::intent_data(intent, None),
    )
    .await?;
    Ok(())
}

/// Has the candidate met the employer: a confirmed registration for, or a
/// check-in at, an event the employer takes part in? A waitlisted or
/// cancelled registration is only a wish to come, not a meeting.
async fn has_met(
    db_conn: &DatabaseConnection,
    candidate: Uuid,
    employer: Uuid,
) -> Result<bool, ApiError> {
    use crate::entities::registrations::{self, RegistrationStatus};
    use sea_orm::{Condition, sea_query::Query};
    let events_of_employer = Query::select()
        .column(event_employers::Column::EventId)
        .from(event_employers::Entity)
        .and_where(event_employers::Column::EmployerId.eq(employer))
        .to_owned();
    let admitted = Query::select()
        .column(checkins::Column::RegistrationId)
        .from(checkins::Entity)
        .and_where(checkins::Column::UserId.eq(candidate))
        .to_owned();
    Ok(registrations::Entity::find()
        .filter(registrations::Column::UserId.eq(candidate))
        .filter(registrations::Column::EventId.in_subquery(events_of_employer))
        .filter(
            Condition::any()
                .add(registrations::Column::Status.eq(RegistrationStatus::Confirmed))
                .add(registrations::Column::Id.in_subquery(admitted)),
        )
        .one(db_conn)
        .await?
        .is_some())
}

/// Records an intent. One the candidate already has open with this employer
/// and position is 409 `intent_exists`, carrying the open one; an intent
/// signed on the spot emails the candidate.
pub async fn create_intent(
    db_conn: &DatabaseConnection,
    settings: &Settings,
    caller: &Caller,
    input: IntentRequest,
) -> Result<IntentView, ApiError> {
    let employer_id = acting_employer(caller, input.employer_id)?;
    let status = input.status.unwrap_or(IntentStatus::Interested);
    let mut errors = FieldErrors::new();
    if !status.is_open() {
        errors.take::<()>(Err(FieldError::new(
            "status",
            "invalid",
            "a new intent starts as interested, interviewing, offered or signed",
        )));
    }
    let note = errors
        .take(domain::optional_text("note", Some(&input.note), 2000))
        .flatten()
        .unwrap_or_default();
    let candidate = users::Entity::find_by_id(input.candidate_id)
        .one(db_conn)
        .await?
        .filter(|u| u.role == Role::Candidate);
    if candidate.is_none() {
        errors.take::<()>(Err(FieldError::new(
            "candidate_id",
            "unknown",
            "no candidate has this id",
        )));
    } else if caller.role == Role::Recruiter
        && !has_met(db_conn, input.candidate_id, employer_id).await?
    {
        // A recruiter records intents of students it met: otherwise any id
        // would show it a stranger's profile and could email them.
        errors.take::<()>(Err(FieldError::new(
            "candidate_id",
            "not_met",
            "the candidate has no confirmed seat at, or check-in to, an event your employer takes part in",
        )));
    }
    if employers::Entity::find_by_id(employer_id)
        .one(db_conn)
        .await?
        .is_none()
    {
        errors.take::<()>(Err(FieldError::new(
            "employer_id",
            "unknown",
            "no employer has this id",
        )));
    }
    let position = match input.position_id {
        Some(id) => {
            let found = positions::Entity::find_by_id(id)
                .one(db_conn)
                .await?
                .filter(|p| p.employer_id == employer_id);
            if found.is_none() {
                errors.take::<()>(Err(FieldError::new(
                    "position_id",
                    "unknown",
                    "the employer has no position with this id",
                )));
            }
            found
        }
        None => None,
    };
    let mut event_id = input.event_id;
    if let Some(checkin_id) = input.checkin_id {
        match checkins::Entity::find_by_id(checkin_id)
            .one(db_conn)
            .await?
        {
            Some(c)
                if c.user_id == input.candidate_id
                    && input.event_id.is_none_or(|e| e == c.event_id) =>
            {
                event_id = Some(c.event_id);
            }
            _ => {
                errors.take::<()>(Err(FieldError::new(
                    "checkin_id",
                    "unknown",
                    "no check-in of this candidate (at this event) has this id",
                )));
            }
        }
    }
    if let Some(event_id) = event_id {
        let taking_part = event_employers::Entity::find_by_id((event_id, employer_id))
            .one(db_conn)
            .await?
            .is_some();
        if !taking_part {
            errors.take::<()>(Err(FieldError::new(
                "event_id",
                "not_participating",
                "the employer did not take part in this event",
            )));
        }
    }
    errors.finish()?;

    let key = open_key(input.candidate_id, employer_id, input.position_id);
    let existing = intents::Entity::find()
        .filter(intents::Column::OpenKey.eq(key.as_str()))
        .one(db_conn)
        .await?;
    if let Some(existing) = existing {
        return Err(intent_exists(view_one(db_conn, existing).await.ok()));
    }
    let now = db::now();
    let intent = intents::Model {
        id: Uuid::now_v7(),
        candidate_id: input.candidate_id,
        employer_id,
        position_id: input.position_id,
        event_id,
        checkin_id: input.checkin_id,
        status,
        talent_category: input
            .talent_category
            .or(position.map(|p| p.talent_category))
            .unwrap_or(TalentCategory::Other),
        open_key: Some(key),
        note: note.clone(),
        created_by: caller.id,
        signed_at: (status == IntentStatus::Signed).then_some(now),
        closed_at: None,
        created_at: now,
        updated_at: now,
    };
    let txn = db::begin_write(db_conn).await?;
    let intent = intents::ActiveModel::from(intent)
        .reset_all()
        .insert(&txn)
        .await;
    let intent = match intent {
        Ok(intent) => intent,
        Err(e) if is_unique_violation(&e) => {
            // Another request opened the same intent a moment ago.
            drop(txn);
            let open = intents::Entity::find()
                .filter(intents::Column::OpenKey.eq(open_key(
                    input.candidate_id,
                    employer_id,
                    input.position_id,
                )))
                .one(db_conn)
                .await?;
            let existing = match open {
                Some(open) => view_one(db_conn, open).await.ok(),
                None => None,
            };
            return Err(intent_exists(existing));
        }
        Err(e) => return Err(e.into()),
    };
    record(&txn, intent.id, caller.id, None, status, &note).await?;
    if status == IntentStatus::Signed {
        tell_signed(&txn, settings, &intent).await?;
    }
    txn.commit().await?;
    view_one(db_conn, intent).await
}

fn intent_exists(existing: Option<IntentView>) -> ApiError {
    ApiError::Conflict {
        code: "intent_exists",
        detail: "this candidate already has an open intent with this employer and position".into(),
        existing: existing.and_then(|v| serde_json::to_value(v).ok()),
    }
}

/// An intent the caller may see: organisers all, recruiters their
/// employer's, candidates their own. Anything else is 404.
pub(super) async fn visible(
    db_conn: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<intents::Model, ApiError> {
    let intent = intents::Entity::find_by_id(id)
        .one(db_conn)
        .await?
        .ok_or(ApiError::NotFound("intent"))?;
    let allowed = match caller.role {
        Role::Organiser | Role::Admin => true,
        Role::Recruiter => caller.employer_id == Some(intent.employer_id),
        Role::Candidate => caller.id == intent.candidate_id,
    };
    if allowed {
        Ok(intent)
    } else {
        Err(ApiError::NotFound("intent"))
    }
}

/// Moves an intent along its pipeline, only if nobody moved it meanwhile;
/// reaching `signed` emails the candidate.
pub async fn move_intent(
    db_conn: &DatabaseConnection,
    settings: &Settings,
    caller: &Caller,
    id: Uuid,
    input: TransitionRequest,
) -> Result<IntentView, ApiError> {
    let intent = visible(db_conn, caller, id).await?;
    if caller.role == Role::Candidate {
        return Err(ApiError::Forbidden(
            "intents are moved by recruiters and organisers".into(),
        ));
    }
    let note = domain::optional_text("note", Some(&input.note), 2000)
        .map_err(|e| ApiError::Validation(vec![e]))?
        .unwrap_or_default();
    let (from, to) = (intent.status, input.status);
    if !from.can_become(to) {
        return Err(invalid_transition(from, to));
    }
    let now = db::now();
    let txn = db::begin_write(db_conn).await?;
    // Only if nobody moved it meanwhile.
    let moved = intents::Entity::update_many()
        .col_expr(intents::Column::Status, to.as_str().into())
        .col_expr(
            intents::Column::OpenKey,
            if to.is_open() {
                intent.open_key.clone().into()
            } else {
                Option::<String>::None.into()
            },
        )
        .col_expr(
            intents::Column::SignedAt,
            if to == IntentStatus::Signed && intent.signed_at.is_none() {
                Some(now).into()
            } else {
                intent.signed_at.into()
            },
        )
        .col_expr(
            intents::Column::ClosedAt,
            if to.is_open() {
                Option::<DateTime<Utc>>::None.into()
            } else {
                Some(now).into()
            },
        )
        .col_expr(intents::Column::UpdatedAt, now.into())
        .filter(intents::Column::Id.eq(id))
        .filter(intents::Column::Status.eq(from))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(ApiError::conflict(
            "invalid_transition",
            "the intent changed meanwhile; read it again",
        ));
    }
    record(&txn, id, caller.id, Some(from), to, &note).await?;
    let intent = intents::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("intent"))?;
    notify::webhooks::emit(
        &txn,
        notify::webhooks::WebhookEvent::IntentStatusChanged,
        notify::webhooks::intent_data(&intent, Some(from)),
    )
    .await?;
    if to == IntentStatus::Signed {
        tell_signed(&txn, settings, &intent).await?;
    }
    txn.commit().await?;
    view_one(db_conn, intent).await
}

fn invalid_transition(from: IntentStatus, to: IntentStatus) -> ApiError {
    ApiError::conflict(
        "invalid_transition",
        format!(
            "an intent cannot go from {} to {}",
            from.as_str(),
            to.as_str()
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntentStatus::*;

    #[test]
    fn the_state_machine_moves_forward_only() {
        let legal: &[(IntentStatus, IntentStatus)] = &[
            (Interested, Interviewing),
            (Interested, Offered),
            (Interested, Signed),
            (Interviewing, Offered),
            (Interviewing, Signed),
            (Offered, Signed),
            (Signed, Onboarded),
            (Interested, Withdrawn),
            (Interviewing, Withdrawn),
            (Offered, Withdrawn),
            (Signed, Withdrawn),
            (Interested, Declined),
            (Interviewing, Declined),
            (Offered, Declined),
        ];
        for from in IntentStatus::ALL {
            for to in IntentStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{} -> {}",
                    from.as_str(),
                    to.as_str()
                );
            }
        }
    }
}
