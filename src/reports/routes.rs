//! HTTP for reports: extract, call the service, respond as JSON or export
//! the same figures as CSV or XLSX.

use actix_web::{HttpRequest, HttpResponse, web};
use uuid::Uuid;

use super::{
    service::{self, label_of},
    types::{Funnel, FunnelQuery, IntentReport, MyReferral, ReferralReport, ReportQuery},
};
use crate::{
    entities::intents::IntentStatus,
    http::{
        ApiError, Caller, Organiser,
        audit::Trail,
        error::Problem,
        export::{self, Cell, ExportFormat, Table},
    },
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports/intents", web::get().to(report_intents))
        .route("/reports/funnel", web::get().to(report_funnel))
        .route("/reports/referrals", web::get().to(report_referrals))
        .route("/me/referral", web::get().to(get_my_referral));
}

/// Intents counted by event, university, employer, degree, talent category
/// or month (organisers). `status=signed` is the city's headline figure.
#[utoipa::path(get, path = "/api/v1/reports/intents", tag = "reports", security(("bearer" = [])),
    params(ReportQuery),
    responses((status = 200, body = IntentReport, description = "JSON, CSV or XLSX"), (status = 403, body = Problem)))]
pub async fn report_intents(
    state: web::Data<AppState>,
    req: HttpRequest,
    _organiser: Organiser,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let report = service::intent_report(&state.db, &query).await?;
    if let Some(format) = export::requested(&req)? {
        let group = label_of(report.group_by);
        let mut headers = vec![group.as_str(), "count"];
        headers.extend(IntentStatus::ALL.iter().map(|s| s.as_str()));
        let mut table = Table::new(&headers);
        for row in &report.rows {
            let mut cells: Vec<Cell> = vec![row.label.clone().into(), row.count.into()];
            cells.extend(
                IntentStatus::ALL
                    .iter()
                    .map(|s| Cell::from(row.by_status.get(s.as_str()).copied().unwrap_or(0))),
            );
            table.push(cells);
        }
        let mut total: Vec<Cell> = vec!["合计 total".into(), report.total.into()];
        total.extend(IntentStatus::ALL.iter().map(|s| {
            Cell::from(
                report
                    .rows
                    .iter()
                    .map(|r| r.by_status.get(s.as_str()).copied().unwrap_or(0))
                    .sum::<i64>(),
            )
        }));
        table.push(total);
        return Ok(table.respond(format, &format!("intents-by-{group}")));
    }
    Ok(HttpResponse::Ok().json(report))
}

/// registered → confirmed → checked_in → intents → offered → signed →
/// onboarded for an event, a campaign, or everything, counting distinct
/// candidates (organisers).
#[utoipa::path(get, path = "/api/v1/reports/funnel", tag = "reports", security(("bearer" = [])),
    params(FunnelQuery),
    responses((status = 200, body = Funnel, description = "JSON, CSV or XLSX"), (status = 403, body = Problem)))]
pub async fn report_funnel(
    state: web::Data<AppState>,
    req: HttpRequest,
    _organiser: Organiser,
    query: web::Query<FunnelQuery>,
) -> Result<HttpResponse, ApiError> {
    let funnel = service::funnel_of(&state.db, query.event_id, query.campaign_id).await?;
    if let Some(format) = export::requested(&req)? {
        let mut table = Table::new(&["stage", "candidates"]);
        for (stage, n) in [
            ("registered", funnel.registered),
            ("confirmed", funnel.confirmed),
            ("checked_in", funnel.checked_in),
            ("intents", funnel.intents),
            ("offered", funnel.offered),
            ("signed", funnel.signed),
            ("onboarded", funnel.onboarded),
        ] {
            table.push(vec![stage.into(), n.into()]);
        }
        return Ok(table.respond(format, "funnel"));
    }
    Ok(HttpResponse::Ok().json(funnel))
}

/// The caller's referral code and what it brought (以才引才).
#[utoipa::path(get, path = "/api/v1/me/referral", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = MyReferral), (status = 401, body = Problem)))]
pub async fn get_my_referral(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(service::my_referral(&state.db, caller.id).await?))
}

/// Every referrer with what it brought in, most signed first (organisers).
#[utoipa::path(get, path = "/api/v1/reports/referrals", tag = "reports", security(("bearer" = [])),
    params(("format" = Option<ExportFormat>, Query, description = "`csv` or `xlsx` for a file")),
    responses((status = 200, body = ReferralReport, description = "JSON, CSV or XLSX"), (status = 403, body = Problem)))]
pub async fn report_referrals(
    state: web::Data<AppState>,
    req: HttpRequest,
    trail: Trail,
    Organiser(caller): Organiser,
) -> Result<HttpResponse, ApiError> {
    let report = service::referral_report(&state.db).await?;
    let people: Vec<Uuid> = report.rows.iter().map(|r| r.referrer_id).collect();
    if let Some(format) = export::requested(&req)? {
        let export = trail.export(&caller, serde_json::json!({})).await?;
        export.add(&people).await?;
        let mut table = Table::new(&["referrer", "role", "signups", "registrations", "signed"]);
        for r in &report.rows {
            table.push(vec![
                r.full_name.clone().into(),
                label_of(r.role).into(),
                r.signups.into(),
                r.registrations.into(),
                r.signed.into(),
            ]);
        }
        return Ok(table.respond(format, "referrals"));
    }
    trail.read(&caller, &people).await?;
    Ok(HttpResponse::Ok().json(report))
}
