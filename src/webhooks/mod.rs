//! Webhook endpoints admins register, their delivery log and redelivery.
//! Deliveries themselves are written and sent by `notify::webhooks`.

pub mod routes;
pub mod service;
pub mod types;
