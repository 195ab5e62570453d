//! Check-ins at the door: at most one per registration (a unique index, so
//! simultaneous scans of one ticket cannot both count), and at most one per
//! scanner-made `client_checkin_id`, so a retried upload is one check-in.

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
                    .table("checkins")
                    .col(pk_uuid("id"))
                    .col(uuid("event_id"))
                    .col(uuid("registration_id"))
                    .col(uuid("user_id"))
                    .col(uuid("checked_in_by"))
                    .col(uuid_null("client_checkin_id"))
                    .col(string_len_null("gate", 50))
                    .col(string_len("source", 16))
                    .col(timestamp_with_time_zone("scanned_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_checkins_event")
                            .from("checkins", "event_id")
                            .to("events", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_checkins_registration")
                            .from("checkins", "registration_id")
                            .to("registrations", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_checkins_user")
                            .from("checkins", "user_id")
                            .to("users", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_checkins_checked_in_by")
                            .from("checkins", "checked_in_by")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "checkins",
            "ux_checkins_registration",
            &["registration_id"],
        )
        .await?;
        unique_index(
            manager,
            "checkins",
            "ux_checkins_client_id",
            &["client_checkin_id"],
        )
        .await?;
        plain_index(
            manager,
            "checkins",
            "ix_checkins_event_gate",
            &["event_id", "gate"],
        )
        .await?;
        plain_index(manager, "checkins", "ix_checkins_user", &["user_id"]).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("checkins").to_owned())
            .await
    }
}
