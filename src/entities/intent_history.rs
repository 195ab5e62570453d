use sea_orm::entity::prelude::*;

use super::intents::IntentStatus;

/// One change of an intent: who, when, from what to what, and why.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "intent_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub intent_id: Uuid,
    pub actor_id: Uuid,
    /// `None` for the creation.
    pub from_status: Option<IntentStatus>,
    pub to_status: IntentStatus,
    pub note: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
