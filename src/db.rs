//! Connecting to SQLite (the embedded default) or PostgreSQL (production),
//! running migrations, and the one place where the two differ for writers.

use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, SqliteTransactionMode, Statement, TransactionOptions, TransactionTrait,
};

use crate::config::DatabaseSettings;

/// Opens a pool. For a SQLite file it creates the folder, turns on WAL,
/// foreign keys and a busy timeout, so that concurrent writers wait instead
/// of failing.
pub async fn connect(settings: &DatabaseSettings) -> Result<DatabaseConnection, DbErr> {
    let url = settings.url.trim();
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(settings.max_connections.max(1))
        .connect_timeout(Duration::from_secs(settings.acquire_timeout_secs.max(1)))
        .acquire_timeout(Duration::from_secs(settings.acquire_timeout_secs.max(1)))
        .test_before_acquire(settings.ping_before_use)
        .sqlx_logging(false);
    if settings.ping_before_use && settings.ping_after_idle_ms > 0 {
        options.test_before_acquire_if_idle_for(Duration::from_millis(settings.ping_after_idle_ms));
    }
    if url.starts_with("sqlite:") {
        if let Some(dir) = sqlite_file(url).and_then(|p| p.parent().map(|d| d.to_path_buf()))
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(&dir)
                .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
        }
        let busy = Duration::from_secs(settings.sqlite_busy_timeout_secs.max(1));
        options.map_sqlx_sqlite_opts(move |opts| {
            use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(busy)
                .create_if_missing(true)
        });
    }
    Database::connect(options).await
}

/// The file behind a `sqlite:` URL, if it names one.
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or("");
    (!path.is_empty() && path != ":memory:").then(|| std::path::PathBuf::from(path))
}

/// Names the PostgreSQL advisory lock held while migrations run ("nuanchen").
const MIGRATION_LOCK: i64 = 0x6e75_616e_6368_656e;

/// Applies every pending migration. On PostgreSQL several processes may
/// start at once: each waits for the advisory lock, so one applies the
/// migrations and the others then find nothing left to do. On SQLite they
/// run in one write transaction on one connection: a failing migration
/// leaves nothing half-applied, and no other connection of the pool, whose
/// copy of the schema may predate a drop, is asked to create anything (it
/// would answer "already exists").
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), DbErr> {
    migrate(db, Direction::Up).await
}

/// Rolls back the last `steps` migrations (all of them for `None`), under
/// the same lock (or, on SQLite, in the same kind of transaction).
pub async fn migrate_down(db: &DatabaseConnection, steps: Option<u32>) -> Result<(), DbErr> {
    migrate(db, Direction::Down(steps)).await
}

#[derive(Clone, Copy)]
enum Direction {
    Up,
    Down(Option<u32>),
}

async fn migrate(db: &DatabaseConnection, direction: Direction) -> Result<(), DbErr> {
    async fn run<'c, C: sea_orm::IntoDatabaseExecutor<'c>>(
        conn: C,
        direction: Direction,
    ) -> Result<(), DbErr> {
        match direction {
            Direction::Up => Migrator::up(conn, None).await,
            Direction::Down(steps) => Migrator::down(conn, steps).await,
        }
    }
    if db.get_database_backend() == DbBackend::Sqlite {
        let txn = begin_write(db).await?;
        run(&txn, direction).await?;
        return txn.commit().await;
    }
    with_migration_lock(db, || run(db, direction)).await
}

/// Does any migration this binary knows wait to be applied? Reads only: it
/// creates no table on a database never migrated.
pub async fn migrations_pending(db: &DatabaseConnection) -> Result<bool, DbErr> {
    Ok(!Migrator::get_pending_migrations_read_only(db)
        .await?
        .is_empty())
}

/// Runs `work` holding the migration lock on PostgreSQL. The lock is taken
/// on a connection of its own, outside the pool (which `work` needs, and
/// which may hold a single connection); it is released after, and by
/// PostgreSQL if the process dies.
async fn with_migration_lock<F, Fut>(db: &DatabaseConnection, work: F) -> Result<(), DbErr>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<(), DbErr>>,
{
    use sea_orm::{
        RuntimeErr,
        sqlx::{self, Connection},
    };
    if db.get_database_backend() != DbBackend::Postgres {
        return work().await;
    }
    let failed = |e: sqlx::Error| DbErr::Conn(RuntimeErr::SqlxError(std::sync::Arc::new(e)));
    let options = db.get_postgres_connection_pool().connect_options();
    let mut lock = sqlx::PgConnection::connect_with(&options)
        .await
        .map_err(failed)?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut lock)
        .await
        .map_err(failed)?;
    let outcome = work().await;
    let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut lock)
        .await;
    let _ = lock.close().await;
    outcome
}

