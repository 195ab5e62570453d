//! Requests that arrive together answered by one statement.
//!
//! A request hands its row to [`Batches::run`] and waits. The first one to
//! find a runner's place free starts a runner: a task of its own, so a
//! caller who goes away cannot stop a statement half-way through others'
//! rows. The runner takes every row waiting (up to a batch's size), sends
//! them as one JSON array in the statement's only parameter (each row with
//! its place, `ord`), and gives each waiting request the result row whose
//! `ord` is its own. It goes on while rows wait, then ends. When the
//! database is idle a row goes at once, alone; under load the rows that
//! arrive while a statement runs go together in the next one, so a round
//! trip, a commit and the statement's start are paid once for many.
//!
//! The statement commits on its own, before any request hears of it: what
//! one answer promises is as durable as with a statement of its own. A
//! statement that fails wrote nothing; each of its requests then hears
//! nothing (`None`) and goes its own way.
//!
//! Rows that meet on the same locks (registrations for one event) go in
//! [`Lanes`]: a key always takes the same lane, one statement at a time.
//!
//! A row is a JSON object for one statement; other kinds of rows ([`Rows`])
//! bring their own way of sending, e.g. a transaction whose rows are
//! finished once a first statement has run.

use std::sync::{Arc, Mutex};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, QueryResult, Statement, TransactionTrait,
};
use serde_json::{Map, Value};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

/// Rows that are sent together.
pub trait Rows: Send + Sized + 'static {
    /// What the rows are sent with: the same at every call on one
    /// [`Batches`].
    type Sql: Copy + Send + Sync + 'static;

    /// Sends `rows` with `sql` and gives the result rows, each naming by
    /// its `ord` (an `int`) the index in `rows` of the row it answers. An
    /// error means nothing was written.
    fn send(
        db: &DatabaseConnection,
        sql: Self::Sql,
        rows: Vec<Self>,
    ) -> impl Future<Output = Result<Vec<QueryResult>, DbErr>> + Send;
}

/// A row of one PostgreSQL statement: the statement's `$1` is the JSON
/// array of the rows, each with its index added as `ord`.
impl Rows for Map<String, Value> {
    type Sql = &'static str;

    async fn send(
        db: &DatabaseConnection,
        sql: &'static str,
        rows: Vec<Self>,
    ) -> Result<Vec<QueryResult>, DbErr> {
        db.query_all_raw(statement(sql, rows.into_iter().enumerate()))
            .await
    }
}

/// A row finished once a first statement has run: both statements run in
/// one transaction, so what the first one locks and decides for each row
/// (a waitlist position, say) holds while the second writes the rows.
pub struct Staged {
    /// This row in the first statement.
    pub first: Map<String, Value>,
    /// This row in the second statement, from its result row of the first;
    /// a row the first statement gives no result row goes no further.
    pub then: Then,
}

/// How a [`Staged`] row is finished from its result row of the first
/// statement.
pub type Then = Box<dyn FnOnce(&QueryResult) -> Result<Map<String, Value>, DbErr> + Send>;

/// The first statement and the second, each with its rows' JSON array as
/// `$1` (as for a row of one statement).
impl Rows for Staged {
    type Sql = (&'static str, &'static str);

    async fn send(
        db: &DatabaseConnection,
        (first, then): Self::Sql,
        rows: Vec<Self>,
    ) -> Result<Vec<QueryResult>, DbErr> {
        let (firsts, mut thens): (Vec<_>, Vec<_>) =
            rows.into_iter().map(|r| (r.first, Some(r.then))).unzip();
        let txn = db.begin().await?;
        let decided = txn
            .query_all_raw(statement(first, firsts.into_iter().enumerate()))
            .await?;
        let mut finished = Vec::with_capacity(decided.len());
        for result in decided {
            let ord = usize::try_from(result.try_get::<i32>("", "ord")?);
            let Ok(ord) = ord else { continue };
            if let Some(then) = thens.get_mut(ord).and_then(Option::take) {
                finished.push((ord, then(&result)?));
            }
        }
        if finished.is_empty() {
            return Ok(Vec::new()); // the transaction rolls back as it drops
        }
        let results = txn.query_all_raw(statement(then, finished)).await?;
        txn.commit().await?;
        Ok(results)
    }
}

/// `sql` with `rows` as its `$1`, a JSON array, each row with its index in
/// the batch added as `ord`.
fn statement(sql: &str, rows: impl IntoIterator<Item = (usize, Map<String, Value>)>) -> Statement {
    let rows = rows.into_iter().map(|(ord, mut row)| {
        row.insert("ord".into(), ord.into());
        Value::Object(row)
    });
    let rows = Value::Array(rows.collect()).to_string();
    Statement::from_sql_and_values(DbBackend::Postgres, sql, [rows.into()])
}

