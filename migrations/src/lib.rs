//! Schema migrations for nuancheng: one file per change, each with a real `down`.
//! The same migrations run on SQLite (the embedded default) and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_create_accounts;
mod m20261126_000002_create_notifications;
mod m20261126_000003_create_events;
mod m20261127_000004_create_checkins;
mod m20261127_000005_create_intents;
mod m20261127_120000_fence_notifications;
mod m20261127_130000_add_tokens_valid_after;
mod m20261127_150000_create_rate_limits;
mod m20261127_160000_create_privacy;
mod m20261127_170000_create_scheduled_mail;
mod m20261127_171000_create_webhooks;
mod m20261127_172000_create_mail_templates;
mod m20261127_180000_announce_user_changes;
mod m20261127_181000_add_checkin_thanks_pending;
mod m20261127_190000_checkins_without_hot_parent_locks;
mod m20261206_120000_checkins_keyed_by_their_registration;
mod m20261207_120000_thanks_queue_and_roomy_outbox;
mod m20261207_200000_outbox_bodies_in_lz4;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_create_accounts::Migration),
            Box::new(m20261126_000002_create_notifications::Migration),
            Box::new(m20261126_000003_create_events::Migration),
            Box::new(m20261127_000004_create_checkins::Migration),
            Box::new(m20261127_000005_create_intents::Migration),
            Box::new(m20261127_120000_fence_notifications::Migration),
            Box::new(m20261127_130000_add_tokens_valid_after::Migration),
            Box::new(m20261127_150000_create_rate_limits::Migration),
            Box::new(m20261127_160000_create_privacy::Migration),
            Box::new(m20261127_170000_create_scheduled_mail::Migration),
            Box::new(m20261127_171000_create_webhooks::Migration),
            Box::new(m20261127_172000_create_mail_templates::Migration),
            Box::new(m20261127_180000_announce_user_changes::Migration),
            Box::new(m20261127_181000_add_checkin_thanks_pending::Migration),
            Box::new(m20261127_190000_checkins_without_hot_parent_locks::Migration),
            Box::new(m20261206_120000_checkins_keyed_by_their_registration::Migration),
            Box::new(m20261207_120000_thanks_queue_and_roomy_outbox::Migration),
            Box::new(m20261207_200000_outbox_bodies_in_lz4::Migration),
        ]
    }
}
