//! An event's figures: registrations by status, check-ins by gate, no-shows
//! once it has ended; and the same figures as a live stream (Server-Sent
//! Events) for the dashboard at the door.
use std::{
    convert::Infallible,
    time::{Duration, Instant},
};

use actix_web::web;
use futures_util::{Stream, stream};
use sea_orm::EntityTrait;
use tokio::sync::broadcast::error::RecvError;
use uuid::Uuid;

use super::stats::{EventStats, event_stats};
use crate::{
    entities::{events, users},
    events::access::{Access, access_of},
    http::Caller,
    state::AppState,
};

/// How often a live stream looks for changes made by other processes.
const POLL: Duration = Duration::from_secs(1);
/// How often a stream checks that its viewer may still watch (an account
/// disabled, or a recruiter moved to another employer, ends the stream).
const RECHECK: Duration = Duration::from_secs(1);
/// A comment line this often keeps proxies from closing a quiet stream.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

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

/// The event's figures as Server-Sent Events for `viewer`, who may watch
/// it: one `stats` message at once, then another within a second of every
/// change, and a comment now and then to keep the connection open.
pub fn stream(
    state: web::Data<AppState>,
    viewer: &Caller,
    event_id: Uuid,
) -> impl Stream<Item = Result<web::Bytes, Infallible>> + 'static {
    let mut poll = tokio::time::interval(POLL);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let live = Live {
        changes: state.live.subscribe(),
        state,
        event_id,
        viewer: viewer.id,
        checked_at: Instant::now(),
        poll,
        last: None,
        last_sent: Instant::now(),
    };
    stream::unfold(live, |mut live| async move {
        let message = live.next().await?;
        Some((Ok::<_, Infallible>(web::Bytes::from(message)), live))
    })
}
