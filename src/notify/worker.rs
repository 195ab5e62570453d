//! The outbox worker. It claims due rows under a short lease, sends them,
//! and records the outcome: `sent`, or another try after exponential
//! backoff, or `failed` once the tries are used up.
//!
//! Claiming happens in a write transaction that selects due rows with
//! `FOR UPDATE SKIP LOCKED` (PostgreSQL: concurrent workers skip each other's
//! rows) and sets `locked_until` before committing; on SQLite the
//! `BEGIN IMMEDIATE` of [`db::begin_write`] serialises claimers instead. A
//! row whose worker died is claimed again once its lease expires.
//!
//! Each claim writes a fresh `lease_token`. A row whose send starts late in
//! the claim's lease (less than two SMTP timeouts of it left) first has its
//! lease renewed under a new token, on the condition that the worker's own
//! token is still there: if another worker took the row over (its lease ran
//! out while earlier rows of the batch were sent), the row is skipped. A
//! send that starts earlier needs no renewal (one statement less per
//! email): nobody can claim the row before the lease ends, and the send has
//! ended by then. The outcome is recorded on the same token condition, so
//! one email is handed to the mail server once.
//!
//! Emails that carry a secret (a sign-in or reset link, a ticket code) keep
//! their bodies only until they are sent or given up: then the bodies are
//! replaced by a note, so no usable secret stays at rest in the outbox.

use std::{
    collections::{BTreeMap, HashMap},
    sync::Arc,
    time::{Duration, Instant},
};

use futures_util::{StreamExt, stream};

use chrono::TimeDelta;
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, UpdateMany,
    sea_query::{Expr, ExprTrait},
};
use tokio::sync::watch;
use uuid::Uuid;

use super::{
    backoff::backoff_after,
    clock::Clock,
    deliverer::Deliverer,
    gather::Gathered,
    lease::{claim, release, released, unflushed, unheld, unleasing},
    schedule::Scheduler,
    templates, thanks,
    transport::Transport,
};
use crate::{
    config::{EmailSettings, Settings},
    db,
    entities::notifications::{self, NotificationStatus},
};

const BATCH: u64 = 64;
/// Emails handed to the mail server at once (each on its own connection).
const SENDING_AT_ONCE: usize = 8;

pub struct Worker {
    db: DatabaseConnection,
    settings: EmailSettings,
    transport: Transport,
    /// Finds scheduled mail that is due, every `.1`.
    scheduler: Option<(Scheduler, Duration)>,
    /// Sends webhook deliveries.
    deliverer: Option<Deliverer>,
    /// Writes the thank-you emails of new check-ins.
    thanks: Option<Arc<Settings>>,
    /// Emails handed over, their `sent` written together.
    sent: Gathered<Sent>,
    /// Turns true when the process is asked to stop.
    stop: watch::Receiver<bool>,
    /// Keeps `stop` open for a worker nobody will stop.
    _unstoppable: Option<watch::Sender<bool>>,
}

impl Worker {
    pub fn new(db: DatabaseConnection, settings: EmailSettings) -> Result<Self, String> {
        let transport = Transport::from_settings(&settings)?;
        let (keep, stop) = watch::channel(false);
        Ok(Self {
            db,
            settings,
            transport,
            scheduler: None,
            deliverer: None,
            thanks: None,
            sent: Gathered::default(),
            stop,
            _unstoppable: Some(keep),
        })
    }

    /// The worker a deployment runs: the outbox, scheduled mail on the
    /// system clock, and webhook deliveries.
    pub fn for_settings(db: DatabaseConnection, settings: &Settings) -> Result<Self, String> {
        let every = Duration::from_secs(Ord::max(settings.mailings.scan_interval_secs, 1));
        let scheduler = Scheduler::new(db.clone(), Arc::new(settings.clone()), Clock::system());
        let deliverer = Deliverer::new(db.clone(), settings.webhooks.clone());
        let mut worker = Self::new(db, settings.email.clone())?
            .scheduling(scheduler, every)
            .delivering(deliverer);
        worker.thanks = Some(Arc::new(settings.clone()));
        Ok(worker)
    }

