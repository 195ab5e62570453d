//! What emails say about an event, and the event as a calendar entry
//! (RFC 5545 .ics) attached to them.

use chrono::{DateTime, Utc};

use crate::{
    config::Settings,
    db,
    entities::events::{self, EventStatus},
    notify::{Attachment, templates},
};

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

/// The event as an .ics attachment; `SEQUENCE` follows the last change so a
/// calendar replaces an older copy.
pub fn calendar(settings: &Settings, event: &events::Model) -> Attachment {
    let host = settings
        .public_base_url
        .split("://")
        .nth(1)
        .unwrap_or("nuancheng")
        .trim_end_matches('/');
    let location = format!("{}，{}，{}", event.venue, event.university, event.city);
    let content = ics(
        &CalendarEvent {
            uid: format!("{}@{host}", event.id),
            sequence: event.updated_at.timestamp() - event.created_at.timestamp(),
            title: &event.title,
            location: &location,
            description: &event.description,
            starts_at: event.starts_at,
            ends_at: event.ends_at,
            cancelled: event.status == EventStatus::Cancelled,
        },
        db::now(),
    );
    Attachment {
        filename: "event.ics".into(),
        content_type: "text/calendar; charset=utf-8".into(),
        content,
    }
}

/// What a calendar entry says about an event.
pub struct CalendarEvent<'a> {
    pub uid: String,
    /// Raised on every change, so calendars replace the old entry.
    pub sequence: i64,
    pub title: &'a str,
    pub location: &'a str,
    pub description: &'a str,
    pub starts_at: DateTime<Utc>,
    pub ends_at: DateTime<Utc>,
    pub cancelled: bool,
}

/// An iCalendar (RFC 5545) file with one event, in UTC, lines folded at 75
/// octets without splitting a UTF-8 character.
pub fn ics(event: &CalendarEvent<'_>, now: DateTime<Utc>) -> String {
    let stamp = |t: DateTime<Utc>| t.format("%Y%m%dT%H%M%SZ").to_string();
    let mut lines = vec![
        "BEGIN:VCALENDAR".to_owned(),
        "VERSION:2.0".to_owned(),
        "PRODID:-//nuancheng//warm-city invitation//ZH".to_owned(),
        "CALSCALE:GREGORIAN".to_owned(),
        format!(
            "METHOD:{}",
            if event.cancelled { "CANCEL" } else { "PUBLISH" }
        ),
        "BEGIN:VEVENT".to_owned(),
        format!("UID:{}", event.uid),
        format!("SEQUENCE:{}", event.sequence),
        format!("DTSTAMP:{}", stamp(now)),
        format!("DTSTART:{}", stamp(event.starts_at)),
        format!("DTEND:{}", stamp(event.ends_at)),
        format!("SUMMARY:{}", ics_text(event.title)),
        format!("LOCATION:{}", ics_text(event.location)),
        format!("DESCRIPTION:{}", ics_text(event.description)),
        format!(
            "STATUS:{}",
            if event.cancelled {
                "CANCELLED"
            } else {
                "CONFIRMED"
            }
        ),
        "END:VEVENT".to_owned(),
        "END:VCALENDAR".to_owned(),
    ];
    let mut out = String::new();
    for line in lines.drain(..) {
        fold(&line, &mut out);
    }
    out
}

fn ics_text(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            _ => out.push(c),
        }
    }
    out
}

fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        let len = c.len_utf8();
        if width + len > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += len;
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ics_escapes_and_folds() {
        let t = "2026-12-01T06:00:00Z".parse().unwrap();
        let description = format!("第一行\n{}", "能源化工新材料".repeat(12));
        let text = ics(
            &CalendarEvent {
                uid: "e1@nuancheng".into(),
                sequence: 2,
                title: "名校引才专项行动, 北京大学专场; 欢迎参加",
                location: "北京大学百周年纪念讲堂",
                description: &description,
                starts_at: t,
                ends_at: t + chrono::TimeDelta::hours(2),
                cancelled: false,
            },
            t,
        );
        assert!(text.contains("DTSTART:20261201T060000Z\r\n"));
        assert!(text.contains("\r\n "), "a long line is folded");
        for line in text.split("\r\n") {
            assert!(line.len() <= 75, "{line}");
        }
        let unfolded = text.replace("\r\n ", "");
        assert!(unfolded.contains("SUMMARY:名校引才专项行动\\, 北京大学专场\\; 欢迎参加"));
        assert!(unfolded.contains(&format!(
            "DESCRIPTION:第一行\\n{}",
            "能源化工新材料".repeat(12)
        )));
    }
}
