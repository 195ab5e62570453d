//! Reading intents: one with its history, the lists staff filter and export,
//! and a candidate's own. Who may see what is decided in the service.

use std::collections::HashMap;

use futures_util::{Stream, stream};
use sea_orm::{
    ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};
use uuid::Uuid;

use super::{
    lookups::{Lookups, scope, view_one},
    service::{acting_employer, visible},
    types::{HistoryEntry, IntentView, IntentsQuery, Person},
};
use crate::{
    entities::{
        intent_history, intents,
        users::{self, Role},
    },
    http::{ApiError, Caller, Page, pagination::PageRequest},
};

/// One intent with its history, oldest change first. A candidate reading its
/// own sees neither the intent's note nor the changes' notes: they are the
/// employer's working notes.
pub async fn get_intent(
    db_conn: &DatabaseConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<IntentView, ApiError> {
    let intent = visible(db_conn, caller, id).await?;
    let entries = intent_history::Entity::find()
        .filter(intent_history::Column::IntentId.eq(intent.id))
        .order_by_asc(intent_history::Column::Id)
        .all(db_conn)
        .await?;
    let actors: HashMap<Uuid, String> = users::Entity::find()
        .filter(users::Column::Id.is_in(entries.iter().map(|h| h.actor_id)))
        .all(db_conn)
        .await?
        .into_iter()
        .map(|u| (u.id, u.full_name))
        .collect();
    let candidate = caller.role == Role::Candidate;
    let mut view = view_one(db_conn, intent).await?;
    if candidate {
        view.note.clear();
    }
    view.history = Some(
        entries
            .into_iter()
            .map(|h| HistoryEntry {
                id: h.id,
                actor: Person {
                    id: h.actor_id,
                    full_name: actors.get(&h.actor_id).cloned().unwrap_or_default(),
                },
                from: h.from_status,
                to: h.to_status,
                // The employer's notes are its own working notes.
                note: if candidate { String::new() } else { h.note },
                at: h.created_at,
            })
            .collect(),
    );
    Ok(view)
}

/// The intents a staff caller asked for, not read yet: the caller decides
/// whether it wants them all (an export) or a page.
pub struct MatchingIntents(Select<intents::Entity>);

/// Which intents match `query` for the caller: organisers all, recruiters
/// their own employer's (another employer is 403), candidates none (403).
pub async fn matching_intents(
    db_conn: &DatabaseConnection,
    caller: &Caller,
    query: &IntentsQuery,
) -> Result<MatchingIntents, ApiError> {
    use intents::Column as I;
    let mut select = intents::Entity::find().order_by_asc(I::Id);
    match caller.role {
        Role::Organiser | Role::Admin => {
            if let Some(v) = query.employer_id {
                select = select.filter(I::EmployerId.eq(v));
            }
        }
        Role::Recruiter => {
            let own = acting_employer(caller, query.employer_id)?;
            select = select.filter(I::EmployerId.eq(own));
        }
        Role::Candidate => {
            return Err(ApiError::Forbidden(
                "candidates read GET /me/intents".into(),
            ));
        }
    }
    if let Some(v) = query.status {
        select = select.filter(I::Status.eq(v));
    }
    if let Some(v) = query.event_id {
        select = select.filter(I::EventId.eq(v));
    }
    if let Some(v) = query.candidate_id {
        select = select.filter(I::CandidateId.eq(v));
    }
    if let Some(events) = scope(db_conn, None, query.campaign_id).await? {
        select = select.filter(I::EventId.is_in(events));
    }
    if let Some(university) = query
        .university
        .as_deref()
        .map(str::trim)
        .filter(|u| !u.is_empty())
    {
        use sea_orm::sea_query::Query;
        let of_university = Query::select()
            .column(users::Column::Id)
            .from(users::Entity)
            .and_where(users::Column::University.eq(university))
            .to_owned();
        select = select.filter(I::CandidateId.in_subquery(of_university));
    }
    Ok(MatchingIntents(select))
}

impl MatchingIntents {
    /// Every match in pages of `size`, oldest first, each page read when
    /// the one before has been used: for exports of any length.
    pub fn pages(
        self,
        db_conn: DatabaseConnection,
        size: u64,
    ) -> impl Stream<Item = Result<Vec<IntentView>, ApiError>> + 'static {
        let select = self.0;
        stream::try_unfold(Some(None::<Uuid>), move |after| {
            let (select, db_conn) = (select.clone(), db_conn.clone());
            async move {
                let Some(after) = after else {
                    return Ok(None);
                };
                let page = MatchingIntents(select)
                    .page(&db_conn, PageRequest { after, limit: size })
                    .await?;
                let next = page
                    .next_cursor
                    .is_some()
                    .then(|| page.items.last().map(|i| i.id))
                    .flatten();
                Ok(Some((page.items, next.map(Some))))
            }
        })
    }

    /// One page of the matches, oldest first.
    pub async fn page(
        self,
        db_conn: &DatabaseConnection,
        page: PageRequest,
    ) -> Result<Page<IntentView>, ApiError> {
        let mut select = self.0;
        if let Some(after) = page.after {
            select = select.filter(intents::Column::Id.gt(after));
        }
        let rows = select.limit(page.limit + 1).all(db_conn).await?;
        let lookups = Lookups::load(db_conn, &rows).await?;
        Ok(Page::from_rows(rows, page, |i| i.id, |i| lookups.view(i)))
    }
}

/// A candidate's own intents, newest first, without the employer's notes.
pub async fn list_my_intents(
    db_conn: &DatabaseConnection,
    candidate: Uuid,
    page: PageRequest,
) -> Result<Page<IntentView>, ApiError> {
    use intents::Column as I;
    let mut select = intents::Entity::find()
        .filter(I::CandidateId.eq(candidate))
        .order_by_desc(I::Id);
    if let Some(before) = page.after {
        select = select.filter(I::Id.lt(before));
    }
    let rows = select.limit(page.limit + 1).all(db_conn).await?;
    let lookups = Lookups::load(db_conn, &rows).await?;
    Ok(Page::from_rows(
        rows,
        page,
        |i| i.id,
        |i| IntentView {
            note: String::new(),
            ..lookups.view(i)
        },
    ))
}
