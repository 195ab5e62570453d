//! What a student's export answers, what `DELETE /me` takes, and what a
//! retention run reports.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::entities::{
    checkins::CheckinSource,
    intents::IntentStatus,
    notifications::NotificationStatus,
    positions::TalentCategory,
    registrations::RegistrationStatus,
    users::{Degree, Role},
};

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
