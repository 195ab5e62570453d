//! Signed webhooks. A change that other systems hear about writes one
//! delivery row per subscribed endpoint in its own transaction ([`emit`]),
//! so a delivery exists exactly when the change is committed. The worker
//! then POSTs each one ([`super::deliverer::Deliverer`]), signed with the
//! endpoint's secret:
//!
//! `X-Nuancheng-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`
//!
//! with the delivery's id in `X-Nuancheng-Delivery` (the same on every try,
//! so a receiver can ignore a repeat) and its type in `X-Nuancheng-Event`.
//! A delivery that is not answered 2xx is tried again after a doubling
//! backoff, and `failed` after `webhooks.max_attempts`. Targets on loopback,
//! private or link-local addresses are refused unless
//! `webhooks.allow_private_targets` is set, checked on the resolved
//! addresses at every send, and the connection goes to the address checked.

use std::net::{IpAddr, SocketAddr};

use chrono::Utc;
use hmac::{Hmac, Mac};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, DbErr, EntityTrait,
    QueryFilter, Set, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use utoipa::ToSchema;
use uuid::Uuid;

use super::lease::unheld;
use crate::{
    db,
    entities::{
        checkins,
        intents::{self, IntentStatus},
        registrations,
        webhook_deliveries::{self, DeliveryStatus},
        webhook_endpoints,
    },
};

/// The changes an endpoint may subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum WebhookEvent {
    #[serde(rename = "registration.created")]
    RegistrationCreated,
    #[serde(rename = "registration.cancelled")]
    RegistrationCancelled,
    #[serde(rename = "checkin.created")]
    CheckinCreated,
    #[serde(rename = "intent.status_changed")]
    IntentStatusChanged,
    #[serde(rename = "intent.signed")]
    IntentSigned,
}

impl WebhookEvent {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegistrationCreated => "registration.created",
            Self::RegistrationCancelled => "registration.cancelled",
            Self::CheckinCreated => "checkin.created",
            Self::IntentStatusChanged => "intent.status_changed",
            Self::IntentSigned => "intent.signed",
        }
    }
}

/// Writes a delivery of `event` to every active endpoint subscribed to it,
/// in the caller's transaction. `data` is the changed thing as the API
/// shows it (ids and states, no contact details).
pub async fn emit<C: ConnectionTrait>(
    conn: &C,
    event: WebhookEvent,
    data: Value,
) -> Result<(), DbErr> {
    let endpoints = subscribers(conn, event).await?;
    emit_to(conn, &endpoints, event, data).await
}

/// The active endpoints subscribed to `event`. Read before a transaction
/// that holds a lock, so the lock is not held for this read too; an
/// endpoint created meanwhile gets the next change.
pub async fn subscribers<C: ConnectionTrait>(
    conn: &C,
    event: WebhookEvent,
) -> Result<Vec<Uuid>, DbErr> {
    let endpoints = webhook_endpoints::Entity::find()
        .filter(webhook_endpoints::Column::Active.eq(true))
        .all(conn)
        .await?;
    Ok(endpoints
        .into_iter()
        .filter(|endpoint| {
            endpoint
                .event_types
                .as_array()
                .is_some_and(|types| types.iter().any(|t| t.as_str() == Some(event.as_str())))
        })
        .map(|endpoint| endpoint.id)
        .collect())
}

/// [`emit`] to endpoints found already by [`subscribers`].
pub async fn emit_to<C: ConnectionTrait>(
    conn: &C,
    endpoints: &[Uuid],
    event: WebhookEvent,
    data: Value,
) -> Result<(), DbErr> {
    if endpoints.is_empty() {
        return Ok(());
    }
    let now = db::now();
    let payload = payload(event, data, now);
    for endpoint in endpoints {
        webhook_deliveries::ActiveModel {
            id: Set(Uuid::now_v7()),
            endpoint_id: Set(*endpoint),
            event_type: Set(event.as_str().to_owned()),
            payload: Set(payload.clone()),
            status: Set(DeliveryStatus::Pending),
            attempts: Set(0),
            next_attempt_at: Set(now),
            locked_until: Set(None),
            lease_token: Set(None),
            last_status_code: Set(None),
            last_error: Set(None),
            delivered_at: Set(None),
            created_at: Set(now),
        }
        .insert(conn)
        .await?;
    }
    Ok(())
}

/// The body of a delivery of `event`, as every endpoint receives it.
pub fn payload(event: WebhookEvent, data: Value, now: chrono::DateTime<Utc>) -> String {
    json!({
        "id": Uuid::now_v7(),
        "type": event.as_str(),
        "created_at": now,
        "data": data,
    })
    .to_string()
}

