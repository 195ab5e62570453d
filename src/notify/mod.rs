//! Email: templates rendered from data, an outbox written in the same
//! transaction as the change that causes each email, and a worker that sends
//! due rows with retries and backoff.

pub mod outbox;
pub mod routes;
pub mod templates;
pub mod transport;
pub mod worker;

pub use outbox::{Attachment, enqueue};
pub use templates::Rendered;
