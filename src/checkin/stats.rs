//! An event's figures: registrations by status, check-ins by gate,
//! walk-ins, no-shows and the intents that came from it.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::{
    db,
    entities::{
        checkins::{self, CheckinSource},
        events,
        intents::{self, IntentStatus},
        registrations::{self, RegistrationStatus},
    },
    http::ApiError,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GateCount {
    /// `null` for scans that named no gate.
    pub gate: Option<String>,
    pub checked_in: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct EventStats {
    pub event_id: Uuid,
    pub capacity: i32,
    /// Every registration ever made, cancelled ones included.
    pub registered: i64,
    pub confirmed: i64,
    pub waitlisted: i64,
    pub cancelled: i64,
    pub checked_in: i64,
    /// Admitted at the door without registering first (part of checked_in).
    pub walk_ins: i64,
    /// Confirmed but never checked in; `null` until the event has ended.
    pub no_show: Option<i64>,
    pub gates: Vec<GateCount>,
    /// Intents to join (引进意向) that came from this event, by status.
    pub intents: BTreeMap<String, i64>,
    pub as_of: DateTime<Utc>,
}

impl EventStats {
    /// The same figures, ignoring when they were read.
    pub fn same_as(&self, other: &EventStats) -> bool {
        EventStats {
            as_of: other.as_of,
            ..self.clone()
        } == *other
    }
}

pub async fn event_stats<C: ConnectionTrait>(
    conn: &C,
    event: &events::Model,
) -> Result<EventStats, ApiError> {
    use checkins::Column as K;
    use registrations::Column as R;
    let by_status: Vec<(RegistrationStatus, i64)> = registrations::Entity::find()
        .select_only()
        .column(R::Status)
        .column_as(Expr::col(R::Id).count(), "n")
        .filter(R::EventId.eq(event.id))
        .group_by(R::Status)
        .into_tuple()
        .all(conn)
        .await?;
    let count = |status| {
        by_status
            .iter()
            .find(|(s, _)| *s == status)
            .map_or(0, |(_, n)| *n)
    };
    let by_gate: Vec<(Option<String>, CheckinSource, i64)> = checkins::Entity::find()
        .select_only()
        .column(K::Gate)
        .column(K::Source)
        .column_as(Expr::col(K::Id).count(), "n")
        .filter(K::EventId.eq(event.id))
        .group_by(K::Gate)
        .group_by(K::Source)
        .into_tuple()
        .all(conn)
        .await?;
    let mut gates: BTreeMap<Option<String>, i64> = BTreeMap::new();
    let mut walk_ins = 0;
    for (gate, source, n) in by_gate {
        *gates.entry(gate).or_default() += n;
        if source == CheckinSource::WalkIn {
            walk_ins += n;
        }
    }
    let checked_in: i64 = gates.values().sum();
    let intents: Vec<(IntentStatus, i64)> = intents::Entity::find()
        .select_only()
        .column(intents::Column::Status)
        .column_as(Expr::col(intents::Column::Id).count(), "n")
        .filter(intents::Column::EventId.eq(event.id))
        .group_by(intents::Column::Status)
        .into_tuple()
        .all(conn)
        .await?;
    let confirmed = count(RegistrationStatus::Confirmed);
    let now = db::now();
    Ok(EventStats {
        event_id: event.id,
        capacity: event.capacity,
        registered: by_status.iter().map(|(_, n)| n).sum(),
        confirmed,
        waitlisted: count(RegistrationStatus::Waitlisted),
        cancelled: count(RegistrationStatus::Cancelled),
        checked_in,
        walk_ins,
        no_show: (event.ends_at <= now).then(|| Ord::max(confirmed - checked_in, 0)),
        gates: gates
            .into_iter()
            .map(|(gate, checked_in)| GateCount { gate, checked_in })
            .collect(),
        intents: intents
            .into_iter()
            .map(|(status, n)| (status.as_str().to_owned(), n))
            .collect(),
        as_of: now,
    })
}
