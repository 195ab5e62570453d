//! sea-orm entities: one file per table, no behaviour. Statuses and roles are
//! enums stored as short strings.

pub mod action_tokens;
pub mod employers;
pub mod idempotency_keys;
pub mod invitations;
pub mod notifications;
pub mod refresh_tokens;
pub mod users;