/// Starts a transaction that will write. On SQLite it takes the write lock at
/// `BEGIN` (`BEGIN IMMEDIATE`): a transaction that reads first and writes
/// later would otherwise fail with "database is locked" when another writer
/// got there in between. On PostgreSQL it is an ordinary transaction; rows
/// are locked with `SELECT … FOR UPDATE` or conditional updates where needed.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    match db.get_database_backend() {
        DbBackend::Sqlite => {
            db.begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..Default::default()
            })
            .await
        }
        _ => db.begin().await,
    }
}

/// The PostgreSQL channel on which committed changes name their event.
pub const LIVE_CHANNEL: &str = "nuancheng_live";

/// Tells the other server processes on the database which events' figures
/// changed, after the change committed. The ids wait in a bounded queue and
/// one task sends them, many per statement (`pg_notify` in a statement of
/// its own, not in the change's transaction: a transaction that notifies
/// holds PostgreSQL's one notification lock from its commit until its WAL
/// is flushed, so every writing request that notified would commit one
/// after another), and at most one statement per [`Announcer::GATHER`]:
/// after a quiet spell the first change is told at once, under load the
/// changes of many requests share a statement instead of adding one each.
/// A notice lost (the queue full, the process killed
/// between the commit and the send, the database away) costs the other
/// processes' dashboards only speed: each feed also recounts every
/// `live.poll_ms`. On SQLite (one process) there is no one to tell.
#[derive(Clone)]
pub struct Announcer(Option<tokio::sync::mpsc::Sender<uuid::Uuid>>);

/// The ids an [`Announcer`] queued, for [`send_announcements`].
pub struct Announcements(tokio::sync::mpsc::Receiver<uuid::Uuid>);

impl Announcer {
    /// Ids waiting to be sent at most; beyond it one is dropped.
    const QUEUE: usize = 4096;
    /// Ids per statement at most.
    const BATCH: usize = 1024;
    /// The least time between two statements.
    const GATHER: Duration = Duration::from_millis(50);

    /// An announcer for `backend`, with the queue its sender drains when
    /// there is someone to tell.
    pub fn for_backend(backend: DbBackend) -> (Self, Option<Announcements>) {
        if backend != DbBackend::Postgres {
            return (Self(None), None);
        }
        let (queue, queued) = tokio::sync::mpsc::channel(Self::QUEUE);
        (Self(Some(queue)), Some(Announcements(queued)))
    }

    /// Queues `event_id` for the other processes; never waits.
    pub fn announce(&self, event_id: uuid::Uuid) {
        if let Some(queue) = &self.0 {
            let _ = queue.try_send(event_id);
        }
    }
}

/// Sends what `queued` receives on [`LIVE_CHANNEL`], each id once per
/// statement, until every [`Announcer`] is gone.
pub async fn send_announcements(db: DatabaseConnection, mut queued: Announcements) {
    let mut ids = Vec::with_capacity(Announcer::BATCH);
    while queued.0.recv_many(&mut ids, Announcer::BATCH).await > 0 {
        ids.sort_unstable();
        ids.dedup();
        let payloads = ids
            .drain(..)
            .map(|id| id.to_string())
            .collect::<Vec<_>>()
            .join(",");
        let sent = db
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, id) FROM unnest(string_to_array($2, ',')) AS id",
                [LIVE_CHANNEL.into(), payloads.into()],
            ))
            .await;
        if let Err(error) = sent {
            tracing::debug!(%error, "changes not announced; other processes recount on their poll");
        }
        tokio::time::sleep(Announcer::GATHER).await;
    }
}

/// The PostgreSQL channel on which a trigger names each changed user
/// (migration `m20261127_180000_announce_user_changes`).
pub const USERS_CHANNEL: &str = "nuancheng_users";

