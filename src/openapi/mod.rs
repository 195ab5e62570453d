//! The OpenAPI 3 document, generated from the handlers and DTOs, and the
//! passes that document what every operation shares.

mod document;
mod responses;

pub use document::ApiDoc;
