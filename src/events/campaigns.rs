//! Campaigns: one drive of the city's (e.g. 名校引才专项行动 2026) that
//! groups many events. Organisers manage them; anyone may read them.

use actix_web::{HttpResponse, http::StatusCode, web};
use chrono::{DateTime, NaiveDate, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    db, domain,
    entities::campaigns,
    http::{
        ApiError, FieldError, FieldErrors, Json, Organiser, Page, PageQuery,
        error::Problem,
        idempotency::{self, IdempotencyKey},
    },
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/campaigns", web::post().to(create))
        .route("/campaigns", web::get().to(list))
        .route("/campaigns/{id}", web::get().to(get))
        .route("/campaigns/{id}", web::patch().to(update));
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CampaignRequest {
    pub name: String,
    pub year: i32,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct CampaignPatch {
    pub name: Option<String>,
    pub year: Option<i32>,
    pub starts_on: Option<NaiveDate>,
    pub ends_on: Option<NaiveDate>,
    pub description: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CampaignView {
    pub id: Uuid,
    pub name: String,
    pub year: i32,
    pub starts_on: NaiveDate,
    pub ends_on: NaiveDate,
    pub description: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<campaigns::Model> for CampaignView {
    fn from(c: campaigns::Model) -> Self {
        Self {
            id: c.id,
            name: c.name,
            year: c.year,
            starts_on: c.starts_on,
            ends_on: c.ends_on,
            description: c.description,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct CampaignsQuery {
    pub year: Option<i32>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

/// Applies a patch to a campaign (new or stored) and checks the result as a
/// whole, so a PATCH cannot leave an end before the start.
fn apply(model: &mut campaigns::Model, patch: CampaignPatch) -> Result<(), ApiError> {
    let mut errors = FieldErrors::new();
    if let Some(v) = patch
        .name
        .and_then(|v| errors.take(domain::text("name", &v, 200)))
    {
        model.name = v;
    }
    if let Some(year) = patch
        .year
        .and_then(|v| errors.take(domain::in_range("year", v, 2000..=2100)))
    {
        model.year = year;
    }
    if let Some(v) = patch
        .starts_on
        .and_then(|v| errors.take(domain::plausible_date("starts_on", v)))
    {
        model.starts_on = v;
    }
    if let Some(v) = patch
        .ends_on
        .and_then(|v| errors.take(domain::plausible_date("ends_on", v)))
    {
        model.ends_on = v;
    }
    if let Some(v) = patch.description.and_then(|v| {
        errors.take(
            domain::optional_text("description", Some(&v), 5000).map(Option::unwrap_or_default),
        )
    }) {
        model.description = v;
    }
    if model.ends_on < model.starts_on {
        errors.take::<()>(Err(FieldError::new(
            "ends_on",
            "before_start",
            "must not be before starts_on",
        )));
    }
    errors.finish()
}

pub async fn find_campaign<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
) -> Result<campaigns::Model, ApiError> {
    campaigns::Entity::find_by_id(id)
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound("campaign"))
}

pub async fn create_campaign(
    db_conn: &DatabaseConnection,
    input: CampaignRequest,
) -> Result<campaigns::Model, ApiError> {
    let now = db::now();
    let mut model = campaigns::Model {
        id: Uuid::now_v7(),
        name: String::new(),
        year: 0,
        starts_on: input.starts_on,
        ends_on: input.ends_on,
        description: String::new(),
        created_at: now,
        updated_at: now,
    };
    apply(
        &mut model,
        CampaignPatch {
            name: Some(input.name),
            year: Some(input.year),
            starts_on: Some(input.starts_on),
            ends_on: Some(input.ends_on),
            description: Some(input.description),
        },
    )?;
    Ok(campaigns::ActiveModel::from(model)
        .reset_all()
        .insert(db_conn)
        .await?)
}

/// Create a campaign (organisers).
#[utoipa::path(post, operation_id = "create_campaign", path = "/api/v1/campaigns", tag = "campaigns", security(("bearer" = [])),
    request_body = CampaignRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    responses((status = 201, body = CampaignView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn create(
    state: web::Data<AppState>,
    Organiser(caller): Organiser,
    key: IdempotencyKey,
    body: Json<CampaignRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner()?;
    idempotency::once(
        &state.db,
        key,
        format!("campaign:{}", caller.id),
        input,
        |input| async {
            let campaign = create_campaign(&state.db, input).await?;
            Ok((StatusCode::CREATED, CampaignView::from(campaign)))
        },
    )
    .await
}

/// List campaigns, newest first within a year (anyone).
#[utoipa::path(get, operation_id = "list_campaigns", path = "/api/v1/campaigns", tag = "campaigns", params(CampaignsQuery),
    responses((status = 200, body = Page<CampaignView>), (status = 422, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    query: web::Query<CampaignsQuery>,
) -> Result<HttpResponse, ApiError> {
    use campaigns::Column as C;
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let mut select = campaigns::Entity::find().order_by_asc(C::Id);
    if let Some(year) = query.year {
        select = select.filter(C::Year.eq(year));
    }
    if let Some(after) = page.after {
        select = select.filter(C::Id.gt(after));
    }
    let rows = select.limit(page.limit + 1).all(&state.db).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, page, |c| c.id, CampaignView::from)))
}

/// One campaign (anyone).
#[utoipa::path(get, operation_id = "get_campaign", path = "/api/v1/campaigns/{id}", tag = "campaigns", params(("id" = Uuid, Path)),
    responses((status = 200, body = CampaignView), (status = 404, body = Problem)))]
pub async fn get(
    state: web::Data<AppState>,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let campaign = find_campaign(&state.db, id.into_inner()).await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(campaign)))
}

/// Change a campaign (organisers).
#[utoipa::path(patch, operation_id = "update_campaign", path = "/api/v1/campaigns/{id}", tag = "campaigns", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = CampaignPatch,
    responses((status = 200, body = CampaignView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update(
    state: web::Data<AppState>,
    _organiser: Organiser,
    id: web::Path<Uuid>,
    body: Json<CampaignPatch>,
) -> Result<HttpResponse, ApiError> {
    // Read and written under a lock, so two edits cannot undo each other.
    let txn = db::begin_write(&state.db).await?;
    let mut campaign = campaigns::Entity::find_by_id(id.into_inner())
        .lock_exclusive()
        .one(&txn)
        .await?
        .ok_or(ApiError::NotFound("campaign"))?;
    apply(&mut campaign, body.into_inner()?)?;
    campaign.updated_at = db::now();
    let campaign = campaigns::ActiveModel::from(campaign)
        .reset_all()
        .update(&txn)
        .await?;
    txn.commit().await?;
    Ok(HttpResponse::Ok().json(CampaignView::from(campaign)))
}
