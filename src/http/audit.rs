//! The audit trail at the HTTP edge. Every successful change through the API
//! (any method but GET, HEAD and OPTIONS answered 2xx) is recorded by
//! [`record_writes`] once the handler has answered and before the answer
//! leaves; handlers that show someone else's personal data record a read or
//! an export with [`Trail`]. A read that cannot be recorded is not served.

use std::{future::Future, pin::Pin};

use actix_web::{
    Error, FromRequest, HttpMessage, HttpRequest,
    body::{BodySize, BoxBody, MessageBody},
    dev::{Payload, ServiceRequest, ServiceResponse},
    http::Method,
    middleware::Next,
    web,
};
use futures_util::{Stream, StreamExt};
use sea_orm::ActiveEnum;
use uuid::Uuid;

use super::{
    ApiError, Caller, observe,
    paged_export::{Pages, PeoplePages},
    ratelimit::client_ip,
    request_id,
};
use crate::{
    audit::{self, Entry, Kind},
    state::AppState,
};

/// Largest answer read back for the id of what a write made.
const ANSWER_LIMIT: usize = 64 * 1024;

/// Where a request came from and what it asked, for its audit rows.
#[derive(Debug, Clone)]
struct Origin {
    action: String,
    path: String,
    ip: String,
    request_id: Option<String>,
    path_id: Option<Uuid>,
}

impl Origin {
    fn of(req: &HttpRequest, state: &AppState) -> Self {
        let pattern = observe::route(req);
        Self {
            action: format!(
                "{} {}",
                req.method(),
                pattern.as_deref().unwrap_or(req.path())
            ),
            path: req.path().to_owned(),
            ip: client_ip(req, &state.settings.http).to_string(),
            request_id: request_id::current(),
            path_id: req.match_info().get("id").and_then(|id| id.parse().ok()),
        }
    }

    fn entry(self, kind: Kind, actor: Option<&Caller>, status: u16) -> Entry {
        Entry {
            kind,
            actor_id: actor.map(|c| c.id),
            actor_role: actor.map(|c| c.role.to_value()),
            action: self.action,
            path: Some(self.path),
            target_id: self.path_id,
            status: Some(status),
            ip: Some(self.ip),
            request_id: self.request_id,
            detail: None,
        }
    }
}

/// Records each successful write. The row is written after the handler's
/// own transaction has committed and before the answer is sent; if it
/// cannot be written the change stands, the answer still goes out, and the
/// failure is logged as an error.
pub async fn record_writes(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(next.call(req).await?.map_into_boxed_body());
    }
    let res = next.call(req).await?;
    let Some(state) = res.request().app_data::<web::Data<AppState>>().cloned() else {
        return Ok(res.map_into_boxed_body());
    };
    if !res.status().is_success() || res.request().extensions().contains::<RecordedWithin>() {
        return Ok(res.map_into_boxed_body());
    }
    let status = res.status().as_u16();
    let (req, res) = res.into_parts();
    let (res, body) = res.into_parts();
    let (body, answer) = match body.size() {
        BodySize::Sized(n) if n as usize <= ANSWER_LIMIT => {
            match actix_web::body::to_bytes(body).await {
                Ok(bytes) => {
                    let answer = serde_json::from_slice::<serde_json::Value>(&bytes).ok();
                    (BoxBody::new(bytes), answer)
                }
                Err(_) => {
                    tracing::error!("an answer could not be read back for the audit trail");
                    return Err(actix_web::error::ErrorInternalServerError(
                        "answer unreadable",
                    ));
                }
            }
        }
        _ => (body.boxed(), None),
    };
    let caller = req.extensions().get::<Caller>().cloned();
    let mut entry = Origin::of(&req, &state).entry(Kind::Write, caller.as_ref(), status);
    let made = answer.as_ref().and_then(|a| id_at(a, &["id"]));
    entry.target_id = made.or(entry.target_id);
    // Signing up or in: the account the answer is about acted.
    let account = answer.as_ref().and_then(|a| id_at(a, &["user", "id"]));
    if caller.is_none() {
        entry.actor_id = account;
    }
    let subjects = subjects_of(answer.as_ref(), account);
    if let Err(error) = audit::record(&state.db, entry, &subjects).await {
        tracing::error!(%error, "a write was not recorded in the audit trail");
    }
    Ok(ServiceResponse::new(req, res.set_body(body)))
}

/// Set on a request whose handler recorded its write in the statement
/// that made it ([`audit::record_each_within`]),
/// so [`record_writes`] does not record it again.
struct RecordedWithin;

