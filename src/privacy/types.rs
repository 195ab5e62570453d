//! Requests and answers of the privacy routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::entities::{audit_log, consents, users};

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
