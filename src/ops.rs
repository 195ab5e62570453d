//! Operations: liveness, readiness and Prometheus metrics.

use std::sync::atomic::Ordering;

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

/// Ready for traffic: not shutting down, the database answers, and every
/// migration is applied. Otherwise 503 with `shutting_down`,
/// `database_unavailable` or `migrations_pending`.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Health),
        (status = 503, body = Problem, description = "shutting_down (SIGTERM or SIGINT received, draining), database_unavailable, migrations_pending (a migration is not applied yet)")))]
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    match readiness(&state).await {
        Ok(()) => HttpResponse::Ok().json(Health {
            status: "ready".into(),
        }),
        Err((code, detail)) => {
            let problem = ApiError::rule(code, detail).to_problem();
            HttpResponse::ServiceUnavailable()
                .content_type("application/problem+json")
                .json(Problem {
                    status: 503,
                    ..problem
                })
        }
    }
}

/// Why the process should get no traffic, if it should not.
async fn readiness(state: &AppState) -> Result<(), (&'static str, &'static str)> {
    let unavailable = |e: sea_orm::DbErr| {
        tracing::warn!(error = %e, "readiness check failed");
        ("database_unavailable", "the database does not answer")
    };
    if state.shutting_down.load(Ordering::Relaxed) {
        return Err(("shutting_down", "the server is shutting down"));
    }
    db::ping(&state.db).await.map_err(unavailable)?;
    if !state.migrated.load(Ordering::Relaxed) {
        if db::migrations_pending(&state.db)
            .await
            .map_err(unavailable)?
        {
            return Err((
                "migrations_pending",
                "the database schema is older than this server; run `nuancheng migrate`",
            ));
        }
        state.migrated.store(true, Ordering::Relaxed);
    }
    Ok(())
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
