//! The rules of scheduled mailings, organisers' templates and unsubscribing.

use std::collections::HashMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set,
    sea_query::OnConflict,
};
use uuid::Uuid;

use super::types::*;
use crate::{
    db,
    entities::{
        events::{self, EventStatus},
        mail_templates, mailing_settings, registrations, scheduled_mails, users,
    },
    http::ApiError,
    notify::{
        custom,
        schedule::{self, MailingKind},
        unsubscribe,
    },
    state::AppState,
};

async fn find_event(db_conn: &DatabaseConnection, id: Uuid) -> Result<events::Model, ApiError> {
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

/// The kind named in a path, if organisers may word it.
fn template_kind(kind: &str) -> Result<MailingKind, ApiError> {
    MailingKind::of_template(kind).ok_or(ApiError::NotFound("template kind"))
}

fn checked(
    kind: MailingKind,
    parts: &custom::Parts<'_>,
    vars: &serde_json::Value,
) -> Result<crate::notify::Rendered, ApiError> {
    custom::render(kind.template(), parts, vars).map_err(|e| {
        let line = e.line.map(|l| format!("line {l}: ")).unwrap_or_default();
        ApiError::field(e.part, "template_invalid", format!("{line}{}", e.message))
    })
}

/// Saves an event's wording of one kind, once it renders.
pub async fn save_template(
    state: &AppState,
    caller: Uuid,
    event_id: Uuid,
    kind: &str,
    input: TemplateRequest,
) -> Result<TemplateView, ApiError> {
    let kind = template_kind(kind)?;
    let event = find_event(&state.db, event_id).await?;
    let employers = schedule::hiring(&state.db, event.id).await?;
    let facts = schedule::facts(&state.settings, &event);
    let parts = custom::Parts {
        subject: &input.subject,
        text: &input.text,
        html: &input.html,
    };
    checked(kind, &parts, &custom::sample_vars(&facts, &employers))?;
    let now = db::now();
    let existing = mail_templates::Entity::find()
        .filter(mail_templates::Column::EventId.eq(event_id))
        .filter(mail_templates::Column::Kind.eq(kind.template()))
        .one(&state.db)
        .await?;
    let is_new = existing.is_none();
    let mut row = match existing {
        Some(row) => mail_templates::ActiveModel::from(row),
        None => mail_templates::ActiveModel {
            id: Set(Uuid::now_v7()),
            event_id: Set(Some(event_id)),
            campaign_id: Set(None),
            kind: Set(kind.template().to_owned()),
            created_at: Set(now),
            ..Default::default()
        },
    };
    row.subject = Set(input.subject);
    row.text_body = Set(input.text);
    row.html_body = Set(input.html);
    row.updated_by = Set(caller);
    row.updated_at = Set(now);
    let saved = if is_new {
        row.insert(&state.db).await?
    } else {
        row.update(&state.db).await?
    };
    Ok(TemplateView {
        kind: saved.kind,
        event_id: saved.event_id,
        campaign_id: saved.campaign_id,
        subject: saved.subject,
        text: saved.text_body,
        html: saved.html_body,
        updated_at: saved.updated_at,
    })
}

/// Renders one kind for an event: the given parts, else the saved template,
/// else the built-in wording; for a registration's student or a sample one.
pub async fn preview(
    state: &AppState,
    event_id: Uuid,
    kind: &str,
    input: PreviewRequest,
) -> Result<PreviewView, ApiError> {
    let kind = template_kind(kind)?;
    let event = find_event(&state.db, event_id).await?;
    let employers = schedule::hiring(&state.db, event.id).await?;
    let facts = schedule::facts(&state.settings, &event);
    let student = match input.registration_id {
        Some(id) => Some(registration_student(&state.db, event_id, id).await?),
        None => None,
    };
    let (full_name, vars, unsubscribe) = match &student {
        Some(user) => {
            let link = unsubscribe::link(&state.settings, user.id);
            let vars = custom::vars(user, &facts, &employers, &link);
            (user.full_name.as_str(), vars, link)
        }
        None => {
            let vars = custom::sample_vars(&facts, &employers);
            let link = vars["unsubscribe_link"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            ("张同学", vars, link)
        }
    };
    let saved = custom::find(&state.db, &event, kind.template()).await?;
    let mail = match (input.subject, input.text, input.html, saved) {
        (Some(subject), Some(text), Some(html), _) => {
            let parts = custom::Parts {
                subject: &subject,
                text: &text,
                html: &html,
            };
            checked(kind, &parts, &vars)?
        }
        (None, None, None, Some(t)) => {
            let parts = custom::Parts {
                subject: &t.subject,
                text: &t.text_body,
                html: &t.html_body,
            };
            checked(kind, &parts, &vars)?
        }
        (None, None, None, None) => schedule::render_default(
            &state.settings,
            kind,
            state
                .settings
                .mailings
                .reminder_offsets_hours
                .first()
                .copied(),
            full_name,
            &facts,
            &employers,
            &unsubscribe,
        ),
        _ => {
            return Err(ApiError::field(
                "subject",
                "incomplete_template",
                "give subject, text and html together, or none to preview the saved template",
            ));
        }
    };
    Ok(PreviewView {
        kind: mail.kind.to_owned(),
        subject: mail.subject,
        text: mail.text,
        html: mail.html,
    })
}

async fn registration_student(
    db_conn: &DatabaseConnection,
    event_id: Uuid,
    id: Uuid,
) -> Result<users::Model, ApiError> {
    let unknown = || {
        ApiError::field(
            "registration_id",
            "unknown",
            "no registration of this event has this id",
        )
    };
    let registration = registrations::Entity::find_by_id(id)
        .one(db_conn)
        .await?
        .filter(|r| r.event_id == event_id)
        .ok_or_else(unknown)?;
    users::Entity::find_by_id(registration.user_id)
        .one(db_conn)
        .await?
        .ok_or_else(unknown)
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
