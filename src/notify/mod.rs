//! Email: templates rendered from data, an outbox written in the same
//! transaction as the change that causes each email, and a worker that sends
//! due rows with retries and backoff. Scheduled mail (reminders, follow-ups)
//! and webhook deliveries ride on the same worker.

pub mod backoff;
pub mod clock;
pub mod custom;
pub mod deliverer;
mod gather;
pub mod kinds;
pub mod lease;
pub mod mailings;
pub mod outbox;
pub mod routes;
#[cfg(test)]
mod samples;
pub mod schedule;
mod smtp;
pub mod templates;
pub mod thanks;
mod tls;
pub mod transport;
pub mod unsubscribe;
pub mod webhooks;
pub mod worker;

pub use outbox::{Attachment, enqueue};
pub use templates::Rendered;
