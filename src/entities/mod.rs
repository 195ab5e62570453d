//! sea-orm entities: one file per table, no behaviour. Statuses and roles are
//! enums stored as short strings.

pub mod action_tokens;
pub mod audit_log;
pub mod audit_subjects;
pub mod campaigns;
pub mod checkin_thanks;
pub mod checkins;
pub mod consents;
pub mod employers;
pub mod event_employers;
pub mod events;
pub mod idempotency_keys;
pub mod intent_history;
pub mod intents;
pub mod invitations;
pub mod mail_preferences;
pub mod mail_templates;
pub mod mailing_settings;
pub mod notifications;
pub mod positions;
pub mod refresh_tokens;
pub mod registrations;
pub mod scheduled_mails;
pub mod users;
pub mod webhook_deliveries;
pub mod webhook_endpoints;
