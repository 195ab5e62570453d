//! The scheduled emails: reminders before an event, and the follow-ups
//! after it. Like every template, Chinese first with an English line.

use super::{
    Rendered,
    templates::{EmployerLine, EventFacts, Layout, employer_list, greeting},
};

/// A student's unsubscribe line under an optional email.
fn unsubscribe_paragraph(link: &str) -> String {
    format!(
        "不想再收到活动后的跟进邮件？点击退订（活动提醒和报名通知不受影响）：{link}\n\
         No more follow-ups after events? Unsubscribe (reminders and registration emails still come): {link}"
    )
}

/// "Starts in N hours": sent to confirmed students before the start.
pub fn event_reminder(full_name: &str, event: &EventFacts<'_>, hours: u32) -> Rendered {
    let when = if hours >= 24 && hours.is_multiple_of(24) {
        format!("{} 天后 / in {} day(s)", hours / 24, hours / 24)
    } else {
        format!("{hours} 小时后 / in {hours} hour(s)")
    };
    Layout {
        kind: "event_reminder",
        subject: format!("活动提醒：{} · Reminder: your event starts soon", event.title),
        greeting: greeting(full_name),
        paragraphs: vec![
            format!(
                "您报名的活动将于{when}开始，请准时参加，入场时出示电子票（在“我的报名”中查看）。如不能参加，请提前取消，把名额留给候补的同学。\n\
                 The event you registered for starts soon. Show your ticket (under My registrations) at the door; \
                 if you cannot come, please cancel so a student on the waitlist gets your place."
            ),
            event.summary(),
        ],
        action: event.action(),
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
            unsubscribe_paragraph(unsubscribe),
        ],
        action: Some(("查看近期活动 / Upcoming events".into(), events_link.into())),
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
    paragraphs.push(unsubscribe_paragraph(unsubscribe));
    Layout {
        kind: "no_intent_follow_up",
        subject: format!("这些单位仍在招聘：{} · Still hiring", event.title),
        greeting: greeting(full_name),
        paragraphs,
        action: event.action(),
    }
    .render()
}
