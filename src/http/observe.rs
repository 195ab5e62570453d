//! Observation of every request: the response carries `x-request-id`, every
//! log line of the request carries it too, and each request is counted in the
//! metrics by route pattern and status.

use std::{rc::Rc, time::Instant};

use actix_web::{
    Error, HttpMessage, HttpRequest,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    web,
};
use tracing::Instrument;

use super::request_id::{HEADER, REQUEST_ID, choose_id};
use crate::state::AppState;

/// The route pattern `req` matched (`/api/v1/events/{id}/checkins`), if
/// any. Matching the path against the routes again is the costly part, so
/// it is done once per request and kept with it for the audit trail, the
/// metrics and the 405 answer.
pub fn route(req: &HttpRequest) -> Option<Rc<str>> {
    #[derive(Clone)]
    struct Matched(Option<Rc<str>>);
    if let Some(Matched(pattern)) = req.extensions().get::<Matched>() {
        return pattern.clone();
    }
    let pattern: Option<Rc<str>> = req.match_pattern().map(Rc::from);
    req.extensions_mut().insert(Matched(pattern.clone()));
    pattern
}

pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = choose_id(&req);
    let method = req.method().to_string();
    let path = req.path().to_owned();
    let metrics = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.metrics.clone());
    let span = tracing::info_span!("request", request_id = %id, %method, %path);
    let started = Instant::now();
    let result = REQUEST_ID
        .scope(id.clone(), next.call(req).instrument(span.clone()))
        .await;
    let elapsed = started.elapsed();
    match result {
        Ok(mut res) => {
            let status = res.status().as_u16();
            let route = route(res.request());
            let route = route.as_deref().unwrap_or("unmatched");
            if let Some(metrics) = metrics {
                metrics.record(&method, route, status, elapsed);
            }
            span.in_scope(|| {
                tracing::info!(
                    status,
                    elapsed_ms = elapsed.as_secs_f64() * 1000.0,
                    "served"
                )
            });
            if let Ok(value) = HeaderValue::from_str(&id) {
                res.headers_mut()
                    .insert(HeaderName::from_static(HEADER), value);
            }
            Ok(res)
        }
        Err(err) => {
            let status = err.as_response_error().status_code().as_u16();
            if let Some(metrics) = metrics {
                metrics.record(&method, "unmatched", status, elapsed);
            }
            Err(err)
        }
    }
}
