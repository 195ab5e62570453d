//! Employers: the city's companies and institutions that recruit at events.
//! Organisers manage them; anyone may read them.

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    db,
    domain::{self, CreditCode},
    entities::employers,
    http::{
        ApiError, FieldErrors, Json, Organiser, Page, PageQuery,
        error::{Problem, is_unique_violation},
        idempotency::{self, IdempotencyKey},
        pagination::PageRequest,
    },
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/employers", web::post().to(create))
        .route("/employers", web::get().to(list))
        .route("/employers/{id}", web::get().to(get))
        .route("/employers/{id}", web::patch().to(update));
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EmployerRequest {
    pub name: String,
    /// 统一社会信用代码: 18 characters, check character verified.
    pub credit_code: String,
    pub industry: String,
    pub district: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct EmployerPatch {
    pub name: Option<String>,
    pub credit_code: Option<String>,
    pub industry: Option<String>,
    pub district: Option<String>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EmployerView {
    pub id: Uuid,
    pub name: String,
    pub credit_code: String,
    pub industry: String,
    pub district: String,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<employers::Model> for EmployerView {
    fn from(e: employers::Model) -> Self {
        Self {
            id: e.id,
            name: e.name,
            credit_code: e.credit_code,
            industry: e.industry,
            district: e.district,
            description: e.description,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct EmployersQuery {
    /// Part of the name.
    pub q: Option<String>,
    pub industry: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Parsed fields of an employer; `None` where the input left a field out.
struct EmployerFields {
    name: Option<String>,
    credit_code: Option<String>,
    industry: Option<String>,
    district: Option<String>,
    description: Option<String>,
}

fn parse_fields(patch: EmployerPatch) -> Result<EmployerFields, ApiError> {
    let mut errors = FieldErrors::new();
    let fields = EmployerFields {
        name: patch
            .name
            .and_then(|v| errors.take(domain::text("name", &v, 200))),
        credit_code: patch.credit_code.and_then(|v| {
            errors.take(CreditCode::parse("credit_code", &v).map(CreditCode::into_inner))
        }),
        industry: patch
            .industry
            .and_then(|v| errors.take(domain::text("industry", &v, 100))),
        district: patch
            .district
            .and_then(|v| errors.take(domain::text("district", &v, 100))),
        description: patch.description.and_then(|v| {
            errors.take(
                domain::optional_text("description", Some(&v), 5000).map(Option::unwrap_or_default),
            )
        }),
    };
    errors.finish()?;
    Ok(fields)
}

fn credit_code_taken() -> ApiError {
    ApiError::conflict(
        "credit_code_taken",
        "an employer with this credit code already exists",
    )
}

pub async fn create_employer(
    db_conn: &DatabaseConnection,
    input: EmployerRequest,
) -> Result<employers::Model, ApiError> {
    let f = parse_fields(EmployerPatch {
        name: Some(input.name),
        credit_code: Some(input.credit_code),
        industry: Some(input.industry),
        district: Some(input.district),
        description: Some(input.description),
    })?;
    let now = db::now();
    employers::ActiveModel {
        id: Set(Uuid::now_v7()),
        name: Set(f.name.unwrap_or_default()),
        credit_code: Set(f.credit_code.unwrap_or_default()),
        industry: Set(f.industry.unwrap_or_default()),
        district: Set(f.district.unwrap_or_default()),
        description: Set(f.description.unwrap_or_default()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db_conn)
    .await
    .map_err(|e| {
        if is_unique_violation(&e) {
            credit_code_taken()
        } else {
            e.into()
        }
    })
}

pub async fn find_employer(
    db_conn: &DatabaseConnection,
    id: Uuid,
) -> Result<employers::Model, ApiError> {
    employers::Entity::find_by_id(id)
        .one(db_conn)
        .await?
        .ok_or(ApiError::NotFound("employer"))
}

pub async fn list_employers(
    db_conn: &DatabaseConnection,
    q: Option<&str>,
    industry: Option<&str>,
    page: PageRequest,
) -> Result<Page<EmployerView>, ApiError> {
    use employers::Column as C;
    let mut query = employers::Entity::find().order_by_asc(C::Id);
    if let Some(q) = q.map(str::trim).filter(|q| !q.is_empty()) {
        query = query.filter(C::Name.contains(q));
    }
    if let Some(industry) = industry.map(str::trim).filter(|v| !v.is_empty()) {
        query = query.filter(C::Industry.eq(industry));
    }
    if let Some(after) = page.after {
        query = query.filter(C::Id.gt(after));
    }
    let rows = query.limit(page.limit + 1).all(db_conn).await?;
    Ok(Page::from_rows(rows, page, |e| e.id, EmployerView::from))
}

/// Register an employer (organisers).
#[utoipa::path(post, operation_id = "create_employer", path = "/api/v1/employers", tag = "employers", security(("bearer" = [])),
    request_body = EmployerRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    responses((status = 201, body = EmployerView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "credit_code_taken"), (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    Organiser(caller): Organiser,
    key: IdempotencyKey,
    body: Json<EmployerRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner()?;
    idempotency::once(
        &state.db,
        key,
        format!("employer:{}", caller.id),
        input,
        |input| async {
            let employer = create_employer(&state.db, input).await?;
            Ok((StatusCode::CREATED, EmployerView::from(employer)))
        },
    )
    .await
}

/// List employers (anyone).
#[utoipa::path(get, operation_id = "list_employers", path = "/api/v1/employers", tag = "employers", params(EmployersQuery),
    responses((status = 200, body = Page<EmployerView>), (status = 422, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<EmployersQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor.clone(),
    }
    .parse()?;
    let employers = list_employers(
        &state.db,
        query.q.as_deref(),
        query.industry.as_deref(),
        page,
    )
    .await?;
    Ok(HttpResponse::Ok().json(employers))
}

/// One employer (anyone).
#[utoipa::path(get, operation_id = "get_employer", path = "/api/v1/employers/{id}", tag = "employers", params(("id" = Uuid, Path)),
    responses((status = 200, body = EmployerView), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let employer = find_employer(&state.db, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(EmployerView::from(employer)))
}

/// Change an employer (organisers).
#[utoipa::path(patch, operation_id = "update_employer", path = "/api/v1/employers/{id}", tag = "employers", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = EmployerPatch,
    responses((status = 200, body = EmployerView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
    body: Json<EmployerPatch>,
) -> Result<HttpResponse, ApiError> {
    let fields = parse_fields(body.into_inner()?)?;
    let mut employer: employers::ActiveModel =
        find_employer(&state.db, id.into_inner()).await?.into();
    if let Some(v) = fields.name {
        employer.name = Set(v);
    }
    if let Some(v) = fields.credit_code {
        employer.credit_code = Set(v);
    }
    if let Some(v) = fields.industry {
        employer.industry = Set(v);
    }
    if let Some(v) = fields.district {
        employer.district = Set(v);
    }
    if let Some(v) = fields.description {
        employer.description = Set(v);
    }
    employer.updated_at = Set(db::now());
    let employer = employer.update(&state.db).await.map_err(|e| {
        if is_unique_violation(&e) {
            credit_code_taken()
        } else {
            e.into()
        }
    })?;
    Ok(HttpResponse::Ok().json(EmployerView::from(employer)))
}
