//! Intents to join (引进意向): a candidate, an employer, perhaps a position,
//! and the event and check-in they came from. Statuses move forward only
//! (see [`IntentStatus::can_become`]); every change is kept with its actor,
//! time and note. Recruiters act on their own employer's intents, organisers
//! on all; candidates read their own.

pub mod reports;

use std::collections::{HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    db, domain,
    entities::{
        checkins, employers, event_employers, events, intent_history,
        intents::{self, IntentStatus},
        positions::{self, TalentCategory},
        users::{self, Degree, Role},
    },
    events::positions::strings_of,
    http::{
        ApiError, Caller, FieldError, FieldErrors, Json, Page, PageQuery,
        error::{Problem, is_unique_violation},
        export::{self, Cell, Table},
        idempotency::{self, IdempotencyKey},
    },
    notify::{self, templates},
    state::AppState,
};

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/intents", web::post().to(create))
        .route("/intents", web::get().to(list))
        .route("/intents/{id}", web::get().to(get))
        .route("/intents/{id}", web::patch().to(transition))
        .route("/me/intents", web::get().to(mine));
    reports::configure(cfg);
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntentRequest {
    pub candidate_id: Uuid,
    /// Required for organisers; a recruiter's own employer otherwise.
    pub employer_id: Option<Uuid>,
    pub position_id: Option<Uuid>,
    /// The event it came from; taken from the check-in when one is given.
    pub event_id: Option<Uuid>,
    pub checkin_id: Option<Uuid>,
    /// Where the pipeline starts: `interested` (default) up to `signed`
    /// (an intent signed on the spot at a job fair).
    pub status: Option<IntentStatus>,
    /// Defaults to the position's category, else `other`.
    pub talent_category: Option<TalentCategory>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransitionRequest {
    pub status: IntentStatus,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Person {
    pub id: Uuid,
    pub full_name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntentCandidate {
    pub id: Uuid,
    pub full_name: String,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
    pub graduation_year: Option<i32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Named {
    pub id: Uuid,
    pub name: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntry {
    pub id: Uuid,
    pub actor: Person,
    pub from: Option<IntentStatus>,
    pub to: IntentStatus,
    pub note: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IntentView {
    pub id: Uuid,
    pub status: IntentStatus,
    pub candidate: IntentCandidate,
    pub employer: Named,
    pub position: Option<Named>,
    pub event: Option<Named>,
    pub checkin_id: Option<Uuid>,
    pub talent_category: TalentCategory,
    pub note: String,
    pub signed_at: Option<DateTime<Utc>>,
    pub closed_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Oldest first; only on `GET /intents/{id}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub history: Option<Vec<HistoryEntry>>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct IntentsQuery {
    pub status: Option<IntentStatus>,
    pub employer_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub candidate_id: Option<Uuid>,
    /// Intents from this campaign's events.
    pub campaign_id: Option<Uuid>,
    /// Candidates of this university (the exact name).
    pub university: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
    /// `csv` or `xlsx` for a file of every matching intent.
    pub format: Option<String>,
}

/// The key that keeps one open intent per candidate, employer and position.
fn open_key(candidate: Uuid, employer: Uuid, position: Option<Uuid>) -> String {
    format!(
        "{}:{}:{}",
        candidate.simple(),
        employer.simple(),
        position.map_or_else(|| "none".to_owned(), |p| p.simple().to_string())
    )
}

/// The employer a caller acts for, or 403.
fn acting_employer(caller: &Caller, asked: Option<Uuid>) -> Result<Uuid, ApiError> {
    match caller.role {
        Role::Organiser | Role::Admin => asked.ok_or_else(|| {
            ApiError::field("employer_id", "required", "organisers name the employer")
        }),
        Role::Recruiter => match (caller.employer_id, asked) {
            (Some(own), None) => Ok(own),
            (Some(own), Some(asked)) if own == asked => Ok(own),
            _ => Err(ApiError::Forbidden(
                "recruiters act only for their own employer".into(),
            )),
        },
        Role::Candidate => Err(ApiError::Forbidden(
            "intents are recorded by recruiters and organisers".into(),
        )),
    }
}

/// Reads the names an intent shows, for many intents at once.
struct Lookups {
    users: HashMap<Uuid, users::Model>,
    employers: HashMap<Uuid, String>,
    positions: HashMap<Uuid, positions::Model>,
    events: HashMap<Uuid, String>,
}

impl Lookups {
    async fn load<C: ConnectionTrait>(conn: &C, rows: &[intents::Model]) -> Result<Self, ApiError> {
        let users = reports::users_by_id(conn, rows.iter().map(|i| i.candidate_id)).await?;
        let employers = employers::Entity::find()
            .filter(
                employers::Column::Id
                    .is_in(rows.iter().map(|i| i.employer_id).collect::<HashSet<_>>()),
            )
            .all(conn)
            .await?
            .into_iter()
            .map(|e| (e.id, e.name))
            .collect();
        let positions = positions::Entity::find()
            .filter(
                positions::Column::Id.is_in(
                    rows.iter()
                        .filter_map(|i| i.position_id)
                        .collect::<HashSet<_>>(),
                ),
            )
            .all(conn)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let events = events::Entity::find()
            .filter(
                events::Column::Id.is_in(
                    rows.iter()
                        .filter_map(|i| i.event_id)
                        .collect::<HashSet<_>>(),
                ),
            )
            .all(conn)
            .await?
            .into_iter()
            .map(|e| (e.id, e.title))
            .collect();
        Ok(Self {
            users,
            employers,
            positions,
            events,
        })
    }

    fn view(&self, i: intents::Model) -> IntentView {
        let candidate = self.users.get(&i.candidate_id);
        IntentView {
            id: i.id,
            status: i.status,
            candidate: IntentCandidate {
                id: i.candidate_id,
                full_name: candidate.map(|u| u.full_name.clone()).unwrap_or_default(),
                university: candidate.and_then(|u| u.university.clone()),
                major: candidate.and_then(|u| u.major.clone()),
                degree: candidate.and_then(|u| u.degree),
                graduation_year: candidate.and_then(|u| u.graduation_year),
            },
            employer: Named {
                id: i.employer_id,
                name: self
                    .employers
                    .get(&i.employer_id)
                    .cloned()
                    .unwrap_or_default(),
            },
            position: i.position_id.map(|id| Named {
                id,
                name: self
                    .positions
                    .get(&id)
                    .map(|p| p.title.clone())
                    .unwrap_or_default(),
            }),
            event: i.event_id.map(|id| Named {
                id,
                name: self.events.get(&id).cloned().unwrap_or_default(),
            }),
            checkin_id: i.checkin_id,
            talent_category: i.talent_category,
            note: i.note,
            signed_at: i.signed_at,
            closed_at: i.closed_at,
            created_at: i.created_at,
            updated_at: i.updated_at,
            history: None,
        }
    }
}

async fn view_one<C: ConnectionTrait>(
    conn: &C,
    intent: intents::Model,
) -> Result<IntentView, ApiError> {
    let lookups = Lookups::load(conn, std::slice::from_ref(&intent)).await?;
    Ok(lookups.view(intent))
}

async fn record<C: ConnectionTrait>(
    conn: &C,
    intent: Uuid,
    actor: Uuid,
    from: Option<IntentStatus>,
    to: IntentStatus,
    note: &str,
) -> Result<(), ApiError> {
    intent_history::ActiveModel {
        id: Set(Uuid::now_v7()),
        intent_id: Set(intent),
        actor_id: Set(actor),
        from_status: Set(from),
        to_status: Set(to),
        note: Set(note.to_owned()),
        created_at: Set(db::now()),
    }
    .insert(conn)
    .await?;
    Ok(())
}

/// Emails the candidate on reaching `signed`: employer, position, benefits.
async fn tell_signed<C: ConnectionTrait>(
    conn: &C,
    state: &AppState,
    intent: &intents::Model,
) -> Result<(), ApiError> {
    let lookups = Lookups::load(conn, std::slice::from_ref(intent)).await?;
    let Some(candidate) = lookups.users.get(&intent.candidate_id) else {
        return Ok(());
    };
    let employer = lookups
        .employers
        .get(&intent.employer_id)
        .cloned()
        .unwrap_or_default();
    let position = intent.position_id.and_then(|id| lookups.positions.get(&id));
    let mail = templates::intent_signed(
        &candidate.full_name,
        &employer,
        position.map(|p| p.title.as_str()),
        &position
            .map(|p| strings_of(&p.benefits))
            .unwrap_or_default(),
        &state.settings.page("/me/intents"),
    );
    notify::enqueue(conn, &candidate.email, mail, Vec::new()).await?;
    Ok(())
}

/// Has the candidate registered for (or been admitted to) an event that
/// the employer takes part in?
async fn has_met(state: &AppState, candidate: Uuid, employer: Uuid) -> Result<bool, ApiError> {
    use crate::entities::registrations;
    use sea_orm::sea_query::Query;
    let events_of_employer = Query::select()
        .column(event_employers::Column::EventId)
        .from(event_employers::Entity)
        .and_where(event_employers::Column::EmployerId.eq(employer))
        .to_owned();
    Ok(registrations::Entity::find()
        .filter(registrations::Column::UserId.eq(candidate))
        .filter(registrations::Column::EventId.in_subquery(events_of_employer))
        .one(&state.db)
        .await?
        .is_some())
}

pub async fn create_intent(
    state: &AppState,
    caller: &Caller,
    input: IntentRequest,
) -> Result<intents::Model, ApiError> {
    let employer_id = acting_employer(caller, input.employer_id)?;
    let status = input.status.unwrap_or(IntentStatus::Interested);
    let mut errors = FieldErrors::new();
    if !status.is_open() {
        errors.take::<()>(Err(FieldError::new(
            "status",
            "invalid",
            "a new intent starts as interested, interviewing, offered or signed",
        )));
    }
    let note = errors
        .take(domain::optional_text("note", Some(&input.note), 2000))
        .flatten()
        .unwrap_or_default();
    let candidate = users::Entity::find_by_id(input.candidate_id)
        .one(&state.db)
        .await?
        .filter(|u| u.role == Role::Candidate);
    if candidate.is_none() {
        errors.take::<()>(Err(FieldError::new(
            "candidate_id",
            "unknown",
            "no candidate has this id",
        )));
    } else if caller.role == Role::Recruiter
        && !has_met(state, input.candidate_id, employer_id).await?
    {
        // A recruiter records intents of students it met: otherwise any id
        // would show it a stranger's profile and could email them.
        errors.take::<()>(Err(FieldError::new(
            "candidate_id",
            "not_met",
            "the candidate has not registered for an event your employer takes part in",
        )));
    }
    if employers::Entity::find_by_id(employer_id)
        .one(&state.db)
        .await?
        .is_none()
    {
        errors.take::<()>(Err(FieldError::new(
            "employer_id",
            "unknown",
            "no employer has this id",
        )));
    }
    let position = match input.position_id {
        Some(id) => {
            let found = positions::Entity::find_by_id(id)
                .one(&state.db)
                .await?
                .filter(|p| p.employer_id == employer_id);
            if found.is_none() {
                errors.take::<()>(Err(FieldError::new(
                    "position_id",
                    "unknown",
                    "the employer has no position with this id",
                )));
            }
            found
        }
        None => None,
    };
    let mut event_id = input.event_id;
    if let Some(checkin_id) = input.checkin_id {
        match checkins::Entity::find_by_id(checkin_id)
            .one(&state.db)
            .await?
        {
            Some(c)
                if c.user_id == input.candidate_id
                    && input.event_id.is_none_or(|e| e == c.event_id) =>
            {
                event_id = Some(c.event_id);
            }
            _ => {
                errors.take::<()>(Err(FieldError::new(
                    "checkin_id",
                    "unknown",
                    "no check-in of this candidate (at this event) has this id",
                )));
            }
        }
    }
    if let Some(event_id) = event_id {
        let taking_part = event_employers::Entity::find_by_id((event_id, employer_id))
            .one(&state.db)
            .await?
            .is_some();
        if !taking_part {
            errors.take::<()>(Err(FieldError::new(
                "event_id",
                "not_participating",
                "the employer did not take part in this event",
            )));
        }
    }
    errors.finish()?;

    let key = open_key(input.candidate_id, employer_id, input.position_id);
    let existing = intents::Entity::find()
        .filter(intents::Column::OpenKey.eq(key.as_str()))
        .one(&state.db)
        .await?;
    if let Some(existing) = existing {
        return Err(intent_exists(view_one(&state.db, existing).await.ok()));
    }
    let now = db::now();
    let intent = intents::Model {
        id: Uuid::now_v7(),
        candidate_id: input.candidate_id,
        employer_id,
        position_id: input.position_id,
        event_id,
        checkin_id: input.checkin_id,
        status,
        talent_category: input
            .talent_category
            .or(position.map(|p| p.talent_category))
            .unwrap_or(TalentCategory::Other),
        open_key: Some(key),
        note: note.clone(),
        created_by: caller.id,
        signed_at: (status == IntentStatus::Signed).then_some(now),
        closed_at: None,
        created_at: now,
        updated_at: now,
    };
    let txn = db::begin_write(&state.db).await?;
    let intent = intents::ActiveModel::from(intent)
        .reset_all()
        .insert(&txn)
        .await;
    let intent = match intent {
        Ok(intent) => intent,
        Err(e) if is_unique_violation(&e) => {
            // Another request opened the same intent a moment ago.
            drop(txn);
            let open = intents::Entity::find()
                .filter(intents::Column::OpenKey.eq(open_key(
                    input.candidate_id,
                    employer_id,
                    input.position_id,
                )))
                .one(&state.db)
                .await?;
            let existing = match open {
                Some(open) => view_one(&state.db, open).await.ok(),
                None => None,
            };
            return Err(intent_exists(existing));
        }
        Err(e) => return Err(e.into()),
    };
    record(&txn, intent.id, caller.id, None, status, &note).await?;
    if status == IntentStatus::Signed {
        tell_signed(&txn, state, &intent).await?;
    }
    txn.commit().await?;
    Ok(intent)
}

fn intent_exists(existing: Option<IntentView>) -> ApiError {
    ApiError::Conflict {
        code: "intent_exists",
        detail: "this candidate already has an open intent with this employer and position".into(),
        existing: existing.and_then(|v| serde_json::to_value(v).ok()),
    }
}

/// An intent the caller may see: organisers all, recruiters their
/// employer's, candidates their own. Anything else is 404.
async fn visible(state: &AppState, caller: &Caller, id: Uuid) -> Result<intents::Model, ApiError> {
    let intent = intents::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("intent"))?;
    let allowed = match caller.role {
        Role::Organiser | Role::Admin => true,
        Role::Recruiter => caller.employer_id == Some(intent.employer_id),
        Role::Candidate => caller.id == intent.candidate_id,
    };
    if allowed {
        Ok(intent)
    } else {
        Err(ApiError::NotFound("intent"))
    }
}

pub async fn move_intent(
    state: &AppState,
    caller: &Caller,
    id: Uuid,
    input: TransitionRequest,
) -> Result<intents::Model, ApiError> {
    let intent = visible(state, caller, id).await?;
    if caller.role == Role::Candidate {
        return Err(ApiError::Forbidden(
            "intents are moved by recruiters and organisers".into(),
        ));
    }
    let note = domain::optional_text("note", Some(&input.note), 2000)
        .map_err(|e| ApiError::Validation(vec![e]))?
        .unwrap_or_default();
    let (from, to) = (intent.status, input.status);
    if !from.can_become(to) {
        return Err(invalid_transition(from, to));
    }
    let now = db::now();
    let txn = db::begin_write(&state.db).await?;
    // Only if nobody moved it meanwhile.
    let moved = intents::Entity::update_many()
        .col_expr(intents::Column::Status, to.as_str().into())
        .col_expr(
            intents::Column::OpenKey,
            if to.is_open() {
                intent.open_key.clone().into()
            } else {
                Option::<String>::None.into()
            },
        )
        .col_expr(
            intents::Column::SignedAt,
            if to == IntentStatus::Signed && intent.signed_at.is_none() {
                Some(now).into()
            } else {
                intent.signed_at.into()
            },
        )
        .col_expr(
            intents::Column::ClosedAt,
            if to.is_open() {
                Option::<DateTime<Utc>>::None.into()
            } else {
                Some(now).into()
            },
        )
        .col_expr(intents::Column::UpdatedAt, now.into())
        .filter(intents::Column::Id.eq(id))
        .filter(intents::Column::Status.eq(from))
        .exec(&txn)
        .await?;
    if moved.rows_affected != 1 {
        return Err(ApiError::conflict(
            "invalid_transition",
            "the intent changed meanwhile; read it again",
        ));
    }
    record(&txn, id, caller.id, Some(from), to, &note).await?;
    let intent = intents::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("intent"))?;
    if to == IntentStatus::Signed {
        tell_signed(&txn, state, &intent).await?;
    }
    txn.commit().await?;
    Ok(intent)
}

fn invalid_transition(from: IntentStatus, to: IntentStatus) -> ApiError {
    ApiError::conflict(
        "invalid_transition",
        format!(
            "an intent cannot go from {} to {}",
            from.as_str(),
            to.as_str()
        ),
    )
}

/// Record an intent (recruiters for their employer, organisers).
#[utoipa::path(post, path = "/api/v1/intents", tag = "intents", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    request_body = IntentRequest,
    responses((status = 201, body = IntentView), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "intent_exists, with `existing`"), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    body: Json<IntentRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner()?;
    idempotency::once(
        &state.db,
        key,
        format!("intent:{}", caller.id),
        input,
        |input| async {
            let intent = create_intent(&state, &caller, input).await?;
            Ok((StatusCode::CREATED, view_one(&state.db, intent).await?))
        },
    )
    .await
}

/// Move an intent along its pipeline.
#[utoipa::path(patch, path = "/api/v1/intents/{id}", tag = "intents", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = TransitionRequest,
    responses((status = 200, body = IntentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_transition")))]
pub async fn transition(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<TransitionRequest>,
) -> Result<HttpResponse, ApiError> {
    let intent = move_intent(&state, &caller, id.into_inner(), body.into_inner()?).await?;
    Ok(HttpResponse::Ok().json(view_one(&state.db, intent).await?))
}

/// One intent with its history.
#[utoipa::path(get, path = "/api/v1/intents/{id}", tag = "intents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = IntentView), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let intent = visible(&state, &caller, id.into_inner()).await?;
    let entries = intent_history::Entity::find()
        .filter(intent_history::Column::IntentId.eq(intent.id))
        .order_by_asc(intent_history::Column::Id)
        .all(&state.db)
        .await?;
    let actors: HashMap<Uuid, String> = users::Entity::find()
        .filter(users::Column::Id.is_in(entries.iter().map(|h| h.actor_id)))
        .all(&state.db)
        .await?
        .into_iter()
        .map(|u| (u.id, u.full_name))
        .collect();
    let candidate = caller.role == Role::Candidate;
    let mut view = view_one(&state.db, intent).await?;
    if candidate {
        view.note.clear();
    }
    view.history = Some(
        entries
            .into_iter()
            .map(|h| HistoryEntry {
                id: h.id,
                actor: Person {
                    id: h.actor_id,
                    full_name: actors.get(&h.actor_id).cloned().unwrap_or_default(),
                },
                from: h.from_status,
                to: h.to_status,
                // The employer's notes are its own working notes.
                note: if candidate { String::new() } else { h.note },
                at: h.created_at,
            })
            .collect(),
    );
    Ok(HttpResponse::Ok().json(view))
}

const INTENT_HEADERS: [&str; 13] = [
    "intent_id",
    "status",
    "candidate",
    "university",
    "major",
    "degree",
    "graduation_year",
    "employer",
    "position",
    "talent_category",
    "event",
    "signed_at",
    "created_at",
];

fn intent_row(v: &IntentView) -> Vec<Cell> {
    let label = |value: serde_json::Value| value.as_str().unwrap_or_default().to_owned();
    vec![
        v.id.to_string().into(),
        v.status.as_str().into(),
        v.candidate.full_name.clone().into(),
        v.candidate.university.clone().into(),
        v.candidate.major.clone().into(),
        v.candidate
            .degree
            .map(|d| label(serde_json::json!(d)))
            .into(),
        v.candidate.graduation_year.map(i64::from).into(),
        v.employer.name.clone().into(),
        v.position.as_ref().map(|p| p.name.clone()).into(),
        label(serde_json::json!(v.talent_category)).into(),
        v.event.as_ref().map(|e| e.name.clone()).into(),
        v.signed_at.map(|t| t.to_rfc3339()).into(),
        v.created_at.to_rfc3339().into(),
    ]
}

/// Intents (organisers: all; recruiters: their employer's), as JSON pages
/// or, with `Accept: text/csv` / XLSX or `?format=`, one file of every match.
#[utoipa::path(get, path = "/api/v1/intents", tag = "intents", security(("bearer" = [])),
    params(IntentsQuery),
    responses((status = 200, body = Page<IntentView>, description = "JSON, CSV or XLSX"), (status = 403, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    req: HttpRequest,
    caller: Caller,
    query: web::Query<IntentsQuery>,
) -> Result<HttpResponse, ApiError> {
    use intents::Column as I;
    let query = query.into_inner();
    let mut select = intents::Entity::find().order_by_asc(I::Id);
    match caller.role {
        Role::Organiser | Role::Admin => {
            if let Some(v) = query.employer_id {
                select = select.filter(I::EmployerId.eq(v));
            }
        }
        Role::Recruiter => {
            let own = acting_employer(&caller, query.employer_id)?;
            select = select.filter(I::EmployerId.eq(own));
        }
        Role::Candidate => {
            return Err(ApiError::Forbidden(
                "candidates read GET /me/intents".into(),
            ));
        }
    }
    if let Some(v) = query.status {
        select = select.filter(I::Status.eq(v));
    }
    if let Some(v) = query.event_id {
        select = select.filter(I::EventId.eq(v));
    }
    if let Some(v) = query.candidate_id {
        select = select.filter(I::CandidateId.eq(v));
    }
    if let Some(events) = reports::scope(&state.db, None, query.campaign_id).await? {
        select = select.filter(I::EventId.is_in(events));
    }
    if let Some(university) = query
        .university
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        use sea_orm::sea_query::Query;
        let of_university = Query::select()
            .column(users::Column::Id)
            .from(users::Entity)
            .and_where(users::Column::University.eq(university))
            .to_owned();
        select = select.filter(I::CandidateId.in_subquery(of_university));
    }
    if let Some(format) = export::requested(&req)? {
        let rows = select.all(&state.db).await?;
        let lookups = Lookups::load(&state.db, &rows).await?;
        let mut table = Table::new(&INTENT_HEADERS);
        for intent in rows {
            table.push(intent_row(&lookups.view(intent)));
        }
        return Ok(table.respond(format, "intents"));
    }
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    if let Some(after) = page.after {
        select = select.filter(I::Id.gt(after));
    }
    let rows = select.limit(page.limit + 1).all(&state.db).await?;
    let lookups = Lookups::load(&state.db, &rows).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, page, |i| i.id, |i| lookups.view(i))))
}

/// The calling candidate's intents, newest first.
#[utoipa::path(get, path = "/api/v1/me/intents", tag = "intents", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<IntentView>), (status = 401, body = Problem)))]
pub async fn mine(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    use intents::Column as I;
    let page = page.parse()?;
    let mut select = intents::Entity::find()
        .filter(I::CandidateId.eq(caller.id))
        .order_by_desc(I::Id);
    if let Some(before) = page.after {
        select = select.filter(I::Id.lt(before));
    }
    let rows = select.limit(page.limit + 1).all(&state.db).await?;
    let lookups = Lookups::load(&state.db, &rows).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        page,
        |i| i.id,
        |i| IntentView {
            note: String::new(),
            ..lookups.view(i)
        },
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use IntentStatus::*;

    #[test]
    fn the_state_machine_moves_forward_only() {
        let legal: &[(IntentStatus, IntentStatus)] = &[
            (Interested, Interviewing),
            (Interested, Offered),
            (Interested, Signed),
            (Interviewing, Offered),
            (Interviewing, Signed),
            (Offered, Signed),
            (Signed, Onboarded),
            (Interested, Withdrawn),
            (Interviewing, Withdrawn),
            (Offered, Withdrawn),
            (Signed, Withdrawn),
            (Interested, Declined),
            (Interviewing, Declined),
            (Offered, Declined),
        ];
        for from in IntentStatus::ALL {
            for to in IntentStatus::ALL {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{} -> {}",
                    from.as_str(),
                    to.as_str()
                );
            }
        }
    }
}
