//! Requests and answers of the outreach routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::notify::{kinds::TemplateKind, schedule::MailingKind};

/// One scheduled mailing of an event.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MailingView {
    pub kind: MailingKind,
    /// `reminder_24h`, `reminder_2h`, `no_show_follow_up`, `no_intent_follow_up`.
    pub mailing: String,
    pub due_at: DateTime<Utc>,
    /// Turned on for this event (the default).
    pub enabled: bool,
    /// `scheduled` (not yet due), `due` (the worker will queue it at its next
    /// look), `queued` (emails queued), `skipped_stale`
    /// (its time had passed when the event was created), `disabled`, or
    /// `not_sent` (the event was cancelled).
    pub state: String,
    /// Emails of this mailing queued so far.
    pub queued: u64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MailingsView {
    pub event_id: Uuid,
    pub items: Vec<MailingView>,
}

/// Turns kinds on or off for one event; kinds left out keep their setting.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateMailingsRequest {
    pub reminder: Option<bool>,
    pub no_show_follow_up: Option<bool>,
    pub no_intent_follow_up: Option<bool>,
}

/// An organiser's wording of one kind of email (minijinja templates).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateRequest {
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplateView {
    pub kind: String,
    pub event_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub updated_at: DateTime<Utc>,
}

/// One kind of an event's email: who words it, and what it may use.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplateKindView {
    pub kind: TemplateKind,
    /// The event has its own template of this kind.
    pub event_template: bool,
    /// The event's campaign has a template of this kind.
    pub campaign_template: bool,
    /// What is sent: `event` (its own template wins), `campaign` or `built_in`.
    pub sent: String,
    /// The built-in wording's subject for this event.
    pub default_subject: String,
    /// The variables a template of this kind may use.
    pub variables: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TemplatesView {
    pub event_id: Uuid,
    pub campaign_id: Option<Uuid>,
    pub items: Vec<TemplateKindView>,
}

/// What to preview: the saved template, or these parts instead; for one
/// registration of the event, or a sample student.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    pub registration_id: Option<Uuid>,
    pub subject: Option<String>,
    pub text: Option<String>,
    pub html: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PreviewView {
    pub kind: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UnsubscribedView {
    pub follow_up_emails: bool,
}
