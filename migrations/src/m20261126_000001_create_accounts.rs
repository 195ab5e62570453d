//! Accounts: employers (minimal here, grown by the events change), users,
//! refresh tokens, one-time action tokens, invitations and idempotency keys.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("employers")
                    .col(pk_uuid("id"))
                    .col(string_len("name", 200))
                    .col(string_len("credit_code", 18))
                    .col(string_len("industry", 100))
                    .col(string_len("district", 100))
                    .col(text("description"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "employers",
            "ux_employers_credit_code",
            &["credit_code"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("users")
                    .col(pk_uuid("id"))
                    .col(string_len("email", 254))
                    .col(string_null("password_hash"))
                    .col(string_len("full_name", 100))
                    .col(string_len_null("phone", 20))
                    .col(string_len_null("university", 100))
                    .col(string_len_null("major", 100))
                    .col(string_len_null("degree", 16))
                    .col(integer_null("graduation_year"))
                    .col(string_len("role", 16))
                    .col(uuid_null("employer_id"))
                    .col(string_len("referral_code", 16))
                    .col(uuid_null("referred_by"))
                    .col(timestamp_with_time_zone_null("email_verified_at"))
                    .col(timestamp_with_time_zone_null("disabled_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .col(timestamp_with_time_zone("updated_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_employer")
                            .from("users", "employer_id")
                            .to("employers", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_users_referred_by")
                            .from("users", "referred_by")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(manager, "users", "ux_users_email", &["email"]).await?;
        unique_index(
            manager,
            "users",
            "ux_users_referral_code",
            &["referral_code"],
        )
        .await?;
        plain_index(manager, "users", "ix_users_role", &["role", "id"]).await?;

        manager
            .create_table(
                Table::create()
                    .table("refresh_tokens")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(uuid("family_id"))
                    .col(string_len("token_hash", 64))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .col(timestamp_with_time_zone_null("revoked_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_refresh_tokens_user")
                            .from("refresh_tokens", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "refresh_tokens",
            "ux_refresh_tokens_hash",
            &["token_hash"],
        )
        .await?;
        plain_index(
            manager,
            "refresh_tokens",
            "ix_refresh_tokens_family",
            &["family_id"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("action_tokens")
                    .col(pk_uuid("id"))
                    .col(uuid("user_id"))
                    .col(string_len("purpose", 32))
                    .col(string_len("token_hash", 64))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("used_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_action_tokens_user")
                            .from("action_tokens", "user_id")
                            .to("users", "id")
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "action_tokens",
            "ux_action_tokens_hash",
            &["token_hash"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("invitations")
                    .col(pk_uuid("id"))
                    .col(string_len("email", 254))
                    .col(string_len("role", 16))
                    .col(uuid_null("employer_id"))
                    .col(uuid("invited_by"))
                    .col(string_len("token_hash", 64))
                    .col(timestamp_with_time_zone("expires_at"))
                    .col(timestamp_with_time_zone_null("accepted_at"))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invitations_employer")
                            .from("invitations", "employer_id")
                            .to("employers", "id"),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invitations_invited_by")
                            .from("invitations", "invited_by")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "invitations",
            "ux_invitations_hash",
            &["token_hash"],
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table("idempotency_keys")
                    .col(pk_uuid("id"))
                    .col(string_len("scope", 100))
                    .col(string_len("key", 200))
                    .col(string_len("request_hash", 64))
                    .col(integer_null("response_status"))
                    .col(text_null("response_body"))
                    .col(timestamp_with_time_zone("created_at"))
                    .to_owned(),
            )
            .await?;
        unique_index(
            manager,
            "idempotency_keys",
            "ux_idempotency_scope_key",
            &["scope", "key"],
        )
        .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "idempotency_keys",
            "invitations",
            "action_tokens",
            "refresh_tokens",
            "users",
            "employers",
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

pub(crate) async fn unique_index(
    manager: &SchemaManager<'_>,
    table: &'static str,
    name: &'static str,
    cols: &[&'static str],
) -> Result<(), DbErr> {
    let mut index = Index::create().name(name).table(table).unique().to_owned();
    for col in cols {
        index.col(*col);
    }
    manager.create_index(index).await
}

pub(crate) async fn plain_index(
    manager: &SchemaManager<'_>,
    table: &'static str,
    name: &'static str,
    cols: &[&'static str],
) -> Result<(), DbErr> {
    let mut index = Index::create().name(name).table(table).to_owned();
    for col in cols {
        index.col(*col);
    }
    manager.create_index(index).await
}
