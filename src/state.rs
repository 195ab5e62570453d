//! The ground floor every handler stands on: the database, the settings and
//! the keys, limits and channels a request may need. It imports no feature,
//! so features import it and never the application that composes them.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex, atomic::AtomicBool},
    time::Duration,
};

use sea_orm::DatabaseConnection;
use tokio::sync::watch;
use uuid::Uuid;

use crate::{
    batch::{Batches, Lanes, Staged},
    config::Settings,
    db,
    http::{
        callers::Callers,
        gate::Gate,
        metrics::{Batched, Metrics},
        ratelimit::RateLimiter,
        streams::StreamSlots,
    },
    tokens::JwtKeys,
};

/// What every request can reach.
pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Arc<Settings>,
    pub jwt: JwtKeys,
    pub metrics: Arc<Metrics>,
    pub limiter: RateLimiter,
    /// Bounds the password hashes running at once, so a flood of logins or
    /// resets cannot take every core and all the memory.
    pub hashing: Gate,
    /// Signed-in users read a moment ago, so a request need not read its
    /// caller again.
    pub callers: Arc<Callers>,
    /// Event ids whose counts just changed (a check-in, a registration), for
    /// the live dashboards of this process: its own changes (see
    /// [`AppState::changed`]) and, on PostgreSQL, those the other processes
    /// announce.
    pub live: tokio::sync::broadcast::Sender<Uuid>,
    /// Tells the other processes which events changed.
    pub announcer: db::Announcer,
    /// One feed per watched event: the latest message for its dashboards,
    /// kept by one poll however many streams watch the event.
    pub feeds: Feeds,
    /// Bounds on the live streams running at once.
    pub streams: Arc<StreamSlots>,
    /// Scans at the door waiting to go to PostgreSQL together.
    pub scans: Arc<Batches>,
    /// First places at events waiting to go to PostgreSQL together, in a
    /// lane per event.
    pub registrations: Lanes,
    /// Waitlist places at full events waiting to go to PostgreSQL
    /// together, in a lane per event.
    pub waitlists: Lanes<Staged>,
    /// Every migration this binary knows is applied: found once by
    /// `/readyz`, then remembered (the schema does not go back).
    pub migrated: AtomicBool,
    /// SIGTERM or SIGINT arrived: the server is draining, `/readyz` says so.
    pub shutting_down: AtomicBool,
}

/// `wanted` statements at once, but at least one and at most half the pool.
fn half_the_pool(settings: &Settings, wanted: u32) -> usize {
    wanted.clamp(1, (settings.database.max_connections / 2).max(1)) as usize
}

/// The latest message of each watched event's feed, shared by its streams.
pub type Feed = watch::Sender<Option<Arc<str>>>;

/// The feeds of the events being watched in this process.
#[derive(Default)]
pub struct Feeds(Mutex<HashMap<Uuid, Feed>>);

impl Feeds {
    /// A receiver of `event_id`'s feed; `start` is called with a new feed
    /// when nobody watches the event yet, to begin keeping it.
    pub fn watch(
        &self,
        event_id: Uuid,
        start: impl FnOnce(Feed),
    ) -> watch::Receiver<Option<Arc<str>>> {
        let mut feeds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(feed) = feeds.get(&event_id) {
            return feed.subscribe();
        }
        let (feed, receiver) = watch::channel(None);
        feeds.insert(event_id, feed.clone());
        start(feed);
        receiver
    }

    /// Forgets `event_id`'s feed if nobody watches it any more; the feed's
    /// keeper stops when this is true.
    pub fn release_if_unwatched(&self, event_id: Uuid) -> bool {
        let mut feeds = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let unwatched = feeds
            .get(&event_id)
            .is_none_or(|feed| feed.receiver_count() == 0);
        if unwatched {
            feeds.remove(&event_id);
        }
        unwatched
    }
}

impl AppState {
    pub fn new(db: DatabaseConnection, settings: Settings, announcer: db::Announcer) -> Self {
        let metrics = Arc::new(Metrics::default());
        Self {
            jwt: JwtKeys::new(&settings.auth),
            limiter: RateLimiter::shared(settings.rate_limit.auth_per_minute, &db),
            hashing: Gate::new(
                settings.auth.max_concurrent_hashes,
                Duration::from_millis(settings.auth.hash_wait_ms),
            ),
            callers: Arc::new(Callers::new(Duration::from_millis(
                settings.auth.caller_cache_ms,
            ))),
            metrics: metrics.clone(),
            live: tokio::sync::broadcast::channel(1024).0,
            announcer,
            feeds: Feeds::default(),
            streams: StreamSlots::new(
                settings.live.max_streams_per_user,
                settings.live.max_streams,
            ),
            // Half the pool at most each, so they leave room for other work.
            scans: Batches::new(
                half_the_pool(&settings, settings.database.scan_statements),
                settings.database.scans_per_statement as usize,
                {
                    let metrics = metrics.clone();
                    move |rows| metrics.batched(Batched::Scans, rows)
                },
            ),
            registrations: Lanes::new(
                half_the_pool(&settings, settings.database.registration_statements),
                settings.database.registrations_per_statement as usize,
                {
                    let metrics = metrics.clone();
                    move |rows| metrics.batched(Batched::Registrations, rows)
                },
            ),
            waitlists: Lanes::new(
                half_the_pool(&settings, settings.database.registration_statements),
                settings.database.registrations_per_statement as usize,
                {
                    let metrics = metrics.clone();
                    move |rows| metrics.batched(Batched::Waitlists, rows)
                },
            ),
            migrated: AtomicBool::new(false),
            shutting_down: AtomicBool::new(false),
            settings: Arc::new(settings),
            db,
        }
    }

    /// `event_id`'s figures changed in a transaction that has committed:
    /// this process's dashboards recount at once, the other processes'
    /// when the announcement reaches them.
    pub fn changed(&self, event_id: Uuid) {
        let _ = self.live.send(event_id);
        self.announcer.announce(event_id);
    }
}
