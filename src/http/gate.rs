//! A bound on costly work running at once, process-wide: a request waits a
//! short while for a permit and is otherwise told to come back (503 `busy`),
//! so a flood queues for seconds at most instead of without end. Password
//! hashing goes through one (`AppState::hashing`).
//!
//! The work runs on the gate's own threads, one per permit, rather than on
//! the shared blocking pool: an argon2 hash needs a 7 MiB block, which the
//! hashing code keeps per thread and reuses, so on a fixed few threads the
//! memory stays as many blocks (spread over the blocking pool's many
//! threads, hashes grew the process past a gigabyte).

use std::{
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, mpsc},
    time::Duration,
};

use tokio::sync::{Semaphore, SemaphorePermit, oneshot};

use super::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

pub struct Gate {
    permits: Semaphore,
    size: usize,
    wait: Duration,
    /// The gate's threads take their work from here; they end when it closes.
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl Gate {
    /// `permits` at once, `0` meaning one per core; a request waits at most
    /// `wait` for one.
    pub fn new(permits: usize, wait: Duration) -> Self {
        let size = match permits {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..size {
            let queue = Arc::clone(&queue);
            let spawned = std::thread::Builder::new()
                .name(format!("nuancheng-gate-{i}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(queue) => queue.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
                        // A panicking job answers nobody; the thread goes on.
                        let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "a gate thread did not start");
            }
        }
        Self {
            permits: Semaphore::new(size),
            size,
            wait,
            jobs: Mutex::new(jobs),
        }
    }

    /// Runs `work` on one of the gate's threads while holding a permit;
    /// 503 `busy` when no permit comes within the wait.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let _permit = self.enter().await?;
        let (answer, answered) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = answer.send(work());
        });
        self.jobs
            .lock()
            .map_err(|_| ApiError::internal("gate: queue poisoned"))?
            .send(job)
            .map_err(|_| ApiError::internal("gate: no thread left"))?;
        answered
            .await
            .map_err(|_| ApiError::internal("gate: the work panicked"))
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
