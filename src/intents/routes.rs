//! HTTP for intents: extract, call the service, respond.

use actix_web::{HttpRequest, HttpResponse, http::StatusCode, web};
use futures_util::StreamExt;
use uuid::Uuid;

use super::{
    queries, service,
    types::{IntentRequest, IntentView, IntentsQuery, TransitionRequest},
};
use crate::{
    http::{
        ApiError, Caller, Json, Page, PageQuery,
        audit::Trail,
        error::Problem,
        export::{self, Cell},
        idempotency::{self, IdempotencyKey},
        paged_export,
    },
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/intents", web::post().to(create_intent))
        .route("/intents", web::get().to(list_intents))
        .route("/intents/{id}", web::get().to(get_intent))
        .route("/intents/{id}", web::patch().to(move_intent))
        .route("/me/intents", web::get().to(list_my_intents));
}

/// Record an intent (recruiters for their employer, organisers).
#[utoipa::path(post, path = "/api/v1/intents", tag = "intents", security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "Replays the first answer for the same key and body")),
    request_body = IntentRequest,
    responses((status = 201, body = IntentView), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "intent_exists, with `existing`"), (status = 422, body = Problem)))]
pub async fn create_intent(
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
            let view = service::create_intent(&state.db, &state.settings, &caller, input).await?;
            Ok((StatusCode::CREATED, view))
        },
    )
    .await
}

/// Move an intent along its pipeline.
#[utoipa::path(patch, path = "/api/v1/intents/{id}", tag = "intents", security(("bearer" = [])),
    params(("id" = Uuid, Path)), request_body = TransitionRequest,
    responses((status = 200, body = IntentView), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "invalid_transition")))]
pub async fn move_intent(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Json<TransitionRequest>,
) -> Result<HttpResponse, ApiError> {
    let input = body.into_inner()?;
    let view =
        service::move_intent(&state.db, &state.settings, &caller, id.into_inner(), input).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// One intent with its history.
#[utoipa::path(get, path = "/api/v1/intents/{id}", tag = "intents", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = IntentView), (status = 404, body = Problem)))]
pub async fn get_intent(
    state: web::Data<AppState>,
    trail: Trail,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let view = queries::get_intent(&state.db, &caller, id.into_inner()).await?;
    trail.read(&caller, &[view.candidate.id]).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Intents (organisers: all; recruiters: their employer's), as JSON pages
/// or, with `Accept: text/csv` / XLSX or `?format=`, one file of every match.
#[utoipa::path(get, path = "/api/v1/intents", tag = "intents", security(("bearer" = [])),
    params(IntentsQuery),
    responses((status = 200, body = Page<IntentView>, description = "JSON, CSV or XLSX"), (status = 403, body = Problem)))]
pub async fn list_intents(
    state: web::Data<AppState>,
    req: HttpRequest,
    trail: Trail,
    caller: Caller,
    query: web::Query<IntentsQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let matching = queries::matching_intents(&state.db, &caller, &query).await?;
    if let Some(format) = export::requested(&req)? {
        let detail = serde_json::json!({ "query": req.query_string() });
        let trail = trail.export(&caller, detail).await?;
        let pages = trail
            .track(matching.pages(state.db.clone(), EXPORT_PAGE), |v| {
                v.candidate.id
            })
            .map(|page| page.map(|views| views.iter().map(intent_row).collect()));
        return paged_export::respond(format, "intents", &INTENT_HEADERS, Box::pin(pages)).await;
    }
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .parse()?;
    let page = matching.page(&state.db, page).await?;
    let people: Vec<Uuid> = page.items.iter().map(|v| v.candidate.id).collect();
    trail.read(&caller, &people).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The calling candidate's intents, newest first.
#[utoipa::path(get, path = "/api/v1/me/intents", tag = "intents", security(("bearer" = [])),
    params(PageQuery),
    responses((status = 200, body = Page<IntentView>), (status = 401, body = Problem)))]
pub async fn list_my_intents(
    state: web::Data<AppState>,
    caller: Caller,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page.parse()?;
    let intents = queries::list_my_intents(&state.db, caller.id, page).await?;
    Ok(HttpResponse::Ok().json(intents))
}

/// The columns of an intents export, one row per intent.
/// Intents read per page of an export.
const EXPORT_PAGE: u64 = 200;

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
