//! What every route shares: errors, JSON bodies, auth extractors,
//! pagination, idempotency keys, rate limits, the gate on costly work,
//! request ids and metrics.

pub mod audit;
pub mod auth;
pub mod callers;
pub mod error;
pub mod export;
pub mod gate;
pub mod idempotency;
pub mod json;
pub mod metrics;
pub mod observe;
pub mod paged_export;
pub mod pagination;
pub mod ratelimit;
pub mod request_id;
pub mod streams;
pub mod text;

pub use auth::{Admin, Caller, Candidate, MaybeCaller, Organiser};
pub use error::{ApiError, FieldError, FieldErrors};
pub use json::Json;
pub use pagination::{Page, PageQuery};
