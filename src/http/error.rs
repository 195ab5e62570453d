//! One error type for every route: rendered as `application/problem+json` with
//! a stable machine-readable `code`. Unexpected failures are logged with
//! context and shown as a bare 500 carrying the request id.

use actix_web::{HttpResponse, ResponseError, http::StatusCode};
use sea_orm::DbErr;
use serde::Serialize;
use utoipa::ToSchema;

use super::request_id;
pub use crate::domain::FieldError;

/// The problem+json body of every error response.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub type_: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// Extra data for some codes (e.g. the existing registration on `already_registered`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = std::collections::HashMap<String, Value>)]
    pub existing: Option<serde_json::Value>,
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request could not be read (malformed JSON, bad query string).
    #[error("{detail}")]
    BadRequest { code: &'static str, detail: String },
    /// 401: no token, or one that is invalid, expired or revoked.
    #[error("{detail}")]
    Unauthorized { code: &'static str, detail: String },
    /// 403: authenticated, but this role or this caller may not do it.
    #[error("{0}")]
    Forbidden(String),
    /// 403 with a code of its own (e.g. `email_not_verified`).
    #[error("{detail}")]
    Denied { code: &'static str, detail: String },
    /// 404: unknown, or not visible to this caller.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 404 with a code of its own (e.g. `unknown_ticket`).
    #[error("{detail}")]
    Unknown { code: &'static str, detail: String },
    /// 405: the path exists, but not with this method.
    #[error("this path does not take {0}")]
    MethodNotAllowed(String),
    /// 409: conflicts with the current state.
    #[error("{detail}")]
    Conflict {
        code: &'static str,
        detail: String,
        existing: Option<serde_json::Value>,
    },
    /// 413: the body is larger than the configured limit.
    #[error("request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415: a JSON endpoint got another content type.
    #[error("expected Content-Type: application/json")]
    UnsupportedMediaType,
    /// 422: one or more fields are invalid.
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// 422: a business rule refuses the request.
    #[error("{detail}")]
    Rule { code: &'static str, detail: String },
    /// 429: too many requests from this client; retry after the given seconds.
    #[error("too many requests")]
    RateLimited { retry_after_secs: u64 },
    /// 503: the server cannot do it now, and says when to try again:
    /// `busy` at its bound for costly work (password hashing),
    /// `database_unavailable` while the database does not answer.
    #[error("{detail}")]
    Unavailable {
        code: &'static str,
        detail: String,
        retry_after_secs: u64,
    },
    /// 500: anything unexpected. Logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
    }

    /// 503 `busy`: the server is at its bound for costly work.
    pub fn busy(retry_after_secs: u64) -> Self {
        Self::Unavailable {
            code: "busy",
            detail: "the server is busy; try again shortly".into(),
            retry_after_secs,
        }
    }

    /// 503 `database_unavailable`: the database does not answer.
    pub fn database_unavailable() -> Self {
        Self::Unavailable {
            code: "database_unavailable",
            detail: "the database does not answer; try again shortly, with a write's same Idempotency-Key".into(),
            retry_after_secs: 2,
        }
    }

    pub fn rule(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Rule {
            code,
            detail: detail.into(),
        }
    }

    pub fn conflict(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            detail: detail.into(),
            existing: None,
        }
    }

    pub fn unauthorized(code: &'static str, detail: impl Into<String>) -> Self {
        Self::Unauthorized {
            code,
            detail: detail.into(),
        }
    }

    pub fn bad_request(code: &'static str, detail: impl Into<String>) -> Self {
        Self::BadRequest {
            code,
            detail: detail.into(),
        }
    }

    pub fn internal(context: impl std::fmt::Display) -> Self {
        Self::Internal(context.to_string())
    }

    pub fn code(&self) -> &'static str {
        match self {
            Self::BadRequest { code, .. }
            | Self::Unauthorized { code, .. }
            | Self::Conflict { code, .. }
            | Self::Rule { code, .. }
            | Self::Unknown { code, .. }
            | Self::Denied { code, .. }
            | Self::Unavailable { code, .. } => code,
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "Bad request",
            Self::Unauthorized { .. } => "Unauthorized",
            Self::Forbidden(_) | Self::Denied { .. } => "Forbidden",
            Self::NotFound(_) | Self::Unknown { .. } => "Not found",
            Self::MethodNotAllowed(_) => "Method not allowed",
            Self::Conflict { .. } => "Conflict",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::Validation(_) => "Validation failed",
            Self::Rule { .. } => "Request refused",
            Self::RateLimited { .. } => "Too many requests",
            Self::Unavailable { .. } => "Service unavailable",
            Self::Internal(_) => "Internal server error",
        }
    }

    pub fn to_problem(&self) -> Problem {
        let status = self.status_code();
        let (detail, errors, existing) = match self {
            Self::Internal(_) => (None, Vec::new(), None),
            Self::Validation(errors) => (Some(self.to_string()), errors.clone(), None),
            Self::Conflict { existing, .. } => {
                (Some(self.to_string()), Vec::new(), existing.clone())
            }
            _ => (Some(self.to_string()), Vec::new(), None),
        };
        Problem {
            type_: format!("https://nuancheng.local/problems/{}", self.code()),
            title: self.title().to_owned(),
            status: status.as_u16(),
            code: self.code().to_owned(),
            detail,
            errors,
            request_id: request_id::current(),
            existing,
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            Self::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::Forbidden(_) | Self::Denied { .. } => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::Unknown { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::Rule { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(context) = self {
            tracing::error!(error = %context, "request failed");
        }
        let mut builder = HttpResponse::build(self.status_code());
        builder.content_type("application/problem+json");
        if let Self::RateLimited { retry_after_secs }
        | Self::Unavailable {
            retry_after_secs, ..
        } = self
        {
            builder.insert_header(("Retry-After", retry_after_secs.to_string()));
        }
        if let Self::Unauthorized { .. } = self {
            builder.insert_header(("WWW-Authenticate", "Bearer"));
        }
        builder.json(self.to_problem())
    }
}

impl From<DbErr> for ApiError {
    fn from(err: DbErr) -> Self {
        if database_unreachable(&err) {
            tracing::warn!(error = %err, "database unreachable");
            return Self::database_unavailable();
        }
        Self::Internal(format!("database: {err}"))
    }
}

/// Whether an error says the database could not be reached (down,
/// restarting, or no connection free in time), as opposed to a statement
/// that failed: the first is a 503 a client may retry, the second a bug.
pub fn database_unreachable(err: &DbErr) -> bool {
    use sea_orm::{RuntimeErr, sqlx};
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match &**e {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed
                | sqlx::Error::Protocol(_) => true,
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    // Connection exceptions, and the server shutting down or
                    // starting up (admin_shutdown, crash_shutdown, cannot_connect_now).
                    code.starts_with("08") || code.starts_with("57P0")
                }),
                _ => false,
            }
        }
        _ => false,
    }
}

