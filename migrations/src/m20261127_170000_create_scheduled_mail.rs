//! Scheduled mail: reminders before an event and follow-ups after it.
//!
//! - `mailing_settings`: an organiser's choice to turn one kind of scheduled
//!   mail off (or on again) for one event; no row means the kind is on.
//! - `scheduled_mails`: one row per (event, mailing, student) that was
//!   queued. Its unique index is what makes each reminder go out once
//!   however many workers look for due mail at the same moment.
//! - `mail_preferences`: a student's choice about optional mail.
//! - `notifications.list_unsubscribe`: the one-click link an optional email
//!   carries in its `List-Unsubscribe` header (RFC 8058).

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_accounts::{plain_index, unique_index};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("mailing_settings")
                    .col(uuid("event_id"))
                    .col(string_len("kind", 32))
                    .col(boolean("enabled"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .primary_key(Index::create().col("event_id").col("kind"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mailing_settings_event")
                            .from("mailing_settings", "event_id")
                            .to("events", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("scheduled_mails")
                    .col(pk_uuid("id"))
                    .col(uuid("event_id"))
                    .col(string_len("mailing", 32))
                    .col(uuid("user_id"))
                    .col(uuid("notification_id"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scheduled_mails_event")
                            .from("scheduled_mails", "event_id")
                            .to("events", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_scheduled_mails_user")
                            .from("scheduled_mails", "user_id")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "scheduled_mails",
            "ux_scheduled_mails_once",
            &["event_id", "mailing", "user_id"],
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table("mail_preferences")
                    .col(pk_uuid("user_id"))
                    .col(boolean("follow_ups"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mail_preferences_user")
                            .from("mail_preferences", "user_id")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(manager, "events", "ix_events_ends_at", &["ends_at"]).await?;
        manager
            .alter_table(
                Table::alter()
                    .table("notifications")
                    .add_column(string_len_null("list_unsubscribe", 500))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("notifications")
                    .drop_column("list_unsubscribe")
                    .to_owned(),
            )
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_events_ends_at")
                    .table("events")
                    .to_owned(),
            )
            .await?;
        for table in ["mail_preferences", "scheduled_mails", "mailing_settings"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
