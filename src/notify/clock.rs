//! The time the scheduler reads. Production reads the system clock; a test
//! builds its worker with a [`Clock::manual`] clock and moves it, so a
//! reminder due in 23 hours is tested without waiting. Only code holding the
//! worker can set it: no request, setting or flag reaches it.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};

use crate::db;

#[derive(Clone, Default)]
pub struct Clock(Option<Arc<Mutex<DateTime<Utc>>>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Self {
        Self(None)
    }

    /// A clock that stands at `at` until it is set or advanced.
    pub fn manual(at: DateTime<Utc>) -> Self {
        Self(Some(Arc::new(Mutex::new(db::truncate(at)))))
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.0 {
            None => db::now(),
            Some(at) => *at.lock().unwrap_or_else(|e| e.into_inner()),
        }
    }

    /// Moves a manual clock (every copy of it) by `by`; the system clock
    /// cannot be moved.
    pub fn advance(&self, by: TimeDelta) {
        if let Some(at) = &self.0 {
            let mut at = at.lock().unwrap_or_else(|e| e.into_inner());
            *at = db::truncate(*at + by);
        }
    }
}
