//! Webhooks: endpoints admins register, and one delivery row per (change,
//! endpoint), written in the transaction of the change (an outbox, like
//! `notifications`) and sent by the worker with retries and a lease.

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
                    .table("webhook_endpoints")
                    .col(pk_uuid("id"))
                    .col(string_len("url", 2000))
                    .col(string_len("secret", 200))
                    .col(json("event_types"))
                    .col(boolean("active"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_endpoints_created_by")
                            .from("webhook_endpoints", "created_by")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .col(pk_uuid("id"))
                    .col(uuid("endpoint_id"))
                    .col(string_len("event_type", 40))
                    .col(text("payload"))
                    .col(string_len("status", 16))
                    .col(integer("attempts"))
                    .col(timestamp_with_time_zone("next_attempt_at"))
                    .col(timestamp_with_time_zone_null("locked_until"))
                    .col(uuid_null("lease_token"))
                    .col(integer_null("last_status_code"))
                    .col(string_len_null("last_error", 1000))
                    .col(timestamp_with_time_zone_null("delivered_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_webhook_deliveries_endpoint")
                            .from("webhook_deliveries", "endpoint_id")
                            .to("webhook_endpoints", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "webhook_deliveries",
            "ix_webhook_deliveries_due",
            &["status", "next_attempt_at"],
        )
        .await?;
        plain_index(
            manager,
            "webhook_deliveries",
            "ix_webhook_deliveries_endpoint",
            &["endpoint_id", "id"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["webhook_deliveries", "webhook_endpoints"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
