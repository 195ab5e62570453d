//! Email templates: a subject, a plain-text part and an HTML part, Chinese
//! first with an English line, rendered from data. Every value that reaches
//! the HTML part is escaped.

/// A rendered email.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub kind: &'static str,
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// Builds both parts from the same paragraphs, so they never drift apart.
pub(super) struct Layout {
    pub(super) kind: &'static str,
    pub(super) subject: String,
    pub(super) greeting: String,
    pub(super) paragraphs: Vec<String>,
    pub(super) action: Option<(String, String)>,
    /// The one-click unsubscribe link of an optional email, under the action.
    pub(super) unsubscribe: Option<String>,
}

impl Layout {
    pub(super) fn render(self) -> Rendered {
        let mut text = format!("{}\n\n", self.greeting);
        let mut html = format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{}</title></head>\
             <body style=\"font-family:sans-serif;line-height:1.6\"><p>{}</p>",
            escape(&self.subject),
            escape(&self.greeting)
        );
        for paragraph in &self.paragraphs {
            text.push_str(paragraph);
            text.push_str("\n\n");
            html.push_str("<p>");
            // Keep the indent of list items, which HTML would collapse.
            html.push_str(
                &escape(paragraph)
                    .replace("\n    ", "<br>&emsp;")
                    .replace('\n', "<br>"),
            );
            html.push_str("</p>");
        }
        if let Some((label, url)) = &self.action {
            text.push_str(&format!("{label}: {url}\n\n"));
            html.push_str(&format!(
                "<p><a href=\"{}\">{}</a></p>",
                escape(url),
                escape(label)
            ));
        }
        if let Some(link) = &self.unsubscribe {
            text.push_str(&format!(
                "不想再收到活动后的跟进邮件？点击退订（活动提醒和报名通知不受影响）：{link}\n\
                 No more follow-ups after events? Unsubscribe (reminders and registration emails still come): {link}\n\n"
            ));
            let link = escape(link);
            html.push_str(&format!(
                "<p style=\"color:#888;font-size:12px\">不想再收到活动后的跟进邮件？<a href=\"{link}\">点击退订</a>\
                 （活动提醒和报名通知不受影响）<br>No more follow-ups after events? \
                 <a href=\"{link}\">Unsubscribe</a> (reminders and registration emails still come)</p>"
            ));
        }
        let footer = "暖城之邀 · 鄂尔多斯市招才引智\nInvitation from the Warm City · Ordos talent recruitment";
        text.push_str("--\n");
        text.push_str(footer);
        text.push('\n');
        html.push_str(&format!(
            "<hr><p style=\"color:#888;font-size:12px\">{}</p></body></html>",
            escape(footer).replace('\n', "<br>")
        ));
        Rendered {
            kind: self.kind,
            subject: self.subject,
            text,
            html,
        }
    }
}

pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

pub(super) fn greeting(name: &str) -> String {
    format!("{name}，您好！ / Dear {name},")
}

/// Whether emails of this kind carry a secret (a sign-in, reset or
/// invitation link, or a ticket code), whose bodies the outbox must not keep
/// once the email is sent.
pub fn carries_secret(kind: &str) -> bool {
    matches!(
        kind,
        "verify_email"
            | "password_reset"
            | "invitation"
            | "walk_in_welcome"
            | "registration_confirmed"
            | "registration_promoted"
    )
}

pub fn verify_email(full_name: &str, link: &str, ttl_hours: i64) -> Rendered {
    Layout {
        kind: "verify_email",
        subject: "请验证您的邮箱 · Verify your email address".into(),
        greeting: greeting(full_name),
        paragraphs: vec![
            format!(
                "感谢您注册“暖城之邀”。请在 {ttl_hours} 小时内点击下方链接验证邮箱。\n\
                 Thank you for signing up. Please verify your address within {ttl_hours} hours."
            ),
            "如果这不是您本人的操作，请忽略此邮件。\nIf you did not sign up, ignore this email."
                .into(),
        ],
        action: Some(("验证邮箱 / Verify email".into(), link.into())),
        unsubscribe: None,
    }
    .render()
}

