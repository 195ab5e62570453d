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
    /// 503: the server is at its bound for costly work (password hashing);
    /// retry after the given seconds.
    #[error("the server is busy; try again shortly")]
    Busy { retry_after_secs: u64 },
    /// 500: anything unexpected. Logged, never shown.
    #[error("internal error: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn field(field: &str, code: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, code, message)])
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
            | Self::Unknown { code, .. } => code,
            Self::Forbidden(_) => "forbidden",
            Self::NotFound(_) => "not_found",
            Self::MethodNotAllowed(_) => "method_not_allowed",
            Self::PayloadTooLarge { .. } => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::Validation(_) => "validation_failed",
            Self::RateLimited { .. } => "rate_limited",
            Self::Busy { .. } => "busy",
            Self::Internal(_) => "internal_error",
        }
    }

    fn title(&self) -> &'static str {
        match self {
            Self::BadRequest { .. } => "Bad request",
            Self::Unauthorized { .. } => "Unauthorized",
            Self::Forbidden(_) => "Forbidden",
            Self::NotFound(_) | Self::Unknown { .. } => "Not found",
            Self::MethodNotAllowed(_) => "Method not allowed",
            Self::Conflict { .. } => "Conflict",
            Self::PayloadTooLarge { .. } => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::Validation(_) => "Validation failed",
            Self::Rule { .. } => "Request refused",
            Self::RateLimited { .. } => "Too many requests",
            Self::Busy { .. } => "Service unavailable",
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
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound(_) | Self::Unknown { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict { .. } => StatusCode::CONFLICT,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Validation(_) | Self::Rule { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let Self::Internal(context) = self {
            tracing::error!(error = %context, "request failed");
        }
        let mut builder = HttpResponse::build(self.status_code());
        builder.content_type("application/problem+json");
        if let Self::RateLimited { retry_after_secs } | Self::Busy { retry_after_secs } = self {
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
        Self::Internal(format!("database: {err}"))
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