/// Forwards every event id announced on PostgreSQL, by any process, to
/// `live`, for this process's dashboards, and every changed user's id to
/// `user_changed`. Runs for ever on its own connection; when the connection
/// drops it connects again, waiting longer after each failure in a row
/// (from 0.2 s up to 30 s). Whenever it (re)starts listening it sends the
/// nil id, which asks every feed to recount, and `user_changed(None)`:
/// announcements made while nobody listened are lost.
pub async fn relay_changes(
    url: String,
    live: tokio::sync::broadcast::Sender<uuid::Uuid>,
    user_changed: impl Fn(Option<uuid::Uuid>),
) {
    const FIRST_WAIT: Duration = Duration::from_millis(200);
    let mut wait = FIRST_WAIT;
    loop {
        let mut listener = Listening(None);
        if let Err(error) = listener.start(&url).await {
            tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "cannot listen for live changes");
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(Duration::from_secs(30));
            continue;
        }
        let _ = live.send(uuid::Uuid::nil());
        user_changed(None);
        loop {
            match listener.hear().await {
                Ok(Some(notice)) => match notice.payload().parse() {
                    Ok(id) if notice.channel() == USERS_CHANNEL => {
                        wait = FIRST_WAIT;
                        user_changed(Some(id));
                    }
                    Ok(event_id) => {
                        wait = FIRST_WAIT;
                        let _ = live.send(event_id);
                    }
                    Err(_) => tracing::warn!(payload = notice.payload(), "a notice without an id"),
                },
                // The connection dropped and was opened again: some notices
                // may be lost, so every feed recounts.
                Ok(None) => {
                    let _ = live.send(uuid::Uuid::nil());
                    user_changed(None);
                }
                Err(error) => {
                    tracing::warn!(%error, retry_in_ms = wait.as_millis() as u64, "live changes no longer heard; listening again");
                    break;
                }
            }
        }
        drop(listener);
        tokio::time::sleep(wait).await;
        wait = (wait * 2).min(Duration::from_secs(30));
    }
}

/// A `PgListener` that may be dropped where no runtime runs: when the
/// task holding it is dropped with its runtime (shutdown, a test's end),
/// the listener's own drop spawns a task, which would panic there. It is
/// then dropped inside a small runtime of its own, so the spawn succeeds,
/// the task is discarded with that runtime and the connection is closed
/// instead of staying open until the process ends.
struct Listening(Option<sea_orm::sqlx::postgres::PgListener>);

impl Listening {
    async fn start(&mut self, url: &str) -> Result<(), sea_orm::sqlx::Error> {
        let listener = self
            .0
            .insert(sea_orm::sqlx::postgres::PgListener::connect(url).await?);
        listener.listen_all([LIVE_CHANNEL, USERS_CHANNEL]).await
    }

    async fn hear(
        &mut self,
    ) -> Result<Option<sea_orm::sqlx::postgres::PgNotification>, sea_orm::sqlx::Error> {
        match self.0.as_mut() {
            Some(listener) => listener.try_recv().await,
            None => Err(sea_orm::sqlx::Error::PoolClosed),
        }
    }
}

impl Drop for Listening {
    fn drop(&mut self) {
        if tokio::runtime::Handle::try_current().is_err()
            && let Some(listener) = self.0.take()
        {
            match tokio::runtime::Builder::new_current_thread().build() {
                Ok(runtime) => {
                    let _inside = runtime.enter();
                    drop(listener);
                }
                Err(_) => std::mem::forget(listener),
            }
        }
    }
}

/// Deletes the rows of `E` that `filter` matches, or with `dry_run` only
/// counts them; either way, how many. For the work that keeps the database
/// tidy (expired keys and tokens), which retention also runs as a dry run.
pub async fn purge<E, C>(conn: &C, filter: sea_orm::Condition, dry_run: bool) -> Result<u64, DbErr>
where
    E: sea_orm::EntityTrait,
    E::Model: Sync,
    C: ConnectionTrait,
{
    use sea_orm::{PaginatorTrait, QueryFilter};
    if dry_run {
        return E::find().filter(filter).count(conn).await;
    }
    Ok(E::delete_many()
        .filter(filter)
        .exec(conn)
        .await?
        .rows_affected)
}

/// Is the database reachable?
pub async fn ping(db: &DatabaseConnection) -> Result<(), DbErr> {
    db.execute_unprepared("SELECT 1").await.map(|_| ())
}

/// The current time, truncated to microseconds: PostgreSQL keeps no more,
/// and SQLite compares timestamps as text, which needs one format.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    truncate(chrono::Utc::now())
}

/// A time from a request, cut to the microseconds that both databases keep.
pub fn truncate(t: chrono::DateTime<chrono::Utc>) -> chrono::DateTime<chrono::Utc> {
    use chrono::{DurationRound, TimeDelta};
    t.duration_trunc(TimeDelta::microseconds(1)).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_sqlite_file() {
        assert_eq!(
            sqlite_file("sqlite://var/nuancheng.db?mode=rwc"),
            Some("var/nuancheng.db".into())
        );
        assert_eq!(sqlite_file("sqlite::memory:"), None);
        assert_eq!(sqlite_file("postgres://localhost/x"), None);
    }
}