    /// The worker also queues scheduled mail, looking every `every`.
    pub fn scheduling(mut self, scheduler: Scheduler, every: Duration) -> Self {
        self.scheduler = Some((scheduler, every));
        self
    }

    /// The worker also sends webhook deliveries.
    pub fn delivering(mut self, deliverer: Deliverer) -> Self {
        self.deliverer = Some(deliverer);
        self
    }

    /// Queues the scheduled mail due now (nothing without a scheduler).
    pub async fn schedule_due(&self) -> Result<usize, DbErr> {
        match &self.scheduler {
            Some((scheduler, _)) => scheduler.queue_due().await,
            None => Ok(0),
        }
    }

    /// The worker stops when `stop` turns true: it finishes the emails it is
    /// handing to the mail server, gives the rest of its batch back (their
    /// leases cleared, so another worker takes them at once) and returns.
    pub fn stopped_by(mut self, stop: watch::Receiver<bool>) -> Self {
        self.stop = stop;
        self._unstoppable = None;
        self
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    /// Runs until it is stopped (or the process ends).
    pub async fn run(mut self) {
        let idle = Duration::from_millis(Ord::max(self.settings.poll_interval_ms, 10));
        tracing::info!(transport = ?self.settings.transport, "mail worker started");
        let mut scanned: Option<std::time::Instant> = None;
        // Webhooks in a loop of their own: a receiver slow to answer
        // never holds up an email.
        let delivering = self
            .deliverer
            .take()
            .map(|deliverer| tokio::spawn(deliverer.run(self.stop.clone(), idle)));
        while !self.stopping() {
            if let Some((_, every)) = &self.scheduler
                && scanned.is_none_or(|at| at.elapsed() >= *every)
            {
                scanned = Some(std::time::Instant::now());
                if let Err(e) = self.schedule_due().await {
                    tracing::error!(error = %e, "mail worker: scheduling failed");
                }
            }
            if let Some(settings) = &self.thanks
                && let Err(e) = thanks::queue_due(&self.db, settings).await
            {
                tracing::error!(error = %e, "mail worker: writing thank-you emails failed");
            }
            match self.run_once().await {
                Ok(n) if n > 0 => continue,
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "mail worker: claiming failed"),
            }
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = self.stop.changed() => {}
            }
        }
        if let Some(delivering) = delivering {
            let _ = delivering.await;
        }
        tracing::info!("mail worker stopped");
    }

    /// Sends one batch of due emails; returns how many were claimed.
    ///
    /// Emails to different people go out at once (up to [`SENDING_AT_ONCE`]);
    /// one person's emails go one after the other, in the order they were
    /// queued, so a confirmation never arrives after the reminder it
    /// precedes.
    pub async fn run_once(&self) -> Result<usize, DbErr> {
        let lease = TimeDelta::seconds(self.settings.lease_secs as i64);
        // Before the claim, so never later than the lease's own start.
        let claiming = Instant::now();
        let (rows, token) = claim::<notifications::Entity>(&self.db, BATCH, lease).await?;
        let claimed = rows.len();
        let timeout = Duration::from_secs(self.settings.smtp_timeout_secs);
        let held = Claimed {
            token,
            lease,
            renew_after: (claiming + Duration::from_secs(self.settings.lease_secs))
                .checked_sub(timeout * 2)
                .unwrap_or(claiming),
        };
        let outcomes: Vec<Result<Vec<Uuid>, DbErr>> =
            stream::iter(by_recipient(rows).map(|queue| self.send_in_order(queue, &held)))
                .buffer_unordered(SENDING_AT_ONCE)
                .collect()
                .await;
        let mut unsent = Vec::new();
        let mut failed = None;
        for outcome in outcomes {
            match outcome {
                Ok(ids) => unsent.extend(ids),
                Err(e) => failed = Some(e),
            }
        }
        if !unsent.is_empty() {
            release::<notifications::Entity>(&self.db, unsent, token).await?;
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(claimed),
        }
    }

    /// Sends one person's emails in order; the ids of those not tried
    /// because the worker is stopping.
    async fn send_in_order(
        &self,
        queue: Vec<notifications::Model>,
        held: &Claimed,
    ) -> Result<Vec<Uuid>, DbErr> {
        for (i, row) in queue.iter().enumerate() {
            if self.stopping() {
                return Ok(queue[i..].iter().map(|r| r.id).collect());
            }
            let token = if Instant::now() < held.renew_after {
                held.token
            } else if let Some(renewed) = renew(&self.db, row.id, held.token, held.lease).await? {
                renewed
            } else {
                tracing::info!(id = %row.id, "mail taken over by another worker; skipped");
                continue;
            };
            let outcome = self.transport.send(&self.settings.from, row).await;
            self.record(row, token, outcome).await?;
        }
        Ok(Vec::new())
    }

    /// Records one send's outcome under the claim's `token`; the sender
    /// goes on once it is written. Sent emails are written together with
    /// those handed over at the same moment ([`Gathered`]); a refusal alone,
    /// with its error and next try.
    async fn record(
        &self,
        row: &notifications::Model,
        token: Uuid,
        outcome: Result<(), String>,
    ) -> Result<(), DbErr> {
        use notifications::Column as C;
        let secret = templates::carries_secret(&row.kind);
        let error = match outcome {
            Ok(()) => {
                tracing::info!(id = %row.id, kind = %row.kind, "mail sent");
                let sent = Sent {
                    id: row.id,
                    token,
                    secret,
                };
                return self
                    .sent
                    .write(sent, |sent| record_sent(&self.db, sent))
                    .await
                    .map_err(DbErr::Custom);
            }
            Err(error) => error,
        };
        let now = db::now();
        let attempts = row.attempts + 1;
        let final_try = attempts >= self.settings.max_attempts;
        // A mail server's refusal often quotes the address: the log
        // names the notification instead.
        let logged = error.replace(&row.to_email, "<recipient>");
        tracing::warn!(id = %row.id, attempts, final_try, error = %logged, "mail not sent");
        let status = if final_try {
            NotificationStatus::Failed
        } else {
            NotificationStatus::Pending
        };
        let mut update = released::<notifications::Entity>([row.id], token)
            .col_expr(C::Attempts, Expr::value(attempts))
            .col_expr(C::Status, Expr::value(status))
            .col_expr(
                C::NextAttemptAt,
                Expr::value(now + backoff(&self.settings, attempts)),
            )
            .col_expr(C::LastError, Expr::value(Some(truncate(&error, 1000))));
        if secret && final_try {
            update = redact(update);
        }
        let recorded = unflushed(update, self.db.get_database_backend())
            .exec(&self.db)
            .await?;
        if recorded.rows_affected == 0 {
            tracing::warn!(id = %row.id, "mail outcome not recorded: the lease was lost");
        }
        Ok(())
    }
}

