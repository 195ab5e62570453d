//! Sending webhook deliveries ([`Deliverer`]): each endpoint's in order,
//! signed, retried after a backoff, in a loop beside the mail worker's.
//! What is sent and why is in [`super::webhooks`].

use std::{
    collections::{HashMap, HashSet},
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use chrono::{TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DbErr, EntityTrait, QueryFilter, sea_query::Expr,
};
use tokio::{
    io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt},
    sync::watch,
    task::JoinSet,
};
use uuid::Uuid;

use super::{
    backoff::backoff_after,
    lease::{claim_where, release, released, unflushed, unheld, unleasing},
    webhooks::{resolve, signature},
};
use crate::{
    config::WebhookSettings,
    db,
    entities::{
        webhook_deliveries::{self, DeliveryStatus},
        webhook_endpoints,
    },
};

const BATCH: u64 = 10;
/// Endpoints delivered to at once, each by a task of its own.
const ENDPOINTS_AT_ONCE: usize = 4;

/// Sends due deliveries, in a loop of its own beside the mail worker's, so
/// a receiver that is slow to answer never holds up an email.
///
/// Each endpoint's deliveries go one after the other, in the order they
/// were made, by a task of its own (up to [`ENDPOINTS_AT_ONCE`] at once);
/// the loop claims more only for endpoints no task of this process is
/// sending to (another process's deliverer may send to the same endpoint
/// side by side), so an endpoint that hangs holds up its own deliveries
/// and no one else's. When
/// one is not answered 2xx, the endpoint's other pending deliveries (its
/// task's, and those not yet claimed) wait as long as it does before their
/// next try: an endpoint that is down costs one timeout per backoff, not
/// one per delivery.
#[derive(Clone)]
pub struct Deliverer {
    db: DatabaseConnection,
    settings: WebhookSettings,
}

impl Deliverer {
    pub fn new(db: DatabaseConnection, settings: WebhookSettings) -> Self {
        Self { db, settings }
    }

    /// Sends until `stop` turns true; then each task finishes the delivery
    /// in hand and gives the rest of its deliveries back.
    pub async fn run(self, mut stop: watch::Receiver<bool>, idle: Duration) {
        let busy: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
        let mut tasks = JoinSet::new();
        while !*stop.borrow() {
            while tasks.try_join_next().is_some() {}
            let room = ENDPOINTS_AT_ONCE.saturating_sub(tasks.len());
            if room > 0 {
                match self.start_due(&busy, &mut tasks, room, &stop).await {
                    Ok(n) if n > 0 => continue,
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "webhooks: claiming failed"),
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(idle) => {}
                _ = stop.changed() => {}
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            }
        }
        while tasks.join_next().await.is_some() {}
    }

