//! Requests and answers of the privacy routes: consents, the audit log and
//! the access log, a student's export, what `DELETE /me` takes, and what a
//! retention run reports.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::entities::{
    audit_log,
    checkins::CheckinSource,
    consents,
    intents::IntentStatus,
    notifications::NotificationStatus,
    positions::TalentCategory,
    registrations::RegistrationStatus,
    users::{self, Degree, Role},
};

/// The privacy notice in force.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NoticeView {
    /// Send this as `privacy_notice_version` at signup and walk-in.
    pub version: String,
    pub url: String,
}

/// One grant or withdrawal.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsentEvent {
    /// `privacy_notice` or `contact_sharing`.
    pub kind: String,
    pub granted: bool,
    pub version: Option<String>,
    pub at: DateTime<Utc>,
}

impl From<consents::Model> for ConsentEvent {
    fn from(c: consents::Model) -> Self {
        Self {
            kind: c.kind,
            granted: c.granted,
            version: c.version,
            at: c.created_at,
        }
    }
}

/// What the caller has agreed to, and the history of it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ConsentsView {
    /// The notice version the caller accepted, and when.
    pub privacy_notice_version: Option<String>,
    pub privacy_accepted_at: Option<DateTime<Utc>>,
    /// The version in force; when it differs, ask the person to accept it.
    pub notice_in_force: String,
    /// Whether employers at the events the caller attends see their email and phone.
    pub share_contacts: bool,
    pub share_contacts_since: Option<DateTime<Utc>>,
    /// Oldest first.
    pub history: Vec<ConsentEvent>,
}

impl ConsentsView {
    pub fn new(user: &users::Model, in_force: &str, history: Vec<consents::Model>) -> Self {
        Self {
            privacy_notice_version: user.privacy_notice_version.clone(),
            privacy_accepted_at: user.privacy_accepted_at,
            notice_in_force: in_force.to_owned(),
            share_contacts: user.contact_sharing_at.is_some(),
            share_contacts_since: user.contact_sharing_at,
            history: history.into_iter().map(ConsentEvent::from).collect(),
        }
    }
}

/// A change of consent. Fields left out stay as they are.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateConsentsRequest {
    /// Accept the notice in force (it must be that version).
    pub privacy_notice_version: Option<String>,
    /// Grant (true) or withdraw (false) sharing email and phone with employers.
    pub share_contacts: Option<bool>,
}

/// Filters of the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Rows of this actor.
    pub actor_id: Option<Uuid>,
    /// Rows that touched this person's data.
    pub subject_id: Option<Uuid>,
    /// `write`, `read`, `export` or `system`.
    pub kind: Option<String>,
    /// The exact action, e.g. `GET /api/v1/events/{id}/registrations`.
    pub action: Option<String>,
    /// From this time (inclusive).
    pub from: Option<DateTime<Utc>>,
    /// Before this time.
    pub to: Option<DateTime<Utc>>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// One row of the audit log.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub kind: String,
    pub action: String,
    pub path: Option<String>,
    pub target_id: Option<Uuid>,
    pub status: Option<i32>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<serde_json::Value>,
    /// Whose personal data the row touched.
    pub subjects: Vec<Uuid>,
}

impl AuditEntry {
    pub fn new(row: audit_log::Model, subjects: Vec<Uuid>) -> Self {
        Self {
            id: row.id,
            at: row.at,
            actor_id: row.actor_id,
            actor_role: row.actor_role,
            kind: row.kind,
            action: row.action,
            path: row.path,
            target_id: row.target_id,
            status: row.status,
            ip: row.ip,
            request_id: row.request_id,
            detail: row.detail.and_then(|d| serde_json::from_str(&d).ok()),
            subjects,
        }
    }
}

/// Who looked at or exported the caller's data.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AccessEntry {
    pub at: DateTime<Utc>,
    /// `read` or `export`.
    pub kind: String,
    pub action: String,
    pub actor: Option<Accessor>,
}