pub fn password_reset(full_name: &str, link: &str, ttl_hours: i64) -> Rendered {
    Layout {
        kind: "password_reset",
        subject: "重置您的密码 · Reset your password".into(),
        greeting: greeting(full_name),
        paragraphs: vec![
            format!(
                "我们收到了重置密码的请求。链接 {ttl_hours} 小时内有效，只能使用一次。\n\
                 We received a request to reset your password. The link works once, for {ttl_hours} hours."
            ),
            "如果这不是您本人的操作，您的密码不会改变。\nIf you did not ask for this, your password stays as it is.".into(),
        ],
        action: Some(("重置密码 / Reset password".into(), link.into())),
        unsubscribe: None,
    }
    .render()
}

pub fn invitation(
    role_label_zh: &str,
    role_label_en: &str,
    employer: Option<&str>,
    link: &str,
    ttl_days: i64,
) -> Rendered {
    let at = employer
        .map(|name| format!("（{name}）"))
        .unwrap_or_default();
    let at_en = employer
        .map(|name| format!(" for {name}"))
        .unwrap_or_default();
    Layout {
        kind: "invitation",
        subject: format!("邀请您加入暖城之邀 · You are invited as {role_label_en}"),
        greeting: "您好！ / Hello,".into(),
        paragraphs: vec![
            format!(
                "鄂尔多斯市人才工作部门邀请您以{role_label_zh}{at}的身份加入“暖城之邀”平台。邀请 {ttl_days} 天内有效。\n\
                 You are invited to join the 暖城之邀 platform as {role_label_en}{at_en}. The invitation is valid for {ttl_days} days."
            ),
        ],
        action: Some(("接受邀请 / Accept the invitation".into(), link.into())),
        unsubscribe: None,
    }
    .render()
}

pub fn walk_in_welcome(full_name: &str, link: &str, ttl_days: i64) -> Rendered {
    Layout {
        kind: "walk_in_welcome",
        subject: "欢迎来到暖城之邀，请设置密码 · Welcome: set your password".into(),
        greeting: greeting(full_name),
        paragraphs: vec![
            format!(
                "您已在活动现场登记入场，我们为您创建了“暖城之邀”账号。请在 {ttl_days} 天内点击下方链接设置密码，之后即可查看报名和签约意向。\n\
                 You were admitted at the door and we created your 暖城之邀 account. Set a password within {ttl_days} days \
                 to see your registrations and intents to join."
            ),
        ],
        action: Some(("设置密码 / Set your password".into(), link.into())),
        unsubscribe: None,
    }
    .render()
}

/// An employer at an event, as the thank-you email lists it.
#[derive(Clone)]
pub struct EmployerLine {
    pub name: String,
    /// Each position's title with its benefits.
    pub positions: Vec<(String, Vec<String>)>,
}

/// The employers and their positions, one line each, for an email's body.
pub(super) fn employer_list(employers: &[EmployerLine]) -> String {
    let mut list = String::new();
    for employer in employers {
        list.push_str(&format!("· {}\n", employer.name));
        for (title, benefits) in &employer.positions {
            if benefits.is_empty() {
                list.push_str(&format!("    - {title}\n"));
            } else {
                list.push_str(&format!("    - {title}（{}）\n", benefits.join("、")));
            }
        }
    }
    list
}

pub fn checkin_thanks(
    full_name: &str,
    event: &EventFacts<'_>,
    employers: &[EmployerLine],
) -> Rendered {
    let list = employer_list(employers);
    let mut paragraphs = vec![
        "感谢您参加本次活动！鄂尔多斯欢迎您。以下单位正在招聘，欢迎投递并与招聘人员联系。\n\
         Thank you for coming. Ordos welcomes you; these employers are recruiting:"
            .to_owned(),
    ];
    if !list.is_empty() {
        paragraphs.push(list.trim_end().to_owned());
    }
    paragraphs.push(event.summary());
    Layout {
        kind: "checkin_thanks",
        subject: format!("感谢参加：{} · Thank you for coming", event.title),
        greeting: greeting(full_name),
        paragraphs,
        action: event.action(),
        unsubscribe: None,
    }
    .render()
}

