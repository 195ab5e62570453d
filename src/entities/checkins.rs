use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "checkins")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub event_id: Uuid,
    pub registration_id: Uuid,
    pub user_id: Uuid,
    /// The recruiter or organiser who admitted the student.
    pub checked_in_by: Uuid,
    /// Made by the scanner, so a retried upload is recognised.
    pub client_checkin_id: Option<Uuid>,
    pub gate: Option<String>,
    pub source: CheckinSource,
    /// When the ticket was scanned, which for an offline scanner is earlier
    /// than when the server heard of it (`created_at`).
    pub scanned_at: DateTimeUtc,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum CheckinSource {
    /// A scan sent at once.
    #[sea_orm(string_value = "scan")]
    Scan,
    /// A scan made offline and uploaded later in a batch.
    #[sea_orm(string_value = "offline")]
    Offline,
    /// Registered and admitted at the door.
    #[sea_orm(string_value = "walk_in")]
    WalkIn,
}
