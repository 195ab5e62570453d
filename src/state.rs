//! The ground floor every handler stands on: the database, the settings and
//! the keys, limits and channels a request may need. It imports no feature,
//! so features import it and never the application that composes them.

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;

use crate::{
    config::Settings,
    http::{gate::Gate, metrics::Metrics, ratelimit::RateLimiter},
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
    /// Event ids whose counts just changed (a check-in, a registration), for
    /// the live dashboards of this process. Other processes' changes reach
    /// a dashboard through its one-second poll.
    pub live: tokio::sync::broadcast::Sender<uuid::Uuid>,
}

impl AppState {
    pub fn new(db: DatabaseConnection, settings: Settings) -> Self {
        Self {
            jwt: JwtKeys::new(&settings.auth),
            limiter: RateLimiter::new(settings.rate_limit.auth_per_minute),
            hashing: Gate::new(
                settings.auth.max_concurrent_hashes,
                Duration::from_millis(settings.auth.hash_wait_ms),
            ),
            metrics: Arc::new(Metrics::default()),
            live: tokio::sync::broadcast::channel(1024).0,
            settings: Arc::new(settings),
            db,
        }
    }
}
