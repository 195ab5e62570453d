//! What the registrations routes take and give.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    entities::{
        events::{self, EventStatus},
        registrations::{self, RegistrationStatus},
        users::{self, Degree},
    },
    http::export::ExportFormat,
};

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct RegisterRequest {
    /// The referral code of whoever told the student about the event (以才引才).
    pub referral_code: Option<String>,
}

/// The event as a registration shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EventSummary {
    pub id: Uuid,
    pub title: String,
    pub status: EventStatus,
    pub university: String,
    pub venue: String,
    pub city: String,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
}

impl From<&events::Model> for EventSummary {
    fn from(e: &events::Model) -> Self {
        Self {
            id: e.id,
            title: e.title.clone(),
            status: e.status,
            university: e.university.clone(),
            venue: e.venue.clone(),
            city: e.city.clone(),
            starts_at: e.starts_at,
            ends_at: e.ends_at,
        }
    }
}

/// Who registered, as organisers and participating recruiters see it.
/// Email and phone are for organisers only.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Registrant {
    pub id: Uuid,
    pub full_name: String,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
    pub graduation_year: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Registrant {
    pub fn of(user: &users::Model, with_contact: bool) -> Self {
        Self {
            id: user.id,
            full_name: user.full_name.clone(),
            university: user.university.clone(),
            major: user.major.clone(),
            degree: user.degree,
            graduation_year: user.graduation_year,
            email: with_contact.then(|| user.email.clone()),
            phone: if with_contact {
                user.phone.clone()
            } else {
                None
            },
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RegistrationView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub status: RegistrationStatus,
    /// 1 is next in line. Only while waitlisted.
    pub waitlist_position: Option<i32>,
    /// Only for the student itself, and only while confirmed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticket_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<EventSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<Registrant>,
}

impl RegistrationView {
    pub fn new(r: registrations::Model, owner: bool) -> Self {
        let confirmed = r.status == RegistrationStatus::Confirmed;
        Self {
            id: r.id,
            event_id: r.event_id,
            status: r.status,
            waitlist_position: r.waitlist_position,
            ticket_code: (owner && confirmed).then_some(r.ticket_code),
            created_at: r.created_at,
            confirmed_at: r.confirmed_at,
            cancelled_at: r.cancelled_at,
            event: None,
            candidate: None,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TicketView {
    pub registration_id: Uuid,
    pub ticket_code: String,
    /// The ticket code as a QR code, an SVG document.
    pub qr_svg: String,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct RegistrationsQuery {
    pub status: Option<RegistrationStatus>,
    /// Part of the name, email, university or major.
    pub q: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// `csv` or `xlsx` for a file of every matching registration (also
    /// asked with `Accept`); read by `export::requested`.
    #[param(value_type = Option<ExportFormat>)]
    pub format: Option<String>,
}
