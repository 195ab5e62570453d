//! The rules of scheduled mailings and unsubscribing.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set, sea_query::OnConflict,
};
use uuid::Uuid;

use super::types::*;
use crate::{
    db,
    entities::{
        events::{self, EventStatus},
        mailing_settings, scheduled_mails, users,
    },
    http::ApiError,
    notify::{
        schedule::{self, MailingKind},
        unsubscribe,
    },
    state::AppState,
};

pub(super) async fn find_event(
    db_conn: &DatabaseConnection,
    id: Uuid,
) -> Result<events::Model, ApiError> {
    events::Entity::find_by_id(id)
        .one(db_conn)
        .await?
        .ok_or(ApiError::NotFound("event"))
}

/// Every mailing of an event: when it is due, whether it is on, how many
/// emails it queued.
pub async fn mailings(state: &AppState, event_id: Uuid) -> Result<MailingsView, ApiError> {
    let event = find_event(&state.db, event_id).await?;
    let off = schedule::disabled_kinds(&state.db, event_id).await?;
    let mut queued: HashMap<String, u64> = HashMap::new();
    for row in scheduled_mails::Entity::find()
        .filter(scheduled_mails::Column::EventId.eq(event_id))
        .all(&state.db)
        .await?
    {
        *queued.entry(row.mailing).or_default() += 1;
    }
    let now = db::now();
    let items = schedule::plan(&state.settings, &event)
        .into_iter()
        .map(|d| {
            let enabled = !off.contains(d.kind.as_str());
            let count = queued.get(&d.name).copied().unwrap_or(0);
            let state = if event.status == EventStatus::Cancelled {
                "not_sent"
            } else if d.stale {
                "skipped_stale"
            } else if !enabled {
                "disabled"
            } else if count > 0 {
                "queued"
            } else if d.due_at <= now {
                "due"
            } else {
                "scheduled"
            };
            MailingView {
                kind: d.kind,
                mailing: d.name,
                due_at: d.due_at,
                enabled,
                state: state.into(),
                queued: count,
            }
        })
        .collect();
    Ok(MailingsView { event_id, items })
}

/// Turns kinds of scheduled mail on or off for one event.
pub async fn update_mailings(
    state: &AppState,
    event_id: Uuid,
    input: UpdateMailingsRequest,
) -> Result<MailingsView, ApiError> {
    find_event(&state.db, event_id).await?;
    let changes = [
        (MailingKind::Reminder, input.reminder),
        (MailingKind::NoShowFollowUp, input.no_show_follow_up),
        (MailingKind::NoIntentFollowUp, input.no_intent_follow_up),
    ];
    for (kind, enabled) in changes {
        let Some(enabled) = enabled else { continue };
        mailing_settings::Entity::insert(mailing_settings::ActiveModel {
            event_id: Set(event_id),
            kind: Set(kind.as_str().to_owned()),
            enabled: Set(enabled),
            updated_at: Set(db::now()),
        })
        .on_conflict(
            OnConflict::columns([
                mailing_settings::Column::EventId,
                mailing_settings::Column::Kind,
            ])
            .update_columns([
                mailing_settings::Column::Enabled,
                mailing_settings::Column::UpdatedAt,
            ])
            .to_owned(),
        )
        .exec(&state.db)
        .await?;
    }
    mailings(state, event_id).await
}

/// The one-click unsubscribe: turns the token's student's follow-ups off.
pub async fn unsubscribe(state: &AppState, token: &str) -> Result<(), ApiError> {
    let user_id = unsubscribe::verify(&state.settings.auth.jwt_secret, token).ok_or_else(|| {
        ApiError::bad_request("invalid_token", "this unsubscribe link is not valid")
    })?;
    if users::Entity::find_by_id(user_id)
        .one(&state.db)
        .await?
        .is_none()
    {
        return Err(ApiError::bad_request(
            "invalid_token",
            "this unsubscribe link is not valid",
        ));
    }
    Ok(unsubscribe::set_follow_ups(&state.db, user_id, false).await?)
}
