//! Check-in at the door: scans, the offline list and batch upload, walk-ins,
//! and the event's live figures.

mod fast;
pub mod live;
pub mod offline;
pub mod routes;
pub mod service;
pub mod stats;
pub mod types;
pub mod walkins;
