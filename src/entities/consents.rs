use sea_orm::entity::prelude::*;

/// One grant or withdrawal of a consent, kept for as long as the account:
/// what a person agreed to, in which version of the notice, and when.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "consents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub user_id: Uuid,
    /// `privacy_notice` or `contact_sharing`.
    pub kind: String,
    pub granted: bool,
    /// The privacy notice's version, for `privacy_notice`.
    pub version: Option<String>,
    pub ip: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
