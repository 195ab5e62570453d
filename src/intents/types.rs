//! What the intents routes read and write: request bodies, query strings and
//! the view of an intent with its names and history.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    entities::{intents::IntentStatus, positions::TalentCategory, users::Degree},
    http::export::ExportFormat,
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntentRequest {
    pub candidate_id: Uuid,
    /// Required for organisers; a recruiter's own employer otherwise.
    pub employer_id: Option<Uuid>,
    pub position_id: Option<Uuid>,
    /// The event it came from; taken from the check-in when one is given.
    pub event_id: Option<Uuid>,
    pub checkin_id: Option<Uuid>,
    /// Where the pipeline starts: `interested` (default) up to `signed`
    /// (an intent signed on the spot at a job fair).
    pub status: Option<IntentStatus>,
    /// Defaults to the position's category, else `other`.
    pub talent_category: Option<TalentCategory>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransitionRequest {
    pub status: IntentStatus,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Person {
    pub id: Uuid,
    pub full_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntentCandidate {
    pub id: Uuid,
    pub full_name: String,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
    pub graduation_year: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Named {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    pub id: Uuid,
    pub actor: Person,
    pub from: Option<IntentStatus>,
    pub to: IntentStatus,
    pub note: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntentView {
    pub id: Uuid,
    pub status: IntentStatus,
    pub candidate: IntentCandidate,
    pub employer: Named,
    pub position: Option<Named>,
    pub event: Option<Named>,
    pub checkin_id: Option<Uuid>,
    pub talent_category: TalentCategory,
    pub note: String,
    pub signed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Oldest first; only on `GET /intents/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryEntry>>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IntentsQuery {
    pub status: Option<IntentStatus>,
    pub employer_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub candidate_id: Option<Uuid>,
    /// Intents from this campaign's events.
    pub campaign_id: Option<Uuid>,
    /// Candidates of this university (the exact name).
    pub university: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// `csv` or `xlsx` for a file of every matching intent.
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<String>,
}