/// An email the mail server accepted, held under `token`.
struct Sent {
    id: Uuid,
    token: Uuid,
    secret: bool,
}

/// Marks emails sent: one statement per lease token (a batch has one,
/// plus one per lease renewed) and kind of body (those that carried a
/// secret lose it), each on the condition that its token still holds.
async fn record_sent(db_conn: &DatabaseConnection, sent: Vec<Sent>) -> Result<(), String> {
    use notifications::Column as C;
    let now = db::now();
    let mut groups: BTreeMap<(Uuid, bool), Vec<Uuid>> = BTreeMap::new();
    for mail in sent {
        groups
            .entry((mail.token, mail.secret))
            .or_default()
            .push(mail.id);
    }
    for ((token, secret), ids) in groups {
        let count = ids.len();
        let mut update = released::<notifications::Entity>(ids, token)
            .col_expr(C::Attempts, Expr::col(C::Attempts).add(1))
            .col_expr(C::Status, Expr::value(NotificationStatus::Sent))
            .col_expr(C::SentAt, Expr::value(Some(now)))
            .col_expr(C::LastError, Expr::value(Option::<String>::None));
        if secret {
            update = redact(update);
        }
        let recorded = unflushed(update, db_conn.get_database_backend())
            .exec(db_conn)
            .await
            .map_err(|e| e.to_string())?;
        if (recorded.rows_affected as usize) < count {
            tracing::warn!(
                unrecorded = count - recorded.rows_affected as usize,
                "mail outcome not recorded: the lease was lost"
            );
        }
    }
    Ok(())
}