/// An `INSERT` for a PostgreSQL statement that writes, for each row of
/// `source` (a CTE named earlier), one pending delivery to every active
/// endpoint subscribed to `event_type`, with `payload`, made at `now` (SQL
/// expressions, `event_type` and `payload` as text). Each delivery's id is
/// a UUIDv7 made from the clock and random bits, as the application makes
/// them, so deliveries list in the order they were made.
pub fn deliveries_sql(source: &str, event_type: &str, payload: &str, now: &str) -> String {
    format!(
        "INSERT INTO webhook_deliveries (id, endpoint_id, event_type, payload, status, \
                                         attempts, next_attempt_at, created_at) \
         SELECT encode(set_bit(set_bit(overlay(uuid_send(gen_random_uuid()) PLACING \
                    substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) \
                    FROM 3) FROM 1 FOR 6), 52, 1), 53, 1), 'hex')::uuid, \
                w.id, {event_type}, {payload}, 'pending', 0, {now}, {now} \
         FROM {source}, webhook_endpoints w \
         WHERE w.active AND EXISTS (SELECT 1 FROM json_array_elements_text(w.event_types) t(v) \
                                    WHERE t.v = {event_type})"
    )
}

/// A registration as webhooks show it.
pub fn registration_data(r: &registrations::Model) -> Value {
    json!({
        "registration_id": r.id,
        "event_id": r.event_id,
        "user_id": r.user_id,
        "status": r.status,
        "waitlist_position": r.waitlist_position,
    })
}

/// A check-in as webhooks show it.
pub fn checkin_data(c: &checkins::Model) -> Value {
    json!({
        "checkin_id": c.id,
        "event_id": c.event_id,
        "registration_id": c.registration_id,
        "user_id": c.user_id,
        "source": c.source,
        "scanned_at": c.scanned_at,
    })
}

/// An intent as webhooks show it; `from` is its status before the change.
pub fn intent_data(i: &intents::Model, from: Option<IntentStatus>) -> Value {
    json!({
        "intent_id": i.id,
        "candidate_id": i.candidate_id,
        "employer_id": i.employer_id,
        "position_id": i.position_id,
        "event_id": i.event_id,
        "from": from,
        "status": i.status,
        "signed_at": i.signed_at,
    })
}

/// The `X-Nuancheng-Signature` value of `body` sent at unix time `t`.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{t}.").as_bytes());
    mac.update(body.as_bytes());
    format!("t={t},v1={}", hex::encode(mac.finalize().into_bytes()))
}

/// Whether an address is on the public internet: not loopback, private,
/// link-local, shared (CGNAT), unspecified, multicast or documentation.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80)
        }
    }
}

/// The addresses `url` resolves to, or why it may not be sent to.
pub async fn resolve(url: &url::Url, allow_private: bool) -> Result<Vec<SocketAddr>, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| format!("cannot resolve {host}: {e}"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("{host} has no address"));
    }
    if !allow_private && let Some(private) = addrs.iter().find(|a| !is_public(a.ip())) {
        return Err(format!(
            "{host} resolves to {}, a private, loopback or link-local address",
            private.ip()
        ));
    }
    Ok(addrs)
}

/// Puts a delivery back in the queue, due now, with a fresh set of tries,
/// unless a worker holds it right now. Returns the rows changed (0 or 1).
pub async fn redeliver(db_conn: &DatabaseConnection, id: Uuid) -> Result<u64, DbErr> {
    use webhook_deliveries::Column as C;
    let now = db::now();
    let res = webhook_deliveries::Entity::update_many()
        .col_expr(C::Status, Expr::value(DeliveryStatus::Pending))
        .col_expr(C::Attempts, Expr::value(0))
        .col_expr(C::NextAttemptAt, Expr::value(now))
        .filter(C::Id.eq(id))
        .filter(unheld::<webhook_deliveries::Entity>(now))
        .exec(db_conn)
        .await?;
    Ok(res.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_loopback_and_link_local_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn signature_is_hmac_of_time_dot_body() {
        // echo -n '1700000000.{"a":1}' | openssl dgst -sha256 -hmac secret
        assert_eq!(
            signature("secret", 1_700_000_000, r#"{"a":1}"#),
            "t=1700000000,v1=49f24e537407743fa4a0242bb63b94b9a47ee99cbbe071ccd8a22550ae411686"
        );
    }
}
