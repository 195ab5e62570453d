//! The writer: fills an empty database with the demo campaign in one
//! transaction, from the fixed lists and a fixed pseudo-random sequence.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, PaginatorTrait, Set};
use serde_json::json;
use uuid::Uuid;

use super::data::{DEMO_PASSWORD, EMPLOYERS, GIVEN, MAJORS, SURNAMES, UNIVERSITIES};
use crate::{
    accounts::{password, service::new_referral_code},
    db,
    domain::{CreditCode, Password},
    entities::{
        campaigns, checkins,
        checkins::CheckinSource,
        employers, event_employers,
        events::{self, EventKind, EventStatus},
        intent_history,
        intents::{self, IntentStatus},
        positions,
        registrations::{self, RegistrationStatus},
        users::{self, Degree, Role},
    },
    registrations::tickets::new_ticket_code,
};

/// A fixed pseudo-random sequence (64-bit LCG), so every demo is the same.
struct Dice(u64);

impl Dice {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        ((self.0 >> 33) % n as u64) as usize
    }
}

/// What the demo made, for the command to print.
#[derive(Debug, Default)]
pub struct Summary {
    pub employers: usize,
    pub events: usize,
    pub students: usize,
    pub registrations: usize,
    pub checkins: usize,
    pub intents: usize,
    pub organiser: String,
    pub recruiter: String,
    pub student: String,
}

/// A valid 统一社会信用代码 from 17 characters, with its check character.
fn credit_code(n: usize) -> String {
    let body = format!("91150600MA{:07}", 1_000_000 + n * 7919);
    (0..31)
        .map(|i| {
            let c = "0123456789ABCDEFGHJKLMNPQRTUWXY".as_bytes()[i] as char;
            format!("{body}{c}")
        })
        .find(|code| CreditCode::parse("credit_code", code).is_ok())
        .unwrap_or(body)
}

