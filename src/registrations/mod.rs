//! Registrations: a student's place at an event (confirmed, waitlisted or
//! cancelled), its ticket and QR code, and the lists organisers and
//! participating recruiters read and export.

pub mod contacts;
pub mod export;
mod fast;
mod place;
pub mod register;
pub mod routes;
pub mod service;
pub mod tickets;
pub mod types;
mod waitlist;
