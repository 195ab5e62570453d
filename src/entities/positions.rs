use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::users::Degree;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "positions")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub employer_id: Uuid,
    pub title: String,
    /// A JSON array of strings.
    pub majors: Json,
    pub degree_min: Degree,
    pub headcount: i32,
    pub talent_category: TalentCategory,
    pub salary_min: Option<i32>,
    pub salary_max: Option<i32>,
    pub location: String,
    /// A JSON array of strings, e.g. 人才公寓, 安家补贴.
    pub benefits: Json,
    pub description: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// The city's talent categories: 高层次人才, 青年人才, 紧缺专业人才, or other.
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
pub enum TalentCategory {
    #[sea_orm(string_value = "high_level")]
    HighLevel,
    #[sea_orm(string_value = "young")]
    Young,
    #[sea_orm(string_value = "shortage")]
    Shortage,
    #[sea_orm(string_value = "other")]
    Other,
}