    /// Claims due deliveries to endpoints no task is sending to and starts
    /// a task for each of up to `room` endpoints (the others' deliveries
    /// go back); returns how many deliveries it started.
    async fn start_due(
        &self,
        busy: &Arc<Mutex<HashSet<Uuid>>>,
        tasks: &mut JoinSet<()>,
        room: usize,
        stop: &watch::Receiver<bool>,
    ) -> Result<usize, DbErr> {
        use webhook_deliveries::Column as C;
        let lease = TimeDelta::seconds(self.settings.timeout_secs as i64 * 3 + 30);
        let sending: Vec<Uuid> = busy
            .lock()
            .expect("busy endpoints")
            .iter()
            .copied()
            .collect();
        let (rows, token) = claim_where::<webhook_deliveries::Entity>(
            &self.db,
            BATCH,
            lease,
            Condition::all().add(C::EndpointId.is_not_in(sending)),
        )
        .await?;
        if rows.is_empty() {
            return Ok(0);
        }
        let mut endpoints: HashMap<Uuid, webhook_endpoints::Model> =
            webhook_endpoints::Entity::find()
                .filter(webhook_endpoints::Column::Id.is_in(rows.iter().map(|r| r.endpoint_id)))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|e| (e.id, e))
                .collect();
        let mut queues: Vec<(Uuid, Vec<webhook_deliveries::Model>)> = Vec::new();
        for row in rows {
            match queues.iter_mut().find(|(id, _)| *id == row.endpoint_id) {
                Some((_, queue)) => queue.push(row),
                None => queues.push((row.endpoint_id, vec![row])),
            }
        }
        let later = queues.split_off(room.min(queues.len()));
        let later: Vec<Uuid> = later
            .iter()
            .flat_map(|(_, q)| q.iter().map(|r| r.id))
            .collect();
        release::<webhook_deliveries::Entity>(&self.db, later, token).await?;
        let mut started = 0;
        for (id, queue) in queues {
            started += queue.len();
            busy.lock().expect("busy endpoints").insert(id);
            let (deliverer, busy, stop) = (self.clone(), busy.clone(), stop.clone());
            let endpoint = endpoints.remove(&id);
            tasks.spawn(async move {
                if let Err(e) = deliverer
                    .deliver_in_order(endpoint, queue, token, &stop)
                    .await
                {
                    tracing::error!(error = %e, "webhooks: recording a delivery failed");
                }
                busy.lock().expect("busy endpoints").remove(&id);
            });
        }
        Ok(started)
    }

    /// One endpoint's deliveries of a batch, in order, until one fails.
    async fn deliver_in_order(
        &self,
        endpoint: Option<webhook_endpoints::Model>,
        queue: Vec<webhook_deliveries::Model>,
        token: Uuid,
        stop: &watch::Receiver<bool>,
    ) -> Result<(), DbErr> {
        let active = endpoint.as_ref().filter(|e| e.active);
        for (i, row) in queue.iter().enumerate() {
            if *stop.borrow() {
                let unsent: Vec<Uuid> = queue[i..].iter().map(|r| r.id).collect();
                return release::<webhook_deliveries::Entity>(&self.db, unsent, token).await;
            }
            let outcome = match active {
                Some(e) => self.send(e, row).await,
                None => Err((None, "the endpoint was disabled".to_owned())),
            };
            let failed = outcome.is_err();
            let next_try = self.record(row, token, outcome).await?;
            if failed && active.is_some() {
                return self.hold_back(row.endpoint_id, next_try, token).await;
            }
        }
        Ok(())
    }

    /// After a failed delivery to `endpoint_id`: its pending deliveries
    /// due before `until` (this batch's, released from `token`, and any
    /// no worker holds) are due at `until` instead. Their tries are not
    /// counted: they were not sent.
    async fn hold_back(
        &self,
        endpoint_id: Uuid,
        until: chrono::DateTime<Utc>,
        token: Uuid,
    ) -> Result<(), DbErr> {
        use webhook_deliveries::Column as C;
        type Q = webhook_deliveries::Entity;
        unleasing::<Q>()
            .col_expr(C::NextAttemptAt, Expr::value(until))
            .filter(C::EndpointId.eq(endpoint_id))
            .filter(C::Status.eq(DeliveryStatus::Pending))
            .filter(C::NextAttemptAt.lt(until))
            .filter(
                Condition::any()
                    .add(C::LeaseToken.eq(token))
                    .add(unheld::<Q>(db::now())),
            )
            .exec(&self.db)
            .await?;
        Ok(())
    }

    async fn send(
        &self,
        endpoint: &webhook_endpoints::Model,
        row: &webhook_deliveries::Model,
    ) -> Result<u16, (Option<u16>, String)> {
        let url = url::Url::parse(&endpoint.url).map_err(|e| (None, e.to_string()))?;
        let addrs = resolve(&url, self.settings.allow_private_targets)
            .await
            .map_err(|e| (None, e))?;
        let signed = signature(&endpoint.secret, Utc::now().timestamp(), &row.payload);
        let headers = [
            ("X-Nuancheng-Signature", signed.as_str()),
            ("X-Nuancheng-Delivery", &row.id.to_string()),
            ("X-Nuancheng-Event", row.event_type.as_str()),
        ]
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .concat();
        let timeout = Duration::from_secs(Ord::max(self.settings.timeout_secs, 1));
        let status = tokio::time::timeout(timeout, post(&url, &addrs, &headers, &row.payload))
            .await
            .map_err(|_| (None, "the receiver did not answer in time".to_owned()))?
            .map_err(|e| (None, e))?;
        if (200..300).contains(&status) {
            Ok(status)
        } else {
            Err((Some(status), format!("the receiver answered {status}")))
        }
    }

    async fn record(
        &self,
        row: &webhook_deliveries::Model,
        token: Uuid,
        outcome: Result<u16, (Option<u16>, String)>,
    ) -> Result<chrono::DateTime<Utc>, DbErr> {
        use webhook_deliveries::Column as C;
        let attempts = row.attempts + 1;
        let next = db::now()
            + backoff_after(
                self.settings.backoff_base_secs,
                self.settings.backoff_max_secs,
                attempts,
            );
        let mut update = released::<webhook_deliveries::Entity>([row.id], token)
            .col_expr(C::Attempts, Expr::value(attempts));
        match outcome {
            Ok(status) => {
                tracing::info!(id = %row.id, status, "webhook delivered");
                update = update
                    .col_expr(C::Status, Expr::value(DeliveryStatus::Delivered))
                    .col_expr(C::LastStatusCode, Expr::value(Some(i32::from(status))))
                    .col_expr(C::LastError, Expr::value(Option::<String>::None))
                    .col_expr(C::DeliveredAt, Expr::value(Some(db::now())));
            }
            Err((status, error)) => {
                let final_try = attempts >= self.settings.max_attempts;
                tracing::warn!(id = %row.id, attempts, final_try, error = %error, "webhook not delivered");
                update = update
                    .col_expr(
                        C::Status,
                        Expr::value(if final_try {
                            DeliveryStatus::Failed
                        } else {
                            DeliveryStatus::Pending
                        }),
                    )
                    .col_expr(C::LastStatusCode, Expr::value(status.map(i32::from)))
                    .col_expr(
                        C::LastError,
                        Expr::value(Some(error.chars().take(1000).collect::<String>())),
                    )
                    .col_expr(C::NextAttemptAt, Expr::value(next));
            }
        }
        unflushed(update, self.db.get_database_backend())
            .exec(&self.db)
            .await?;
        Ok(next)
    }
}

