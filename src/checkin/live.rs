//! An event's figures as a live stream (Server-Sent Events) for the
//! dashboards at the door.
//!
//! One feed per watched event serves all its streams: a single task
//! recounts the figures when a change names the event (a change of this
//! process at once, of another process through PostgreSQL's notifications,
//! see [`db::relay_changes`]) and every `live.poll_ms` in case one was
//! missed, and publishes a new message only when the figures changed. Each stream forwards the feed's
//! messages, checks once a second that its viewer may still watch, and ends
//! when the viewer's access token expires. [`crate::http::streams`] bounds
//! how many streams run.

use std::{convert::Infallible, sync::Arc, time::Duration};

use actix_web::web;
use chrono::{DateTime, Utc};
use futures_util::{Stream, stream};
use sea_orm::EntityTrait;
use tokio::sync::{
    broadcast::error::{RecvError, TryRecvError},
    watch,
};
use uuid::Uuid;

use super::stats::{EventStats, event_stats};
use crate::{
    db,
    entities::{events, users},
    events::access::{Access, access_of},
    http::{Caller, streams::StreamSlot},
    state::{AppState, Feed},
};

/// How often a stream checks that its viewer may still watch (an account
/// disabled, or a recruiter moved to another employer, ends the stream).
const RECHECK: Duration = Duration::from_secs(1);
/// A comment line this often keeps proxies from closing a quiet stream, and
/// lets the server notice within seconds that a viewer went away (its place
/// among the bounded streams is then freed).
const KEEP_ALIVE: Duration = Duration::from_secs(5);

/// Keeps `event_id`'s feed until nobody watches it.
async fn keep_feed(state: web::Data<AppState>, event_id: Uuid, feed: Feed) {
    let mut changes = state.live.subscribe();
    let every = state
        .settings
        .live
        .poll_every(state.db.get_database_backend());
    let mut poll = tokio::time::interval(every);
    poll.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last: Option<EventStats> = None;
    loop {
        if feed.receiver_count() == 0 && state.feeds.release_if_unwatched(event_id) {
            return;
        }
        let figures = match events::Entity::find_by_id(event_id).one(&state.db).await {
            Ok(Some(event)) => event_stats(&state.db, &event).await.ok(),
            Ok(None) => return,
            Err(_) => None,
        };
        if let Some(figures) = figures
            && !last.as_ref().is_some_and(|l| l.same_as(&figures))
            && let Ok(data) = serde_json::to_string(&figures)
        {
            feed.send_replace(Some(Arc::from(format!("event: stats\ndata: {data}\n\n"))));
            last = Some(figures);
        }
        tokio::select! {
            open = next_change(&mut changes, event_id) => if !open { return },
            _ = poll.tick() => {}
        }
    }
}

/// Waits for a change naming `event_id` (or for news that some were missed);
/// false once the channel is closed.
async fn next_change(changes: &mut tokio::sync::broadcast::Receiver<Uuid>, event_id: Uuid) -> bool {
    loop {
        match changes.recv().await {
            // The nil id asks every feed to recount (announcements were lost).
            Ok(id) if id != event_id && !id.is_nil() => continue,
            Ok(_) | Err(RecvError::Lagged(_)) => {
                // Changes queued meanwhile are counted by the same recount.
                while !matches!(
                    changes.try_recv(),
                    Err(TryRecvError::Empty | TryRecvError::Closed)
                ) {}
                return true;
            }
            Err(RecvError::Closed) => return false,
        }
    }
}

struct Viewer {
    state: web::Data<AppState>,
    event_id: Uuid,
    viewer: Uuid,
    /// When the viewer's access token was issued (seconds) and expires: a
    /// password reset or sign-out everywhere after the one, or the other
    /// passing, ends the stream.
    issued_at: i64,
    until: DateTime<Utc>,
    feed: watch::Receiver<Option<Arc<str>>>,
    recheck: tokio::time::Interval,
    since_sent: Duration,
    _slot: StreamSlot,
}

impl Viewer {
    async fn may_still_watch(&self) -> bool {
        if db::now() >= self.until {
            return false;
        }
        let Ok(Some(user)) = users::Entity::find_by_id(self.viewer)
            .one(&self.state.db)
            .await
        else {
            return false;
        };
        if user.disabled_at.is_some()
            || user
                .tokens_valid_after
                .is_some_and(|after| self.issued_at < after.timestamp())
        {
            return false;
        }
        let caller = Caller::from(user);
        matches!(
            access_of(&self.state.db, Some(&caller), self.event_id).await,
            Ok(Access::Staff | Access::Participant)
        )
    }

    /// Waits for the next thing to send: new figures, or a keep-alive;
    /// `None` ends the stream.
    async fn next(&mut self) -> Option<Arc<str>> {
        loop {
            tokio::select! {
                changed = self.feed.changed() => {
                    changed.ok()?;
                    let message = self.feed.borrow_and_update().clone();
                    if let Some(message) = message {
                        self.since_sent = Duration::ZERO;
                        return Some(message);
                    }
                }
                _ = self.recheck.tick() => {
                    if !self.may_still_watch().await {
                        return None;
                    }
                    self.since_sent += RECHECK;
                    if self.since_sent >= KEEP_ALIVE {
                        self.since_sent = Duration::ZERO;
                        return Some(Arc::from(": keep-alive\n\n"));
                    }
                }
            }
        }
    }
}

/// The event's figures as Server-Sent Events for `viewer`, who may watch it
/// with a token issued at `issued_at` (seconds) until `until`: one `stats` message at once, then another within a second
/// of every change, and a comment now and then to keep the connection open.
pub fn stream(
    state: web::Data<AppState>,
    viewer: &Caller,
    event_id: Uuid,
    issued_at: i64,
    until: DateTime<Utc>,
    slot: StreamSlot,
) -> impl Stream<Item = Result<web::Bytes, Infallible>> + 'static {
    let keeper = state.clone();
    let mut feed = state.feeds.watch(event_id, move |feed| {
        actix_web::rt::spawn(keep_feed(keeper, event_id, feed));
    });
    // The figures as they stand go out first, when the feed has them already.
    feed.mark_changed();
    let mut recheck = tokio::time::interval(RECHECK);
    recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    recheck.reset();
    let viewer = Viewer {
        state,
        event_id,
        viewer: viewer.id,
        issued_at,
        until,
        feed,
        recheck,
        since_sent: Duration::ZERO,
        _slot: slot,
    };
    stream::unfold(viewer, |mut viewer| async move {
        let message = viewer.next().await?;
        Some((
            Ok::<_, Infallible>(web::Bytes::copy_from_slice(message.as_bytes())),
            viewer,
        ))
    })
}
