//! `Idempotency-Key` for writes that create something: the same key with the
//! same body returns the first answer again and creates nothing new; the same
//! key with another body is refused. A placeholder row claims the key before
//! the work runs, so two simultaneous requests cannot both create.
//!
//! A claim is a lease: if the process dies between claiming and storing the
//! answer, the key is usable again once `http.idempotency_lease_secs` has
//! passed, instead of answering `idempotency_in_progress` for ever. Where a
//! crash between the work and its answer must not change the answer (a
//! registration), the work stores the answer in its own transaction through
//! a [`Recorder`] ([`once_recorded`]): then the answer exists exactly when
//! the work does, and a claim without an answer means the work never
//! committed. Keys are kept for [`RETENTION`]; an older key counts as never
//! used, and [`purge_expired`] deletes such rows.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, HttpResponse, dev::Payload, http::StatusCode};
use chrono::TimeDelta;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DbErr,
    EntityTrait, QueryFilter, QueryTrait, Set,
    sea_query::{Expr, UpdateStatement},
};
use serde::Serialize;
use uuid::Uuid;

use super::error::{ApiError, is_unique_violation};
use crate::{db, entities::idempotency_keys, state::AppState, tokens::hash_token};

pub const HEADER: &str = "Idempotency-Key";

/// How long a key and its answer are kept.
pub const RETENTION: TimeDelta = TimeDelta::hours(24);

/// The request's `Idempotency-Key`, if it sent one, and how long a claim on
/// it lasts (`http.idempotency_lease_secs`).
pub struct IdempotencyKey {
    key: Option<String>,
    lease: TimeDelta,
}

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let value = req
            .headers()
            .get(HEADER)
            .map(|v| v.to_str().map(str::to_owned));
        let lease = req
            .app_data::<actix_web::web::Data<AppState>>()
            .map_or(60, |state| state.settings.http.idempotency_lease_secs);
        let lease = TimeDelta::seconds(lease.max(1) as i64);
        Box::pin(async move {
            match value {
                None => Ok(Self { key: None, lease }),
                Some(Ok(key))
                    if !key.is_empty()
                        && key.len() <= 200
                        && key.bytes().all(|b| b.is_ascii_graphic()) =>
                {
                    Ok(Self {
                        key: Some(key),
                        lease,
                    })
                }
                Some(_) => Err(ApiError::bad_request(
                    "invalid_idempotency_key",
                    "Idempotency-Key must be 1 to 200 printable ASCII characters",
                )),
            }
        })
    }
}

/// Runs `create(request)` at most once per (scope, key). `scope` names the
/// caller and the route; `request` is the parsed body, compared by hash on a
/// replay; the answer `create` gives is stored as JSON for replays.
pub async fn once<R, V, F, Fut>(
    db_conn: &DatabaseConnection,
    key: IdempotencyKey,
    scope: String,
    request: R,
    create: F,
) -> Result<HttpResponse, ApiError>
where
    R: Serialize,
    V: Serialize,
    F: FnOnce(R) -> Fut,
    Fut: Future<Output = Result<(StatusCode, V), ApiError>>,
{
    once_recorded(db_conn, key, scope, request, |request, _| create(request)).await
}

/// Stores the answer to a claimed key in the transaction of the work, so
/// the answer commits exactly when the work does. Without a key it does
/// nothing.
#[derive(Default, Clone)]
pub struct Recorder(Option<Uuid>);

impl Recorder {
    pub async fn record<C: ConnectionTrait>(
        &self,
        conn: &C,
        status: u16,
        body: &impl Serialize,
    ) -> Result<(), ApiError> {
        if let Some(row_id) = self.0 {
            let body = serde_json::to_string(body).map_err(ApiError::internal)?;
            store(conn, row_id, i32::from(status), body).await?;
        }
        Ok(())
    }

    /// The answer under the names of [`FIELDS`], added to `fields` (null
    /// without a key), for a batched statement that stores it with
    /// [`store_each_sql`].
    pub fn fields(
        &self,
        status: u16,
        body: &impl Serialize,
        fields: &mut serde_json::Map<String, serde_json::Value>,
    ) -> Result<(), ApiError> {
        let body = self.0.map(|_| serde_json::to_string(body)).transpose();
        let body = body.map_err(ApiError::internal)?;
        fields.insert("k_id".into(), serde_json::json!(self.0));
        fields.insert("k_status".into(), status.into());
        fields.insert("k_body".into(), serde_json::json!(body));
        Ok(())
    }
}

/// The fields of an answer that each row of a batched statement carries
/// (see [`crate::batch`]), as `json_to_recordset` declares them.
pub const FIELDS: &str = "k_id uuid, k_status int, k_body text";

/// An `UPDATE` for a PostgreSQL statement that stores, for each row of
/// `source` (a CTE named earlier, whose rows carry an answer's [`FIELDS`])
/// with a key, its answer for the key, as [`Recorder::record`] does.
pub fn store_each_sql(source: &str) -> String {
    format!(
        "UPDATE idempotency_keys k SET response_status = {source}.k_status, \
                response_body = {source}.k_body \
         FROM {source} WHERE k.id = {source}.k_id AND k.response_status IS NULL"
    )
}

fn storing(row_id: Uuid, status: i32, body: String) -> UpdateStatement {
    use idempotency_keys::Column as C;
    idempotency_keys::Entity::update_many()
        .col_expr(C::ResponseStatus, Expr::value(Some(status)))
        .col_expr(C::ResponseBody, Expr::value(Some(body)))
        .filter(C::Id.eq(row_id))
        .filter(C::ResponseStatus.is_null())
        .into_query()
}