/// One HTTP/1.1 POST of a JSON body to `url`, connected to one of `addrs`
/// (already checked); returns the status code.
async fn post(
    url: &url::Url,
    addrs: &[SocketAddr],
    headers: &str,
    body: &str,
) -> Result<u16, String> {
    let host = url.host_str().unwrap_or_default();
    let stream = tokio::net::TcpStream::connect(addrs)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_owned(),
    };
    let host_header = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    };
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host_header}\r\nUser-Agent: nuancheng-webhooks\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n{headers}Connection: close\r\n\r\n{body}",
        body.len()
    );
    if url.scheme() == "https" {
        let tls = super::tls::connect(host, stream).await?;
        exchange(tls, &request).await
    } else {
        exchange(stream, &request).await
    }
}

/// Writes the request and reads the status line of the answer.
async fn exchange(
    mut io: impl AsyncRead + AsyncWrite + Unpin,
    request: &str,
) -> Result<u16, String> {
    io.write_all(request.as_bytes())
        .await
        .map_err(|e| format!("cannot send: {e}"))?;
    io.flush().await.map_err(|e| e.to_string())?;
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 256];
    while !head.windows(2).any(|w| w == b"\r\n") && head.len() < 4096 {
        let n = io
            .read(&mut buf)
            .await
            .map_err(|e| format!("cannot read the answer: {e}"))?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .filter(|_| line.starts_with("HTTP/1."))
        .ok_or_else(|| "the receiver's answer is not HTTP".to_owned())
}
