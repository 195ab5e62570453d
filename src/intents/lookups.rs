//! The reads behind an intent's view: the names of its candidate, employer,
//! position and event, loaded for many intents at once; and the events a
//! campaign names. Reports read through them too.

use std::collections::{HashMap, HashSet};

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use uuid::Uuid;

use super::types::{IntentCandidate, IntentView, Named};
use crate::{
    entities::{employers, events, intents, positions, users},
    http::ApiError,
};

/// Reads the names an intent shows, for many intents at once.
pub struct Lookups {
    pub users: HashMap<Uuid, users::Model>,
    pub employers: HashMap<Uuid, String>,
    pub positions: HashMap<Uuid, positions::Model>,
    pub events: HashMap<Uuid, String>,
}

impl Lookups {
    /// Everything `rows` name, in one query per table.
    pub async fn load<C: ConnectionTrait>(
        conn: &C,
        rows: &[intents::Model],
    ) -> Result<Self, ApiError> {
        let users = users::by_ids(conn, rows.iter().map(|i| i.candidate_id)).await?;
        let employers = employers::Entity::find()
            .filter(
                employers::Column::Id
                    .is_in(rows.iter().map(|i| i.employer_id).collect::<HashSet<_>>()),
            )
            .all(conn)
            .await?
            .into_iter()
            .map(|e| (e.id, e.name))
            .collect();
        let positions = positions::Entity::find()
            .filter(
                positions::Column::Id.is_in(
                    rows.iter()
                        .filter_map(|i| i.position_id)
                        .collect::<HashSet<_>>(),
                ),
            )
            .all(conn)
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let events = events::Entity::find()
            .filter(
                events::Column::Id.is_in(
                    rows.iter()
                        .filter_map(|i| i.event_id)
                        .collect::<HashSet<_>>(),
                ),
            )
            .all(conn)
            .await?
            .into_iter()
            .map(|e| (e.id, e.title))
            .collect();
        Ok(Self {
            users,
            employers,
            positions,
            events,
        })
    }

    /// The view of one intent, without its history.
    pub fn view(&self, i: intents::Model) -> IntentView {
        let candidate = self.users.get(&i.candidate_id);
        IntentView {
            id: i.id,
            status: i.status,
            candidate: IntentCandidate {
                id: i.candidate_id,
                full_name: candidate.map(|u| u.full_name.clone()).unwrap_or_default(),
                university: candidate.and_then(|u| u.university.clone()),
                major: candidate.and_then(|u| u.major.clone()),
                degree: candidate.and_then(|u| u.degree),
                graduation_year: candidate.and_then(|u| u.graduation_year),
            },
            employer: Named {
                id: i.employer_id,
                name: self
                    .employers
                    .get(&i.employer_id)
                    .cloned()
                    .unwrap_or_default(),
            },
            position: i.position_id.map(|id| Named {
                id,
                name: self
                    .positions
                    .get(&id)
                    .map(|p| p.title.clone())
                    .unwrap_or_default(),
            }),
            event: i.event_id.map(|id| Named {
                id,
                name: self.events.get(&id).cloned().unwrap_or_default(),
            }),
            checkin_id: i.checkin_id,
            talent_category: i.talent_category,
            note: i.note,
            signed_at: i.signed_at,
            closed_at: i.closed_at,
            created_at: i.created_at,
            updated_at: i.updated_at,
            history: None,
        }
    }
}

/// One intent's view, its names read from the database.
pub async fn view_one<C: ConnectionTrait>(
    conn: &C,
    intent: intents::Model,
) -> Result<IntentView, ApiError> {
    let lookups = Lookups::load(conn, std::slice::from_ref(&intent)).await?;
    Ok(lookups.view(intent))
}

/// The events a campaign or an event names; `None` is every event.
pub async fn scope<C: ConnectionTrait>(
    conn: &C,
    event_id: Option<Uuid>,
    campaign_id: Option<Uuid>,
) -> Result<Option<Vec<Uuid>>, ApiError> {
    if event_id.is_none() && campaign_id.is_none() {
        return Ok(None);
    }
    let mut select = events::Entity::find()
        .select_only()
        .column(events::Column::Id);
    if let Some(event) = event_id {
        select = select.filter(events::Column::Id.eq(event));
    }
    if let Some(campaign) = campaign_id {
        select = select.filter(events::Column::CampaignId.eq(campaign));
    }
    Ok(Some(select.into_tuple().all(conn).await?))
}