/// One statement's rows in waiting, and the runners that send them.
pub struct Batches<R = Map<String, Value>> {
    waiting: Mutex<Vec<Waiting<R>>>,
    runners: Arc<Semaphore>,
    most: usize,
    /// Told the number of rows of each statement sent.
    sent: Box<dyn Fn(usize) + Send + Sync>,
}

struct Waiting<R> {
    row: R,
    reply: oneshot::Sender<Option<QueryResult>>,
}

impl<R: Rows> Batches<R> {
    /// At most `runners` statements at once (each holds a connection of the
    /// pool while it runs), each with at most `most` rows; `sent` is told
    /// how many rows each statement carried.
    pub fn new(
        runners: usize,
        most: usize,
        sent: impl Fn(usize) + Send + Sync + 'static,
    ) -> Arc<Self> {
        Arc::new(Self {
            waiting: Mutex::new(Vec::new()),
            runners: Arc::new(Semaphore::new(runners.max(1))),
            most: most.max(1),
            sent: Box::new(sent),
        })
    }

    /// The result row of `row`, sent with the rows waiting beside it as
    /// `sql`'s `$1` (a JSON array; `sql` is the same text at every call on
    /// these batches). `None` when the statement returned no row for it, or
    /// failed (and wrote nothing).
    pub async fn run(
        self: &Arc<Self>,
        db: &DatabaseConnection,
        sql: R::Sql,
        row: R,
    ) -> Option<QueryResult> {
        let (reply, answer) = oneshot::channel();
        self.lock().push(Waiting { row, reply });
        if let Ok(place) = self.runners.clone().try_acquire_owned() {
            tokio::spawn(self.clone().drain(db.clone(), sql, place));
        }
        answer.await.ok().flatten()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Waiting<R>>> {
        self.waiting.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sends what waits until nothing does, then gives its place back. A
    /// row put down after the last look but before the place was free found
    /// no place and started nothing: so one more look follows, with the
    /// place taken again if it is still free.
    async fn drain(
        self: Arc<Self>,
        db: DatabaseConnection,
        sql: R::Sql,
        mut place: OwnedSemaphorePermit,
    ) {
        loop {
            let batch: Vec<Waiting<R>> = {
                let mut waiting = self.lock();
                let n = waiting.len().min(self.most);
                waiting.drain(..n).collect()
            };
            if batch.is_empty() {
                drop(place);
                if self.lock().is_empty() {
                    return;
                }
                match self.runners.clone().try_acquire_owned() {
                    Ok(again) => place = again,
                    Err(_) => return, // another runner has the rows
                }
                continue;
            }
            (self.sent)(batch.len());
            send(&db, sql, batch).await;
        }
    }
}

/// Batches in lanes, one statement at a time in each: the rows of one key
/// (an event, say) always take the same lane, so two statements of this
/// process never hold or wait for that key's locks at once, and the rows
/// that wait while one runs all go in its lane's next statement. Keys of
/// other lanes go meanwhile.
pub struct Lanes<R = Map<String, Value>>(Vec<Arc<Batches<R>>>);

impl<R: Rows> Lanes<R> {
    /// `lanes` lanes (at least one), each with at most `most` rows a
    /// statement; `sent` is told how many rows each statement carried.
    pub fn new(lanes: usize, most: usize, sent: impl Fn(usize) + Send + Sync + 'static) -> Self {
        let sent = Arc::new(sent);
        let lanes = (0..lanes.max(1)).map(|_| {
            let sent = sent.clone();
            Batches::new(1, most, move |rows| sent(rows))
        });
        Self(lanes.collect())
    }

    /// [`Batches::run`] in the lane of `key`.
    pub async fn run(
        &self,
        key: uuid::Uuid,
        db: &DatabaseConnection,
        sql: R::Sql,
        row: R,
    ) -> Option<QueryResult> {
        let lane = (key.as_u128() % self.0.len() as u128) as usize;
        self.0[lane].run(db, sql, row).await
    }
}

async fn send<R: Rows>(db: &DatabaseConnection, sql: R::Sql, batch: Vec<Waiting<R>>) {
    let (rows, mut replies): (Vec<R>, Vec<_>) = batch
        .into_iter()
        .map(|Waiting { row, reply }| (row, Some(reply)))
        .unzip();
    match R::send(db, sql, rows).await {
        Ok(results) => {
            for result in results {
                let ord = result.try_get::<i32>("", "ord").ok();
                let reply = ord.and_then(|ord| replies.get_mut(usize::try_from(ord).ok()?)?.take());
                if let Some(reply) = reply {
                    let _ = reply.send(Some(result));
                }
            }
        }
        Err(e) => tracing::warn!(error = %e, rows = replies.len(), "a batched statement failed"),
    }
    // The rest: no row for them, or the statement failed.
    for reply in replies.into_iter().flatten() {
        let _ = reply.send(None);
    }
}
