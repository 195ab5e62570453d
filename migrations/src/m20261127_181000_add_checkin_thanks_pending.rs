//! `checkins.thanks_pending`: the thank-you email of a check-in is written
//! by the mail worker, not by the scan. A check-in is inserted with the flag
//! set, in the scan's transaction, so the email cannot be lost; the worker
//! renders the emails of pending check-ins in batches and clears the flag in
//! the transaction that queues them. Check-ins from before this column had
//! their email queued by the scan: they start cleared. The partial index
//! holds only the pending ones, so finding them costs nothing however many
//! check-ins the table holds.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("checkins")
                    .add_column(boolean("thanks_pending").default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX checkins_thanks_pending ON checkins (created_at) WHERE thanks_pending",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX checkins_thanks_pending")
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table("checkins")
                    .drop_column("thanks_pending")
                    .to_owned(),
            )
            .await
    }
}
