//! An event's figures: registrations by status, check-ins by gate, no-shows
//! once it has ended; and the same figures as a live stream (Server-Sent
//! Events) for the dashboard at the door.

use std::{
    collections::BTreeMap,
    convert::Infallible,
    time::{Duration, Instant},
};

use actix_web::{HttpRequest, HttpResponse, http::header, web};
use chrono::{DateTime, Utc};
use futures_util::stream;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use tokio::sync::broadcast::error::RecvError;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    catalog::{Access, access_of},
    checkins::door,
};
use crate::{
    db,
    entities::{
        checkins::{self, CheckinSource},
        events,
        intents::{self, IntentStatus},
        registrations::{self, RegistrationStatus},
        users,
    },
    http::{
        ApiError, Caller,
        auth::{authenticate, bearer},
        error::Problem,
    },
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events/{id}/stats", web::get().to(stats))
        .route("/events/{id}/live", web::get().to(live));
}

/// How often a live stream looks for changes made by other processes.
const POLL: Duration = Duration::from_secs(1);
/// How often a stream checks that its viewer may still watch (an account
/// disabled, or a recruiter moved to another employer, ends the stream).
const RECHECK: Duration = Duration::from_secs(1);
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

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
    fn same_as(&self, other: &EventStats) -> bool {
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

/// An event's figures (organisers, recruiters of participating employers).
#[utoipa::path(get, path = "/api/v1/events/{id}/stats", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = EventStats), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn stats(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let event = door(&state, &caller, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(event_stats(&state.db, &event).await?))
}

#[derive(Debug, Deserialize)]
pub struct LiveQuery {
    /// For browsers' `EventSource`, which cannot send headers.
    pub access_token: Option<String>,
}

struct Live {
    state: web::Data<AppState>,
    event_id: Uuid,
    /// Who watches, and when their right to was last checked.
    viewer: Uuid,
    checked_at: Instant,
    changes: tokio::sync::broadcast::Receiver<Uuid>,
    poll: tokio::time::Interval,
    last: Option<EventStats>,
    last_sent: Instant,
}

impl Live {
    async fn may_still_watch(&self) -> bool {
        let Ok(Some(user)) = users::Entity::find_by_id(self.viewer)
            .one(&self.state.db)
            .await
        else {
            return false;
        };
        if user.disabled_at.is_some() {
            return false;
        }
        let caller = Caller::from(user);
        matches!(
            access_of(&self.state.db, Some(&caller), self.event_id).await,
            Ok(Access::Staff | Access::Participant)
        )
    }

    /// Waits for the next thing to send: new figures, or a keep-alive.
    async fn next(&mut self) -> Option<String> {
        loop {
            if self.last.is_some() {
                tokio::select! {
                    change = self.changes.recv() => match change {
                        Ok(id) if id != self.event_id => continue,
                        Ok(_) | Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return None,
                    },
                    _ = self.poll.tick() => {}
                }
            }
            if self.checked_at.elapsed() >= RECHECK {
                if !self.may_still_watch().await {
                    return None;
                }
                self.checked_at = Instant::now();
            }
            let event = events::Entity::find_by_id(self.event_id)
                .one(&self.state.db)
                .await
                .ok()??;
            let figures = event_stats(&self.state.db, &event).await.ok()?;
            if self
                .last
                .as_ref()
                .is_some_and(|last| last.same_as(&figures))
            {
                if self.last_sent.elapsed() >= KEEP_ALIVE {
                    self.last_sent = Instant::now();
                    return Some(": keep-alive\n\n".into());
                }
                continue;
            }
            let data = serde_json::to_string(&figures).ok()?;
            self.last = Some(figures);
            self.last_sent = Instant::now();
            return Some(format!("event: stats\ndata: {data}\n\n"));
        }
    }
}

/// The event's figures as Server-Sent Events: one `stats` event at once,
/// then another within a second of every change. Send the token as
/// `Authorization: Bearer`, or as `?access_token=` where headers cannot be set.
#[utoipa::path(get, path = "/api/v1/events/{id}/live", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("access_token" = Option<String>, Query, description = "Instead of the Authorization header")),
    responses((status = 200, content_type = "text/event-stream", body = EventStats, description = "`event: stats` messages"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn live(
    state: web::Data<AppState>,
    req: HttpRequest,
    id: web::Path<Uuid>,
    query: web::Query<LiveQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer(&req).or_else(|| query.into_inner().access_token);
    let caller = authenticate(state.clone(), token).await?;
    let event = door(&state, &caller, id.into_inner()).await?;
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let live = Live {
        changes: state.live.subscribe(),
        state,
        event_id: event.id,
        viewer: caller.id,
        checked_at: Instant::now(),
        poll,
        last: None,
        last_sent: Instant::now(),
    };
    let body = stream::unfold(live, |mut live| async move {
        let message = live.next().await?;
        Some((Ok::<_, Infallible>(web::Bytes::from(message)), live))
    });
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "text/event-stream"))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header(("X-Accel-Buffering", "no"))
        .streaming(body))
}
