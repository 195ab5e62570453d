//! 暖城之邀 (Invitation from the Warm City): the API behind Ordos's campus
//! recruitment campaign. See docs/architecture.md for the rooms of this house.

pub mod accounts;
pub mod app;
pub mod audit;
pub mod batch;
pub mod checkin;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod entities;
pub mod events;
pub mod housekeeping;
pub mod http;
pub mod intents;
pub mod notify;
pub mod openapi;
pub mod ops;
pub mod outreach;
pub mod privacy;
pub mod registrations;
pub mod reports;
pub mod state;
pub mod telemetry;
pub mod tokens;
pub mod webhooks;
