//! What the events routes take and give.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::positions::PositionView;
use crate::{
    domain,
    entities::{
        events::{self, EventKind, EventStatus},
        users::Degree,
    },
};

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventRequest {
    pub title: String,
    pub kind: EventKind,
    pub campaign_id: Option<Uuid>,
    pub university: String,
    pub venue: String,
    pub city: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    /// How many may wait for a freed seat; 0 (the default) means no waitlist.
    #[serde(default)]
    pub waitlist_limit: i32,
    /// When registration opens; without it, at publication.
    pub registration_opens_at: Option<DateTime<Utc>>,
    /// When registration closes; without it, when the event starts.
    pub registration_closes_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub employer_ids: Vec<Uuid>,
    /// The lowest degree admitted; without it, every degree.
    pub min_degree: Option<Degree>,
    /// The graduation years admitted; without it (or empty), every year.
    pub graduation_years: Option<Vec<i32>>,
}

/// Fields to change; `null` clears the optional ones.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct EventPatch {
    pub title: Option<String>,
    pub kind: Option<EventKind>,
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<Uuid>)]
    pub campaign_id: Option<Option<Uuid>>,
    pub university: Option<String>,
    pub venue: Option<String>,
    pub city: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub capacity: Option<i32>,
    pub waitlist_limit: Option<i32>,
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub registration_opens_at: Option<Option<DateTime<Utc>>>,
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<DateTime<Utc>>)]
    pub registration_closes_at: Option<Option<DateTime<Utc>>>,
    pub description: Option<String>,
    /// Replaces the set of participating employers.
    pub employer_ids: Option<Vec<Uuid>>,
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<Degree>)]
    pub min_degree: Option<Option<Degree>>,
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<Vec<i32>>)]
    pub graduation_years: Option<Option<Vec<i32>>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CancelRequest {
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EventView {
    pub id: Uuid,
    pub title: String,
    pub kind: EventKind,
    pub status: EventStatus,
    pub campaign_id: Option<Uuid>,
    pub university: String,
    pub venue: String,
    pub city: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub capacity: i32,
    pub waitlist_limit: i32,
    pub registration_opens_at: Option<DateTime<Utc>>,
    pub registration_closes_at: Option<DateTime<Utc>>,
    pub description: String,
    pub min_degree: Option<Degree>,
    pub graduation_years: Vec<i32>,
    pub confirmed_count: i32,
    pub waitlist_count: i32,
    pub seats_left: i32,
    pub cancel_reason: Option<String>,
    pub published_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<events::Model> for EventView {
    fn from(e: events::Model) -> Self {
        Self {
            graduation_years: graduation_years_of(&e),
            seats_left: (e.capacity - e.confirmed_count).max(0),
            id: e.id,
            title: e.title,
            kind: e.kind,
            status: e.status,
            campaign_id: e.campaign_id,
            university: e.university,
            venue: e.venue,
            city: e.city,
            starts_at: e.starts_at,
            ends_at: e.ends_at,
            capacity: e.capacity,
            waitlist_limit: e.waitlist_limit,
            registration_opens_at: e.registration_opens_at,
            registration_closes_at: e.registration_closes_at,
            description: e.description,
            min_degree: e.min_degree,
            confirmed_count: e.confirmed_count,
            waitlist_count: e.waitlist_count,
            cancel_reason: e.cancel_reason,
            published_at: e.published_at,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// An employer at an event, with the positions it recruits for.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventEmployer {
    pub id: Uuid,
    pub name: String,
    pub industry: String,
    pub district: String,
    pub positions: Vec<PositionView>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventDetail {
    #[serde(flatten)]
    pub event: EventView,
    pub employers: Vec<EventEmployer>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EventsQuery {
    /// Part of the title or the university's name.
    pub q: Option<String>,
    pub university: Option<String>,
    pub city: Option<String>,
    pub campaign_id: Option<Uuid>,
    pub kind: Option<EventKind>,
    /// Events starting at or after this time.
    pub from: Option<DateTime<Utc>>,
    /// Events starting at or before this time.
    pub to: Option<DateTime<Utc>>,
    /// Organisers only; everyone else sees published events.
    pub status: Option<EventStatus>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

pub fn graduation_years_of(event: &events::Model) -> Vec<i32> {
    event
        .graduation_years
        .as_ref()
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}
