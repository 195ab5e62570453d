//! Events: campaigns, employers and their positions, and the events
//! themselves (宣讲会, 招聘会, online sessions) with their lifecycle, the
//! employers taking part, and their seats.

pub mod access;
pub mod calendar;
pub mod campaigns;
pub mod employers;
pub mod positions;
pub mod routes;
pub mod rules;
pub mod seats;
pub mod service;
pub mod types;
