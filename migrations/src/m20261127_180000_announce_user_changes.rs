//! On PostgreSQL every change to a `users` row announces the user's id on
//! the `nuancheng_users` channel when its transaction commits, so that every
//! server process forgets the signed-in user it keeps in memory
//! (`src/http/callers.rs`) whichever process, or hand-written SQL, made the
//! change. SQLite deployments are one process, which forgets its own
//! changes, so nothing is created there.

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
            "CREATE FUNCTION announce_user_change() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               PERFORM pg_notify('nuancheng_users', OLD.id::text);
               RETURN NULL;
             END $$",
        )
        .await?;
        db.execute_unprepared(
            "CREATE TRIGGER users_announce_change AFTER UPDATE OR DELETE ON users
               FOR EACH ROW EXECUTE FUNCTION announce_user_change()",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared(
                "DROP TRIGGER IF EXISTS users_announce_change ON users;
                 DROP FUNCTION IF EXISTS announce_user_change()",
            )
            .await?;
        Ok(())
    }
}
