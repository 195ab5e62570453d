//! One integration binary: every test drives the real server over HTTP on
//! its own fresh database (SQLite, or PostgreSQL when TEST_DATABASE_URL is set).

mod accounts;
mod checkins;
mod demo;
mod errors;
mod events;
mod hardening;
mod helpers;
mod intents;
mod mailings;
mod nodes;
mod ops;
mod outbox;
mod privacy;
mod privacy_rights;
mod public;
mod races;
mod registrations;
mod smtp;
mod templates;
mod webhooks;
