//! `mail_templates`: an organiser's own subject, text and HTML for one kind
//! of event email, for one event or for every event of a campaign (exactly
//! one of `event_id`, `campaign_id` is set). An event's own template wins
//! over its campaign's.

use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261126_000001_create_accounts::unique_index;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("mail_templates")
                    .col(pk_uuid("id"))
                    .col(uuid_null("event_id"))
                    .col(uuid_null("campaign_id"))
                    .col(string_len("kind", 40))
                    .col(text("subject"))
                    .col(text("text_body"))
                    .col(text("html_body"))
                    .col(uuid("updated_by"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mail_templates_event")
                            .from("mail_templates", "event_id")
                            .to("events", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_mail_templates_campaign")
                            .from("mail_templates", "campaign_id")
                            .to("campaigns", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "mail_templates",
            "ux_mail_templates_event_kind",
            &["event_id", "kind"],
        )
        .await?;
        unique_index(
            manager,
            "mail_templates",
            "ux_mail_templates_campaign_kind",
            &["campaign_id", "kind"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("mail_templates").to_owned())
            .await
    }
}
