//! Operations: liveness, readiness and Prometheus metrics.

use actix_web::{HttpResponse, web};
use sea_orm::{
    EntityTrait, FromQueryResult, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::{
    db,
    entities::notifications,
    http::{ApiError, error::Problem, metrics::Gauge},
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz))
        .route("/metrics", web::get().to(metrics));
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health), (status = 503, body = Problem)))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match db::ping(&state.db).await {
        Ok(()) => HttpResponse::Ok().json(Health {
            status: "ready".into(),
        }),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check failed");
            let problem =
                ApiError::rule("database_unavailable", "the database does not answer").to_problem();
            HttpResponse::ServiceUnavailable()
                .content_type("application/problem+json")
                .json(Problem {
                    status: 503,
                    ..problem
                })
        }
    }
}

#[derive(FromQueryResult)]
struct StatusCount {
    status: String,
    count: i64,
}

/// Prometheus text: requests by route and status, latency histograms, and
/// the outbox depth by status.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    use notifications::Column as C;
    let counts = notifications::Entity::find()
        .select_only()
        .column(C::Status)
        .column_as(Expr::col(C::Id).count(), "count")
        .group_by(C::Status)
        .into_model::<StatusCount>()
        .all(&state.db)
        .await?;
    let get = |s: &str| counts.iter().find(|c| c.status == s).map_or(0, |c| c.count);
    let (pending, sent, failed) = (get("pending"), get("sent"), get("failed"));
    let help = "Emails in the outbox, by status.";
    let labels = [
        [("status", "pending")],
        [("status", "sent")],
        [("status", "failed")],
    ];
    let gauges: Vec<Gauge<'_>> = labels
        .iter()
        .zip([pending, sent, failed])
        .map(|(labels, value)| Gauge {
            name: "outbox_emails",
            help,
            labels,
            value,
        })
        .collect();
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(&gauges)))
}
