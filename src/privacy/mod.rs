//! Students' personal data under the Personal Information Protection Law:
//! consents, the audit trail's readers, export and erasure, retention.

pub mod access;
pub mod consents;
pub mod erase;
pub mod export;
pub mod retention;
pub mod routes;
pub mod types;
