use sea_orm::entity::prelude::*;

/// One write, or one read or export of someone else's personal data.
/// Rows are only ever inserted; the database refuses UPDATE and DELETE.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub at: DateTimeUtc,
    /// Who did it; NULL for the system (retention) or an anonymous caller.
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    /// `write`, `read`, `export` or `system`.
    pub kind: String,
    /// The method and route, e.g. `POST /api/v1/events/{id}/registrations`,
    /// or a system action such as `retention`.
    pub action: String,
    /// The path as called, with its ids.
    pub path: Option<String>,
    /// The row written or read, when there is one.
    pub target_id: Option<Uuid>,
    pub status: Option<i32>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    /// JSON: filters of an export, counts of a retention run, ...
    pub detail: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
