//! `users.tokens_valid_after`: access tokens issued (`iat`) before it are
//! refused, so a password reset, signing out everywhere or disabling an
//! account ends every access token at once instead of when it expires.
//! NULL means every unexpired token is good.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .add_column(timestamp_with_time_zone_null("tokens_valid_after"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table("users")
                    .drop_column("tokens_valid_after")
                    .to_owned(),
            )
            .await
    }
}
