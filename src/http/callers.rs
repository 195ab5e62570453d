//! The signed-in users this process has just read, so that a request does
//! not read its caller from the database every time.
//!
//! An entry lives `auth.caller_cache_ms` at most. A change to a user is
//! forgotten at once where it is made ([`Callers::forget`], called after the
//! change commits) and, on PostgreSQL, in every other process: a trigger on
//! `users` sends the id on [`crate::db::USERS_CHANNEL`] and
//! [`crate::db::relay_changes`] forgets
//! it. While that listener is down nothing is heard, so it forgets
//! everything when it listens again; the lifetime bounds what it missed.
//!
//! A read that began before a `forget` does not store what it read: it may
//! be the row from before the change.

use std::{
    collections::HashMap,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use uuid::Uuid;

use crate::entities::users;

/// Entries kept at most; past this the oldest half goes.
const MAX_ENTRIES: usize = 50_000;

pub struct Callers {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, (users::Model, Instant)>>,
    /// Counts `forget`s: a read stores its row only if none came meanwhile.
    forgotten: AtomicU64,
}

impl Callers {
    /// A lifetime of zero keeps nothing: every request reads its caller.
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            forgotten: AtomicU64::new(0),
        }
    }

    /// The user `id`, from memory while it is fresh, else from `db`.
    pub async fn user(
        &self,
        db: &DatabaseConnection,
        id: Uuid,
    ) -> Result<Option<users::Model>, DbErr> {
        if self.ttl.is_zero() {
            return users::Entity::find_by_id(id).one(db).await;
        }
        if let Some((user, at)) = self.lock().get(&id)
            && at.elapsed() < self.ttl
        {
            return Ok(Some(user.clone()));
        }
        let before = self.forgotten.load(Ordering::SeqCst);
        let user = users::Entity::find_by_id(id).one(db).await?;
        if let Some(user) = &user {
            let mut entries = self.lock();
            if self.forgotten.load(Ordering::SeqCst) == before {
                if entries.len() >= MAX_ENTRIES {
                    evict_oldest_half(&mut entries);
                }
                entries.insert(id, (user.clone(), Instant::now()));
            }
        }
        Ok(user)
    }

    /// `id` changed: the next request reads it again.
    pub fn forget(&self, id: Uuid) {
        let mut entries = self.lock();
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        entries.remove(&id);
    }

    /// Changes may have been missed: every request reads its caller again.
    pub fn forget_all(&self) {
        let mut entries = self.lock();
        self.forgotten.fetch_add(1, Ordering::SeqCst);
        entries.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (users::Model, Instant)>> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn evict_oldest_half(entries: &mut HashMap<Uuid, (users::Model, Instant)>) {
    let mut ages: Vec<Instant> = entries.values().map(|(_, at)| *at).collect();
    ages.sort_unstable();
    let cutoff = ages[ages.len() / 2];
    entries.retain(|_, (_, at)| *at > cutoff);
}
