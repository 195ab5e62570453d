//! Long-lived responses (the live dashboards' Server-Sent Events) hold a
//! connection each for as long as they run: a bound per user and per
//! process keeps one caller, or a crowd, from holding them all.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use uuid::Uuid;

/// How many streams run, in all and per user.
pub struct StreamSlots {
    max_per_user: usize,
    max_total: usize,
    held: Mutex<(usize, HashMap<Uuid, usize>)>,
}

/// One running stream's place; dropping it (the stream ended or its client
/// went away) frees the place.
pub struct StreamSlot {
    slots: Arc<StreamSlots>,
    user: Uuid,
}

/// Why a stream may not start.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// This user already watches `max_per_user` streams.
    User,
    /// The process runs `max_total` streams.
    Process,
}

impl StreamSlots {
    pub fn new(max_per_user: usize, max_total: usize) -> Arc<Self> {
        Arc::new(Self {
            max_per_user: max_per_user.max(1),
            max_total: max_total.max(1),
            held: Mutex::new((0, HashMap::new())),
        })
    }

    /// A place for one more stream of `user`, if the bounds allow it.
    pub fn take(self: &Arc<Self>, user: Uuid) -> Result<StreamSlot, Full> {
        let mut held = self.held.lock().unwrap_or_else(|e| e.into_inner());
        let (total, by_user) = &mut *held;
        let mine = by_user.get(&user).copied().unwrap_or(0);
        if mine >= self.max_per_user {
            return Err(Full::User);
        }
        if *total >= self.max_total {
            return Err(Full::Process);
        }
        *total += 1;
        by_user.insert(user, mine + 1);
        Ok(StreamSlot {
            slots: Arc::clone(self),
            user,
        })
    }

    /// Streams running now.
    pub fn running(&self) -> usize {
        self.held.lock().unwrap_or_else(|e| e.into_inner()).0
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut held = self.slots.held.lock().unwrap_or_else(|e| e.into_inner());
        let (total, by_user) = &mut *held;
        *total = total.saturating_sub(1);
        if let Some(n) = by_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                by_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_per_user_and_in_all_and_frees_on_drop() {
        let slots = StreamSlots::new(2, 3);
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let a1 = slots.take(a).unwrap();
        let _a2 = slots.take(a).unwrap();
        assert_eq!(slots.take(a).err(), Some(Full::User));
        let _b1 = slots.take(b).unwrap();
        assert_eq!(slots.take(b).err(), Some(Full::Process));
        drop(a1);
        assert_eq!(slots.running(), 2);
        slots.take(b).unwrap();
    }
}
