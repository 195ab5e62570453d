//! The checks every event passes, on creation and on every change, so no
//! change can leave an event inconsistent.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{campaigns::find_campaign, types::EventPatch};
use crate::{
    db, domain,
    entities::{employers, events},
    http::{ApiError, FieldError, FieldErrors},
};

const MAX_CAPACITY: i32 = 100_000;

/// An event's fields while they are being checked; the same checks serve
/// creation and every PATCH, so no change can make an event inconsistent.
pub(super) struct EventFields {
    pub model: events::Model,
    pub employer_ids: Option<Vec<Uuid>>,
}

pub(super) fn apply(
    model: &mut events::Model,
    patch: EventPatch,
) -> (FieldErrors, Option<Vec<Uuid>>) {
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
pub(super) async fn check_references<C: ConnectionTrait>(
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