fn user(email: String, name: String, role: Role, hash: Option<String>) -> users::Model {
    let now = db::now();
    users::Model {
        id: Uuid::now_v7(),
        email,
        password_hash: hash,
        full_name: name,
        phone: None,
        university: None,
        major: None,
        degree: None,
        graduation_year: None,
        role,
        employer_id: None,
        referral_code: new_referral_code(),
        referred_by: None,
        email_verified_at: Some(now),
        disabled_at: None,
        tokens_valid_after: None,
        privacy_notice_version: None,
        privacy_accepted_at: None,
        contact_sharing_at: None,
        anonymised_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Fills an empty database. Refuses one that has events or employers.
pub async fn seed_demo(conn: &DatabaseConnection, notice_version: &str) -> Result<Summary, String> {
    let err = |e: sea_orm::DbErr| e.to_string();
    if events::Entity::find().count(conn).await.map_err(err)? > 0
        || employers::Entity::find().count(conn).await.map_err(err)? > 0
    {
        return Err(
            "the database already has events or employers; seed-demo fills an empty one".into(),
        );
    }
    let hash =
        password::hash_ungated(Password::parse("password", DEMO_PASSWORD).map_err(|e| e.message)?)
            .await
            .map_err(|e| e.to_string())?;
    let mut dice = Dice(2026);
    let mut summary = Summary::default();
    let now = db::now();
    let txn = db::begin_write(conn).await.map_err(err)?;

    let organiser = user(
        "organiser@demo.nuancheng.cn".into(),
        "鄂尔多斯市人才办 刘主任".into(),
        Role::Organiser,
        Some(hash.clone()),
    );
    summary.organiser = organiser.email.clone();
    let organiser = users::ActiveModel::from(organiser)
        .reset_all()
        .insert(&txn)
        .await
        .map_err(err)?;

    let campaign = campaigns::ActiveModel::from(campaigns::Model {
        id: Uuid::now_v7(),
        name: "名校引才专项行动 2026".into(),
        year: 2026,
        starts_on: NaiveDate::from_ymd_opt(2026, 9, 1).unwrap_or_default(),
        ends_on: NaiveDate::from_ymd_opt(2027, 6, 30).unwrap_or_default(),
        description: "“暖城之邀”人才入校园：走进全国重点高校，宣讲鄂尔多斯，广纳英才。".into(),
        created_at: now,
        updated_at: now,
    })
    .reset_all()
    .insert(&txn)
    .await
    .map_err(err)?;

    // Employers, their positions and one recruiter each.
    let mut employer_ids = Vec::new();
    let mut positions_of: Vec<Vec<positions::Model>> = Vec::new();
    let mut recruiters = Vec::new();
    for (i, (name, industry, district, seeds)) in EMPLOYERS.iter().enumerate() {
        let employer = employers::ActiveModel::from(employers::Model {
            id: Uuid::now_v7(),
            name: (*name).into(),
            credit_code: credit_code(i),
            industry: (*industry).into(),
            district: (*district).into(),
            description: format!("{name}，位于鄂尔多斯市{district}，{industry}领域重点企业。"),
            created_at: now,
            updated_at: now,
        })
        .reset_all()
        .insert(&txn)
        .await
        .map_err(err)?;
        let mut list = Vec::new();
        for (title, major, degree, category, salary, benefits) in seeds.iter() {
            list.push(
                positions::ActiveModel::from(positions::Model {
                    id: Uuid::now_v7(),
                    employer_id: employer.id,
                    title: (*title).into(),
                    majors: json!([major]),
                    degree_min: *degree,
                    headcount: 2 + dice.next(8) as i32,
                    talent_category: *category,
                    salary_min: Some(*salary),
                    salary_max: Some(salary + salary / 2),
                    location: format!("鄂尔多斯市{district}"),
                    benefits: json!(benefits),
                    description: String::new(),
                    created_at: now,
                    updated_at: now,
                })
                .reset_all()
                .insert(&txn)
                .await
                .map_err(err)?,
            );
        }
        let mut recruiter = user(
            format!("recruiter{}@demo.nuancheng.cn", i + 1),
            format!("{}{}（{name}）", SURNAMES[i], GIVEN[(i * 3) % 16]),
            Role::Recruiter,
            Some(hash.clone()),
        );
        recruiter.employer_id = Some(employer.id);
        if i == 0 {
            summary.recruiter = recruiter.email.clone();
        }
        recruiters.push(
            users::ActiveModel::from(recruiter)
                .reset_all()
                .insert(&txn)
                .await
                .map_err(err)?,
        );
        employer_ids.push(employer.id);
        positions_of.push(list);
    }
    summary.employers = employer_ids.len();

    // One event per university: the first eight held, the rest to come.
    for (u, (university, city)) in UNIVERSITIES.iter().enumerate() {
        let held = u < 8;
        let starts: DateTime<Utc> = if held {
            now - TimeDelta::days(70 - 8 * u as i64)
        } else {
            now + TimeDelta::days(10 + 7 * (u as i64 - 8))
        };
        let capacity = 40 + 5 * dice.next(5) as i32;
        let event = events::Model {
            id: Uuid::now_v7(),
            campaign_id: Some(campaign.id),
            title: format!(
                "“暖城之邀”{university}专场{}",
                if u % 3 == 0 { "招聘会" } else { "宣讲会" }
            ),
            kind: if u % 3 == 0 {
                EventKind::JobFair
            } else {
                EventKind::InfoSession
            },
            university: (*university).into(),
            venue: format!("{university}学生活动中心"),
            city: (*city).into(),
            starts_at: starts,
            ends_at: starts + TimeDelta::hours(3),
            capacity,
            waitlist_limit: 10,
            registration_opens_at: Some(starts - TimeDelta::days(21)),
            registration_closes_at: None,
            description: "鄂尔多斯重点产业与人才政策介绍、用人单位现场交流与签约。".into(),
            min_degree: None,
            graduation_years: None,
            status: if held {
                EventStatus::Completed
            } else {
                EventStatus::Published
            },
            cancel_reason: None,
            confirmed_count: 0,
            waitlist_count: 0,
            created_by: organiser.id,
            published_at: Some(starts - TimeDelta::days(21)),
            cancelled_at: None,
            created_at: starts - TimeDelta::days(30),
            updated_at: starts - TimeDelta::days(21),
        };
        let mut event = events::ActiveModel::from(event)
            .reset_all()
            .insert(&txn)
            .await
            .map_err(err)?;
        summary.events += 1;
        // Four or five employers take part in each event.
        let mut taking_part = Vec::new();
        for k in 0..(4 + u % 2) {
            let e = (u + k * 3) % employer_ids.len();
            if !taking_part.contains(&e) {
                taking_part.push(e);
                event_employers::ActiveModel {
                    event_id: Set(event.id),
                    employer_id: Set(employer_ids[e]),
                }
                .insert(&txn)
                .await
                .map_err(err)?;
            }
        }

        // Students of this university; a full house with a waitlist for upcoming ones.
        let students = if held {
            capacity - 5 + dice.next(5) as i32
        } else {
            capacity + 4
        };
        for s in 0..students {
            let degree = [
                Degree::Bachelor,
                Degree::Master,
                Degree::Master,
                Degree::Phd,
            ][dice.next(4)];
            let name = format!(
                "{}{}{}",
                SURNAMES[dice.next(16)],
                GIVEN[dice.next(16)],
                GIVEN[dice.next(16)]
            );
            let mut student = user(
                format!(
                    "student{:03}.{:02}@demo.nuancheng.cn",
                    summary.students + 1,
                    u + 1
                ),
                name,
                Role::Candidate,
                None,
            );
            if summary.students == 0 {
                student.password_hash = Some(hash.clone());
                summary.student = student.email.clone();
            }
            student.university = Some((*university).into());
            student.major = Some(MAJORS[dice.next(MAJORS.len())].into());
            student.degree = Some(degree);
            student.graduation_year = Some(2026 + dice.next(2) as i32);
            student.phone = Some(format!("139{:08}", 10_000_000 + summary.students * 37));
            // Every student accepted the notice; two in three share contacts.
            student.privacy_notice_version = Some(notice_version.to_owned());
            student.privacy_accepted_at = Some(student.created_at);
            student.contact_sharing_at = (summary.students % 3 != 2).then_some(student.created_at);
            let student = users::ActiveModel::from(student)
                .reset_all()
                .insert(&txn)
                .await
                .map_err(err)?;
            summary.students += 1;

            let confirmed = s < capacity;
            let position = (!confirmed).then_some(s - capacity + 1);
            let registered_at = starts - TimeDelta::days(14) + TimeDelta::minutes(s as i64 * 7);
            let registration = registrations::ActiveModel::from(registrations::Model {
                id: Uuid::now_v7(),
                event_id: event.id,
                user_id: student.id,
                status: if confirmed {
                    RegistrationStatus::Confirmed
                } else {
                    RegistrationStatus::Waitlisted
                },
                waitlist_position: position,
                ticket_code: new_ticket_code(),
                referrer_id: None,
                confirmed_at: confirmed.then_some(registered_at),
                cancelled_at: None,
                cancelled_by: None,
                created_at: registered_at,
                updated_at: registered_at,
            })
            .reset_all()
            .insert(&txn)
            .await
            .map_err(err)?;
            summary.registrations += 1;
            if confirmed {
                event.confirmed_count += 1;
            } else {
                event.waitlist_count += 1;
            }

            // At a held event most came; some of those signed up for more.
            if !held || dice.next(10) < 2 {
                continue;
            }
            let admitted_by = &recruiters[taking_part[dice.next(taking_part.len())]];
            let checkin = checkins::ActiveModel::from(checkins::Model {
                id: Uuid::now_v7(),
                event_id: event.id,
                registration_id: registration.id,
                user_id: student.id,
                checked_in_by: admitted_by.id,
                client_checkin_id: None,
                gate: Some(["东门", "西门"][dice.next(2)].into()),
                source: CheckinSource::Scan,
                scanned_at: starts - TimeDelta::minutes(20) + TimeDelta::seconds(s as i64 * 13),
                // The demo's past check-ins write no emails: no
                // `checkin_thanks` row.
                created_at: starts - TimeDelta::minutes(20) + TimeDelta::seconds(s as i64 * 13),
            })
            .reset_all()
            .insert(&txn)
            .await
            .map_err(err)?;
            summary.checkins += 1;
            if dice.next(10) < 5 {
                continue;
            }
            let e = taking_part[dice.next(taking_part.len())];
            let position = &positions_of[e][dice.next(positions_of[e].len())];
            let path: &[IntentStatus] = match dice.next(12) {
                0..=2 => &[IntentStatus::Interested],
                3 => &[IntentStatus::Interested, IntentStatus::Interviewing],
                4 => &[
                    IntentStatus::Interested,
                    IntentStatus::Interviewing,
                    IntentStatus::Offered,
                ],
                5..=7 => &[
                    IntentStatus::Interested,
                    IntentStatus::Offered,
                    IntentStatus::Signed,
                ],
                8 => &[
                    IntentStatus::Interested,
                    IntentStatus::Signed,
                    IntentStatus::Onboarded,
                ],
                9 => &[
                    IntentStatus::Interested,
                    IntentStatus::Signed,
                    IntentStatus::Withdrawn,
                ],
                10 => &[IntentStatus::Interested, IntentStatus::Withdrawn],
                _ => &[
                    IntentStatus::Interested,
                    IntentStatus::Interviewing,
                    IntentStatus::Declined,
                ],
            };
            let last = *path.last().unwrap_or(&IntentStatus::Interested);
            let recorded_at = starts + TimeDelta::hours(2);
            // Step i of the path happens 3·i days after the first.
            let step_at = |i: usize| recorded_at + TimeDelta::days(3 * i as i64);
            let signed_at = path
                .iter()
                .position(|s| *s == IntentStatus::Signed)
                .map(step_at);
            let intent = intents::ActiveModel::from(intents::Model {
                id: Uuid::now_v7(),
                candidate_id: student.id,
                employer_id: employer_ids[e],
                position_id: Some(position.id),
                event_id: Some(event.id),
                checkin_id: Some(checkin.id),
                status: last,
                talent_category: position.talent_category,
                open_key: last.is_open().then(|| {
                    format!(
                        "{}:{}:{}",
                        student.id.simple(),
                        employer_ids[e].simple(),
                        position.id.simple()
                    )
                }),
                note: String::new(),
                created_by: admitted_by.id,
                signed_at,
                closed_at: (!last.is_open()).then(|| step_at(path.len() - 1)),
                created_at: recorded_at,
                updated_at: step_at(path.len() - 1),
            })
            .reset_all()
            .insert(&txn)
            .await
            .map_err(err)?;
            summary.intents += 1;
            let mut from = None;
            for (step, status) in path.iter().enumerate() {
                intent_history::ActiveModel {
                    id: Set(Uuid::now_v7()),
                    intent_id: Set(intent.id),
                    actor_id: Set(admitted_by.id),
                    from_status: Set(from),
                    to_status: Set(*status),
                    note: Set(String::new()),
                    created_at: Set(step_at(step)),
                }
                .insert(&txn)
                .await
                .map_err(err)?;
                from = Some(*status);
            }
        }
        events::ActiveModel {
            id: Set(event.id),
            confirmed_count: Set(event.confirmed_count),
            waitlist_count: Set(event.waitlist_count),
            ..Default::default()
        }
        .update(&txn)
        .await
        .map_err(err)?;
    }
    txn.commit().await.map_err(err)?;
    Ok(summary)
}
