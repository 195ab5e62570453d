//! The bodies of outbox emails and webhook deliveries are compressed with
//! LZ4 instead of PostgreSQL's own `pglz` (PostgreSQL 14 and later, built
//! with LZ4 as the usual packages are; elsewhere nothing changes).
//!
//! A registration's email (text, HTML and a calendar entry) is a few
//! kilobytes, so each one is compressed when it is written and again
//! decompressed when the worker reads it; `pglz_compress` was among the
//! busiest of PostgreSQL's functions in a profile of registrations. LZ4 does
//! the same work several times faster. Only values written from now on are
//! compressed this way; those already stored are read as they are.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

const BODIES: [(&str, &[&str]); 2] = [
    ("notifications", &["text_body", "html_body", "attachments"]),
    ("webhook_deliveries", &["payload"]),
];

async fn compress_with(manager: &SchemaManager<'_>, method: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    for (table, columns) in BODIES {
        let columns: Vec<String> = columns
            .iter()
            .map(|c| format!("ALTER COLUMN {c} SET COMPRESSION {method}"))
            .collect();
        // A server without LZ4 refuses the method: its bodies stay as they were.
        let sql = format!(
            "DO $$ BEGIN EXECUTE 'ALTER TABLE {table} {}'; \
             EXCEPTION WHEN feature_not_supported THEN NULL; END $$",
            columns.join(", ")
        );
        manager.get_connection().execute_unprepared(&sql).await?;
    }
    Ok(())
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        compress_with(manager, "lz4").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        compress_with(manager, "pglz").await
    }
}
