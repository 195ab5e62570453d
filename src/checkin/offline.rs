//! Check-in without network: the list a scanner downloads, with hashed
//! ticket codes, and the batch it uploads of what it admitted meanwhile.
use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use sha2::{Digest, Sha256};

use super::{
    service::{Scanned, door, refuse_closed, scan},
    types::*,
};
use crate::{
    db,
    entities::{
        checkins::{self, CheckinSource},
        registrations::{self, RegistrationStatus},
        users,
    },
    http::{ApiError, Caller},
    state::AppState,
};

/// The most items one batch upload may carry.
pub const MAX_BATCH: usize = 500;

/// The hash the offline list carries for a ticket.
pub fn ticket_hash(event_id: Uuid, code: &str) -> String {
    let digest = Sha256::digest(format!("{event_id}:{code}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// What a scanner admitted while offline, item by item, in order; each item
/// stands alone, so one bad ticket undoes nothing else.
pub async fn batch(
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
    items: Vec<CheckinRequest>,
) -> Result<BatchAnswer, ApiError> {
    let event = door(state, caller, event_id).await?;
    refuse_closed(&event)?;
    if items.len() > MAX_BATCH {
        return Err(ApiError::field(
            "checkins",
            "too_many",
            format!("send at most {MAX_BATCH} check-ins at a time"),
        ));
    }
    let by = Admitter::of(caller);
    let mut answer = BatchAnswer {
        checked_in: 0,
        already_checked_in: 0,
        failed: 0,
        results: Vec::with_capacity(items.len()),
    };
    for (index, item) in items.into_iter().enumerate() {
        let client_checkin_id = item.client_checkin_id;
        let prefix = format!("checkins[{index}].");
        let outcome = scan(state, &by, &event, item, CheckinSource::Offline, &prefix).await;
        let entry = match outcome {
            Ok(scanned) => {
                let (status, a) = match scanned {
                    Scanned::CheckedIn(a) => {
                        answer.checked_in += 1;
                        (201, a)
                    }
                    Scanned::Already(a) => {
                        answer.already_checked_in += 1;
                        (200, a)
                    }
                };
                BatchItem {
                    index,
                    client_checkin_id,
                    status,
                    result: a.result,
                    detail: None,
                    checkin: Some(a.checkin),
                    candidate: Some(a.candidate),
                }
            }
            Err(ApiError::Internal(context)) => return Err(ApiError::Internal(context)),
            Err(err) => {
                answer.failed += 1;
                let problem = err.to_problem();
                let detail = problem.errors.first().map_or(problem.detail.clone(), |e| {
                    Some(format!("{}: {}", e.field, e.message))
                });
                BatchItem {
                    index,
                    client_checkin_id,
                    status: problem.status,
                    result: problem.code,
                    detail,
                    checkin: None,
                    candidate: None,
                }
            }
        };
        answer.results.push(entry);
    }
    Ok(answer)
}

/// Every confirmed registration's hashed ticket code, name, university,
/// major and degree: what a scanner needs to admit people with no network.
pub async fn checkin_list(
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
) -> Result<(CheckinList, Vec<Uuid>), ApiError> {
    let event = door(state, caller, event_id).await?;
    let rows = registrations::Entity::find()
        .filter(registrations::Column::EventId.eq(event.id))
        .filter(registrations::Column::Status.eq(RegistrationStatus::Confirmed))
        .order_by_asc(registrations::Column::Id)
        .all(&state.db)
        .await?;
    let students = users::by_ids(&state.db, rows.iter().map(|r| r.user_id)).await?;
    let arrived: HashMap<Uuid, DateTime<Utc>> = checkins::Entity::find()
        .filter(checkins::Column::EventId.eq(event.id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.registration_id, c.scanned_at))
        .collect();
    let people: Vec<Uuid> = students.keys().copied().collect();
    let entries = rows
        .into_iter()
        .filter_map(|r| {
            let u = students.get(&r.user_id)?;
            Some(ListEntry {
                ticket_hash: ticket_hash(event.id, &r.ticket_code),
                registration_id: r.id,
                full_name: u.full_name.clone(),
                university: u.university.clone(),
                major: u.major.clone(),
                degree: u.degree,
                checked_in_at: arrived.get(&r.id).copied(),
            })
        })
        .collect();
    let list = CheckinList {
        event_id: event.id,
        generated_at: db::now(),
        hash: "sha256(\"<event_id>:<ticket_code>\"), hex".into(),
        entries,
    };
    Ok((list, people))
}
