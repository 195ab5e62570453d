//! The event emails organisers may word themselves: each kind, the values
//! its email carries beyond the student and the event, its built-in
//! wording, and made-up values for checking and previewing a template.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use utoipa::ToSchema;

use super::{
    Rendered, mailings,
    templates::{self, EmployerLine, EventFacts},
};

/// One kind of email tied to an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TemplateKind {
    /// Confirmed at once, with the ticket code and a calendar file.
    RegistrationConfirmed,
    /// On the waitlist, with the place in it.
    RegistrationWaitlisted,
    /// Promoted from the waitlist, with the ticket code.
    RegistrationPromoted,
    /// Cancelled by the student or by the organisers.
    RegistrationCancelled,
    /// The time or place of the event changed.
    EventChanged,
    /// The event is cancelled, with the reason.
    EventCancelled,
    /// Admitted at the door: thanks, and the employers hiring.
    CheckinThanks,
    /// Before the start (scheduled).
    EventReminder,
    /// After the end, to confirmed students who did not come (scheduled).
    NoShowFollowUp,
    /// After the end, to students who came and have no intent (scheduled).
    NoIntentFollowUp,
}

/// What an email of one kind says beyond the student and the event; each
/// kind uses only its own fields ([`TemplateKind::extras`]).
#[derive(Debug, Clone, Default)]
pub struct Extras {
    pub ticket_code: String,
    pub waitlist_position: i32,
    pub by_organiser: bool,
    pub changes: Vec<String>,
    pub reason: String,
    pub hours_before: u32,
    pub unsubscribe_link: String,
}

impl Extras {
    /// Made-up values for a preview or for checking a template; never a
    /// real ticket code.
    pub fn sample() -> Self {
        Self {
            ticket_code: "SAMPLE0TICKET0CODE".into(),
            waitlist_position: 3,
            by_organiser: false,
            changes: vec!["地点 / Venue：示例礼堂 → 示例体育馆".into()],
            reason: "场地调整，活动取消 / The venue is no longer available".into(),
            hours_before: 24,
            unsubscribe_link: "https://example.invalid/unsubscribe".into(),
        }
    }
}

impl TemplateKind {
    pub const ALL: [TemplateKind; 10] = [
        Self::RegistrationConfirmed,
        Self::RegistrationWaitlisted,
        Self::RegistrationPromoted,
        Self::RegistrationCancelled,
        Self::EventChanged,
        Self::EventCancelled,
        Self::CheckinThanks,
        Self::EventReminder,
        Self::NoShowFollowUp,
        Self::NoIntentFollowUp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::RegistrationConfirmed => "registration_confirmed",
            Self::RegistrationWaitlisted => "registration_waitlisted",
            Self::RegistrationPromoted => "registration_promoted",
            Self::RegistrationCancelled => "registration_cancelled",
            Self::EventChanged => "event_changed",
            Self::EventCancelled => "event_cancelled",
            Self::CheckinThanks => "checkin_thanks",
            Self::EventReminder => "event_reminder",
            Self::NoShowFollowUp => "no_show_follow_up",
            Self::NoIntentFollowUp => "no_intent_follow_up",
        }
    }

    pub fn parse(kind: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == kind)
    }

    /// The variables of this kind beyond `student`, `event` and `employers`
    /// (docs/api.md lists them).
    pub fn own_variables(self) -> &'static [&'static str] {
        match self {
            Self::RegistrationConfirmed | Self::RegistrationPromoted => &["ticket_code"],
            Self::RegistrationWaitlisted => &["waitlist_position"],
            Self::RegistrationCancelled => &["by_organiser"],
            Self::EventChanged => &["changes"],
            Self::EventCancelled => &["reason"],
            Self::CheckinThanks => &[],
            Self::EventReminder => &["hours_before", "unsubscribe_link"],
            Self::NoShowFollowUp | Self::NoIntentFollowUp => &["unsubscribe_link"],
        }
    }

    /// Every variable a template of this kind may use.
    pub fn variables(self) -> Vec<&'static str> {
        let mut all = vec![
            "student.full_name",
            "student.email",
            "event.title",
            "event.university",
            "event.venue",
            "event.city",
            "event.starts_at",
            "event.ends_at",
            "event.link",
            "employers",
        ];
        all.extend_from_slice(self.own_variables());
        all
    }

    /// This kind's own variables, taken from `extras`.
    pub fn extras(self, extras: &Extras) -> Map<String, Value> {
        let mut map = Map::new();
        for name in self.own_variables() {
            let value = match *name {
                "ticket_code" => json!(extras.ticket_code),
                "waitlist_position" => json!(extras.waitlist_position),
                "by_organiser" => json!(extras.by_organiser),
                "changes" => json!(extras.changes),
                "reason" => json!(extras.reason),
                "hours_before" => json!(extras.hours_before),
                _ => json!(extras.unsubscribe_link),
            };
            map.insert((*name).to_owned(), value);
        }
        map
    }

    /// The built-in wording of this kind; `events_page` is the frontend's
    /// list of events, where the no-show follow-up points.
    pub fn builtin(
        self,
        events_page: &str,
        full_name: &str,
        facts: &EventFacts<'_>,
        employers: &[EmployerLine],
        extras: &Extras,
    ) -> Rendered {
        let x = extras;
        match self {
            Self::RegistrationConfirmed => {
                templates::registration_confirmed(full_name, facts, &x.ticket_code)
            }
            Self::RegistrationWaitlisted => {
                templates::registration_waitlisted(full_name, facts, x.waitlist_position)
            }
            Self::RegistrationPromoted => {
                templates::registration_promoted(full_name, facts, &x.ticket_code)
            }
            Self::RegistrationCancelled => {
                templates::registration_cancelled(full_name, facts, x.by_organiser)
            }
            Self::EventChanged => templates::event_changed(full_name, facts, &x.changes),
            Self::EventCancelled => templates::event_cancelled(full_name, facts, &x.reason),
            Self::CheckinThanks => templates::checkin_thanks(full_name, facts, employers),
            Self::EventReminder => mailings::event_reminder(full_name, facts, x.hours_before),
            Self::NoShowFollowUp => {
                mailings::no_show_follow_up(full_name, facts, events_page, &x.unsubscribe_link)
            }
            Self::NoIntentFollowUp => {
                mailings::no_intent_follow_up(full_name, facts, employers, &x.unsubscribe_link)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_and_its_builtin_names_it() {
        let now = chrono::Utc::now();
        let facts = EventFacts {
            title: "宣讲会",
            university: "北京大学",
            venue: "礼堂",
            city: "北京",
            starts_at: now,
            ends_at: now,
            link: "https://x/events/1".into(),
        };
        for kind in TemplateKind::ALL {
            assert_eq!(TemplateKind::parse(kind.as_str()), Some(kind));
            let mail = kind.builtin("https://x/events", "张同学", &facts, &[], &Extras::sample());
            assert_eq!(mail.kind, kind.as_str());
        }
        assert_eq!(TemplateKind::parse("password_reset"), None);
    }
}
