//! A student's copy of everything held about them (个人信息保护法 第四十五条):
//! the profile, consents, registrations, check-ins, intents with their
//! history, and the emails sent to them. Nothing about anyone else: other
//! people appear only as the name of the staff member who changed an intent.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use uuid::Uuid;

use super::types::*;
use crate::{
    db,
    entities::{checkins, consents, events, intent_history, notifications, registrations, users},
    http::ApiError,
    intents::lookups::Lookups,
    notify::outbox::Attachment,
};

/// The export of `user_id`'s personal data.
#[tracing::instrument(skip(conn))]
pub async fn export_of<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
) -> Result<PersonalDataExport, ApiError> {
    let user = users::Entity::find_by_id(user_id)
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let consents = consents::Entity::find()
        .filter(consents::Column::UserId.eq(user.id))
        .order_by_asc(consents::Column::CreatedAt)
        .order_by_asc(consents::Column::Id)
        .all(conn)
        .await?;
    let regs = registrations::Entity::find()
        .filter(registrations::Column::UserId.eq(user.id))
        .order_by_asc(registrations::Column::Id)
        .all(conn)
        .await?;
    let arrivals = checkins::Entity::find()
        .filter(checkins::Column::UserId.eq(user.id))
        .order_by_asc(checkins::Column::Id)
        .all(conn)
        .await?;
    let events = events_by_id(
        conn,
        regs.iter()
            .map(|r| r.event_id)
            .chain(arrivals.iter().map(|c| c.event_id)),
    )
    .await?;
    let title = |id: &Uuid| events.get(id).map(|e| e.title.clone()).unwrap_or_default();
    Ok(PersonalDataExport {
        generated_at: db::now(),
        consents: ExportConsents {
            privacy_notice_version: user.privacy_notice_version.clone(),
            privacy_accepted_at: user.privacy_accepted_at,
            contact_sharing_at: user.contact_sharing_at,
            history: consents
                .into_iter()
                .map(|c| ExportConsent {
                    kind: c.kind,
                    granted: c.granted,
                    version: c.version,
                    ip: c.ip,
                    at: c.created_at,
                })
                .collect(),
        },
        registrations: regs
            .into_iter()
            .map(|r| ExportRegistration {
                id: r.id,
                event_id: r.event_id,
                event_title: title(&r.event_id),
                event_starts_at: events.get(&r.event_id).map(|e| e.starts_at),
                status: r.status,
                waitlist_position: r.waitlist_position,
                ticket_code: r.ticket_code,
                referred: r.referrer_id.is_some(),
                confirmed_at: r.confirmed_at,
                cancelled_at: r.cancelled_at,
                cancelled_by_self: r.cancelled_by == Some(user.id),
                created_at: r.created_at,
            })
            .collect(),
        checkins: arrivals
            .into_iter()
            .map(|c| ExportCheckin {
                id: c.id,
                event_id: c.event_id,
                event_title: title(&c.event_id),
                registration_id: c.registration_id,
                source: c.source,
                gate: c.gate,
                scanned_at: c.scanned_at,
                created_at: c.created_at,
            })
            .collect(),
        intents: intents_of(conn, user.id).await?,
        emails: emails_to(conn, &user.email).await?,
        profile: ExportProfile {
            id: user.id,
            email: user.email,
            full_name: user.full_name,
            phone: user.phone,
            university: user.university,
            major: user.major,
            degree: user.degree,
            graduation_year: user.graduation_year,
            role: user.role,
            referral_code: user.referral_code,
            referred: user.referred_by.is_some(),
            email_verified_at: user.email_verified_at,
            has_password: user.password_hash.is_some(),
            created_at: user.created_at,
            updated_at: user.updated_at,
        },
    })
}

async fn events_by_id<C: ConnectionTrait>(
    conn: &C,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, events::Model>, ApiError> {
    let ids: Vec<Uuid> = ids.collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    Ok(events::Entity::find()
        .filter(events::Column::Id.is_in(ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect())
}

/// The candidate's intents with every change. The notes are included: what
/// an employer wrote about a person is that person's data to see.
async fn intents_of<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
) -> Result<Vec<ExportIntent>, ApiError> {
    use crate::entities::intents;
    let rows = intents::Entity::find()
        .filter(intents::Column::CandidateId.eq(user_id))
        .order_by_asc(intents::Column::Id)
        .all(conn)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let changes = intent_history::Entity::find()
        .filter(intent_history::Column::IntentId.is_in(rows.iter().map(|i| i.id)))
        .order_by_asc(intent_history::Column::Id)
        .all(conn)
        .await?;
    // Staff are named, nothing more: their email and phone are theirs.
    let actors = users::by_ids(conn, changes.iter().map(|h| h.actor_id)).await?;
    let mut history: HashMap<Uuid, Vec<ExportIntentChange>> = HashMap::new();
    for h in changes {
        history
            .entry(h.intent_id)
            .or_default()
            .push(ExportIntentChange {
                by: actors
                    .get(&h.actor_id)
                    .map(|u| u.full_name.clone())
                    .unwrap_or_default(),
                from: h.from_status,
                to: h.to_status,
                note: h.note,
                at: h.created_at,
            });
    }
    let lookups = Lookups::load(conn, &rows).await?;
    Ok(rows
        .into_iter()
        .map(|i| {
            let view = lookups.view(i);
            ExportIntent {
                history: history.remove(&view.id).unwrap_or_default(),
                id: view.id,
                employer: view.employer.name,
                position: view.position.map(|p| p.name),
                event_title: view.event.map(|e| e.name),
                status: view.status,
                talent_category: view.talent_category,
                note: view.note,
                signed_at: view.signed_at,
                closed_at: view.closed_at,
                created_at: view.created_at,
                updated_at: view.updated_at,
            }
        })
        .collect())
}

/// The outbox rows addressed to `email`, with their text while it is kept.
async fn emails_to<C: ConnectionTrait>(
    conn: &C,
    email: &str,
) -> Result<Vec<ExportEmail>, ApiError> {
    let rows = notifications::Entity::find()
        .filter(notifications::Column::ToEmail.eq(email))
        .order_by_asc(notifications::Column::CreatedAt)
        .order_by_asc(notifications::Column::Id)
        .all(conn)
        .await?;
    let held = |body: String| Some(body).filter(|b| !b.is_empty());
    Ok(rows
        .into_iter()
        .map(|n| ExportEmail {
            id: n.id,
            kind: n.kind,
            subject: n.subject,
            status: n.status,
            sent_at: n.sent_at,
            created_at: n.created_at,
            text_body: held(n.text_body),
            html_body: held(n.html_body),
            attachments: n
                .attachments
                .and_then(|a| serde_json::from_value::<Vec<Attachment>>(a).ok())
                .unwrap_or_default()
                .into_iter()
                .map(|a| a.filename)
                .collect(),
        })
        .collect())
}
