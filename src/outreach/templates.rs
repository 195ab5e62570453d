//! Organisers' own wording of an event's emails, for one event or for every
//! event of a campaign: save, read, delete, list and preview.

use sea_orm::{ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, Set};
use uuid::Uuid;

use super::{service::find_event, types::*};
use crate::{
    db,
    entities::{campaigns, events, mail_templates, registrations, users},
    http::ApiError,
    notify::{
        Rendered,
        custom::{self, Student},
        kinds::{Extras, TemplateKind},
        schedule,
        templates::{EmployerLine, EventFacts},
        unsubscribe,
    },
    state::AppState,
};

/// The longest subject a template may have, in characters.
const MAX_SUBJECT_CHARS: usize = 300;
/// The longest text or HTML part a template may have, in characters.
const MAX_BODY_CHARS: usize = 50_000;

/// Whose wording: one event's, or every event's of a campaign.
#[derive(Debug, Clone, Copy)]
pub enum Owner {
    Event(Uuid),
    Campaign(Uuid),
}

impl Owner {
    fn column(self) -> (mail_templates::Column, Uuid) {
        match self {
            Self::Event(id) => (mail_templates::Column::EventId, id),
            Self::Campaign(id) => (mail_templates::Column::CampaignId, id),
        }
    }
}

/// The kind named in a path, if organisers may word it.
fn template_kind(kind: &str) -> Result<TemplateKind, ApiError> {
    TemplateKind::parse(kind).ok_or_else(|| ApiError::Unknown {
        code: "unknown_template_kind",
        detail: format!("no event email is called {kind:?}; see GET /events/{{id}}/templates"),
    })
}

/// What a template is checked and previewed against: the event (or a
/// made-up one for a campaign) and the employers taking part.
struct Scene {
    event: Option<events::Model>,
    employers: Vec<EmployerLine>,
}

impl Scene {
    async fn of(state: &AppState, owner: Owner) -> Result<Self, ApiError> {
        match owner {
            Owner::Event(id) => {
                let event = find_event(&state.db, id).await?;
                let employers = custom::hiring(&state.db, id).await?;
                Ok(Self {
                    event: Some(event),
                    employers,
                })
            }
            Owner::Campaign(id) => {
                campaigns::Entity::find_by_id(id)
                    .one(&state.db)
                    .await?
                    .ok_or(ApiError::NotFound("campaign"))?;
                Ok(Self {
                    event: None,
                    employers: custom::sample_employers(),
                })
            }
        }
    }

    fn facts(&self, state: &AppState) -> EventFacts<'_> {
        match &self.event {
            Some(event) => schedule::facts(&state.settings, event),
            None => custom::sample_event(),
        }
    }
}

/// The template rendered with `vars`, or 422 on the part that fails. A
/// ticket code may not reach the subject: the outbox keeps subjects after
/// it redacts the bodies of emails that carry secrets.
fn checked(
    kind: TemplateKind,
    parts: &custom::Parts<'_>,
    vars: &serde_json::Value,
) -> Result<Rendered, ApiError> {
    let mail = custom::render(kind.as_str(), parts, vars).map_err(|e| {
        let line = e.line.map(|l| format!("line {l}: ")).unwrap_or_default();
        ApiError::field(e.part, "template_invalid", format!("{line}{}", e.message))
    })?;
    let ticket = vars["ticket_code"].as_str().unwrap_or_default();
    if !ticket.is_empty() && mail.subject.contains(ticket) {
        return Err(ApiError::field(
            "subject",
            "secret_in_subject",
            "the ticket code belongs in the text and HTML, which are not kept once sent",
        ));
    }
    Ok(mail)
}

/// Each part within its bound, so a template never fills the outbox.
fn bounded(parts: &custom::Parts<'_>) -> Result<(), ApiError> {
    for (field, value, max) in [
        ("subject", parts.subject, MAX_SUBJECT_CHARS),
        ("text", parts.text, MAX_BODY_CHARS),
        ("html", parts.html, MAX_BODY_CHARS),
    ] {
        if value.chars().count() > max {
            return Err(ApiError::field(
                field,
                "too_long",
                format!("at most {max} characters"),
            ));
        }
    }
    Ok(())
}

fn view(saved: mail_templates::Model) -> TemplateView {
    TemplateView {
        kind: saved.kind,
        event_id: saved.event_id,
        campaign_id: saved.campaign_id,
        subject: saved.subject,
        text: saved.text_body,
        html: saved.html_body,
        updated_at: saved.updated_at,
    }
}

async fn saved(
    db_conn: &DatabaseConnection,
    owner: Owner,
    kind: TemplateKind,
) -> Result<Option<mail_templates::Model>, ApiError> {
    let (column, id) = owner.column();
    Ok(mail_templates::Entity::find()
        .filter(column.eq(id))
        .filter(mail_templates::Column::Kind.eq(kind.as_str()))
        .one(db_conn)
        .await?)
}

