//! Check-in at the door. A scan admits a confirmed registration once: the
//! unique index on `checkins.registration_id` decides between simultaneous
//! scans of one ticket, and a scanner's `client_checkin_id` makes a retried
//! request the same check-in. Offline scanners download a check-in list
//! with hashed codes and upload what they admitted in a batch; walk-ins are
//! registered and admitted in one step.

use std::collections::HashMap;

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, Set, TryInsertResult,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    catalog::{Access, EventEmployer, employers_of, facts, find_visible_event, lock_event},
    registrations::{close_gap, save_counts},
    tickets::new_ticket_code,
};
use crate::{
    accounts::service::{WalkInProfile, create_walk_in_candidate},
    db,
    domain::{self, Email, Phone},
    entities::{
        checkins::{self, CheckinSource},
        events::{self, EventStatus},
        registrations::{self, RegistrationStatus},
        users::{self, Degree, Role},
    },
    http::{
        ApiError, Caller, FieldErrors, Json,
        error::{Problem, is_unique_violation},
    },
    notify::{self, templates},
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/events/{id}/checkins", web::post().to(check_in))
        .route("/events/{id}/checkins/batch", web::post().to(batch))
        .route("/events/{id}/checkin-list", web::get().to(checkin_list))
        .route("/events/{id}/walk-ins", web::post().to(walk_in));
}

/// The most items one batch upload may carry.
pub const MAX_BATCH: usize = 500;

