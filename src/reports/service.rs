//! The rules of reports: what each figure counts. No HTTP types here:
//! routes parse, call, respond (or export).

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::Serialize;
use uuid::Uuid;

use super::types::{
    Funnel, GroupBy, IntentReport, MyReferral, ReferralReport, ReferralRow, ReportQuery, ReportRow,
};
use crate::{
    entities::{
        checkins,
        intents::{self, IntentStatus},
        registrations::{self, RegistrationStatus},
        users,
    },
    http::ApiError,
    intents::lookups::{Lookups, scope},
};

const SIGNED_OR_ONBOARDED: [IntentStatus; 2] = [IntentStatus::Signed, IntentStatus::Onboarded];

/// The name serde gives a unit variant: `talent_category`, `master`.
pub fn label_of(value: impl Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// The month, in Beijing time, that an instant falls in: `2026-11`.
fn month_of(t: DateTime<Utc>) -> String {
    let beijing = FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    t.with_timezone(&beijing).format("%Y-%m").to_string()
}

/// Intents counted by the group `query` asks for, largest first (months in
/// order), each with the same intents by their current status.
pub async fn intent_report<C: ConnectionTrait>(
    conn: &C,
    query: &ReportQuery,
) -> Result<IntentReport, ApiError> {
    use intents::Column as I;
    let mut select = intents::Entity::find();
    if let Some(events) = scope(conn, query.event_id, query.campaign_id).await? {
        select = select.filter(I::EventId.is_in(events));
    }
    let signed = query.status == Some(IntentStatus::Signed);
    match query.status {
        Some(IntentStatus::Signed) => select = select.filter(I::Status.is_in(SIGNED_OR_ONBOARDED)),
        Some(status) => select = select.filter(I::Status.eq(status)),
        None => {}
    }
    let time_column = if signed { I::SignedAt } else { I::CreatedAt };
    let mut errors = crate::http::FieldErrors::new();
    for (field, value) in [("from", query.from), ("to", query.to)] {
        if let Some(v) = value {
            errors.take(crate::domain::plausible_time(field, v));
        }
    }
    errors.finish()?;
    if let Some(from) = query.from {
        select = select.filter(time_column.gte(from));
    }
    if let Some(to) = query.to {
        select = select.filter(time_column.lt(to));
    }
    let rows = select.all(conn).await?;

    let lookups = Lookups::load(conn, &rows).await?;
    let (candidates, employer_names, event_titles) =
        (&lookups.users, &lookups.employers, &lookups.events);
    let mut groups: BTreeMap<Option<String>, ReportRow> = BTreeMap::new();
    for intent in rows {
        let candidate = candidates.get(&intent.candidate_id);
        let (key, label) = match query.group_by {
            GroupBy::Event => match intent.event_id {
                Some(id) => (
                    Some(id.to_string()),
                    event_titles.get(&id).cloned().unwrap_or_default(),
                ),
                None => (None, "（无活动）no event".to_owned()),
            },
            GroupBy::Employer => (
                Some(intent.employer_id.to_string()),
                employer_names
                    .get(&intent.employer_id)
                    .cloned()
                    .unwrap_or_default(),
            ),
            GroupBy::University => match candidate.and_then(|c| c.university.clone()) {
                Some(u) => (Some(u.clone()), u),
                None => (None, "（未填写）not given".to_owned()),
            },
            GroupBy::Degree => match candidate.and_then(|c| c.degree) {
                Some(d) => (Some(label_of(d)), label_of(d)),
                None => (None, "（未填写）not given".to_owned()),
            },
            GroupBy::TalentCategory => (
                Some(label_of(intent.talent_category)),
                label_of(intent.talent_category),
            ),
            GroupBy::Month => {
                let at = if signed {
                    intent.signed_at.unwrap_or(intent.created_at)
                } else {
                    intent.created_at
                };
                (Some(month_of(at)), month_of(at))
            }
        };
        let row = groups.entry(key.clone()).or_insert_with(|| ReportRow {
            key,
            label,
            count: 0,
            by_status: BTreeMap::new(),
        });
        row.count += 1;
        *row.by_status
            .entry(intent.status.as_str().to_owned())
            .or_default() += 1;
    }
    let mut rows: Vec<ReportRow> = groups.into_values().collect();
    if query.group_by != GroupBy::Month {
        rows.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.label.cmp(&b.label)));
    }
    Ok(IntentReport {
        group_by: query.group_by,
        status: query.status,
        total: rows.iter().map(|r| r.count).sum(),
        rows,
    })
}

