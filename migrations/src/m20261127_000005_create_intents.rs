//! Intents to join (引进意向) and their history. `open_key` is
//! "candidate:employer:position" while an intent is open and NULL once it is
//! closed; its unique index allows one open intent per (candidate,
//! employer, position) on both databases without partial indexes.

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
                    .table("intents")
                    .col(pk_uuid("id"))
                    .col(uuid("candidate_id"))
                    .col(uuid("employer_id"))
                    .col(uuid_null("position_id"))
                    .col(uuid_null("event_id"))
                    .col(uuid_null("checkin_id"))
                    .col(string_len("status", 16))
                    .col(string_len("talent_category", 16))
                    .col(string_len_null("open_key", 120))
                    .col(text("note"))
                    .col(uuid("created_by"))
                    .col(timestamp_with_time_zone_null("signed_at"))
                    .col(timestamp_with_time_zone_null("closed_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_intents_candidate")
                            .from("intents", "candidate_id")
                            .to("users", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_intents_employer")
                            .from("intents", "employer_id")
                            .to("employers", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_intents_position")
                            .from("intents", "position_id")
                            .to("positions", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_intents_event")
                            .from("intents", "event_id")
                            .to("events", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_intents_checkin")
                            .from("intents", "checkin_id")
                            .to("checkins", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "intents", "ux_intents_open", &["open_key"]).await?;
        plain_index(
            manager,
            "intents",
            "ix_intents_employer",
            &["employer_id", "id"],
        )
        .await?;
        plain_index(
            manager,
            "intents",
            "ix_intents_candidate",
            &["candidate_id", "id"],
        )
        .await?;
        plain_index(
            manager,
            "intents",
            "ix_intents_event",
            &["event_id", "status"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("intent_history")
                    .col(pk_uuid("id"))
                    .col(uuid("intent_id"))
                    .col(uuid("actor_id"))
                    .col(string_len_null("from_status", 16))
                    .col(string_len("to_status", 16))
                    .col(text("note"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_intent_history_intent")
                            .from("intent_history", "intent_id")
                            .to("intents", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_intent_history_actor")
                            .from("intent_history", "actor_id")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        plain_index(
            manager,
            "intent_history",
            "ix_intent_history_intent",
            &["intent_id", "id"],
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["intent_history", "intents"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