/// How far ahead of the server's clock a scanner's clock may run.
const CLOCK_SKEW: TimeDelta = TimeDelta::minutes(5);

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckinRequest {
    pub ticket_code: String,
    /// A UUID the scanner makes for this scan; sending it again is the same check-in.
    pub client_checkin_id: Option<Uuid>,
    /// When the ticket was scanned (for offline scans); defaults to now.
    pub scanned_at: Option<DateTime<Utc>>,
    /// Which door, e.g. 东门.
    pub gate: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchRequest {
    pub checkins: Vec<CheckinRequest>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct WalkInRequest {
    pub email: String,
    pub full_name: String,
    pub phone: Option<String>,
    pub university: String,
    pub major: String,
    pub degree: Degree,
    pub graduation_year: i32,
    pub gate: Option<String>,
    pub client_checkin_id: Option<Uuid>,
}

/// Who admitted a student.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Admitter {
    pub id: Uuid,
    pub full_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckinView {
    pub id: Uuid,
    pub event_id: Uuid,
    pub registration_id: Uuid,
    pub gate: Option<String>,
    pub source: CheckinSource,
    pub scanned_at: DateTime<Utc>,
    /// When the server recorded it.
    pub checked_in_at: DateTime<Utc>,
    pub checked_in_by: Admitter,
}

/// What the door needs to know about who arrived; no contact details.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Arrival {
    pub id: Uuid,
    pub full_name: String,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
}

impl From<&users::Model> for Arrival {
    fn from(u: &users::Model) -> Self {
        Self {
            id: u.id,
            full_name: u.full_name.clone(),
            university: u.university.clone(),
            major: u.major.clone(),
            degree: u.degree,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegistrationBrief {
    pub id: Uuid,
    pub status: RegistrationStatus,
}

/// The answer to a scan: `checked_in` the first time (201), then
/// `already_checked_in` with the original check-in (200).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CheckinAnswer {
    /// `checked_in` or `already_checked_in`.
    pub result: String,
    pub checkin: CheckinView,
    pub registration: RegistrationBrief,
    pub candidate: Arrival,
    /// Walk-ins only: whether the student's account was made just now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_created: Option<bool>,
}

/// One item of a batch upload's answer.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchItem {
    pub index: usize,
    pub client_checkin_id: Option<Uuid>,
    /// The HTTP status the item would have had alone: 201, 200, 404, 409, 422.
    pub status: u16,
    /// `checked_in`, `already_checked_in`, or the error's `code`.
    pub result: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkin: Option<CheckinView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidate: Option<Arrival>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchAnswer {
    pub checked_in: usize,
    pub already_checked_in: usize,
    pub failed: usize,
    pub results: Vec<BatchItem>,
}

/// One admissible ticket in the offline list.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ListEntry {
    /// Hex SHA-256 of `"<event id>:<ticket code>"`: the scanner hashes what
    /// it scans and looks it up; the list itself admits no one.
    pub ticket_hash: String,
    pub registration_id: Uuid,
    pub full_name: String,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
    pub checked_in_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CheckinList {
    pub event_id: Uuid,
    pub generated_at: DateTime<Utc>,
    /// How `ticket_hash` is made: `sha256("<event_id>:<ticket_code>")`, hex.
    pub hash: String,
    pub entries: Vec<ListEntry>,
}

/// The hash the offline list carries for a ticket.
pub fn ticket_hash(event_id: Uuid, code: &str) -> String {
    let digest = Sha256::digest(format!("{event_id}:{code}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A ticket code as scanners send it: trimmed, upper-case.
fn normal_code(code: &str) -> String {
    code.trim().to_ascii_uppercase()
}

/// The caller at an event's door: an organiser, or a recruiter of an
/// employer taking part. Anyone else is 403 (404 for a draft they cannot see).
pub async fn door(
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
) -> Result<events::Model, ApiError> {
    let (event, access) = find_visible_event(&state.db, Some(caller), event_id).await?;
    if access == Access::Public {
        return Err(ApiError::Forbidden(
            "only organisers and recruiters of employers taking part check people in".into(),
        ));
    }
    Ok(event)
}

fn refuse_closed(event: &events::Model) -> Result<(), ApiError> {
    match event.status {
        EventStatus::Published => Ok(()),
        EventStatus::Cancelled => Err(ApiError::rule("event_cancelled", "this event is cancelled")),
        EventStatus::Draft | EventStatus::Completed => Err(ApiError::rule(
            "event_not_open",
            "check-in is open while the event is published",
        )),
    }
}

fn parse_gate(errors: &mut FieldErrors, prefix: &str, gate: Option<&str>) -> Option<String> {
    errors
        .take(domain::optional_text(&format!("{prefix}gate"), gate, 50))
        .flatten()
}

fn parse_scanned_at(
    errors: &mut FieldErrors,
    prefix: &str,
    event: &events::Model,
    scanned_at: Option<DateTime<Utc>>,
) -> DateTime<Utc> {
    let now = db::now();
    let Some(at) = scanned_at.map(db::truncate) else {
        return now;
    };
    if at > now + CLOCK_SKEW || at < event.starts_at - TimeDelta::days(1) {
        errors.take::<()>(Err(crate::http::FieldError::new(
            format!("{prefix}scanned_at"),
            "out_of_range",
            "must be between a day before the event starts and now",
        )));
    }
    at
}

async fn admitter<C: ConnectionTrait>(conn: &C, id: Uuid) -> Result<Admitter, ApiError> {
    let user = users::Entity::find_by_id(id).one(conn).await?;
    Ok(Admitter {
        id,
        full_name: user.map(|u| u.full_name).unwrap_or_default(),
    })
}

/// The answer about a check-in. `caller` saves a query when the caller is
/// the one who admitted the student.
async fn answer<C: ConnectionTrait>(
    conn: &C,
    result: &str,
    checkin: checkins::Model,
    registration: &registrations::Model,
    student: &users::Model,
    caller: &Admitter,
) -> Result<CheckinAnswer, ApiError> {
    let checked_in_by = if checkin.checked_in_by == caller.id {
        caller.clone()
    } else {
        admitter(conn, checkin.checked_in_by).await?
    };
    Ok(CheckinAnswer {
        result: result.into(),
        checkin: CheckinView {
            id: checkin.id,
            event_id: checkin.event_id,
            registration_id: checkin.registration_id,
            gate: checkin.gate,
            source: checkin.source,
            scanned_at: checkin.scanned_at,
            checked_in_at: checkin.created_at,
            checked_in_by,
        },
        registration: RegistrationBrief {
            id: registration.id,
            status: registration.status,
        },
        candidate: Arrival::from(student),
        account_created: None,
    })
}

fn employer_lines(employers: Vec<EventEmployer>) -> Vec<templates::EmployerLine> {
    employers
        .into_iter()
        .map(|e| templates::EmployerLine {
            name: e.name,
            positions: e
                .positions
                .into_iter()
                .map(|p| (p.title, p.benefits))
                .collect(),
        })
        .collect()
}

/// Inserts a check-in unless the registration has one; `None` when another
/// scan got there first.
async fn insert_checkin(
    txn: &DatabaseTransaction,
    checkin: checkins::Model,
) -> Result<Option<checkins::Model>, DbErr> {
    let inserted = checkins::Entity::insert(checkins::ActiveModel::from(checkin.clone()))
        .on_conflict_do_nothing_on([checkins::Column::RegistrationId])
        .exec(txn)
        .await?;
    Ok(match inserted {
        TryInsertResult::Inserted(_) => Some(checkin),
        TryInsertResult::Conflicted | TryInsertResult::Empty => None,
    })
}

/// The `already_checked_in` answer with the registration's original
/// check-in, if it has one.
async fn original(
    state: &AppState,
    registration: &registrations::Model,
    student: &users::Model,
    by: &Admitter,
) -> Result<Option<CheckinAnswer>, ApiError> {
    let Some(first) = existing_for(&state.db, registration.id).await? else {
        return Ok(None);
    };
    Ok(Some(
        answer(
            &state.db,
            "already_checked_in",
            first,
            registration,
            student,
            by,
        )
        .await?,
    ))
}

async fn existing_for(
    conn: &impl ConnectionTrait,
    registration_id: Uuid,
) -> Result<Option<checkins::Model>, DbErr> {
    checkins::Entity::find()
        .filter(checkins::Column::RegistrationId.eq(registration_id))
        .one(conn)
        .await
}

/// What a scan found out, before any HTTP status is chosen.
pub enum Scanned {
    /// 201: admitted now (or a retry of that same scan).
    CheckedIn(CheckinAnswer),
    /// 200: the ticket was used already; the original check-in.
    Already(CheckinAnswer),
}

/// The thank-you email's list of employers, read when the first student of
/// a request is admitted and kept for the rest of a batch.
#[derive(Default)]
pub struct EmployerList(Option<Vec<templates::EmployerLine>>);

impl EmployerList {
    async fn get(
        &mut self,
        state: &AppState,
        event_id: Uuid,
    ) -> Result<&[templates::EmployerLine], ApiError> {
        if self.0.is_none() {
            self.0 = Some(employer_lines(employers_of(&state.db, event_id).await?));
        }
        Ok(self.0.as_deref().unwrap_or_default())
    }
}

/// One scan at an event's door, by `by` (whose right to be there the
/// caller has checked).
pub async fn scan(
    state: &AppState,
    by: &Admitter,
    event: &events::Model,
    input: CheckinRequest,
    source: CheckinSource,
    field_prefix: &str,
    employers: &mut EmployerList,
) -> Result<Scanned, ApiError> {
    refuse_closed(event)?;
    let mut errors = FieldErrors::new();
    let gate = parse_gate(&mut errors, field_prefix, input.gate.as_deref());
    let scanned_at = parse_scanned_at(&mut errors, field_prefix, event, input.scanned_at);
    errors.finish()?;
    let code = normal_code(&input.ticket_code);

    // A retry of a scan already recorded: the same answer again.
    if let Some(client_id) = input.client_checkin_id
        && let Some(replay) = replay(state, event.id, client_id, &code, by).await?
    {
        return Ok(replay);
    }

    let (registration, student) = registrations::Entity::find()
        .filter(registrations::Column::TicketCode.eq(code.as_str()))
        .find_also_related(users::Entity)
        .one(&state.db)
        .await?
        .filter(|_| !code.is_empty())
        .ok_or_else(unknown_ticket)?;
    if registration.event_id != event.id {
        return Err(ApiError::conflict(
            "ticket_for_other_event",
            "this ticket is for another event",
        ));
    }
    if registration.status != RegistrationStatus::Confirmed {
        return Err(ApiError::rule(
            "not_confirmed",
            match registration.status {
                RegistrationStatus::Waitlisted => "this registration is on the waitlist",
                _ => "this registration was cancelled",
            },
        ));
    }
    let student =
        student.ok_or_else(|| ApiError::internal("a registration without its student"))?;
    if let Some(already) = original(state, &registration, &student, by).await? {
        return Ok(Scanned::Already(already));
    }

    let employers = employers.get(state, event.id).await?;
    let now = db::now();
    let checkin = checkins::Model {
        id: Uuid::now_v7(),
        event_id: event.id,
        registration_id: registration.id,
        user_id: student.id,
        checked_in_by: by.id,
        client_checkin_id: input.client_checkin_id,
        gate,
        source,
        scanned_at,
        created_at: now,
    };
    let txn = db::begin_write(&state.db).await?;
    // Still confirmed? A cancellation holds this row while it decides.
    let still = registrations::Entity::find_by_id(registration.id)
        .lock_shared()
        .one(&txn)
        .await?;
    if still.is_none_or(|r| r.status != RegistrationStatus::Confirmed) {
        return Err(ApiError::rule(
            "not_confirmed",
            "this registration was cancelled",
        ));
    }
    let inserted = match insert_checkin(&txn, checkin).await {
        Ok(inserted) => inserted,
        // The same client_checkin_id, sent twice at once.
        Err(e) if is_unique_violation(&e) => {
            drop(txn);
            let client_id = input.client_checkin_id.ok_or_else(|| ApiError::from(e))?;
            return replay(state, event.id, client_id, &code, by)
                .await?
                .ok_or_else(|| ApiError::conflict("checkin_in_progress", "retry shortly"));
        }
        Err(e) => return Err(e.into()),
    };
    let Some(checkin) = inserted else {
        drop(txn);
        // The same scan sent twice at once: both get the first answer.
        if let Some(client_id) = input.client_checkin_id
            && let Some(replayed) = replay(state, event.id, client_id, &code, by).await?
        {
            return Ok(replayed);
        }
        return original(state, &registration, &student, by)
            .await?
            .map(Scanned::Already)
            .ok_or_else(|| ApiError::internal("a conflicting check-in vanished"));
    };
    let mail = templates::checkin_thanks(
        &student.full_name,
        &facts(&state.settings, event),
        employers,
    );
    notify::enqueue(&txn, &student.email, mail, Vec::new()).await?;
    txn.commit().await?;
    let _ = state.live.send(event.id);
    Ok(Scanned::CheckedIn(
        answer(
            &state.db,
            "checked_in",
            checkin,
            &registration,
            &student,
            by,
        )
        .await?,
    ))
}

fn unknown_ticket() -> ApiError {
    ApiError::Unknown {
        code: "unknown_ticket",
        detail: "no registration has this ticket code".into(),
    }
}

/// The answer to a scan whose `client_checkin_id` is already recorded.
async fn replay(
    state: &AppState,
    event_id: Uuid,
    client_id: Uuid,
    code: &str,
    by: &Admitter,
) -> Result<Option<Scanned>, ApiError> {
    let Some(original) = checkins::Entity::find()
        .filter(checkins::Column::ClientCheckinId.eq(client_id))
        .one(&state.db)
        .await?
    else {
        return Ok(None);
    };
    let registration = registrations::Entity::find_by_id(original.registration_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("a check-in without its registration"))?;
    if original.event_id != event_id || registration.ticket_code != code {
        return Err(ApiError::conflict(
            "client_checkin_id_reused",
            "this client_checkin_id was sent with another ticket",
        ));
    }
    let student = users::Entity::find_by_id(registration.user_id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::internal("a registration without its student"))?;
    Ok(Some(Scanned::CheckedIn(
        answer(
            &state.db,
            "checked_in",
            original,
            &registration,
            &student,
            by,
        )
        .await?,
    )))
}

/// Check a ticket in (organisers, recruiters of participating employers).
#[utoipa::path(post, path = "/api/v1/events/{id}/checkins", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CheckinRequest,
    responses((status = 201, body = CheckinAnswer, description = "admitted"),
        (status = 200, body = CheckinAnswer, description = "already_checked_in, with the original check-in"),
        (status = 403, body = Problem), (status = 404, body = Problem, description = "unknown_ticket"),
        (status = 409, body = Problem, description = "ticket_for_other_event"),
        (status = 422, body = Problem, description = "not_confirmed, event_cancelled, event_not_open")))]
pub async fn check_in(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<CheckinRequest>,
) -> Result<HttpResponse, ApiError> {
    let event = door(&state, &caller, id.into_inner()).await?;
    let by = Admitter {
        id: caller.id,
        full_name: caller.full_name.clone(),
    };
    let scanned = scan(
        &state,
        &by,
        &event,
        body.into_inner()?,
        CheckinSource::Scan,
        "",
        &mut EmployerList::default(),
    )
    .await?;
    Ok(match scanned {
        Scanned::CheckedIn(answer) => HttpResponse::Created().json(answer),
        Scanned::Already(answer) => HttpResponse::Ok().json(answer),
    })
}

/// Upload what a scanner admitted while offline: one result per item, in
/// order; each item stands alone, so one bad ticket undoes nothing else.
#[utoipa::path(post, path = "/api/v1/events/{id}/checkins/batch", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = BatchRequest,
    responses((status = 200, body = BatchAnswer), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem, description = "more than 500 items, or the event is not open")))]
pub async fn batch(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let event = door(&state, &caller, id.into_inner()).await?;
    refuse_closed(&event)?;
    let items = body.into_inner()?.checkins;
    if items.len() > MAX_BATCH {
        return Err(ApiError::field(
            "checkins",
            "too_many",
            format!("send at most {MAX_BATCH} check-ins at a time"),
        ));
    }
    let mut employers = EmployerList::default();
    let by = Admitter {
        id: caller.id,
        full_name: caller.full_name.clone(),
    };
    let mut answer = BatchAnswer {
        checked_in: 0,
        already_checked_in: 0,
        failed: 0,
        results: Vec::with_capacity(items.len()),
    };
    for (index, item) in items.into_iter().enumerate() {
        let client_checkin_id = item.client_checkin_id;
        let prefix = format!("checkins[{index}].");
        let outcome = scan(
            &state,
            &by,
            &event,
            item,
            CheckinSource::Offline,
            &prefix,
            &mut employers,
        )
        .await;
        let entry = match outcome {
            Ok(scanned) => {
                let (status, a) = match scanned {
                    Scanned::CheckedIn(a) => {
                        answer.checked_in += 1;
                        (201, a)
                    }
                    Scanned::Already(a) => {
                        answer.already_checked_in += 1;
                        (200, a)
                    }
                };
                BatchItem {
                    index,
                    client_checkin_id,
                    status,
                    result: a.result,
                    detail: None,
                    checkin: Some(a.checkin),
                    candidate: Some(a.candidate),
                }
            }
            Err(ApiError::Internal(context)) => return Err(ApiError::Internal(context)),
            Err(err) => {
                answer.failed += 1;
                let problem = err.to_problem();
                let detail = problem.errors.first().map_or(problem.detail.clone(), |e| {
                    Some(format!("{}: {}", e.field, e.message))
                });
                BatchItem {
                    index,
                    client_checkin_id,
                    status: problem.status,
                    result: problem.code,
                    detail,
                    checkin: None,
                    candidate: None,
                }
            }
        };
        answer.results.push(entry);
    }
    Ok(HttpResponse::Ok().json(answer))
}

/// What a scanner needs to admit people with no network: every confirmed
/// registration's hashed ticket code, name, university, major and degree.
#[utoipa::path(get, path = "/api/v1/events/{id}/checkin-list", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = CheckinList), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn checkin_list(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let event = door(&state, &caller, id.into_inner()).await?;
    let rows = registrations::Entity::find()
        .filter(registrations::Column::EventId.eq(event.id))
        .filter(registrations::Column::Status.eq(RegistrationStatus::Confirmed))
        .order_by_asc(registrations::Column::Id)
        .all(&state.db)
        .await?;
    let students: HashMap<Uuid, users::Model> = users::Entity::find()
        .filter(users::Column::Id.is_in(rows.iter().map(|r| r.user_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u))
        .collect();
    let arrived: HashMap<Uuid, DateTime<Utc>> = checkins::Entity::find()
        .filter(checkins::Column::EventId.eq(event.id))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|c| (c.registration_id, c.scanned_at))
        .collect();
    let entries = rows
        .into_iter()
        .filter_map(|r| {
            let u = students.get(&r.user_id)?;
            Some(ListEntry {
                ticket_hash: ticket_hash(event.id, &r.ticket_code),
                registration_id: r.id,
                full_name: u.full_name.clone(),
                university: u.university.clone(),
                major: u.major.clone(),
                degree: u.degree,
                checked_in_at: arrived.get(&r.id).copied(),
            })
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "private, no-store"))
        .json(CheckinList {
            event_id: event.id,
            generated_at: db::now(),
            hash: "sha256(\"<event_id>:<ticket_code>\"), hex".into(),
            entries,
        }))
}

