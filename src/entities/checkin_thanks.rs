use sea_orm::entity::prelude::*;

/// A check-in whose thank-you email the mail worker has still to write
/// (`notify::thanks`). Inserted with the check-in, deleted with the email
/// queued.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "checkin_thanks")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub checkin_id: Uuid,
    pub event_id: Uuid,
    pub user_id: Uuid,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
