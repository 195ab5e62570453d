//! Outcomes written together, each still durable before its sender goes on.
//!
//! The worker hands up to eight emails to the mail server at once and
//! records each one's outcome before that sender takes its next email, so a
//! worker killed with `-9` sends again at most the emails it was handing
//! over. Recorded one by one, that is a transaction (and a WAL flush) per
//! email, as many as the check-ins or registrations that queued them. Here
//! the outcomes that arrive while one is being written wait for that write
//! to end and then go in the next one, all of them: the way a database
//! commits the transactions that wait for one WAL flush together. Nobody
//! waits longer than one write in progress plus its own, and each sender
//! still goes on only once its outcome is written.

use std::{
    future::Future,
    sync::{Mutex, PoisonError},
};

use tokio::sync::oneshot;

type Answer = oneshot::Sender<Result<(), String>>;

pub struct Gathered<T> {
    waiting: Mutex<Vec<(T, Answer)>>,
    writing: tokio::sync::Mutex<()>,
}

impl<T> Default for Gathered<T> {
    fn default() -> Self {
        Self {
            waiting: Mutex::new(Vec::new()),
            writing: tokio::sync::Mutex::new(()),
        }
    }
}

impl<T> Gathered<T> {
    /// Writes `item` with whatever else is waiting, by `write`, and returns
    /// once the write that carried it has ended (with its result). `write`
    /// runs only for the caller whose turn finds items waiting; the others
    /// get the result of the write that took theirs.
    pub async fn write<F, Fut>(&self, item: T, write: F) -> Result<(), String>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Result<(), String>>,
    {
        let (answer, answered) = oneshot::channel();
        self.lock().push((item, answer));
        {
            let _turn = self.writing.lock().await;
            let taken = std::mem::take(&mut *self.lock());
            if !taken.is_empty() {
                let (items, answers): (Vec<T>, Vec<Answer>) = taken.into_iter().unzip();
                let result = write(items).await;
                for answer in answers {
                    let _ = answer.send(result.clone());
                }
            }
        }
        answered
            .await
            .unwrap_or_else(|_| Err("the write that carried this outcome was dropped".into()))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(T, Answer)>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Arc, time::Duration};

    use futures_util::future::join_all;

    use super::*;

    #[tokio::test]
    async fn outcomes_that_arrive_during_a_write_go_in_the_next_one() {
        let gathered = Gathered::<u32>::default();
        let writes = Arc::new(Mutex::new(Vec::<Vec<u32>>::new()));
        let results = join_all((0..16).map(|i| {
            let writes = writes.clone();
            let gathered = &gathered;
            async move {
                gathered
                    .write(i, |items| async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        writes.lock().unwrap().push(items);
                        Ok(())
                    })
                    .await
            }
        }))
        .await;
        assert!(results.iter().all(Result::is_ok));
        let writes = writes.lock().unwrap();
        let mut written: Vec<u32> = writes.iter().flatten().copied().collect();
        written.sort_unstable();
        assert_eq!(written, (0..16).collect::<Vec<_>>(), "each once");
        // The first write carries the first outcome; the fifteen that came
        // during it go together in the second.
        assert_eq!(writes.len(), 2, "{writes:?}");
    }

    #[tokio::test]
    async fn a_failed_write_is_the_answer_of_every_outcome_it_carried() {
        let gathered = Gathered::<u32>::default();
        let results = join_all((0..4).map(|i| {
            let gathered = &gathered;
            async move {
                gathered
                    .write(i, |items| async move {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        if items.contains(&3) {
                            Err("down".to_string())
                        } else {
                            Ok(())
                        }
                    })
                    .await
            }
        }))
        .await;
        assert_eq!(
            results,
            vec![
                Ok(()),
                Err("down".into()),
                Err("down".into()),
                Err("down".into())
            ]
        );
    }
}
