//! `rate_limits`: one token bucket per (route group, client address), so
//! every server process on one PostgreSQL database draws on the same budget.
//! A check refills and takes a token in one statement; `allowed` records
//! whether that last take succeeded, for the statement to return. SQLite
//! deployments are one process and keep their buckets in memory, so there
//! the table stays empty.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("rate_limits")
                    .col(string_len("key", 100).primary_key())
                    .col(double("tokens"))
                    .col(timestamp_with_time_zone("refilled_at"))
                    .col(boolean("allowed"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("rate_limits").to_owned())
            .await
    }
}
