//! What the check-in routes take and give.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    entities::{
        checkins::CheckinSource,
        registrations::RegistrationStatus,
        users::{self, Degree},
    },
    http::Caller,
};

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckinRequest {
    pub ticket_code: String,
    /// A UUID the scanner makes for this scan; sending it again is the same check-in.
    pub client_checkin_id: Option<Uuid>,
    /// When the ticket was scanned (for offline scans); defaults to now.
    pub scanned_at: Option<DateTime<Utc>>,
    /// Which door, e.g. 东门.
    pub gate: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchRequest {
    pub checkins: Vec<CheckinRequest>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WalkInRequest {
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub university: String,
    pub major: String,
    pub degree: Degree,
    pub graduation_year: i32,
    pub gate: Option<String>,
    pub client_checkin_id: Option<Uuid>,
    /// The privacy notice version the student accepted at the door.
    pub privacy_notice_version: Option<String>,
    /// Whether the student agreed, at the door, to share email and phone with
    /// the employers of the events they attend. Applies to a new account only.
    pub share_contacts: Option<bool>,
}

/// Who admitted a student.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Admitter {
    pub id: Uuid,
    pub full_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckinView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub registration_id: Uuid,
    pub gate: Option<String>,
    pub source: CheckinSource,
    pub scanned_at: DateTime<Utc>,
    /// When the server recorded it.
    pub checked_in_at: DateTime<Utc>,
    pub checked_in_by: Admitter,
}

/// What the door needs to know about who arrived; no contact details.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Arrival {
    pub id: Uuid,
    pub full_name: String,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
}

impl Admitter {
    /// The caller, admitting someone.
    pub fn of(caller: &Caller) -> Self {
        Self {
            id: caller.id,
            full_name: caller.full_name.clone(),
        }
    }
}

impl From<&users::Model> for Arrival {
    fn from(u: &users::Model) -> Self {
        Self {
            id: u.id,
            full_name: u.full_name.clone(),
            university: u.university.clone(),
            major: u.major.clone(),
            degree: u.degree,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistrationBrief {
    pub id: Uuid,
    pub status: RegistrationStatus,
}

/// The answer to a scan: `checked_in` the first time (201), then
/// `already_checked_in` with the original check-in (200).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckinAnswer {
    /// `checked_in` or `already_checked_in`.
    pub result: String,
    pub checkin: CheckinView,
    pub registration: RegistrationBrief,
    pub candidate: Arrival,
    /// Walk-ins only: whether the student's account was made just now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_created: Option<bool>,
}

/// One item of a batch upload's answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchItem {
    pub index: usize,
    pub client_checkin_id: Option<Uuid>,
    /// The HTTP status the item would have had alone: 201, 200, 404, 409, 422.
    pub status: u16,
    /// `checked_in`, `already_checked_in`, or the error's `code`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkin: Option<CheckinView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<Arrival>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchAnswer {
    pub checked_in: usize,
    pub already_checked_in: usize,
    pub failed: usize,
    pub results: Vec<BatchItem>,
}

/// One admissible ticket in the offline list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListEntry {
    /// Hex SHA-256 of `"<event id>:<ticket code>"`: the scanner hashes what
    /// it scans and looks it up; the list itself admits no one.
    pub ticket_hash: String,
    pub registration_id: Uuid,
    pub full_name: String,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
    pub checked_in_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckinList {
    pub event_id: Uuid,
    pub generated_at: DateTime<Utc>,
    /// How `ticket_hash` is made: `sha256("<event_id>:<ticket_code>")`, hex.
    pub hash: String,
    pub entries: Vec<ListEntry>,
}
