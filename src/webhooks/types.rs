//! Requests and answers of the webhook routes.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    entities::{
        webhook_deliveries::{self, DeliveryStatus},
        webhook_endpoints,
    },
    notify::webhooks::WebhookEvent,
};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// An `https://` (or `http://`) URL on a public address.
    pub url: String,
    /// The HMAC key, 16–200 characters; made up when left out.
    pub secret: Option<String>,
    pub event_types: Vec<WebhookEvent>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WebhookView {
    pub id: Uuid,
    pub url: String,
    pub event_types: Vec<WebhookEvent>,
    pub active: bool,
    /// Shown only in the answer that created the endpoint.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: DateTime<Utc>,
}

impl WebhookView {
    pub fn new(e: webhook_endpoints::Model, with_secret: bool) -> Self {
        Self {
            id: e.id,
            url: e.url,
            event_types: serde_json::from_value(e.event_types).unwrap_or_default(),
            active: e.active,
            secret: with_secret.then_some(e.secret),
            created_at: e.created_at,
        }
    }
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryView {
    pub id: Uuid,
    pub endpoint_id: Uuid,
    pub event_type: String,
    /// The exact body sent.
    pub payload: String,
    pub status: DeliveryStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_status_code: Option<i32>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<webhook_deliveries::Model> for DeliveryView {
    fn from(d: webhook_deliveries::Model) -> Self {
        Self {
            id: d.id,
            endpoint_id: d.endpoint_id,
            event_type: d.event_type,
            payload: d.payload,
            status: d.status,
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at,
            last_status_code: d.last_status_code,
            last_error: d.last_error,
            delivered_at: d.delivered_at,
            created_at: d.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct DeliveriesQuery {
    pub status: Option<DeliveryStatus>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}