fn parse_walk_in(input: &WalkInRequest) -> Result<(WalkInProfile, Option<String>), ApiError> {
    let mut errors = FieldErrors::new();
    let email = errors.take(Email::parse("email", &input.email).map(Email::into_inner));
    let full_name = errors.take(domain::text("full_name", &input.full_name, 100));
    let phone = input
        .phone
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .and_then(|p| errors.take(Phone::parse("phone", p).map(Phone::into_inner)));
    let university = errors.take(domain::text("university", &input.university, 100));
    let major = errors.take(domain::text("major", &input.major, 100));
    let year = errors.take(domain::graduation_year(
        "graduation_year",
        input.graduation_year,
    ));
    let gate = parse_gate(&mut errors, "", input.gate.as_deref());
    errors.finish()?;
    Ok((
        WalkInProfile {
            email: email.unwrap_or_default(),
            full_name: full_name.unwrap_or_default(),
            phone,
            university: university.unwrap_or_default(),
            major: major.unwrap_or_default(),
            degree: input.degree,
            graduation_year: year.unwrap_or_default(),
        },
        gate,
    ))
}

/// Register and admit a student at the door (organisers, recruiters of
/// participating employers). A new student gets an account without a
/// password and an email to set one; an existing one is reused. Recruiters
/// admit walk-ins only while seats are left; organisers may go past the
/// capacity, since they see the room.
#[utoipa::path(post, path = "/api/v1/events/{id}/walk-ins", tag = "check-in", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = WalkInRequest,
    responses((status = 201, body = CheckinAnswer), (status = 200, body = CheckinAnswer, description = "already_checked_in"),
        (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "not_a_candidate"),
        (status = 422, body = Problem, description = "event_full, validation_failed")))]
