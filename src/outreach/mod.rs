//! What organisers say to students beyond the transactional mail: the
//! scheduled reminders and follow-ups of an event, their own wording of an
//! event's emails, and the students' way out of optional mail.

pub mod routes;
pub mod service;
pub mod templates;
pub mod types;
