//! What the reports read and answer: grouped intent counts, the funnel and
//! referral figures.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    entities::{intents::IntentStatus, users::Role},
    http::export::ExportFormat,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Event,
    University,
    Employer,
    Degree,
    TalentCategory,
    Month,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    pub group_by: GroupBy,
    /// Count only intents in this status now; `signed` counts intents that
    /// reached signed and were not withdrawn (signed or onboarded now).
    pub status: Option<IntentStatus>,
    pub campaign_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    /// From this time (signing time with `status=signed`, else creation).
    pub from: Option<DateTime<Utc>>,
    /// Up to this time, exclusive.
    pub to: Option<DateTime<Utc>>,
    /// `csv` or `xlsx` for a file.
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportRow {
    /// The group's id or value (`null` for intents without one, e.g. no event).
    pub key: Option<String>,
    pub label: String,
    pub count: i64,
    /// The same intents by their current status.
    pub by_status: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntentReport {
    pub group_by: GroupBy,
    pub status: Option<IntentStatus>,
    pub rows: Vec<ReportRow>,
    /// The sum of the rows' counts.
    pub total: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FunnelQuery {
    pub event_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    /// `csv` or `xlsx` for a file.
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<String>,
}

/// Distinct candidates at each stage. `intents` counts every candidate with
/// an intent; each later stage those whose intent is at or past it now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Funnel {
    pub registered: i64,
    pub confirmed: i64,
    pub checked_in: i64,
    pub intents: i64,
    pub offered: i64,
    pub signed: i64,
    pub onboarded: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyReferral {
    /// Share it: signing up or registering with it records who referred whom.
    pub code: String,
    /// Accounts made with the code.
    pub signups_referred: i64,
    /// Registrations (not cancelled) made with the code.
    pub registrations_referred: i64,
    /// People brought in either way who have a signed intent (signed or onboarded).
    pub intents_signed_referred: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReferralRow {
    pub referrer_id: Uuid,
    pub full_name: String,
    pub role: Role,
    pub signups: i64,
    pub registrations: i64,
    pub signed: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReferralReport {
    pub rows: Vec<ReferralRow>,
}