async fn store<C: ConnectionTrait>(
    conn: &C,
    row_id: Uuid,
    status: i32,
    body: String,
) -> Result<(), DbErr> {
    conn.execute(&storing(row_id, status, body)).await?;
    Ok(())
}

/// [`once`] for work that records its own answer with the [`Recorder`] it
/// is given, inside its transaction. An answer it did not record is stored
/// afterwards, as `once` does.
pub async fn once_recorded<R, V, F, Fut>(
    db_conn: &DatabaseConnection,
    key: IdempotencyKey,
    scope: String,
    request: R,
    create: F,
) -> Result<HttpResponse, ApiError>
where
    R: Serialize,
    V: Serialize,
    F: FnOnce(R, Recorder) -> Fut,
    Fut: Future<Output = Result<(StatusCode, V), ApiError>>,
{
    let respond =
        |status: StatusCode, body: &serde_json::Value| HttpResponse::build(status).json(body);
    let Some(idem_key) = key.key else {
        let (status, body) = create(request, Recorder(None)).await?;
        return Ok(HttpResponse::build(status).json(body));
    };
    let request_hash = hash_token(&serde_json::to_string(&request).map_err(ApiError::internal)?);
    let row_id = match claim(db_conn, &scope, &idem_key, &request_hash, key.lease).await? {
        Claim::Ours(row_id) => row_id,
        Claim::Answered { status, body } => {
            let status = StatusCode::from_u16(status as u16).map_err(ApiError::internal)?;
            let body: serde_json::Value =
                serde_json::from_str(&body).map_err(ApiError::internal)?;
            let mut response = respond(status, &body);
            response.headers_mut().insert(
                actix_web::http::header::HeaderName::from_static("idempotency-replayed"),
                actix_web::http::header::HeaderValue::from_static("true"),
            );
            return Ok(response);
        }
    };
    match create(request, Recorder(Some(row_id))).await {
        Ok((status, body)) => {
            let body = serde_json::to_value(body).map_err(ApiError::internal)?;
            store(
                db_conn,
                row_id,
                i32::from(status.as_u16()),
                body.to_string(),
            )
            .await?;
            Ok(respond(status, &body))
        }
        Err(err) if err.code() == "database_unavailable" => {
            // Freeing the key would wait on the same unreachable database;
            // the claim's lease frees it instead.
            Err(err)
        }
        Err(err) => {
            // Nothing was created: free the key so a corrected retry can use it.
            idempotency_keys::Entity::delete_by_id(row_id)
                .exec(db_conn)
                .await?;
            Err(err)
        }
    }
}

enum Claim {
    /// The key is ours to do the work under; the row's id.
    Ours(Uuid),
    /// The work was done before: its answer.
    Answered { status: i32, body: String },
}

/// Claims `(scope, key)` for this request: a new row, or the row of a claim
/// whose lease ran out, or of a key past its retention. Refuses a key in use
/// with another body, or still being worked on.
async fn claim(
    db_conn: &DatabaseConnection,
    scope: &str,
    key: &str,
    request_hash: &str,
    lease: TimeDelta,
) -> Result<Claim, ApiError> {
    use idempotency_keys::Column as C;
    let now = db::now();
    let row_id = Uuid::now_v7();
    let inserted = idempotency_keys::ActiveModel {
        id: Set(row_id),
        scope: Set(scope.to_owned()),
        key: Set(key.to_owned()),
        request_hash: Set(request_hash.to_owned()),
        response_status: Set(None),
        response_body: Set(None),
        created_at: Set(now),
    }
    .insert(db_conn)
    .await;
    match inserted {
        Ok(_) => return Ok(Claim::Ours(row_id)),
        Err(e) if is_unique_violation(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let first = idempotency_keys::Entity::find()
        .filter(C::Scope.eq(scope))
        .filter(C::Key.eq(key))
        .one(db_conn)
        .await?
        .ok_or_else(|| ApiError::conflict("idempotency_in_progress", "retry shortly"))?;
    let expired = first.created_at <= now - RETENTION;
    let abandoned = first.response_status.is_none() && first.created_at <= now - lease;
    if expired || abandoned {
        // Take the row over, unless another retry took it first.
        let taken = idempotency_keys::Entity::update_many()
            .col_expr(C::CreatedAt, Expr::value(now))
            .col_expr(C::RequestHash, Expr::value(request_hash))
            .col_expr(C::ResponseStatus, Expr::value(Option::<i32>::None))
            .col_expr(C::ResponseBody, Expr::value(Option::<String>::None))
            .filter(C::Id.eq(first.id))
            .filter(C::CreatedAt.eq(first.created_at))
            .exec(db_conn)
            .await?;
        if taken.rows_affected == 1 {
            return Ok(Claim::Ours(first.id));
        }
        return Err(ApiError::conflict(
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still being processed",
        ));
    }
    if first.request_hash != request_hash {
        return Err(ApiError::rule(
            "idempotency_key_reused",
            "this Idempotency-Key was used with another request body",
        ));
    }
    match (first.response_status, first.response_body) {
        (Some(status), Some(body)) => Ok(Claim::Answered { status, body }),
        _ => Err(ApiError::conflict(
            "idempotency_in_progress",
            "a request with this Idempotency-Key is still being processed",
        )),
    }
}

/// Deletes keys past their retention (with `dry_run`, counts them); gives how many.
pub async fn purge_expired<C: ConnectionTrait>(db_conn: &C, dry_run: bool) -> Result<u64, DbErr> {
    db::purge::<idempotency_keys::Entity, _>(
        db_conn,
        Condition::all().add(idempotency_keys::Column::CreatedAt.lte(db::now() - RETENTION)),
        dry_run,
    )
    .await
}
