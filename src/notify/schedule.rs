//! Scheduled mail: reminders before an event and follow-ups after it. The
//! worker calls [`Scheduler::queue_due`] every `mailings.scan_interval_secs`;
//! it finds what is due at the clock's time and queues it on the outbox.
//!
//! Each email is queued in the same transaction as its `scheduled_mails`
//! row, whose unique (event, mailing, student) index lets only one of any
//! number of workers queue it. Nothing is queued for a cancelled event or
//! registration, for a time that had passed when the event was created, or
//! for a kind the organisers turned off for the event; follow-ups skip
//! students who unsubscribed from them.

use std::{collections::HashSet, sync::Arc};

use chrono::{DateTime, TimeDelta, Utc};
use sea_orm::{
    ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set, TryInsertResult,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{
    clock::Clock,
    custom,
    kinds::{Extras, TemplateKind},
    outbox, templates, unsubscribe,
};
use crate::{
    config::Settings,
    db,
    entities::{
        checkins, events, intents, mail_preferences, mailing_settings, registrations,
        registrations::RegistrationStatus, scheduled_mails, users,
    },
};

/// The kinds of scheduled mail an organiser turns on or off per event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MailingKind {
    /// Before the start, at each of `mailings.reminder_offsets_hours`.
    Reminder,
    /// After the end, to confirmed students who did not check in.
    NoShowFollowUp,
    /// After the end, to students who came and have no intent yet.
    NoIntentFollowUp,
}

impl MailingKind {
    pub const ALL: [MailingKind; 3] = [
        MailingKind::Reminder,
        MailingKind::NoShowFollowUp,
        MailingKind::NoIntentFollowUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reminder => "reminder",
            Self::NoShowFollowUp => "no_show_follow_up",
            Self::NoIntentFollowUp => "no_intent_follow_up",
        }
    }

    /// The email each kind sends.
    pub fn template(self) -> TemplateKind {
        match self {
            Self::Reminder => TemplateKind::EventReminder,
            Self::NoShowFollowUp => TemplateKind::NoShowFollowUp,
            Self::NoIntentFollowUp => TemplateKind::NoIntentFollowUp,
        }
    }
}

/// The name of one mailing in `scheduled_mails`: `reminder_24h`, or the kind.
pub fn mailing_name(kind: MailingKind, hours: Option<u32>) -> String {
    match hours {
        Some(h) => format!("{}_{h}h", kind.as_str()),
        None => kind.as_str().to_owned(),
    }
}

/// One mailing of an event: which kind, when it is due.
#[derive(Debug, Clone)]
pub struct Due {
    pub kind: MailingKind,
    pub name: String,
    pub hours_before: Option<u32>,
    pub due_at: DateTime<Utc>,
    /// Not sent because its time had passed when the event was created.
    pub stale: bool,
}

/// Every mailing of `event` under these settings, in time order.
pub fn plan(settings: &Settings, event: &events::Model) -> Vec<Due> {
    let m = &settings.mailings;
    let mut offsets = m.reminder_offsets_hours.clone();
    offsets.sort_unstable_by(|a, b| b.cmp(a));
    offsets.dedup();
    let mut plan: Vec<Due> = offsets
        .into_iter()
        .map(|h| {
            let due_at = event.starts_at - TimeDelta::hours(i64::from(h));
            Due {
                kind: MailingKind::Reminder,
                name: mailing_name(MailingKind::Reminder, Some(h)),
                hours_before: Some(h),
                due_at,
                stale: due_at < event.created_at,
            }
        })
        .collect();
    let after = event.ends_at + TimeDelta::hours(i64::from(m.follow_up_delay_hours));
    for kind in [MailingKind::NoShowFollowUp, MailingKind::NoIntentFollowUp] {
        plan.push(Due {
            kind,
            name: mailing_name(kind, None),
            hours_before: None,
            due_at: after,
            stale: after < event.created_at,
        });
    }
    plan
}