pub fn intent_signed(
    full_name: &str,
    employer: &str,
    position: Option<&str>,
    benefits: &[String],
    link: &str,
) -> Rendered {
    let what = match position {
        Some(title) => format!("{employer} · {title}"),
        None => employer.to_owned(),
    };
    let mut paragraphs = vec![format!(
        "恭喜您与{what}签约！欢迎来到鄂尔多斯，开启在暖城的新篇章。\n\
         Congratulations on signing with {what}. Welcome to Ordos."
    )];
    if !benefits.is_empty() {
        paragraphs.push(format!(
            "该岗位提供的人才待遇 / Benefits of the position：{}",
            benefits.join("、")
        ));
    }
    paragraphs.push(
        "如有变化，招聘单位会与您联系；您可以随时在平台上查看签约意向。\n\
         The employer will contact you about next steps; your intents are on the platform."
            .into(),
    );
    Layout {
        kind: "intent_signed",
        subject: format!("签约成功：{what} · You signed an intent to join"),
        greeting: greeting(full_name),
        paragraphs,
        action: Some(("查看我的签约意向 / My intents".into(), link.into())),
        unsubscribe: None,
    }
    .render()
}

/// What the registration emails say about an event.
pub struct EventFacts<'a> {
    pub title: &'a str,
    pub university: &'a str,
    pub venue: &'a str,
    pub city: &'a str,
    pub starts_at: chrono::DateTime<chrono::Utc>,
    pub ends_at: chrono::DateTime<chrono::Utc>,
    pub link: String,
}

/// A time as the students read it: Beijing time, which the whole country uses.
pub fn beijing_time(t: chrono::DateTime<chrono::Utc>) -> String {
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    t.with_timezone(&beijing)
        .format("%Y-%m-%d %H:%M（北京时间 / Beijing time）")
        .to_string()
}

/// When an event runs, in Beijing time, named once: `2026-12-01 14:00 – 16:00`
/// on one day, else both dates.
pub fn time_span(
    starts_at: chrono::DateTime<chrono::Utc>,
    ends_at: chrono::DateTime<chrono::Utc>,
) -> String {
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).expect("UTC+8 is a valid offset");
    let (from, to) = (
        starts_at.with_timezone(&beijing),
        ends_at.with_timezone(&beijing),
    );
    let end = if from.date_naive() == to.date_naive() {
        to.format("%H:%M")
    } else {
        to.format("%Y-%m-%d %H:%M")
    };
    format!(
        "{} – {end}（北京时间 / Beijing time）",
        from.format("%Y-%m-%d %H:%M")
    )
}

impl EventFacts<'_> {
    pub(super) fn summary(&self) -> String {
        format!(
            "活动 / Event：{}\n时间 / Time：{}\n地点 / Venue：{}，{}，{}",
            self.title,
            time_span(self.starts_at, self.ends_at),
            self.venue,
            self.university,
            self.city
        )
    }

    pub(super) fn action(&self) -> Option<(String, String)> {
        Some(("查看活动 / View the event".into(), self.link.clone()))
    }
}

pub fn registration_confirmed(
    full_name: &str,
    event: &EventFacts<'_>,
    ticket_code: &str,
) -> Rendered {
    Layout {
        kind: "registration_confirmed",
        subject: format!("报名成功：{} · You are registered", event.title),
        greeting: greeting(full_name),
        paragraphs: vec![
            "您已成功报名，请凭电子票入场。日历文件已附在邮件中。\n\
             Your place is confirmed. Show your ticket at the door; a calendar file is attached."
                .into(),
            event.summary(),
            format!("电子票号 / Ticket code：{ticket_code}"),
        ],
        action: event.action(),
        unsubscribe: None,
    }
    .render()
}

