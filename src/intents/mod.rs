//! Intents to join (引进意向): a candidate, an employer, perhaps a position,
//! and the event and check-in they came from. Statuses move forward only
//! (see [`IntentStatus::can_become`](crate::entities::intents::IntentStatus::can_become));
//! every change is kept with its actor, time and note. Recruiters act on
//! their own employer's intents, organisers on all; candidates read their own.

pub mod lookups;
pub mod queries;
pub mod routes;
pub mod service;
pub mod types;
