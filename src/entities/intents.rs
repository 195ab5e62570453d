use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::positions::TalentCategory;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "intents")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    pub candidate_id: Uuid,
    pub employer_id: Uuid,
    pub position_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    pub checkin_id: Option<Uuid>,
    pub status: IntentStatus,
    pub talent_category: TalentCategory,
    /// "candidate:employer:position" while open, `None` once closed.
    pub open_key: Option<String>,
    pub note: String,
    pub created_by: Uuid,
    /// When it first reached `signed`.
    pub signed_at: Option<DateTimeUtc>,
    /// When it was withdrawn, declined or onboarded.
    pub closed_at: Option<DateTimeUtc>,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

/// `interested → interviewing → offered → signed → onboarded`, forward only
/// (steps before `signed` may be skipped; `onboarded` follows `signed`);
/// `withdrawn` and `declined` end an open intent, and `withdrawn` also a
/// signed one (a reneged intent).
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
pub enum IntentStatus {
    #[sea_orm(string_value = "interested")]
    Interested,
    #[sea_orm(string_value = "interviewing")]
    Interviewing,
    #[sea_orm(string_value = "offered")]
    Offered,
    #[sea_orm(string_value = "signed")]
    Signed,
    #[sea_orm(string_value = "onboarded")]
    Onboarded,
    #[sea_orm(string_value = "withdrawn")]
    Withdrawn,
    #[sea_orm(string_value = "declined")]
    Declined,
}

impl IntentStatus {
    pub const ALL: [IntentStatus; 7] = [
        Self::Interested,
        Self::Interviewing,
        Self::Offered,
        Self::Signed,
        Self::Onboarded,
        Self::Withdrawn,
        Self::Declined,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Interested => "interested",
            Self::Interviewing => "interviewing",
            Self::Offered => "offered",
            Self::Signed => "signed",
            Self::Onboarded => "onboarded",
            Self::Withdrawn => "withdrawn",
            Self::Declined => "declined",
        }
    }

    /// Still in the pipeline: at most one such intent per candidate,
    /// employer and position.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::Interested | Self::Interviewing | Self::Offered | Self::Signed
        )
    }

    /// May an intent move from `self` to `to`?
    pub fn can_become(self, to: IntentStatus) -> bool {
        use IntentStatus::*;
        match (self, to) {
            (Interested | Interviewing | Offered, Withdrawn | Declined) => true,
            (Signed, Withdrawn | Onboarded) => true,
            // Steps may be skipped (an intent signed on the spot at a job
            // fair), but only a signed intent is onboarded.
            (Interested | Interviewing | Offered, Interviewing | Offered | Signed) => to > self,
            _ => false,
        }
    }
}
