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
        Arc, Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use sea_orm::{DatabaseConnection, DbErr, EntityTrait};
use uuid::Uuid;

use crate::entities::users::{self, Degree, Role};

/// An authenticated, enabled user.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: Uuid,
    pub role: Role,
    pub employer_id: Option<Uuid>,
    pub email: String,
    pub full_name: String,
    /// A student's profile, which decides what events admit it.
    pub degree: Option<Degree>,
    pub graduation_year: Option<i32>,
    /// Whether the user confirmed their email address.
    pub email_verified: bool,
}

impl From<users::Model> for Caller {
    fn from(user: users::Model) -> Self {
        Self {
            id: user.id,
            role: user.role,
            employer_id: user.employer_id,
            email: user.email,
            full_name: user.full_name,
            degree: user.degree,
            graduation_year: user.graduation_year,
            email_verified: user.email_verified_at.is_some(),
        }
    }
}

/// What a request needs of its caller's row: who they are, and whether the
/// account and the token still count. Kept instead of the row (which holds
/// the password hash and the whole profile).
#[derive(Debug)]
pub struct Known {
    pub caller: Caller,
    pub disabled: bool,
    /// Tokens issued before this second are revoked.
    pub tokens_valid_after: Option<i64>,
}

impl From<users::Model> for Known {
    fn from(user: users::Model) -> Self {
        Self {
            disabled: user.disabled_at.is_some(),
            tokens_valid_after: user.tokens_valid_after.map(|at| at.timestamp()),
            caller: Caller::from(user),
        }
    }
}

/// Entries kept at most. When full, those older than the lifetime go, and
/// then, if it is still full, the older half.
const MAX_ENTRIES: usize = 10_000;

type Entries = HashMap<Uuid, (Arc<Known>, Instant)>;

pub struct Callers {
    ttl: Duration,
    entries: Mutex<Entries>,
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
    ) -> Result<Option<Arc<Known>>, DbErr> {
        if !self.ttl.is_zero()
            && let Some((known, at)) = self.lock().get(&id)
            && at.elapsed() < self.ttl
        {
            return Ok(Some(known.clone()));
        }
        let before = self.forgotten.load(Ordering::SeqCst);
        let Some(user) = users::Entity::find_by_id(id).one(db).await? else {
            return Ok(None);
        };
        let known = Arc::new(Known::from(user));
        if !self.ttl.is_zero() {
            let mut entries = self.lock();
            if self.forgotten.load(Ordering::SeqCst) == before {
                if entries.len() >= MAX_ENTRIES {
                    make_room(&mut entries, self.ttl);
                }
                entries.insert(id, (known.clone(), Instant::now()));
            }
        }
        Ok(Some(known))
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

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Drops the entries past their lifetime, then, if that freed too little,
/// the older half.
fn make_room(entries: &mut Entries, ttl: Duration) {
    entries.retain(|_, (_, at)| at.elapsed() < ttl);
    if entries.len() < MAX_ENTRIES / 2 {
        return;
    }
    let mut ages: Vec<Instant> = entries.values().map(|(_, at)| *at).collect();
    ages.sort_unstable();
    let cutoff = ages[ages.len() / 2];
    entries.retain(|_, (_, at)| *at > cutoff);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(stale: usize, fresh: usize, ttl: Duration) -> Entries {
        let now = Instant::now();
        let old = now
            .checked_sub(ttl * 2)
            .expect("the clock runs long enough");
        let known = Arc::new(Known {
            caller: Caller {
                id: Uuid::nil(),
                role: Role::Candidate,
                employer_id: None,
                email: String::new(),
                full_name: String::new(),
                degree: None,
                graduation_year: None,
                email_verified: true,
            },
            disabled: false,
            tokens_valid_after: None,
        });
        (0..stale + fresh)
            .map(|i| {
                let at = if i < stale {
                    old
                } else {
                    now + Duration::from_nanos(i as u64)
                };
                (Uuid::now_v7(), (known.clone(), at))
            })
            .collect()
    }

    #[test]
    fn room_is_made_from_the_entries_past_their_lifetime_first() {
        let ttl = Duration::from_secs(5);
        let mut full = entries(MAX_ENTRIES - 3_000, 3_000, ttl);
        make_room(&mut full, ttl);
        assert_eq!(full.len(), 3_000);
        assert!(full.values().all(|(_, at)| at.elapsed() < ttl));
    }

    #[test]
    fn a_cache_full_of_fresh_entries_keeps_the_newer_half() {
        let ttl = Duration::from_secs(5);
        let mut full = entries(10, MAX_ENTRIES - 10, ttl);
        let newest = full.values().map(|(_, at)| *at).max();
        make_room(&mut full, ttl);
        assert!(full.len() < MAX_ENTRIES / 2 + 1, "{}", full.len());
        assert!(full.len() > MAX_ENTRIES / 3, "{}", full.len());
        assert_eq!(full.values().map(|(_, at)| *at).max(), newest);
    }
}
