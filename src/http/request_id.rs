//! The id of each request: taken from a client's `x-request-id` when it is
//! short and printable, else made here; held for the request's whole task so
//! that an error body can name it.

use actix_web::dev::ServiceRequest;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    pub(super) static REQUEST_ID: String;
}

/// The id of the request being served, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}

/// Accepts a caller's id when it is short and printable, else makes one.
pub(super) fn choose_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(HEADER)
        .and_then(|value| value.to_str().ok())
        .filter(|value| {
            !value.is_empty()
                && value.len() <= 64
                && value
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}
