//! `nuancheng seed-demo`: a living demo campaign in an empty database, so a
//! newcomer sees what the platform does after the README's first command.
//! A dozen universities, employers from the city's industries with their
//! positions, held and upcoming events, a few hundred students with
//! registrations, check-ins and intents in every state. The same data every
//! time (a fixed pseudo-random sequence); no email is sent.

mod data;
mod seed;

pub use data::DEMO_PASSWORD;
pub use seed::{Summary, seed_demo};
