//! Ticket codes and what carries them: the QR code and the calendar entry.
//!
//! A ticket code is 128 random bits in RFC 4648 base32 without padding:
//! 26 characters from `A–Z2–7`, which a QR code holds in its compact
//! alphanumeric mode and a person can read aloud at the door.

use chrono::{DateTime, Utc};

const BASE32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A fresh ticket code from the operating system's random source.
pub fn new_ticket_code() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source works");
    base32(&bytes)
}

fn base32(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(BASE32[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(BASE32[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// The ticket code as a QR code in SVG, black on white with a quiet zone.
pub fn qr_svg(code: &str) -> Result<String, String> {
    let qr = qrcode::QrCode::with_error_correction_level(code, qrcode::EcLevel::M)
        .map_err(|e| e.to_string())?;
    Ok(qr
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(240, 240)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
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
    fn codes_are_128_bit_base32() {
        let a = new_ticket_code();
        let b = new_ticket_code();
        assert_eq!(a.len(), 26);
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| BASE32.contains(&c)));
        // RFC 4648 test vector.
        assert_eq!(base32(b"foobar"), "MZXW6YTBOI");
    }

    #[test]
    fn qr_is_svg() {
        let svg = qr_svg(&new_ticket_code()).unwrap();
        assert!(svg.starts_with("<?xml") || svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("</svg>"));
    }

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