pub fn registration_waitlisted(full_name: &str, event: &EventFacts<'_>, position: i32) -> Rendered {
    Layout {
        kind: "registration_waitlisted",
        subject: format!("已进入候补名单：{} · You are on the waitlist", event.title),
        greeting: greeting(full_name),
        paragraphs: vec![
            format!(
                "活动名额已满，您在候补名单第 {position} 位。有人取消时我们会按顺序递补，并立即邮件通知您。\n\
                 The event is full. You are number {position} on the waitlist; when a place frees up we \
                 promote in order and email you at once."
            ),
            event.summary(),
        ],
        action: event.action(),
        unsubscribe: None,
    }
    .render()
}

pub fn registration_promoted(
    full_name: &str,
    event: &EventFacts<'_>,
    ticket_code: &str,
) -> Rendered {
    Layout {
        kind: "registration_promoted",
        subject: format!("候补成功，报名已确认：{} · A place opened for you", event.title),
        greeting: greeting(full_name),
        paragraphs: vec![
            "有名额空出，您已从候补名单递补为正式报名。请凭电子票入场，日历文件已附在邮件中。\n\
             A place opened up and your registration is now confirmed. Show your ticket at the door; \
             a calendar file is attached."
                .into(),
            event.summary(),
            format!("电子票号 / Ticket code：{ticket_code}"),
        ],
        action: event.action(),
        unsubscribe: None,
    }
    .render()
}

pub fn registration_cancelled(
    full_name: &str,
    event: &EventFacts<'_>,
    by_organiser: bool,
) -> Rendered {
    let who = if by_organiser {
        "主办方已取消您的报名，如有疑问请联系主办方。\n\
         The organisers cancelled your registration; contact them if this is unexpected."
    } else {
        "您已取消报名，电子票随即失效。欢迎报名其他活动。\n\
         You cancelled your registration and your ticket no longer works. We hope to see you at another event."
    };
    Layout {
        kind: "registration_cancelled",
        subject: format!("报名已取消：{} · Registration cancelled", event.title),
        greeting: greeting(full_name),
        paragraphs: vec![who.into(), event.summary()],
        action: event.action(),
        unsubscribe: None,
    }
    .render()
}

pub fn event_changed(full_name: &str, event: &EventFacts<'_>, changes: &[String]) -> Rendered {
    Layout {
        kind: "event_changed",
        subject: format!("活动信息变更：{} · The event has changed", event.title),
        greeting: greeting(full_name),
        paragraphs: vec![
            "您报名的活动有以下变更，请留意。\nThe event you registered for has changed:".into(),
            changes.join("\n"),
            event.summary(),
        ],
        action: event.action(),
        unsubscribe: None,
    }
    .render()
}

pub fn event_cancelled(full_name: &str, event: &EventFacts<'_>, reason: &str) -> Rendered {
    Layout {
        kind: "event_cancelled",
        subject: format!("活动取消通知：{} · The event is cancelled", event.title),
        greeting: greeting(full_name),
        paragraphs: vec![
            "很抱歉，您报名的活动已取消，电子票随即失效。\n\
             We are sorry: the event you registered for is cancelled and your ticket no longer works."
                .into(),
            format!("原因 / Reason：{reason}"),
            event.summary(),
        ],
        action: event.action(),
        unsubscribe: None,
    }
    .render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_carry_the_link_and_escape_html() {
        let mail = verify_email("<李雷>", "http://x/verify?token=a&b", 48);
        assert!(mail.subject.starts_with("请验证"));
        assert!(mail.text.contains("<李雷>"));
        assert!(mail.text.contains("http://x/verify?token=a&b"));
        assert!(mail.html.contains("&lt;李雷&gt;"));
        assert!(mail.html.contains("href=\"http://x/verify?token=a&amp;b\""));
        assert!(!mail.html.contains("<李雷>"));
    }
}