/// Saves the wording of one kind, once it renders for a made-up student.
pub async fn save(
    state: &AppState,
    caller: Uuid,
    owner: Owner,
    kind: &str,
    input: TemplateRequest,
) -> Result<TemplateView, ApiError> {
    let kind = template_kind(kind)?;
    let parts = custom::Parts {
        subject: &input.subject,
        text: &input.text,
        html: &input.html,
    };
    bounded(&parts)?;
    let scene = Scene::of(state, owner).await?;
    let vars = custom::vars(
        kind,
        Student::sample(),
        &scene.facts(state),
        &scene.employers,
        &Extras::sample(),
    );
    checked(kind, &parts, &vars)?;
    let now = db::now();
    let existing = saved(&state.db, owner, kind).await?;
    let is_new = existing.is_none();
    let mut row = match existing {
        Some(row) => mail_templates::ActiveModel::from(row),
        None => {
            let (event_id, campaign_id) = match owner {
                Owner::Event(id) => (Some(id), None),
                Owner::Campaign(id) => (None, Some(id)),
            };
            mail_templates::ActiveModel {
                id: Set(Uuid::now_v7()),
                event_id: Set(event_id),
                campaign_id: Set(campaign_id),
                kind: Set(kind.as_str().to_owned()),
                created_at: Set(now),
                ..Default::default()
            }
        }
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
    Ok(view(saved))
}

/// The saved wording of one kind; 404 `template_not_set` when it has none.
pub async fn get(state: &AppState, owner: Owner, kind: &str) -> Result<TemplateView, ApiError> {
    let kind = template_kind(kind)?;
    Scene::of(state, owner).await?;
    saved(&state.db, owner, kind)
        .await?
        .map(view)
        .ok_or_else(not_set)
}

fn not_set() -> ApiError {
    ApiError::Unknown {
        code: "template_not_set",
        detail: "no template is saved for this kind here; the built-in wording is sent".into(),
    }
}

/// Back to the built-in wording (or the campaign's, for an event).
pub async fn delete(state: &AppState, owner: Owner, kind: &str) -> Result<(), ApiError> {
    let kind = template_kind(kind)?;
    let (column, id) = owner.column();
    let deleted = mail_templates::Entity::delete_many()
        .filter(column.eq(id))
        .filter(mail_templates::Column::Kind.eq(kind.as_str()))
        .exec(&state.db)
        .await?;
    if deleted.rows_affected == 0 {
        Scene::of(state, owner).await?;
        return Err(not_set());
    }
    Ok(())
}

/// Every kind of an event's email: whether the event or its campaign words
/// it, and the built-in subject for this event.
pub async fn list(state: &AppState, event_id: Uuid) -> Result<TemplatesView, ApiError> {
    let event = find_event(&state.db, event_id).await?;
    let facts = schedule::facts(&state.settings, &event);
    let mut found =
        mail_templates::Entity::find().filter(mail_templates::Column::EventId.eq(event_id));
    if let Some(campaign_id) = event.campaign_id {
        found = mail_templates::Entity::find().filter(
            sea_orm::Condition::any()
                .add(mail_templates::Column::EventId.eq(event_id))
                .add(mail_templates::Column::CampaignId.eq(campaign_id)),
        );
    }
    let found = found.all(&state.db).await?;
    let events_page = state.settings.page("/events");
    let items = TemplateKind::ALL
        .into_iter()
        .map(|kind| {
            let has = |event: bool| {
                found
                    .iter()
                    .any(|t| t.kind == kind.as_str() && t.event_id.is_some() == event)
            };
            let (event_template, campaign_template) = (has(true), has(false));
            let default = kind.builtin(
                &events_page,
                Student::sample().full_name,
                &facts,
                &[],
                &Extras::sample(),
            );
            TemplateKindView {
                kind,
                event_template,
                campaign_template,
                sent: if event_template {
                    "event"
                } else if campaign_template {
                    "campaign"
                } else {
                    "built_in"
                }
                .into(),
                default_subject: default.subject,
                variables: kind.variables().into_iter().map(String::from).collect(),
            }
        })
        .collect();
    Ok(TemplatesView {
        event_id,
        campaign_id: event.campaign_id,
        items,
    })
}

/// Renders one kind: the given parts, else the saved template (for an
/// event, its own or its campaign's), else the built-in wording; for one of
/// the event's registrations or a made-up student. A preview never shows a
/// real ticket code.
pub async fn preview(
    state: &AppState,
    owner: Owner,
    kind: &str,
    input: PreviewRequest,
) -> Result<PreviewView, ApiError> {
    let kind = template_kind(kind)?;
    let scene = Scene::of(state, owner).await?;
    let facts = scene.facts(state);
    let mut extras = Extras::sample();
    let user = match (input.registration_id, &scene.event) {
        (Some(id), Some(event)) => {
            let (registration, user) = registration_student(&state.db, event.id, id).await?;
            extras.unsubscribe_link = unsubscribe::link(&state.settings, user.id);
            if let Some(position) = registration.waitlist_position {
                extras.waitlist_position = position;
            }
            Some(user)
        }
        (Some(_), None) => {
            return Err(ApiError::field(
                "registration_id",
                "not_allowed",
                "a campaign's template is previewed with a made-up student",
            ));
        }
        (None, _) => None,
    };
    let student = user.as_ref().map_or_else(Student::sample, Student::of);
    let vars = custom::vars(kind, student, &facts, &scene.employers, &extras);
    let saved = match (&scene.event, owner) {
        (Some(event), _) => custom::find(&state.db, event, kind).await?,
        (None, owner) => saved(&state.db, owner, kind).await?,
    };
    let mail = match (input.subject, input.text, input.html, saved) {
        (Some(subject), Some(text), Some(html), _) => {
            let parts = custom::Parts {
                subject: &subject,
                text: &text,
                html: &html,
            };
            bounded(&parts)?;
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
        (None, None, None, None) => kind.builtin(
            &state.settings.page("/events"),
            student.full_name,
            &facts,
            &scene.employers,
            &extras,
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
) -> Result<(registrations::Model, users::Model), ApiError> {
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
    let user = users::Entity::find_by_id(registration.user_id)
        .one(db_conn)
        .await?
        .ok_or_else(unknown)?;
    Ok((registration, user))
}