/// The kinds turned off for `event_id`.
pub async fn disabled_kinds(
    conn: &impl sea_orm::ConnectionTrait,
    event_id: Uuid,
) -> Result<HashSet<String>, DbErr> {
    Ok(mailing_settings::Entity::find()
        .filter(mailing_settings::Column::EventId.eq(event_id))
        .filter(mailing_settings::Column::Enabled.eq(false))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| s.kind)
        .collect())
}

pub struct Scheduler {
    db: DatabaseConnection,
    settings: Arc<Settings>,
    clock: Clock,
}

impl Scheduler {
    pub fn new(db: DatabaseConnection, settings: Arc<Settings>, clock: Clock) -> Self {
        Self {
            db,
            settings,
            clock,
        }
    }

    /// Queues every scheduled email due now; returns how many it queued.
    #[tracing::instrument(skip_all)]
    pub async fn queue_due(&self) -> Result<usize, DbErr> {
        let now = self.clock.now();
        let mut queued = 0;
        for event in self.events_in_play(now).await? {
            let off = disabled_kinds(&self.db, event.id).await?;
            let due: Vec<Due> = plan(&self.settings, &event)
                .into_iter()
                .filter(|d| !d.stale && d.due_at <= now && !off.contains(d.kind.as_str()))
                .collect();
            // Of the reminders due, only the latest: a worker that was down
            // sends "in 2 hours", not that and "tomorrow" together.
            let reminder = due
                .iter()
                .filter(|d| d.kind == MailingKind::Reminder && event.starts_at > now)
                .min_by_key(|d| d.hours_before);
            let window = TimeDelta::hours(i64::from(self.settings.mailings.follow_up_window_hours));
            for d in due.iter().filter(|d| {
                d.kind != MailingKind::Reminder
                    || Some(d.name.as_str()) == reminder.map(|r| r.name.as_str())
            }) {
                if d.kind != MailingKind::Reminder && d.due_at + window <= now {
                    continue;
                }
                queued += self.queue(&event, d).await?;
            }
        }
        if queued > 0 {
            tracing::info!(queued, "scheduled mail queued");
        }
        Ok(queued)
    }

    /// Events with a mailing that may be due: published and starting
    /// within the longest reminder offset, or ended within the follow-ups' window.
    async fn events_in_play(&self, now: DateTime<Utc>) -> Result<Vec<events::Model>, DbErr> {
        use events::{Column as C, EventStatus};
        let m = &self.settings.mailings;
        let longest = m.reminder_offsets_hours.iter().copied().max().unwrap_or(0);
        let soon = events::Entity::find()
            .filter(C::Status.eq(EventStatus::Published))
            .filter(C::StartsAt.gt(now))
            .filter(C::StartsAt.lte(now + TimeDelta::hours(i64::from(longest))))
            .all(&self.db)
            .await?;
        let delay = TimeDelta::hours(i64::from(m.follow_up_delay_hours));
        let window = TimeDelta::hours(i64::from(m.follow_up_window_hours));
        let ended = events::Entity::find()
            .filter(C::Status.is_in([EventStatus::Published, EventStatus::Completed]))
            .filter(C::EndsAt.lte(now - delay))
            .filter(C::EndsAt.gt(now - delay - window))
            .all(&self.db)
            .await?;
        Ok(soon.into_iter().chain(ended).collect())
    }

