use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub email: String,
    pub password_hash: Option<String>,
    pub full_name: String,
    pub phone: Option<String>,
    pub university: Option<String>,
    pub major: Option<String>,
    pub degree: Option<Degree>,
    pub graduation_year: Option<i32>,
    pub role: Role,
    pub employer_id: Option<Uuid>,
    pub referral_code: String,
    pub referred_by: Option<Uuid>,
    pub email_verified_at: Option<DateTimeUtc>,
    pub disabled_at: Option<DateTimeUtc>,
    /// Access tokens issued before this second are refused (set by a
    /// password reset, signing out everywhere and disabling).
    pub tokens_valid_after: Option<DateTimeUtc>,
    /// The privacy notice version the person accepted, and when.
    pub privacy_notice_version: Option<String>,
    pub privacy_accepted_at: Option<DateTimeUtc>,
    /// Since when employers may see their email and phone; NULL: not shared.
    pub contact_sharing_at: Option<DateTimeUtc>,
    /// When the identity was erased (by the person, or by retention).
    pub anonymised_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
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
pub enum Role {
    #[sea_orm(string_value = "candidate")]
    Candidate,
    #[sea_orm(string_value = "recruiter")]
    Recruiter,
    #[sea_orm(string_value = "organiser")]
    Organiser,
    #[sea_orm(string_value = "admin")]
    Admin,
}

/// Degrees in ascending order, so `Ord` compares them as levels.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    EnumIter,
    DeriveActiveEnum,
    Serialize,
    Deserialize,
    ToSchema,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum Degree {
    #[sea_orm(string_value = "bachelor")]
    Bachelor,
    #[sea_orm(string_value = "master")]
    Master,
    #[sea_orm(string_value = "phd")]
    Phd,
    #[sea_orm(string_value = "postdoc")]
    Postdoc,
}

/// Users by id, read in chunks so that no query carries more ids than a
/// database accepts in one statement; repeated and unknown ids are fine.
pub async fn by_ids<C: ConnectionTrait>(
    conn: &C,
    ids: impl Iterator<Item = Uuid>,
) -> Result<std::collections::HashMap<Uuid, Model>, DbErr> {
    let ids: Vec<Uuid> = ids
        .collect::<std::collections::HashSet<_>>()
        .into_iter()
        .collect();
    let mut out = std::collections::HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        for user in Entity::find()
            .filter(Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            out.insert(user.id, user);
        }
    }
    Ok(out)
}
