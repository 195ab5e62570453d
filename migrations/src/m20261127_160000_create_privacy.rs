//! What the Personal Information Protection Law asks the platform to keep:
//!
//! - on `users`, the privacy notice version a person accepted and when, when
//!   they agreed to share their email and phone with participating employers
//!   (NULL: they have not, or withdrew), and when their identity was erased;
//! - `consents`, every grant and withdrawal, for showing what was agreed when;
//! - `audit_log`, one row per write and per read or export of someone else's
//!   personal data, and `audit_subjects`, whose data each row touched. Both
//!   are append-only: triggers refuse UPDATE and DELETE (and TRUNCATE on
//!   PostgreSQL), so not even a hand-written statement rewrites history.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const USER_COLUMNS: [&str; 4] = [
    "privacy_notice_version",
    "privacy_accepted_at",
    "contact_sharing_at",
    "anonymised_at",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one at a time.
        for column in USER_COLUMNS {
            let mut def = if column == "privacy_notice_version" {
                string_len_null(column, 32)
            } else {
                timestamp_with_time_zone_null(column)
            };
            manager
                .alter_table(
                    Table::alter()
                        .table("users")
                        .add_column(&mut def)
                        .to_owned(),
                )
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table("consents")
                    .col(uuid("id").primary_key())
                    .col(uuid("user_id"))
                    .col(string_len("kind", 32))
                    .col(boolean("granted"))
                    .col(string_len_null("version", 32))
                    .col(string_len_null("ip", 64))
                    .col(timestamp_with_time_zone("created_at"))
                    .foreign_key(
                        ForeignKey::create()
                            .from("consents", "user_id")
                            .to("users", "id"),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("consents_user")
                    .table("consents")
                    .col("user_id")
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_log")
                    .col(uuid("id").primary_key())
                    .col(timestamp_with_time_zone("at"))
                    .col(uuid_null("actor_id"))
                    .col(string_len_null("actor_role", 16))
                    .col(string_len("kind", 16))
                    .col(string_len("action", 160))
                    .col(string_len_null("path", 512))
                    .col(uuid_null("target_id"))
                    .col(integer_null("status"))
                    .col(string_len_null("ip", 64))
                    .col(string_len_null("request_id", 64))
                    .col(text_null("detail"))
                    .to_owned(),
            )
            .await?;
        for (name, column) in [("audit_log_actor", "actor_id"), ("audit_log_at", "at")] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table("audit_log")
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("audit_subjects")
                    .col(uuid("audit_id"))
                    .col(uuid("user_id"))
                    .primary_key(Index::create().col("audit_id").col("user_id"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_subjects_user")
                    .table("audit_subjects")
                    .col("user_id")
                    .col("audit_id")
                    .to_owned(),
            )
            .await?;

        let db = manager.get_connection();
        match manager.get_database_backend() {
            sea_orm_migration::sea_orm::DatabaseBackend::Postgres => {
                db.execute_unprepared(
                    "CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
                     BEGIN
                       RAISE EXCEPTION 'audit rows are append-only (% on %)', TG_OP, TG_TABLE_NAME
                         USING ERRCODE = 'insufficient_privilege';
                     END $$",
                )
                .await?;
                for table in ["audit_log", "audit_subjects"] {
                    db.execute_unprepared(&format!(
                        "CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table}
                           FOR EACH ROW EXECUTE FUNCTION audit_append_only();
                         CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                           FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only()"
                    ))
                    .await?;
                }
            }
            _ => {
                for table in ["audit_log", "audit_subjects"] {
                    for op in ["UPDATE", "DELETE"] {
                        db.execute_unprepared(&format!(
                            "CREATE TRIGGER {table}_no_{} BEFORE {op} ON {table}
                             BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END",
                            op.to_lowercase()
                        ))
                        .await?;
                    }
                }
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in ["audit_subjects", "audit_log", "consents"] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        if manager.get_database_backend() == sea_orm_migration::sea_orm::DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS audit_append_only()")
                .await?;
        }
        for column in USER_COLUMNS {
            manager
                .alter_table(Table::alter().table("users").drop_column(column).to_owned())
                .await?;
        }
        Ok(())
    }
}
