//! What the city counts: intents to join by event, university, employer,
//! degree, talent category or month; the funnel from registration to
//! onboarding; and referrals (以才引才). Organisers read them as JSON, CSV
//! or XLSX; every user reads its own referral figures.

pub mod routes;
pub mod service;
pub mod types;