    /// Queues one mailing of one event to everyone it is for and has not
    /// had it yet.
    async fn queue(&self, event: &events::Model, due: &Due) -> Result<usize, DbErr> {
        let recipients = recipients(&self.db, event, due.kind).await?;
        let sent: HashSet<Uuid> = scheduled_mails::Entity::find()
            .filter(scheduled_mails::Column::EventId.eq(event.id))
            .filter(scheduled_mails::Column::Mailing.eq(due.name.as_str()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|s| s.user_id)
            .collect();
        let recipients: Vec<users::Model> = recipients
            .into_iter()
            .filter(|u| !sent.contains(&u.id))
            .collect();
        if recipients.is_empty() {
            return Ok(0);
        }
        let employers = if due.kind == MailingKind::NoIntentFollowUp {
            custom::hiring(&self.db, event.id).await?
        } else {
            Vec::new()
        };
        let wording =
            custom::Wording::load(&self.db, &self.settings, event, due.kind.template()).await?;
        let facts = facts(&self.settings, event);
        let txn = db::begin_write(&self.db).await?;
        let mut queued = 0;
        for user in recipients {
            let notification_id = Uuid::now_v7();
            let inserted = scheduled_mails::Entity::insert(scheduled_mails::ActiveModel {
                id: Set(Uuid::now_v7()),
                event_id: Set(event.id),
                mailing: Set(due.name.clone()),
                user_id: Set(user.id),
                notification_id: Set(notification_id),
                created_at: Set(db::now()),
            })
            .on_conflict_do_nothing_on([
                scheduled_mails::Column::EventId,
                scheduled_mails::Column::Mailing,
                scheduled_mails::Column::UserId,
            ])
            .exec(&txn)
            .await?;
            if !matches!(inserted, TryInsertResult::Inserted(_)) {
                continue;
            }
            let unsubscribe = unsubscribe::link(&self.settings, user.id);
            let extras = Extras {
                hours_before: due.hours_before.unwrap_or(24),
                unsubscribe_link: unsubscribe.clone(),
                ..Extras::default()
            };
            let mail = wording.render(custom::Student::of(&user), &facts, &employers, &extras);
            let header = (due.kind != MailingKind::Reminder).then_some(unsubscribe);
            outbox::enqueue_with(&txn, notification_id, &user.email, mail, Vec::new(), header)
                .await?;
            queued += 1;
        }
        txn.commit().await?;
        Ok(queued)
    }
}

/// What the emails say about an event.
pub fn facts<'a>(settings: &Settings, event: &'a events::Model) -> templates::EventFacts<'a> {
    templates::EventFacts {
        title: &event.title,
        university: &event.university,
        venue: &event.venue,
        city: &event.city,
        starts_at: event.starts_at,
        ends_at: event.ends_at,
        link: settings.page(&format!("/events/{}", event.id)),
    }
}

/// The students one kind of mailing of `event` is for (before leaving out
/// those who had it).
pub async fn recipients(
    conn: &DatabaseConnection,
    event: &events::Model,
    kind: MailingKind,
) -> Result<Vec<users::Model>, DbErr> {
    let confirmed: Vec<users::Model> = registrations::Entity::find()
        .filter(registrations::Column::EventId.eq(event.id))
        .filter(registrations::Column::Status.eq(RegistrationStatus::Confirmed))
        .find_also_related(users::Entity)
        .all(conn)
        .await?
        .into_iter()
        .filter_map(|(_, user)| user)
        .filter(|u| u.disabled_at.is_none())
        .collect();
    if kind == MailingKind::Reminder {
        return Ok(confirmed);
    }
    let came: HashSet<Uuid> = checkins::Entity::find()
        .filter(checkins::Column::EventId.eq(event.id))
        .all(conn)
        .await?
        .into_iter()
        .map(|c| c.user_id)
        .collect();
    let candidates: Vec<users::Model> = if kind == MailingKind::NoShowFollowUp {
        confirmed
            .into_iter()
            .filter(|u| !came.contains(&u.id))
            .collect()
    } else {
        let with_intent: HashSet<Uuid> = intents::Entity::find()
            .filter(intents::Column::CandidateId.is_in(came.iter().copied()))
            .filter(intents::Column::EventId.eq(event.id))
            .all(conn)
            .await?
            .into_iter()
            .map(|i| i.candidate_id)
            .collect();
        users::Entity::find()
            .filter(users::Column::Id.is_in(came.iter().copied()))
            .all(conn)
            .await?
            .into_iter()
            .filter(|u| u.disabled_at.is_none() && !with_intent.contains(&u.id))
            .collect()
    };
    let unsubscribed: HashSet<Uuid> = mail_preferences::Entity::find()
        .filter(mail_preferences::Column::UserId.is_in(candidates.iter().map(|u| u.id)))
        .filter(mail_preferences::Column::FollowUps.eq(false))
        .all(conn)
        .await?
        .into_iter()
        .map(|p| p.user_id)
        .collect();
    Ok(candidates
        .into_iter()
        .filter(|u| !unsubscribed.contains(&u.id))
        .collect())
}
