//! Campaigns, positions, events, the employers taking part in each event,
//! and registrations. An event keeps its own confirmed and waitlist counts:
//! every registration change locks the event row and moves them in the same
//! transaction, so capacity holds under concurrency.

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
                    .table("campaigns")
                    .col(pk_uuid("id"))
                    .col(string_len("name", 200))
                    .col(integer("year"))
                    .col(date("starts_on"))
                    .col(date("ends_on"))
                    .col(text("description"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        plain_index(manager, "campaigns", "ix_campaigns_year", &["year", "id"]).await?;

        manager
            .create_table(
                Table::create()
                    .table("positions")
                    .col(pk_uuid("id"))
                    .col(uuid("employer_id"))
                    .col(string_len("title", 200))
                    .col(json("majors"))
                    .col(string_len("degree_min", 16))
                    .col(integer("headcount"))
                    .col(string_len("talent_category", 16))
                    .col(integer_null("salary_min"))
                    .col(integer_null("salary_max"))
                    .col(string_len("location", 100))
                    .col(json("benefits"))
                    .col(text("description"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_positions_employer")
                            .from("positions", "employer_id")
                            .to("employers", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "positions",
            "ix_positions_employer",
            &["employer_id", "id"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("events")
                    .col(pk_uuid("id"))
                    .col(uuid_null("campaign_id"))
                    .col(string_len("title", 200))
                    .col(string_len("kind", 16))
                    .col(string_len("university", 100))
                    .col(string_len("venue", 200))
                    .col(string_len("city", 50))
                    .col(timestamp_with_time_zone("starts_at"))
                    .col(timestamp_with_time_zone("ends_at"))
                    .col(integer("capacity"))
                    .col(integer("waitlist_limit"))
                    .col(timestamp_with_time_zone_null("registration_opens_at"))
                    .col(timestamp_with_time_zone_null("registration_closes_at"))
                    .col(text("description"))
                    .col(string_len_null("min_degree", 16))
                    .col(json_null("graduation_years"))
                    .col(string_len("status", 16))
                    .col(text_null("cancel_reason"))
                    .col(integer("confirmed_count"))
                    .col(integer("waitlist_count"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone_null("published_at"))
                    .col(timestamp_with_time_zone_null("cancelled_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_events_campaign")
                            .from("events", "campaign_id")
                            .to("campaigns", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_events_created_by")
                            .from("events", "created_by")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "events",
            "ix_events_status_starts",
            &["status", "starts_at", "id"],
        )
        .await?;
        plain_index(manager, "events", "ix_events_campaign", &["campaign_id"]).await?;

        manager
            .create_table(
                Table::create()
                    .table("event_employers")
                    .col(uuid("event_id"))
                    .col(uuid("employer_id"))
                    .primary_key(Index::create().col("event_id").col("employer_id"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_event_employers_event")
                            .from("event_employers", "event_id")
                            .to("events", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_event_employers_employer")
                            .from("event_employers", "employer_id")
                            .to("employers", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "event_employers",
            "ix_event_employers_employer",
            &["employer_id", "event_id"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("registrations")
                    .col(pk_uuid("id"))
                    .col(uuid("event_id"))
                    .col(uuid("user_id"))
                    .col(string_len("status", 16))
                    .col(integer_null("waitlist_position"))
                    .col(string_len("ticket_code", 32))
                    .col(uuid_null("referrer_id"))
                    .col(timestamp_with_time_zone_null("confirmed_at"))
                    .col(timestamp_with_time_zone_null("cancelled_at"))
                    .col(uuid_null("cancelled_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_registrations_event")
                            .from("registrations", "event_id")
                            .to("events", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_registrations_user")
                            .from("registrations", "user_id")
                            .to("users", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_registrations_referrer")
                            .from("registrations", "referrer_id")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "registrations",
            "ux_registrations_event_user",
            &["event_id", "user_id"],
        )
        .await?;
        unique_index(
            manager,
            "registrations",
            "ux_registrations_ticket",
            &["ticket_code"],
        )
        .await?;
        plain_index(
            manager,
            "registrations",
            "ix_registrations_event_status",
            &["event_id", "status", "waitlist_position"],
        )
        .await?;
        plain_index(
            manager,
            "registrations",
            "ix_registrations_user",
            &["user_id", "id"],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "registrations",
            "event_employers",
            "events",
            "positions",
            "campaigns",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
