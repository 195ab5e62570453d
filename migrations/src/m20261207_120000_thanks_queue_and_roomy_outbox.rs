//! Two changes to how the thank-you email of a check-in and the outbox's
//! rows are written on PostgreSQL, both so that fewer row versions and
//! index entries are written per email.
//!
//! **Check-ins waiting for their thank-you are rows of `checkin_thanks`,
//! not a flag on the check-in.** The flag was in the predicate of the
//! partial index that found pending check-ins, so clearing it could not be
//! a HOT update: each cleared flag wrote a new version of the check-in and
//! an entry in each of the table's indexes. Now the scan's statement
//! inserts a small row here beside its check-in (same transaction, so the
//! email still cannot be lost), and the mail worker deletes the rows whose
//! emails it queues. A deletion writes no index entry. The row carries
//! the event and the student, so the worker need not read the check-in.
//! It has no foreign key: a key's check would lock the new check-in's row,
//! and a check-in erased before its email is simply skipped.
//!
//! **Outbox rows and webhook deliveries leave half of each page free**
//! (`fillfactor = 50`, PostgreSQL only; new pages). Claiming a row under a
//! lease changes only unindexed columns, so with room on the page the new
//! version is a HOT update: no index entries, and the WAL records only the
//! changed bytes instead of the whole row with its bodies. Marking a row
//! sent changes its status (indexed), but finds room on the same page too.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

use crate::m20261127_181000_add_checkin_thanks_pending::Migration as Flag;

#[derive(DeriveMigrationName)]
pub struct Migration;

const ROOMY: [&str; 2] = ["notifications", "webhook_deliveries"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("checkin_thanks")
                    .col(pk_uuid("checkin_id"))
                    .col(uuid("event_id"))
                    .col(uuid("user_id"))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO checkin_thanks (checkin_id, event_id, user_id) \
             SELECT id, event_id, user_id FROM checkins WHERE thanks_pending",
        )
        .await?;
        // The flag and its index go as the flag's own migration undoes them.
        Flag.down(manager).await?;
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            for table in ROOMY {
                db.execute_unprepared(&format!("ALTER TABLE {table} SET (fillfactor = 50)"))
                    .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            for table in ROOMY {
                db.execute_unprepared(&format!("ALTER TABLE {table} RESET (fillfactor)"))
                    .await?;
            }
        }
        Flag.up(manager).await?;
        db.execute_unprepared(
            "UPDATE checkins SET thanks_pending = true \
             WHERE id IN (SELECT checkin_id FROM checkin_thanks)",
        )
        .await?;
        manager
            .drop_table(Table::drop().table("checkin_thanks").to_owned())
            .await
    }
}
