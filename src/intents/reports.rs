//! What the city counts: intents to join by event, university, employer,
//! degree, talent category or month; the funnel from registration to
//! onboarding; and referrals (以才引才). Organisers read them as JSON, CSV
//! or XLSX; every user reads its own referral figures.

use std::collections::{BTreeMap, HashMap, HashSet};

use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, FixedOffset, Utc};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::{
    entities::{
        checkins, events,
        intents::{self, IntentStatus},
        registrations::{self, RegistrationStatus},
        users::{self, Role},
    },
    http::{
        ApiError, Caller, Organiser,
        error::Problem,
        export::{self, Cell, Table},
    },
    state::AppState,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.route("/reports/intents", web::get().to(intents_report))
        .route("/reports/funnel", web::get().to(funnel))
        .route("/reports/referrals", web::get().to(referrals))
        .route("/me/referral", web::get().to(my_referral));
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    Event,
    University,
    Employer,
    Degree,
    TalentCategory,
    Month,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct ReportQuery {
    pub group_by: GroupBy,
    /// Count only intents in this status now; `signed` counts intents that
    /// reached signed and were not withdrawn (signed or onboarded now).
    pub status: Option<IntentStatus>,
    pub campaign_id: Option<Uuid>,
    pub event_id: Option<Uuid>,
    /// From this time (signing time with `status=signed`, else creation).
    pub from: Option<DateTime<Utc>>,
    /// Up to this time, exclusive.
    pub to: Option<DateTime<Utc>>,
    /// `csv` or `xlsx` for a file.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReportRow {
    /// The group's id or value (`null` for intents without one, e.g. no event).
    pub key: Option<String>,
    pub label: String,
    pub count: i64,
    /// The same intents by their current status.
    pub by_status: BTreeMap<String, i64>,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct IntentReport {
    pub group_by: GroupBy,
    pub status: Option<IntentStatus>,
    pub rows: Vec<ReportRow>,
    /// The sum of the rows' counts.
    pub total: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct FunnelQuery {
    pub event_id: Option<Uuid>,
    pub campaign_id: Option<Uuid>,
    pub format: Option<String>,
}

/// Distinct candidates at each stage. `intents` counts every candidate with
/// an intent; each later stage those whose intent is at or past it now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct Funnel {
    pub registered: i64,
    pub confirmed: i64,
    pub checked_in: i64,
    pub intents: i64,
    pub offered: i64,
    pub signed: i64,
    pub onboarded: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MyReferral {
    /// Share it: signing up or registering with it records who referred whom.
    pub code: String,
    /// Accounts made with the code.
    pub signups_referred: i64,
    /// Registrations (not cancelled) made with the code.
    pub registrations_referred: i64,
    /// People brought in either way who have a signed intent (signed or onboarded).
    pub intents_signed_referred: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReferralRow {
    pub referrer_id: Uuid,
    pub full_name: String,
    pub role: Role,
    pub signups: i64,
    pub registrations: i64,
    pub signed: i64,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ReferralReport {
    pub rows: Vec<ReferralRow>,
}

const SIGNED_OR_ONBOARDED: [IntentStatus; 2] = [IntentStatus::Signed, IntentStatus::Onboarded];

/// The events a campaign or an event names; `None` is every event.
pub(crate) async fn scope<C: ConnectionTrait>(
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

/// Users by id, read in chunks so that no query carries more ids than a
/// database accepts in one statement.
pub(crate) async fn users_by_id<C: ConnectionTrait>(
    conn: &C,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, users::Model>, ApiError> {
    let ids: Vec<Uuid> = ids.collect::<HashSet<_>>().into_iter().collect();
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(1000) {
        for user in users::Entity::find()
            .filter(users::Column::Id.is_in(chunk.iter().copied()))
            .all(conn)
            .await?
        {
            out.insert(user.id, user);
        }
    }
    Ok(out)
}

fn label_of(value: impl Serialize) -> String {
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

    let lookups = super::Lookups::load(conn, &rows).await?;
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

/// Intents counted by event, university, employer, degree, talent category
/// or month (organisers). `status=signed` is the city's headline figure.
#[utoipa::path(get, path = "/api/v1/reports/intents", tag = "reports", security(("bearer" = [])),
    params(ReportQuery),
    responses((status = 200, body = IntentReport, description = "JSON, CSV or XLSX"), (status = 403, body = Problem)))]
pub async fn intents_report(
    state: web::Data<AppState>,
    req: HttpRequest,
    _organiser: Organiser,
    query: web::Query<ReportQuery>,
) -> Result<HttpResponse, ApiError> {
    let report = intent_report(&state.db, &query).await?;
    if let Some(format) = export::requested(&req)? {
        let group = label_of(report.group_by);
        let mut headers = vec![group.as_str(), "count"];
        headers.extend(IntentStatus::ALL.iter().map(|s| s.as_str()));
        let mut table = Table::new(&headers);
        for row in &report.rows {
            let mut cells: Vec<Cell> = vec![row.label.clone().into(), row.count.into()];
            cells.extend(
                IntentStatus::ALL
                    .iter()
                    .map(|s| Cell::from(row.by_status.get(s.as_str()).copied().unwrap_or(0))),
            );
            table.push(cells);
        }
        let mut total: Vec<Cell> = vec!["合计 total".into(), report.total.into()];
        total.extend(IntentStatus::ALL.iter().map(|s| {
            Cell::from(
                report
                    .rows
                    .iter()
                    .map(|r| r.by_status.get(s.as_str()).copied().unwrap_or(0))
                    .sum::<i64>(),
            )
        }));
        table.push(total);
        return Ok(table.respond(format, &format!("intents-by-{group}")));
    }
    Ok(HttpResponse::Ok().json(report))
}

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

/// registered → confirmed → checked_in → intents → offered → signed →
/// onboarded for an event, a campaign, or everything, counting distinct
/// candidates (organisers).
#[utoipa::path(get, path = "/api/v1/reports/funnel", tag = "reports", security(("bearer" = [])),
    params(FunnelQuery),
    responses((status = 200, body = Funnel, description = "JSON, CSV or XLSX"), (status = 403, body = Problem)))]
pub async fn funnel(
    state: web::Data<AppState>,
    req: HttpRequest,
    _organiser: Organiser,
    query: web::Query<FunnelQuery>,
) -> Result<HttpResponse, ApiError> {
    let funnel = funnel_of(&state.db, query.event_id, query.campaign_id).await?;
    if let Some(format) = export::requested(&req)? {
        let mut table = Table::new(&["stage", "candidates"]);
        for (stage, n) in [
            ("registered", funnel.registered),
            ("confirmed", funnel.confirmed),
            ("checked_in", funnel.checked_in),
            ("intents", funnel.intents),
            ("offered", funnel.offered),
            ("signed", funnel.signed),
            ("onboarded", funnel.onboarded),
        ] {
            table.push(vec![stage.into(), n.into()]);
        }
        return Ok(table.respond(format, "funnel"));
    }
    Ok(HttpResponse::Ok().json(funnel))
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

/// The caller's referral code and what it brought (以才引才).
#[utoipa::path(get, path = "/api/v1/me/referral", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = MyReferral), (status = 401, body = Problem)))]
pub async fn my_referral(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let me = users::Entity::find_by_id(caller.id)
        .one(&state.db)
        .await?
        .ok_or(ApiError::NotFound("user"))?;
    let brought = referred(&state.db, Some(caller.id)).await?;
    let (people, registrations, signups) = brought.get(&caller.id).cloned().unwrap_or_default();
    let signed = signed_candidates(&state.db, people.iter().copied()).await?;
    Ok(HttpResponse::Ok().json(MyReferral {
        code: me.referral_code,
        signups_referred: signups.len() as i64,
        registrations_referred: registrations,
        intents_signed_referred: signed.len() as i64,
    }))
}

/// Every referrer with what it brought in, most signed first (organisers).
#[utoipa::path(get, path = "/api/v1/reports/referrals", tag = "reports", security(("bearer" = [])),
    responses((status = 200, body = ReferralReport, description = "JSON, CSV or XLSX"), (status = 403, body = Problem)))]
pub async fn referrals(
    state: web::Data<AppState>,
    req: HttpRequest,
    _organiser: Organiser,
) -> Result<HttpResponse, ApiError> {
    let brought = referred(&state.db, None).await?;
    let everyone: HashSet<Uuid> = brought
        .values()
        .flat_map(|(p, _, _)| p.iter().copied())
        .collect();
    let signed = signed_candidates(&state.db, everyone.into_iter()).await?;
    let referrers = users_by_id(&state.db, brought.keys().copied()).await?;
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
    if let Some(format) = export::requested(&req)? {
        let mut table = Table::new(&["referrer", "role", "signups", "registrations", "signed"]);
        for r in &rows {
            table.push(vec![
                r.full_name.clone().into(),
                label_of(r.role).into(),
                r.signups.into(),
                r.registrations.into(),
                r.signed.into(),
            ]);
        }
        return Ok(table.respond(format, "referrals"));
    }
    Ok(HttpResponse::Ok().json(ReferralReport { rows }))
}