/// A batch's claim: its token, the lease it took, and when a send must
/// renew the lease first.
struct Claimed {
    token: Uuid,
    lease: TimeDelta,
    renew_after: Instant,
}

/// The bodies of an email that carried a secret, once it no longer needs them.
const REDACTED: &str = "（内容含一次性链接或票码，发送后已删除 / Removed after sending: it held a one-time link or ticket code.）";

fn redact(update: UpdateMany<notifications::Entity>) -> UpdateMany<notifications::Entity> {
    use notifications::Column as C;
    update
        .col_expr(C::TextBody, Expr::value(REDACTED))
        .col_expr(C::HtmlBody, Expr::value(format!("<p>{REDACTED}</p>")))
}

/// The claimed rows grouped by recipient, each group in claim order.
fn by_recipient(
    rows: Vec<notifications::Model>,
) -> impl Iterator<Item = Vec<notifications::Model>> {
    let mut queues: Vec<Vec<notifications::Model>> = Vec::new();
    let mut index: HashMap<String, usize> = HashMap::new();
    for row in rows {
        match index.get(&row.to_email) {
            Some(&i) => queues[i].push(row),
            None => {
                index.insert(row.to_email.clone(), queues.len());
                queues.push(vec![row]);
            }
        }
    }
    queues.into_iter()
}

/// Renews the lease on one claimed row under a new token, if `token` still
/// holds it; `None` when another worker took the row or it is no longer due.
async fn renew(
    db_conn: &DatabaseConnection,
    id: Uuid,
    token: Uuid,
    lease: TimeDelta,
) -> Result<Option<Uuid>, DbErr> {
    use notifications::Column as C;
    let renewed = Uuid::new_v4();
    let res = notifications::Entity::update_many()
        .col_expr(C::LockedUntil, Expr::value(Some(db::now() + lease)))
        .col_expr(C::LeaseToken, Expr::value(Some(renewed)))
        .filter(C::Id.eq(id))
        .filter(C::LeaseToken.eq(token))
        .filter(C::Status.eq(NotificationStatus::Pending))
        .exec(db_conn)
        .await?;
    Ok((res.rows_affected == 1).then_some(renewed))
}

/// The wait before the next try after `attempts` failed ones.
fn backoff(settings: &EmailSettings, attempts: i32) -> TimeDelta {
    backoff_after(
        settings.backoff_base_secs,
        settings.backoff_max_secs,
        attempts,
    )
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// Puts a failed or pending email back in the queue, due now, with a fresh
/// set of tries. A row a worker is sending right now (its lease is live) is
/// left alone: clearing that lease would let a second worker send it too.
pub async fn retry(db_conn: &DatabaseConnection, id: uuid::Uuid) -> Result<u64, DbErr> {
    use notifications::Column as C;
    let now = db::now();
    let res = unleasing::<notifications::Entity>()
        .col_expr(C::Status, Expr::value(NotificationStatus::Pending))
        .col_expr(C::Attempts, Expr::value(0))
        .col_expr(C::NextAttemptAt, Expr::value(now))
        .filter(C::Id.eq(id))
        .filter(C::Status.ne(NotificationStatus::Sent))
        .filter(unheld::<notifications::Entity>(now))
        .exec(db_conn)
        .await?;
    Ok(res.rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_caps() {
        let settings = EmailSettings {
            transport: crate::config::EmailTransportKind::File,
            file_dir: "var/mail".into(),
            smtp_url: String::new(),
            from: "a@b.cn".into(),
            max_attempts: 8,
            backoff_base_secs: 30,
            backoff_max_secs: 3600,
            poll_interval_ms: 1000,
            smtp_timeout_secs: 20,
            lease_secs: 120,
        };
        let secs: Vec<i64> = (1..=9)
            .map(|n| backoff(&settings, n).num_seconds())
            .collect();
        assert_eq!(secs, vec![30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
    }
}