/// Distinct candidates at each stage of an event, a campaign, or everything.
pub async fn funnel_of<C: ConnectionTrait>(
    conn: &C,
    event_id: Option<Uuid>,
    campaign_id: Option<Uuid>,
) -> Result<Funnel, ApiError> {
    let events = scope(conn, event_id, campaign_id).await?;
    let mut regs = registrations::Entity::find()
        .select_only()
        .column(registrations::Column::UserId)
        .column(registrations::Column::Status);
    let mut arrivals = checkins::Entity::find()
        .select_only()
        .column(checkins::Column::UserId);
    let mut pipeline = intents::Entity::find()
        .select_only()
        .column(intents::Column::CandidateId)
        .column(intents::Column::Status);
    if let Some(events) = events {
        regs = regs.filter(registrations::Column::EventId.is_in(events.clone()));
        arrivals = arrivals.filter(checkins::Column::EventId.is_in(events.clone()));
        pipeline = pipeline.filter(intents::Column::EventId.is_in(events));
    }
    let regs: Vec<(Uuid, RegistrationStatus)> = regs.into_tuple().all(conn).await?;
    let arrivals: Vec<Uuid> = arrivals.into_tuple().all(conn).await?;
    let pipeline: Vec<(Uuid, IntentStatus)> = pipeline.into_tuple().all(conn).await?;
    let distinct = |ids: &mut dyn Iterator<Item = Uuid>| ids.collect::<HashSet<_>>().len() as i64;
    let at_or_past = |stages: &[IntentStatus]| {
        distinct(
            &mut pipeline
                .iter()
                .filter(|(_, s)| stages.contains(s))
                .map(|(c, _)| *c),
        )
    };
    Ok(Funnel {
        registered: distinct(&mut regs.iter().map(|(u, _)| *u)),
        confirmed: distinct(
            &mut regs
                .iter()
                .filter(|(_, s)| *s == RegistrationStatus::Confirmed)
                .map(|(u, _)| *u),
        ),
        checked_in: distinct(&mut arrivals.into_iter()),
        intents: distinct(&mut pipeline.iter().map(|(c, _)| *c)),
        offered: at_or_past(&[
            IntentStatus::Offered,
            IntentStatus::Signed,
            IntentStatus::Onboarded,
        ]),
        signed: at_or_past(&SIGNED_OR_ONBOARDED),
        onboarded: at_or_past(&[IntentStatus::Onboarded]),
    })
}

/// Who each referrer brought in: by signup (`users.referred_by`) and by
/// registration (`registrations.referrer_id`, cancelled ones left out).
async fn referred<C: ConnectionTrait>(
    conn: &C,
    referrer: Option<Uuid>,
) -> Result<HashMap<Uuid, (HashSet<Uuid>, i64, HashSet<Uuid>)>, ApiError> {
    let mut signups = users::Entity::find()
        .select_only()
        .column(users::Column::ReferredBy)
        .column(users::Column::Id)
        .filter(users::Column::ReferredBy.is_not_null());
    let mut regs = registrations::Entity::find()
        .select_only()
        .column(registrations::Column::ReferrerId)
        .column(registrations::Column::UserId)
        .filter(registrations::Column::ReferrerId.is_not_null())
        .filter(registrations::Column::Status.ne(RegistrationStatus::Cancelled));
    if let Some(referrer) = referrer {
        signups = signups.filter(users::Column::ReferredBy.eq(referrer));
        regs = regs.filter(registrations::Column::ReferrerId.eq(referrer));
    }
    let signups: Vec<(Uuid, Uuid)> = signups.into_tuple().all(conn).await?;
    let regs: Vec<(Uuid, Uuid)> = regs.into_tuple().all(conn).await?;
    // referrer -> (people brought in either way, registrations, signups)
    let mut out: HashMap<Uuid, (HashSet<Uuid>, i64, HashSet<Uuid>)> = HashMap::new();
    for (by, who) in signups {
        let entry = out.entry(by).or_default();
        entry.0.insert(who);
        entry.2.insert(who);
    }
    for (by, who) in regs {
        let entry = out.entry(by).or_default();
        entry.0.insert(who);
        entry.1 += 1;
    }
    Ok(out)
}

async fn signed_candidates<C: ConnectionTrait>(
    conn: &C,
    among: impl Iterator<Item = Uuid>,
) -> Result<HashSet<Uuid>, ApiError> {
    let among: Vec<Uuid> = among.collect::<HashSet<_>>().into_iter().collect();
    let mut out = HashSet::new();
    for chunk in among.chunks(1000) {
        out.extend(
            intents::Entity::find()
                .select_only()
                .column(intents::Column::CandidateId)
                .filter(intents::Column::Status.is_in(SIGNED_OR_ONBOARDED))
                .filter(intents::Column::CandidateId.is_in(chunk.iter().copied()))
                .into_tuple::<Uuid>()
                .all(conn)
                .await?,
        );
    }
    Ok(out)
}

/// A user's referral code and what it brought (以才引才).
pub async fn my_referral<C: ConnectionTrait>(conn: &C, user: Uuid) -> Result<MyReferral, ApiError> {
    let me = users::Entity::find_by_id(user)
        .one(conn)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let brought = referred(conn, Some(user)).await?;
    let (people, registrations, signups) = brought.get(&user).cloned().unwrap_or_default();
    let signed = signed_candidates(conn, people.iter().copied()).await?;
    Ok(MyReferral {
        code: me.referral_code,
        signups_referred: signups.len() as i64,
        registrations_referred: registrations,
        intents_signed_referred: signed.len() as i64,
    })
}

/// Every referrer with what it brought in, most signed first.
pub async fn referral_report<C: ConnectionTrait>(conn: &C) -> Result<ReferralReport, ApiError> {
    let brought = referred(conn, None).await?;
    let everyone: HashSet<Uuid> = brought
        .values()
        .flat_map(|(p, _, _)| p.iter().copied())
        .collect();
    let signed = signed_candidates(conn, everyone.into_iter()).await?;
    let referrers = users::by_ids(conn, brought.keys().copied()).await?;
    let mut rows: Vec<ReferralRow> = brought
        .into_iter()
        .filter_map(|(id, (people, registrations, signups))| {
            let referrer = referrers.get(&id)?;
            Some(ReferralRow {
                referrer_id: id,
                full_name: referrer.full_name.clone(),
                role: referrer.role,
                signups: signups.len() as i64,
                registrations,
                signed: people.iter().filter(|p| signed.contains(p)).count() as i64,
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        (b.signed, b.signups, b.registrations)
            .cmp(&(a.signed, a.signups, a.registrations))
            .then_with(|| a.full_name.cmp(&b.full_name))
    });
    Ok(ReferralReport { rows })
}