pub async fn walk_in(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<WalkInRequest>,
) -> Result<HttpResponse, ApiError> {
    let event = door(&state, &caller, id.into_inner()).await?;
    refuse_closed(&event)?;
    let input = body.into_inner()?;
    let (profile, gate) = parse_walk_in(&input)?;
    let may_exceed = matches!(caller.role, Role::Organiser | Role::Admin);
    let by = Admitter {
        id: caller.id,
        full_name: caller.full_name.clone(),
    };
    // A retry of a walk-in already recorded: the first answer again.
    if let Some(client_id) = input.client_checkin_id
        && let Some(first) = checkins::Entity::find()
            .filter(checkins::Column::ClientCheckinId.eq(client_id))
            .filter(checkins::Column::EventId.eq(event.id))
            .one(&state.db)
            .await?
        && let Some((registration, Some(student))) =
            registrations::Entity::find_by_id(first.registration_id)
                .find_also_related(users::Entity)
                .one(&state.db)
                .await?
    {
        let answer = answer(&state.db, "checked_in", first, &registration, &student, &by).await?;
        return Ok(HttpResponse::Created().json(answer));
    }
    let employers = employer_lines(employers_of(&state.db, event.id).await?);

    let txn = db::begin_write(&state.db).await?;
    let mut event = lock_event(&txn, event.id).await?;
    refuse_closed(&event)?;
    let existing_user = users::Entity::find()
        .filter(users::Column::Email.eq(profile.email.as_str()))
        .one(&txn)
        .await?;
    let (student, account_created) = match existing_user {
        Some(user) if user.role != Role::Candidate => {
            return Err(ApiError::conflict(
                "not_a_candidate",
                "this email belongs to a staff account",
            ));
        }
        Some(user) if user.disabled_at.is_some() => {
            return Err(ApiError::conflict(
                "account_disabled",
                "this account is disabled",
            ));
        }
        // A recruiter could otherwise admit any student it names, and so
        // see their contact details; a registered student shows a ticket.
        Some(_) if !may_exceed => {
            return Err(ApiError::conflict(
                "account_exists",
                "this student has an account: scan the ticket, or ask an organiser",
            ));
        }
        Some(user) => (user, false),
        None => (create_walk_in_candidate(&txn, &state, profile).await?, true),
    };
    let registration = registrations::Entity::find()
        .filter(registrations::Column::EventId.eq(event.id))
        .filter(registrations::Column::UserId.eq(student.id))
        .one(&txn)
        .await?;
    let now = db::now();
    let registration = match registration {
        Some(r) if r.status == RegistrationStatus::Confirmed => r,
        other => {
            if !may_exceed && event.confirmed_count >= event.capacity {
                return Err(ApiError::rule(
                    "event_full",
                    "every seat is taken; an organiser may admit more",
                ));
            }
            event.confirmed_count += 1;
            let confirmed = registrations::ActiveModel {
                status: Set(RegistrationStatus::Confirmed),
                waitlist_position: Set(None),
                confirmed_at: Set(Some(now)),
                cancelled_at: Set(None),
                cancelled_by: Set(None),
                updated_at: Set(now),
                ..Default::default()
            };
            match other {
                Some(r) => {
                    if let Some(position) = r.waitlist_position {
                        event.waitlist_count -= 1;
                        close_gap(&txn, event.id, position).await?;
                    }
                    let ticket = if r.status == RegistrationStatus::Cancelled {
                        new_ticket_code()
                    } else {
                        r.ticket_code.clone()
                    };
                    registrations::ActiveModel {
                        id: Set(r.id),
                        ticket_code: Set(ticket),
                        ..confirmed
                    }
                    .update(&txn)
                    .await?
                }
                None => {
                    registrations::ActiveModel {
                        id: Set(Uuid::now_v7()),
                        event_id: Set(event.id),
                        user_id: Set(student.id),
                        ticket_code: Set(new_ticket_code()),
                        referrer_id: Set(None),
                        created_at: Set(now),
                        ..confirmed
                    }
                    .insert(&txn)
                    .await?
                }
            }
        }
    };
    save_counts(&txn, &event).await?;
    let checkin = checkins::Model {
        id: Uuid::now_v7(),
        event_id: event.id,
        registration_id: registration.id,
        user_id: student.id,
        checked_in_by: by.id,
        client_checkin_id: input.client_checkin_id,
        gate,
        source: CheckinSource::WalkIn,
        scanned_at: now,
        created_at: now,
    };
    let inserted = insert_checkin(&txn, checkin).await.map_err(|e| {
        if is_unique_violation(&e) {
            ApiError::conflict(
                "client_checkin_id_reused",
                "this client_checkin_id was sent before",
            )
        } else {
            e.into()
        }
    })?;
    let Some(checkin) = inserted else {
        drop(txn);
        let already = original(&state, &registration, &student, &by)
            .await?
            .ok_or_else(|| ApiError::internal("a conflicting check-in vanished"))?;
        return Ok(HttpResponse::Ok().json(already));
    };
    let mail = templates::checkin_thanks(
        &student.full_name,
        &facts(&state.settings, &event),
        &employers,
    );
    notify::enqueue(&txn, &student.email, mail, Vec::new()).await?;
    txn.commit().await?;
    let _ = state.live.send(event.id);
    let mut answer = answer(
        &state.db,
        "checked_in",
        checkin,
        &registration,
        &student,
        &by,
    )
    .await?;
    answer.account_created = Some(account_created);
    Ok(HttpResponse::build(StatusCode::CREATED).json(answer))
}

/// Of these students, the ones a recruiter of `employer_id` may contact:
/// those who checked in at an event its employer took part in.
pub async fn contactable<C: ConnectionTrait>(
    conn: &C,
    employer_id: Uuid,
    user_ids: &[Uuid],
) -> Result<std::collections::HashSet<Uuid>, ApiError> {
    use sea_orm::sea_query::Query;
    if user_ids.is_empty() {
        return Ok(Default::default());
    }
    let events_of_employer = Query::select()
        .column(crate::entities::event_employers::Column::EventId)
        .from(crate::entities::event_employers::Entity)
        .and_where(crate::entities::event_employers::Column::EmployerId.eq(employer_id))
        .to_owned();
    Ok(checkins::Entity::find()
        .filter(checkins::Column::UserId.is_in(user_ids.iter().copied()))
        .filter(checkins::Column::EventId.in_subquery(events_of_employer))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| c.user_id)
        .collect())
}
