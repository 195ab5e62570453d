//! The scheduled emails: reminders before an event, and the follow-ups
//! after it. Like every template, Chinese first with an English line.

use super::{
    Rendered,
    templates::{EmployerLine, EventFacts, Layout, employer_list, greeting},
};

/// "Starts in N hours": sent to confirmed students before the start.
pub fn event_reminder(full_name: &str, event: &EventFacts<'_>, hours: u32) -> Rendered {
    let (zh, en) = match hours {
        24 => ("明天".to_owned(), "tomorrow".to_owned()),
        h if h > 24 && h.is_multiple_of(24) => {
            (format!(" {} 天后", h / 24), format!("in {} days", h / 24))
        }
        1 => (" 1 小时后".to_owned(), "in an hour".to_owned()),
        h => (format!(" {h} 小时后"), format!("in {h} hours")),
    };
    Layout {
        kind: "event_reminder",
        subject: format!("活动提醒：{} · Reminder: your event starts soon", event.title),
        greeting: greeting(full_name),
        paragraphs: vec![
            format!(
                "您报名的活动将于{zh}开始，请准时参加，入场时出示电子票（在“我的报名”中查看）。如不能参加，请提前取消，把名额留给候补的同学。\n\
                 The event you registered for starts {en}. Show your ticket (under My registrations) at the door; \
                 if you cannot come, please cancel so a student on the waitlist gets your place."
            ),
            event.summary(),
        ],
        action: event.action(),
        unsubscribe: None,
    }
    .render()
}

/// "We missed you": to confirmed students who did not check in.
pub fn no_show_follow_up(
    full_name: &str,
    event: &EventFacts<'_>,
    events_link: &str,
    unsubscribe: &str,
) -> Rendered {
    Layout {
        kind: "no_show_follow_up",
        subject: format!("我们想念您：{} · We missed you", event.title),
        greeting: greeting(full_name),
        paragraphs: vec![
            format!(
                "很遗憾您没能参加“{}”。鄂尔多斯的用人单位还会来到更多高校，欢迎报名下一场宣讲会或招聘会。\n\
                 We are sorry you could not make it. Ordos employers are visiting more universities: \
                 register for the next talk or job fair.",
                event.title
            ),
            event.summary(),
        ],
        action: Some(("查看近期活动 / Upcoming events".into(), events_link.into())),
        unsubscribe: Some(unsubscribe.into()),
    }
    .render()
}

/// To students who came and have no intent yet: the employers still hiring.
pub fn no_intent_follow_up(
    full_name: &str,
    event: &EventFacts<'_>,
    employers: &[EmployerLine],
    unsubscribe: &str,
) -> Rendered {
    let list = employer_list(employers);
    let mut paragraphs = vec![format!(
        "感谢您参加“{}”！以下单位仍在招聘，欢迎在平台上表达意向，或直接联系招聘人员。\n\
         Thank you for coming. These employers are still hiring: tell them you are interested on the platform.",
        event.title
    )];
    if !list.is_empty() {
        paragraphs.push(list.trim_end().to_owned());
    }
    paragraphs.push(event.summary());
    Layout {
        kind: "no_intent_follow_up",
        subject: format!("这些单位仍在招聘：{} · Still hiring", event.title),
        greeting: greeting(full_name),
        paragraphs,
        action: event.action(),
        unsubscribe: Some(unsubscribe.into()),
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> EventFacts<'static> {
        let starts_at = chrono::DateTime::parse_from_rfc3339("2026-12-01T06:00:00Z")
            .unwrap()
            .to_utc();
        EventFacts {
            title: "北京大学专场宣讲会",
            university: "北京大学",
            venue: "百周年纪念讲堂",
            city: "北京",
            starts_at,
            ends_at: starts_at + chrono::TimeDelta::hours(2),
            link: "http://x/events/1".into(),
        }
    }

    #[test]
    fn each_kind_reads_chinese_first_with_an_english_line() {
        let employers = [EmployerLine {
            name: "鄂尔多斯能源集团".into(),
            positions: vec![("化工工程师".into(), vec!["安家费".into()])],
        }];
        let mails = [
            event_reminder("<李雷>", &event(), 24),
            event_reminder("李雷", &event(), 2),
            no_show_follow_up("李雷", &event(), "http://x/events", "http://x/u?token=t"),
            no_intent_follow_up("李雷", &event(), &employers, "http://x/u?token=t"),
        ];
        for mail in &mails {
            if std::env::var_os("SHOW_MAIL").is_some() {
                println!("{}\n\n{}\n", mail.subject, mail.text);
            }
            let (zh, en) = mail
                .subject
                .split_once(" · ")
                .expect("subject: 中文 · English");
            assert!(!zh.is_ascii() && en.is_ascii(), "{}", mail.subject);
            assert!(
                mail.text.contains("2026-12-01 14:00 – 16:00（北京时间"),
                "Beijing time"
            );
        }
        assert!(
            mails[0].text.contains("将于明天开始") && mails[0].text.contains("starts tomorrow")
        );
        assert!(
            mails[1].text.contains("将于 2 小时后开始")
                && mails[1].text.contains("starts in 2 hours")
        );
        assert!(mails[0].html.contains("&lt;李雷&gt;"));
        assert!(mails[3].text.contains("化工工程师（安家费）"));
        for follow_up in &mails[2..] {
            assert!(
                follow_up.text.contains("退订") && follow_up.text.contains("http://x/u?token=t")
            );
            assert!(
                follow_up
                    .html
                    .contains("<a href=\"http://x/u?token=t\">Unsubscribe</a>"),
                "{}",
                follow_up.html
            );
        }
        assert!(
            !mails[0].text.contains("退订"),
            "reminders carry no unsubscribe line"
        );
    }
}
