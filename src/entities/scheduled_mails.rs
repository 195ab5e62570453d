use sea_orm::entity::prelude::*;

/// One scheduled email queued for one student: (event, mailing, user) is
/// unique, so it is queued once however many workers look.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "scheduled_mails")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    /// `reminder_24h`, `reminder_2h`, `no_show_follow_up`, `no_intent_follow_up`.
    pub mailing: String,
    pub user_id: Uuid,
    pub notification_id: Uuid,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