/// Someone who accessed a student's data: a name and, for a recruiter, the employer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Accessor {
    pub id: Uuid,
    pub full_name: String,
    pub role: String,
    pub employer: Option<String>,
}

/// Everything the platform holds about the caller, as one document. It
/// names other people only where a record about the caller needs it (the
/// staff member who changed an intent, by name), never their contacts or ids.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PersonalDataExport {
    pub generated_at: DateTime<Utc>,
    pub profile: ExportProfile,
    pub consents: ExportConsents,
    pub registrations: Vec<ExportRegistration>,
    pub checkins: Vec<ExportCheckin>,
    pub intents: Vec<ExportIntent>,
    /// Emails sent (or queued) to the caller's address, oldest first.
    pub emails: Vec<ExportEmail>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportProfile {
    pub id: Uuid,
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
    pub graduation_year: Option<i32>,
    pub role: Role,
    pub referral_code: String,
    /// Whether the account was made with someone's referral code.
    pub referred: bool,
    pub email_verified_at: Option<DateTime<Utc>>,
    pub has_password: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportConsents {
    /// The privacy notice accepted, and when.
    pub privacy_notice_version: Option<String>,
    pub privacy_accepted_at: Option<DateTime<Utc>>,
    /// Since when employers may see the caller's email and phone; `null`: not shared.
    pub contact_sharing_at: Option<DateTime<Utc>>,
    /// Every grant and withdrawal, oldest first.
    pub history: Vec<ExportConsent>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportConsent {
    /// `privacy_notice` or `contact_sharing`.
    pub kind: String,
    pub granted: bool,
    pub version: Option<String>,
    /// The address the consent was given from.
    pub ip: Option<String>,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportRegistration {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_title: String,
    pub event_starts_at: Option<DateTime<Utc>>,
    pub status: RegistrationStatus,
    pub waitlist_position: Option<i32>,
    pub ticket_code: String,
    /// Whether the registration was made with someone's referral code.
    pub referred: bool,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// Whether the caller cancelled it (else staff did, or nobody).
    pub cancelled_by_self: bool,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportCheckin {
    pub id: Uuid,
    pub event_id: Uuid,
    pub event_title: String,
    pub registration_id: Uuid,
    pub source: CheckinSource,
    pub gate: Option<String>,
    pub scanned_at: DateTime<Utc>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportIntent {
    pub id: Uuid,
    pub employer: String,
    pub position: Option<String>,
    pub event_title: Option<String>,
    pub status: IntentStatus,
    pub talent_category: TalentCategory,
    /// What the employer wrote about the caller.
    pub note: String,
    pub signed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Every change, oldest first.
    pub history: Vec<ExportIntentChange>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportIntentChange {
    /// The name of who made the change (the caller, or a staff member).
    pub by: String,
    pub from: Option<IntentStatus>,
    pub to: IntentStatus,
    pub note: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ExportEmail {
    pub id: Uuid,
    /// The template that made it (`verify_email`, `registration_confirmed`, ...).
    pub kind: String,
    pub subject: String,
    pub status: NotificationStatus,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The text, while it is still kept (`privacy.outbox_body_days` after sending).
    pub text_body: Option<String>,
    pub html_body: Option<String>,
    /// File names of the attachments still kept.
    pub attachments: Vec<String>,
}

/// `DELETE /me`: the account's password confirms it is the owner asking.
#[derive(Debug, Deserialize, ToSchema)]
pub struct DeleteMeRequest {
    pub password: String,
}

/// What a retention run did, or with `--dry-run` would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionReport {
    pub dry_run: bool,
    /// Students whose identity was erased for inactivity.
    pub students_anonymised: u64,
    /// Sent emails whose text and attachments were deleted.
    pub email_bodies_deleted: u64,
    pub idempotency_keys_deleted: u64,
    pub refresh_tokens_deleted: u64,
    pub action_tokens_deleted: u64,
    pub invitations_deleted: u64,
}
