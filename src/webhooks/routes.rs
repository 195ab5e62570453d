//! HTTP for webhook endpoints and their deliveries (admins).

use actix_web::{HttpResponse, web};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use uuid::Uuid;

use super::{service, types::*};
use crate::{
    entities::{webhook_deliveries, webhook_endpoints},
    http::{Admin, ApiError, Json, Page, PageQuery, error::Problem},
    notify::webhooks,
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/webhooks", web::post().to(create_webhook))
        .route("/webhooks", web::get().to(list_webhooks))
        .route("/webhooks/{id}", web::delete().to(delete_webhook))
        .route("/webhooks/{id}/deliveries", web::get().to(list_deliveries))
        .route(
            "/webhooks/deliveries/{id}/redeliver",
            web::post().to(redeliver),
        );
}

/// Registers a webhook endpoint; the answer shows its secret, once (admins).
#[utoipa::path(post, operation_id = "create_webhook", path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    request_body = CreateWebhookRequest,
    responses((status = 201, body = WebhookView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem, description = "invalid url, private_target, secret length, event_types")))]
pub async fn create_webhook(
    state: web::Data<AppState>,
    Admin(caller): Admin,
    body: Json<CreateWebhookRequest>,
) -> Result<HttpResponse, ApiError> {
    let view = service::create(
        &state.db,
        &state.settings.webhooks,
        caller.id,
        body.into_inner()?,
    )
    .await?;
    Ok(HttpResponse::Created().json(view))
}

/// Every webhook endpoint, oldest first, without secrets (admins).
#[utoipa::path(get, operation_id = "list_webhooks", path = "/api/v1/webhooks", tag = "webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_webhooks(
    state: web::Data<AppState>,
    _admin: Admin,
) -> Result<HttpResponse, ApiError> {
    let rows = webhook_endpoints::Entity::find()
        .order_by_asc(webhook_endpoints::Column::Id)
        .all(&state.db)
        .await?;
    let views: Vec<WebhookView> = rows
        .into_iter()
        .map(|e| WebhookView::new(e, false))
        .collect();
    Ok(HttpResponse::Ok().json(views))
}

/// Removes an endpoint and its delivery log (admins).
#[utoipa::path(delete, operation_id = "delete_webhook", path = "/api/v1/webhooks/{id}", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_webhook(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    service::find(&state.db, id).await?;
    webhook_deliveries::Entity::delete_many()
        .filter(webhook_deliveries::Column::EndpointId.eq(id))
        .exec(&state.db)
        .await?;
    webhook_endpoints::Entity::delete_by_id(id)
        .exec(&state.db)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An endpoint's deliveries, newest first (admins).
#[utoipa::path(get, operation_id = "list_webhook_deliveries", path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path), DeliveriesQuery),
    responses((status = 200, body = Page<DeliveryView>), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list_deliveries(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<Uuid>,
    query: web::Query<DeliveriesQuery>,
) -> Result<HttpResponse, ApiError> {
    use webhook_deliveries::Column as C;
    let id = id.into_inner();
    service::find(&state.db, id).await?;
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let mut select = webhook_deliveries::Entity::find()
        .filter(C::EndpointId.eq(id))
        .order_by_desc(C::Id);
    if let Some(status) = query.status {
        select = select.filter(C::Status.eq(status));
    }
    if let Some(after) = page.after {
        select = select.filter(C::Id.lt(after));
    }
    let rows = select.limit(page.limit + 1).all(&state.db).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(rows, page, |d| d.id, DeliveryView::from)))
}

/// Sends a delivery again, now, with a fresh set of tries, under the same
/// delivery id (admins).
#[utoipa::path(post, operation_id = "redeliver_webhook", path = "/api/v1/webhooks/deliveries/{id}/redeliver", tag = "webhooks", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = DeliveryView), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "being_sent")))]
pub async fn redeliver(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    webhook_deliveries::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    if webhooks::redeliver(&state.db, id).await? == 0 {
        return Err(ApiError::conflict(
            "being_sent",
            "a worker is sending this delivery right now; look again in a moment",
        ));
    }
    let row = webhook_deliveries::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("delivery"))?;
    Ok(HttpResponse::Ok().json(DeliveryView::from(row)))
}