impl From<actix_web::error::BlockingError> for ApiError {
    fn from(err: actix_web::error::BlockingError) -> Self {
        Self::Internal(format!("blocking task: {err}"))
    }
}

/// Collects field errors while a request is parsed, so a client learns about
/// every invalid field at once.
#[derive(Default)]
pub struct FieldErrors(Vec<FieldError>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the parsed value, or records the error and gives `None`.
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(err) => {
                self.0.push(err);
                None
            }
        }
    }

    /// `Ok(())` when nothing was recorded, else a 422 naming every field.
    pub fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::Validation(self.0))
        }
    }
}

/// Is this database error a unique-constraint violation? Callers map it to
/// the conflict that the constraint stands for.
pub fn is_unique_violation(err: &DbErr) -> bool {
    matches!(
        err.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

#[cfg(test)]
mod tests {
    use sea_orm::{ConnAcquireErr, RuntimeErr, sqlx};

    use super::*;

    #[test]
    fn an_unreachable_database_is_a_503_a_client_may_retry() {
        let unreachable = [
            DbErr::ConnectionAcquire(ConnAcquireErr::Timeout),
            DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(
                sqlx::Error::PoolTimedOut,
            ))),
            DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(sqlx::Error::Io(
                std::io::Error::from(std::io::ErrorKind::ConnectionReset),
            )))),
        ];
        for err in unreachable {
            let api = ApiError::from(err);
            assert_eq!(api.status_code(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(api.code(), "database_unavailable");
            let response = api.error_response();
            assert_eq!(response.headers().get("retry-after").unwrap(), "2");
        }
        let failed = ApiError::from(DbErr::Custom("a statement failed".into()));
        assert_eq!(failed.status_code(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
