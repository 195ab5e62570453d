//! The admin's view of the outbox: what was sent, what waits, what failed,
//! and a way to try a failed email again.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    entities::{
        notifications::{self, NotificationStatus},
        users,
    },
    http::{Admin, ApiError, Page, PageQuery, audit::Trail, error::Problem},
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/notifications", web::get().to(list))
        .route("/notifications/{id}/retry", web::post().to(retry));
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct NotificationsQuery {
    pub status: Option<NotificationStatus>,
    /// The recipient's address.
    pub to: Option<String>,
    pub limit: Option<u64>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NotificationView {
    pub id: Uuid,
    pub kind: String,
    pub to: String,
    pub subject: String,
    pub status: NotificationStatus,
    pub attempts: i32,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl From<notifications::Model> for NotificationView {
    fn from(n: notifications::Model) -> Self {
        Self {
            id: n.id,
            kind: n.kind,
            to: n.to_email,
            subject: n.subject,
            status: n.status,
            attempts: n.attempts,
            next_attempt_at: n.next_attempt_at,
            last_error: n.last_error,
            sent_at: n.sent_at,
            created_at: n.created_at,
        }
    }
}

/// The outbox, newest first (admins).
#[utoipa::path(get, operation_id = "list_notifications", path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])),
    params(NotificationsQuery),
    responses((status = 200, body = Page<NotificationView>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list(
    state: web::Data<AppState>,
    trail: Trail,
    Admin(admin): Admin,
    query: web::Query<NotificationsQuery>,
) -> Result<HttpResponse, ApiError> {
    use notifications::Column as C;
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let mut select = notifications::Entity::find().order_by_desc(C::Id);
    if let Some(status) = query.status {
        select = select.filter(C::Status.eq(status));
    }
    if let Some(to) = query.to.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        select = select.filter(C::ToEmail.eq(to.to_lowercase()));
    }
    if let Some(after) = page.after {
        select = select.filter(C::Id.lt(after));
    }
    let rows = select.limit(page.limit + 1).all(&state.db).await?;
    // The outbox shows addresses: record whose.
    let people: Vec<Uuid> = users::Entity::find()
        .select_only()
        .column(users::Column::Id)
        .filter(users::Column::Email.is_in(rows.iter().map(|n| n.to_email.clone())))
        .into_tuple()
        .all(&state.db)
        .await?;
    trail.read(&admin, &people).await?;
    Ok(HttpResponse::Ok().json(Page::from_rows(
        rows,
        page,
        |n| n.id,
        NotificationView::from,
    )))
}

/// Queue a failed or pending email to be sent now (admins).
#[utoipa::path(post, operation_id = "retry_notification", path = "/api/v1/notifications/{id}/retry", tag = "notifications", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = NotificationView), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem, description = "already_sent, being_sent")))]
pub async fn retry(
    state: web::Data<AppState>,
    _admin: Admin,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let find = async || {
        notifications::Entity::find_by_id(id)
            .one(&state.db)
            .await?
            .ok_or(ApiError::NotFound("notification"))
    };
    let being_sent = || {
        ApiError::conflict(
            "being_sent",
            "a worker is sending this email right now; look again in a moment",
        )
    };
    // The update changes nothing if a worker claimed the row, or ended its
    // try, since the look above: then look again and decide anew.
    for _ in 0..3 {
        let row = find().await?;
        if row.status == NotificationStatus::Sent {
            return Err(ApiError::conflict(
                "already_sent",
                "this email was sent already",
            ));
        }
        if row
            .locked_until
            .is_some_and(|until| until > crate::db::now())
        {
            return Err(being_sent());
        }
        if super::worker::retry(&state.db, id).await? == 1 {
            return Ok(HttpResponse::Ok().json(NotificationView::from(find().await?)));
        }
    }
    // Workers kept taking it between our looks.
    Err(being_sent())
}
