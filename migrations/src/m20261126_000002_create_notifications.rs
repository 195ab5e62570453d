//! The mail outbox: every email is a row written in the transaction of the
//! change that causes it, then sent by the worker.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_accounts::plain_index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("notifications")
                    .col(pk_uuid("id"))
                    .col(string_len("kind", 40))
                    .col(string_len("to_email", 254))
                    .col(string_len("subject", 300))
                    .col(text("text_body"))
                    .col(text("html_body"))
                    .col(json_null("attachments"))
                    .col(string_len("status", 16))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(text_null("last_error"))
                    .col(timestamp_with_time_zone_null("sent_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "notifications",
            "ix_notifications_due",
            &["status", "next_attempt_at"],
        )
        .await?;
        plain_index(
            manager,
            "notifications",
            "ix_notifications_to",
            &["to_email"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("notifications").to_owned())
            .await
    }
}
