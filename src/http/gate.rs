//! A bound on costly work running at once, process-wide: a request waits a
//! short while for a permit and is otherwise told to come back (503 `busy`),
//! so a flood queues for seconds at most instead of without end. Password
//! hashing goes through one (`AppState::hashing`).

use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};

use super::error::ApiError;

pub struct Gate {
    permits: Semaphore,
    size: usize,
    wait: Duration,
}

impl Gate {
    /// `permits` at once, `0` meaning one per core; a request waits at most
    /// `wait` for one.
    pub fn new(permits: usize, wait: Duration) -> Self {
        let size = match permits {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        Self {
            permits: Semaphore::new(size),
            size,
            wait,
        }
    }

    /// How many may run at once.
    pub fn size(&self) -> usize {
        self.size
    }

    /// A permit, held until dropped, or 503 `busy` once the wait is over.
    pub async fn enter(&self) -> Result<SemaphorePermit<'_>, ApiError> {
        match tokio::time::timeout(self.wait, self.permits.acquire()).await {
            Ok(Ok(permit)) => Ok(permit),
            Ok(Err(closed)) => Err(ApiError::internal(format!("gate: {closed}"))),
            Err(_) => Err(ApiError::busy(self.wait.as_secs().max(1))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_gate_answers_busy_after_the_wait() {
        let gate = Gate::new(1, Duration::from_millis(50));
        assert_eq!(gate.size(), 1);
        let held = gate.enter().await.expect("the first permit");
        let started = std::time::Instant::now();
        match gate.enter().await {
            Err(ApiError::Unavailable {
                code: "busy",
                retry_after_secs,
                ..
            }) => assert_eq!(retry_after_secs, 1),
            other => panic!("expected busy, got {:?}", other.map(|_| ())),
        }
        assert!(started.elapsed() >= Duration::from_millis(50));
        drop(held);
        let _again = gate.enter().await.expect("a permit once the first is back");
    }

    #[test]
    fn zero_means_one_per_core() {
        assert!(Gate::new(0, Duration::from_secs(1)).size() >= 1);
        assert_eq!(Gate::new(3, Duration::from_secs(1)).size(), 3);
    }
}
