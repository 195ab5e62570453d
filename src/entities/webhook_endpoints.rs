use sea_orm::entity::prelude::*;

/// A receiver of signed webhook deliveries.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub url: String,
    /// The HMAC key deliveries are signed with; shown once, at creation.
    pub secret: String,
    /// A JSON array of event types, e.g. `["intent.signed"]`.
    pub event_types: Json,
    pub active: bool,
    pub created_by: Uuid,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
