//! A check-in names its registration, that registration's event and its
//! student. On PostgreSQL three foreign keys checked that: `(registration_id,
//! event_id)`, `registration_id` alone (implied by the first) and `user_id`
//! against `users`. Each check locks its parent row `FOR KEY SHARE`, and a
//! row lock is written into the row: the student's `users` row was locked,
//! dirtied and logged to the WAL by every first scan (a whole page of WAL
//! when it was the page's first change since a checkpoint), only to prove
//! the student exists.
//!
//! One key now does all of it: `(registration_id, event_id, user_id)` must be
//! a registration of that event by that student, which is stronger than
//! before (a check-in could have named another student than its
//! registration's) and locks only the registration's row, which the scan
//! holds anyway. The student exists because the registration's own key says
//! so. The two-column index it replaces goes, so a registration updates one
//! index fewer.
//!
//! SQLite's key checks take no row locks, and changing a key there means
//! rebuilding the table: it keeps its keys.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_registrations_id_event_user \
               ON registrations (id, event_id, user_id)",
        )
        .await?;
        db.execute_unprepared(
            "ALTER TABLE checkins \
               DROP CONSTRAINT fk_checkins_registration_event, \
               DROP CONSTRAINT fk_checkins_registration, \
               DROP CONSTRAINT fk_checkins_user, \
               ADD CONSTRAINT fk_checkins_registration_event_user \
                 FOREIGN KEY (registration_id, event_id, user_id) \
                 REFERENCES registrations (id, event_id, user_id)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX ux_registrations_id_event")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE UNIQUE INDEX ux_registrations_id_event ON registrations (id, event_id)",
        )
        .await?;
        db.execute_unprepared(
            "ALTER TABLE checkins \
               DROP CONSTRAINT fk_checkins_registration_event_user, \
               ADD CONSTRAINT fk_checkins_registration_event \
                 FOREIGN KEY (registration_id, event_id) REFERENCES registrations (id, event_id), \
               ADD CONSTRAINT fk_checkins_registration \
                 FOREIGN KEY (registration_id) REFERENCES registrations (id), \
               ADD CONSTRAINT fk_checkins_user FOREIGN KEY (user_id) REFERENCES users (id)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX ux_registrations_id_event_user")
            .await?;
        Ok(())
    }
}
