//! Positions an employer recruits for: majors, minimum degree, headcount,
//! talent category, salary range and benefits (人才公寓, 安家补贴, ...).
//! Organisers and the employer's own recruiters manage them; anyone reads.

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use super::employers::find_employer;
use crate::{
    db, domain,
    entities::{
        event_employers, positions,
        positions::TalentCategory,
        users::{Degree, Role},
    },
    http::{
        ApiError, Caller, FieldError, FieldErrors, Json, Page, PageQuery,
        error::Problem,
        idempotency::{self, IdempotencyKey},
        pagination::PageRequest,
    },
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/employers/{id}/positions", web::post().to(create))
        .route(
            "/employers/{id}/positions",
            web::get().to(list_for_employer),
        )
        .route("/positions", web::get().to(list))
        .route("/positions/{id}", web::get().to(get))
        .route("/positions/{id}", web::patch().to(update));
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PositionRequest {
    pub title: String,
    #[serde(default)]
    pub majors: Vec<String>,
    pub degree_min: Degree,
    pub headcount: i32,
    pub talent_category: TalentCategory,
    pub salary_min: Option<i32>,
    pub salary_max: Option<i32>,
    pub location: String,
    #[serde(default)]
    pub benefits: Vec<String>,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct PositionPatch {
    pub title: Option<String>,
    pub majors: Option<Vec<String>>,
    pub degree_min: Option<Degree>,
    pub headcount: Option<i32>,
    pub talent_category: Option<TalentCategory>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<i32>)]
    pub salary_min: Option<Option<i32>>,
    /// `null` clears it.
    #[serde(default, deserialize_with = "domain::nullable")]
    #[schema(value_type = Option<i32>)]
    pub salary_max: Option<Option<i32>>,
    pub location: Option<String>,
    pub benefits: Option<Vec<String>>,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PositionView {
    pub id: Uuid,
    pub employer_id: Uuid,
    pub title: String,
    pub majors: Vec<String>,
    pub degree_min: Degree,
    pub headcount: i32,
    pub talent_category: TalentCategory,
    /// Monthly salary in yuan.
    pub salary_min: Option<i32>,
    pub salary_max: Option<i32>,
    pub location: String,
    pub benefits: Vec<String>,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn strings_of(value: &serde_json::Value) -> Vec<String> {
    serde_json::from_value(value.clone()).unwrap_or_default()
}

impl From<positions::Model> for PositionView {
    fn from(p: positions::Model) -> Self {
        Self {
            majors: strings_of(&p.majors),
            benefits: strings_of(&p.benefits),
            id: p.id,
            employer_id: p.employer_id,
            title: p.title,
            degree_min: p.degree_min,
            headcount: p.headcount,
            talent_category: p.talent_category,
            salary_min: p.salary_min,
            salary_max: p.salary_max,
            location: p.location,
            description: p.description,
            created_at: p.created_at,
            updated_at: p.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct PositionsQuery {
    /// Only positions of employers taking part in this event.
    pub event_id: Option<Uuid>,
    /// Only positions open to this degree (`degree_min` at or below it).
    pub degree: Option<Degree>,
    pub talent_category: Option<TalentCategory>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Organisers manage every employer's positions; a recruiter only its own.
fn ensure_manages(caller: &Caller, employer_id: Uuid) -> Result<(), ApiError> {
    match caller.role {
        Role::Organiser | Role::Admin => Ok(()),
        Role::Recruiter if caller.employer_id == Some(employer_id) => Ok(()),
        _ => Err(ApiError::Forbidden(
            "only organisers and the employer's recruiters may manage its positions".into(),
        )),
    }
}

/// A monthly salary in yuan.
fn salary(field: &str, value: i32) -> Result<i32, FieldError> {
    domain::in_range(field, value, 0..=10_000_000)
}

/// Applies a patch and checks the whole position, so the salary range can
/// never end up upside down.
fn apply(model: &mut positions::Model, patch: PositionPatch) -> Result<(), ApiError> {
    let mut errors = FieldErrors::new();
    if let Some(v) = patch
        .title
        .and_then(|v| errors.take(domain::text("title", &v, 200)))
    {
        model.title = v;
    }
    if let Some(v) = patch
        .majors
        .and_then(|v| errors.take(domain::text_list("majors", &v, 50, 100)))
    {
        model.majors = serde_json::json!(v);
    }
    if let Some(v) = patch.degree_min {
        model.degree_min = v;
    }
    if let Some(v) = patch
        .headcount
        .and_then(|v| errors.take(domain::in_range("headcount", v, 1..=100_000)))
    {
        model.headcount = v;
    }
    if let Some(v) = patch.talent_category {
        model.talent_category = v;
    }
    if let Some(v) = patch.salary_min {
        model.salary_min = v.and_then(|v| errors.take(salary("salary_min", v)));
    }
    if let Some(v) = patch.salary_max {
        model.salary_max = v.and_then(|v| errors.take(salary("salary_max", v)));
    }
    if let Some(v) = patch
        .location
        .and_then(|v| errors.take(domain::text("location", &v, 100)))
    {
        model.location = v;
    }
    if let Some(v) = patch
        .benefits
        .and_then(|v| errors.take(domain::text_list("benefits", &v, 30, 100)))
    {
        model.benefits = serde_json::json!(v);
    }
    if let Some(v) = patch.description.and_then(|v| {
        errors.take(
            domain::optional_text("description", Some(&v), 5000).map(Option::unwrap_or_default),
        )
    }) {
        model.description = v;
    }
    if let (Some(min), Some(max)) = (model.salary_min, model.salary_max)
        && max < min
    {
        errors.take::<()>(Err(FieldError::new(
            "salary_max",
            "below_minimum",
            "must not be below salary_min",
        )));
    }
    errors.finish()
}

pub async fn find_position<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<positions::Model, ApiError> {
    positions::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound("position"))
}

/// Positions of these employers, grouped by the caller.
pub async fn positions_of<C: ConnectionTrait>(
    conn: &C,
    employer_ids: &[Uuid],
) -> Result<Vec<positions::Model>, ApiError> {
    if employer_ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(positions::Entity::find()
        .filter(positions::Column::EmployerId.is_in(employer_ids.iter().copied()))
        .order_by_asc(positions::Column::Id)
        .all(conn)
        .await?)
}

async fn list_positions<C: ConnectionTrait>(
    conn: &C,
    employer_id: Option<Uuid>,
    query: &PositionsQuery,
    page: PageRequest,
) -> Result<Page<PositionView>, ApiError> {
    use positions::Column as C;
    let mut select = positions::Entity::find().order_by_asc(C::Id);
    if let Some(employer_id) = employer_id {
        select = select.filter(C::EmployerId.eq(employer_id));
    }
    if let Some(event_id) = query.event_id {
        // A draft's employers are not public yet.
        let published = crate::entities::events::Entity::find_by_id(event_id)
            .one(conn)
            .await?
            .is_some_and(|e| e.published_at.is_some());
        let employers: Vec<Uuid> = if published {
            event_employers::Entity::find()
                .filter(event_employers::Column::EventId.eq(event_id))
                .all(conn)
                .await?
                .into_iter()
                .map(|row| row.employer_id)
                .collect()
        } else {
            Vec::new()
        };
        select = select.filter(C::EmployerId.is_in(employers));
    }
    if let Some(degree) = query.degree {
        let open_to: Vec<Degree> = [
            Degree::Bachelor,
            Degree::Master,
            Degree::Phd,
            Degree::Postdoc,
        ]
        .into_iter()
        .filter(|d| *d <= degree)
        .collect();
        select = select.filter(C::DegreeMin.is_in(open_to));
    }
    if let Some(category) = query.talent_category {
        select = select.filter(C::TalentCategory.eq(category));
    }
    if let Some(after) = page.after {
        select = select.filter(C::Id.gt(after));
    }
    let rows = select.limit(page.limit + 1).all(conn).await?;
    Ok(Page::from_rows(rows, page, |p| p.id, PositionView::from))
}

pub async fn create_position(
    db_conn: &DatabaseConnection,
    employer_id: Uuid,
    input: PositionRequest,
) -> Result<positions::Model, ApiError> {
    let now = db::now();
    let mut model = positions::Model {
        id: Uuid::now_v7(),
        employer_id,
        title: String::new(),
        majors: serde_json::json!([]),
        degree_min: input.degree_min,
        headcount: 0,
        talent_category: input.talent_category,
        salary_min: None,
        salary_max: None,
        location: String::new(),
        benefits: serde_json::json!([]),
        description: String::new(),
        created_at: now,
        updated_at: now,
    };
    apply(
        &mut model,
        PositionPatch {
            title: Some(input.title),
            majors: Some(input.majors),
            degree_min: None,
            headcount: Some(input.headcount),
            talent_category: None,
            salary_min: Some(input.salary_min),
            salary_max: Some(input.salary_max),
            location: Some(input.location),
            benefits: Some(input.benefits),
            description: Some(input.description),
        },
    )?;
    Ok(positions::ActiveModel::from(model)
        .reset_all()
        .insert(db_conn)
        .await?)
}

/// Add a position to an employer (organisers, the employer's recruiters).
#[utoipa::path(post, operation_id = "create_position", path = "/api/v1/employers/{id}/positions", tag = "employers", security(("bearer" = [])),
    params(("id" = Uuid, Path), ("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    request_body = PositionRequest,
    responses((status = 201, body = PositionView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    key: IdempotencyKey,
    body: Json<PositionRequest>,
) -> Result<HttpResponse, ApiError> {
    let employer_id = id.into_inner();
    ensure_manages(&caller, employer_id)?;
    find_employer(&state.db, employer_id).await?;
    let input = body.into_inner()?;
    idempotency::once(
        &state.db,
        key,
        format!("position:{}:{employer_id}", caller.id),
        input,
        |input| async {
            let position = create_position(&state.db, employer_id, input).await?;
            Ok((StatusCode::CREATED, PositionView::from(position)))
        },
    )
    .await
}

/// An employer's positions (anyone).
#[utoipa::path(get, operation_id = "list_employer_positions", path = "/api/v1/employers/{id}/positions", tag = "employers",
    params(("id" = Uuid, Path), PageQuery),
    responses((status = 200, body = Page<PositionView>), (status = 404, body = Problem)))]
pub async fn list_for_employer(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let employer = find_employer(&state.db, id.into_inner()).await?;
    let page = page.parse()?;
    let query = PositionsQuery {
        event_id: None,
        degree: None,
        talent_category: None,
        limit: None,
        cursor: None,
    };
    let positions = list_positions(&state.db, Some(employer.id), &query, page).await?;
    Ok(HttpResponse::Ok().json(positions))
}

/// Search positions across employers (anyone).
#[utoipa::path(get, operation_id = "list_positions", path = "/api/v1/positions", tag = "employers", params(PositionsQuery),
    responses((status = 200, body = Page<PositionView>), (status = 422, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<PositionsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let positions = list_positions(&state.db, None, &query, page).await?;
    Ok(HttpResponse::Ok().json(positions))
}

/// One position (anyone).
#[utoipa::path(get, operation_id = "get_position", path = "/api/v1/positions/{id}", tag = "employers", params(("id" = Uuid, Path)),
    responses((status = 200, body = PositionView), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let position = find_position(&state.db, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(PositionView::from(position)))
}

/// Change a position (organisers, the employer's recruiters).
#[utoipa::path(patch, operation_id = "update_position", path = "/api/v1/positions/{id}", tag = "employers", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = PositionPatch,
    responses((status = 200, body = PositionView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<PositionPatch>,
) -> Result<HttpResponse, ApiError> {
    // Read and written under a lock, so two edits cannot undo each other.
    let txn = db::begin_write(&state.db).await?;
    let mut position = positions::Entity::find_by_id(id.into_inner())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("position"))?;
    ensure_manages(&caller, position.employer_id)?;
    apply(&mut position, body.into_inner()?)?;
    position.updated_at = db::now();
    let position = positions::ActiveModel::from(position)
        .reset_all()
        .update(&txn)
        .await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(PositionView::from(position)))
}