/// The audit row of the write `caller` makes through `req`, answered with
/// `status` and about `target`, for a handler that records it in the
/// statement that makes the change; once that statement wrote it, the
/// handler calls [`recorded_within`].
pub fn write_entry(
    req: &HttpRequest,
    state: &AppState,
    caller: &Caller,
    status: u16,
    target: Uuid,
) -> Entry {
    let mut entry = Origin::of(req, state).entry(Kind::Write, Some(caller), status);
    entry.target_id = Some(target);
    entry
}

/// Tells [`record_writes`] that `req`'s write is already recorded.
pub fn recorded_within(req: &HttpRequest) {
    req.extensions_mut().insert(RecordedWithin);
}

/// Whose data a write's answer is about: the student of a registration,
/// check-in or intent (`candidate`), each student of a batch's `results`,
/// or the account signed up or in.
fn subjects_of(answer: Option<&serde_json::Value>, account: Option<Uuid>) -> Vec<Uuid> {
    let Some(answer) = answer else {
        return Vec::new();
    };
    let mut people: Vec<Uuid> = answer["results"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(std::iter::once(answer))
        .filter_map(|item| id_at(item, &["candidate", "id"]))
        .collect();
    people.extend(account);
    people
}

/// The UUID at a path of keys in a JSON answer.
fn id_at(value: &serde_json::Value, keys: &[&str]) -> Option<Uuid> {
    keys.iter()
        .try_fold(value, |v, k| v.get(k))?
        .as_str()?
        .parse()
        .ok()
}

/// What a handler needs to record that it shows someone else's personal
/// data: the request's origin and the state's pool.
pub struct Trail {
    origin: Origin,
    state: web::Data<AppState>,
}

impl FromRequest for Trail {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let origin = state.as_ref().map(|s| Origin::of(req, s));
        Box::pin(async move {
            match (state, origin) {
                (Some(state), Some(origin)) => Ok(Trail { origin, state }),
                _ => Err(ApiError::internal("application state is missing")),
            }
        })
    }
}

impl Trail {
    /// Records that `caller` was shown the personal data of `subjects` (the
    /// caller's own data is not recorded). Nothing is recorded when nobody
    /// else's data is in the answer.
    pub async fn read(&self, caller: &Caller, subjects: &[Uuid]) -> Result<(), ApiError> {
        let others: Vec<Uuid> = subjects
            .iter()
            .copied()
            .filter(|s| *s != caller.id)
            .collect();
        if others.is_empty() {
            return Ok(());
        }
        let entry = self.origin.clone().entry(Kind::Read, Some(caller), 200);
        audit::record(&self.state.db, entry, &others).await?;
        Ok(())
    }

    /// Records an export by `caller` (always, even of no rows), and returns
    /// a recorder that adds the people of each page as it is written.
    pub async fn export(
        &self,
        caller: &Caller,
        detail: serde_json::Value,
    ) -> Result<ExportTrail, ApiError> {
        let mut entry = self.origin.clone().entry(Kind::Export, Some(caller), 200);
        entry.detail = Some(detail);
        let id = audit::record(&self.state.db, entry, &[]).await?;
        Ok(ExportTrail {
            id,
            state: self.state.clone(),
        })
    }
}

/// The audit row of one export, growing page by page.
#[derive(Clone)]
pub struct ExportTrail {
    id: Uuid,
    state: web::Data<AppState>,
}

impl ExportTrail {
    /// Names the people of a file written in one go.
    pub async fn add(&self, people: &[Uuid]) -> Result<(), ApiError> {
        audit::add_subjects(&self.state.db, self.id, people).await?;
        Ok(())
    }

    /// The rows of `people` for the file, each page's people recorded first.
    pub fn pages(self, people: PeoplePages) -> Pages {
        Box::pin(
            self.track(people, |(person, _)| *person)
                .map(|page| page.map(|rows| rows.into_iter().map(|(_, cells)| cells).collect())),
        )
    }

    /// Passes the pages on, recording each page's people before the page
    /// is written out: nobody leaves in a file without being named.
    pub fn track<T, S>(
        self,
        pages: S,
        subject: fn(&T) -> Uuid,
    ) -> impl Stream<Item = Result<Vec<T>, ApiError>> + use<T, S>
    where
        S: Stream<Item = Result<Vec<T>, ApiError>>,
    {
        pages.then(move |page| {
            let trail = self.clone();
            async move {
                let page = page?;
                let people: Vec<Uuid> = page.iter().map(subject).collect();
                trail.add(&people).await?;
                Ok(page)
            }
        })
    }
}
