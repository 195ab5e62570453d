//! Organisers' own wording of event emails: subject, text and HTML as
//! minijinja templates, kept in `mail_templates` for one event or for every
//! event of a campaign. Templates run sandboxed (no files, no imports), an
//! unknown variable is an error rather than empty text, and everything that
//! reaches the HTML part is escaped unless the template says otherwise.

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use sea_orm::{ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};
use serde::Serialize;
use serde_json::{Value, json};

use super::{Rendered, templates};
use crate::entities::{events, mail_templates, users};

/// The email kinds an organiser may word for an event.
pub const KINDS: [&str; 3] = ["event_reminder", "no_show_follow_up", "no_intent_follow_up"];

/// The three parts of a template.
pub struct Parts<'a> {
    pub subject: &'a str,
    pub text: &'a str,
    pub html: &'a str,
}

/// Why a template cannot be used: which part, which line, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TemplateError {
    /// `subject`, `text` or `html`.
    pub part: &'static str,
    pub line: Option<usize>,
    pub message: String,
}

/// Renders the three parts with `vars`.
pub fn render(
    kind: &'static str,
    parts: &Parts<'_>,
    vars: &Value,
) -> Result<Rendered, TemplateError> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_auto_escape_callback(|name| {
        if name == "html" {
            AutoEscape::Html
        } else {
            AutoEscape::None
        }
    });
    let mut out = Vec::with_capacity(3);
    for (part, source) in [
        ("subject", parts.subject),
        ("text", parts.text),
        ("html", parts.html),
    ] {
        let failed = |e: minijinja::Error| TemplateError {
            part,
            line: e.line(),
            message: match e.detail() {
                Some(detail) => format!("{}: {detail}", e.kind()),
                None => e.kind().to_string(),
            },
        };
        env.add_template(part, source).map_err(failed)?;
        let rendered = env
            .get_template(part)
            .and_then(|t| t.render(vars))
            .map_err(failed)?;
        out.push(rendered);
    }
    let html = out.pop().unwrap_or_default();
    let text = out.pop().unwrap_or_default();
    let subject = out.pop().unwrap_or_default();
    Ok(Rendered {
        kind,
        subject: subject.lines().next().unwrap_or_default().trim().to_owned(),
        text,
        html,
    })
}

/// The template that words `kind` for `event`: the event's own, else its
/// campaign's.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    event: &events::Model,
    kind: &str,
) -> Result<Option<mail_templates::Model>, DbErr> {
    use mail_templates::Column as C;
    if let Some(own) = mail_templates::Entity::find()
        .filter(C::EventId.eq(event.id))
        .filter(C::Kind.eq(kind))
        .one(conn)
        .await?
    {
        return Ok(Some(own));
    }
    let Some(campaign_id) = event.campaign_id else {
        return Ok(None);
    };
    mail_templates::Entity::find()
        .filter(C::CampaignId.eq(campaign_id))
        .filter(C::Kind.eq(kind))
        .one(conn)
        .await
}

/// The organiser's wording of `default`, or `default` itself when the
/// template fails (it rendered when it was saved, so this is rare and
/// logged): a student never misses a reminder over a template.
pub fn apply(template: &mail_templates::Model, default: Rendered, vars: &Value) -> Rendered {
    let parts = Parts {
        subject: &template.subject,
        text: &template.text_body,
        html: &template.html_body,
    };
    match render(default.kind, &parts, vars) {
        Ok(mail) => mail,
        Err(e) => {
            tracing::warn!(template = %template.id, part = e.part, line = ?e.line, error = %e.message,
                "custom template failed; the default wording was sent");
            default
        }
    }
}

/// The variables every event email template may use (docs/api.md lists
/// them).
pub fn vars(
    student: &users::Model,
    facts: &templates::EventFacts<'_>,
    employers: &[templates::EmployerLine],
    unsubscribe_link: &str,
) -> Value {
    context(
        &student.full_name,
        &student.email,
        facts,
        employers,
        unsubscribe_link,
    )
}

/// An event made up for checking a campaign's template.
pub fn sample_event() -> templates::EventFacts<'static> {
    let starts_at = chrono::Utc::now();
    templates::EventFacts {
        title: "鄂尔多斯市名校引才专项行动·示例宣讲会",
        university: "示例大学",
        venue: "示例礼堂",
        city: "北京",
        starts_at,
        ends_at: starts_at + chrono::TimeDelta::hours(2),
        link: "https://example.invalid/events/sample".into(),
    }
}

/// The variables for a made-up student, for a preview without a registration.
pub fn sample_vars(
    facts: &templates::EventFacts<'_>,
    employers: &[templates::EmployerLine],
) -> Value {
    context(
        "张同学",
        "zhang.tongxue@example.edu.cn",
        facts,
        employers,
        "https://example.invalid/unsubscribe",
    )
}

fn context(
    full_name: &str,
    email: &str,
    facts: &templates::EventFacts<'_>,
    employers: &[templates::EmployerLine],
    unsubscribe_link: &str,
) -> Value {
    let employers: Vec<Value> = employers
        .iter()
        .map(|e| {
            json!({
                "name": e.name,
                "positions": e.positions.iter()
                    .map(|(title, benefits)| json!({"title": title, "benefits": benefits}))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "student": {"full_name": full_name, "email": email},
        "event": {
            "title": facts.title,
            "university": facts.university,
            "venue": facts.venue,
            "city": facts.city,
            "starts_at": templates::beijing_time(facts.starts_at),
            "ends_at": templates::beijing_time(facts.ends_at),
            "link": facts.link,
        },
        "employers": employers,
        "unsubscribe_link": unsubscribe_link,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts<'a>(subject: &'a str, text: &'a str, html: &'a str) -> Parts<'a> {
        Parts {
            subject,
            text,
            html,
        }
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let vars = json!({"student": {"full_name": "<李雷>"}});
        let mail = render(
            "event_reminder",
            &parts(
                "提醒 {{ student.full_name }}",
                "{{ student.full_name }}",
                "<p>{{ student.full_name }}</p>",
            ),
            &vars,
        )
        .unwrap();
        assert_eq!(mail.subject, "提醒 <李雷>");
        assert_eq!(mail.text, "<李雷>");
        assert_eq!(mail.html, "<p>&lt;李雷&gt;</p>");
    }

    #[test]
    fn errors_name_the_part_and_line() {
        let vars = json!({"student": {"full_name": "李雷"}});
        let e = render(
            "event_reminder",
            &parts("s", "ok\n{{ student.nickname }}", "h"),
            &vars,
        )
        .unwrap_err();
        assert_eq!((e.part, e.line), ("text", Some(2)));
        let e = render(
            "event_reminder",
            &parts("s", "t", "<p>\n\n{% if %}</p>"),
            &vars,
        )
        .unwrap_err();
        assert_eq!((e.part, e.line), ("html", Some(3)));
        let e = render("event_reminder", &parts("{{ nope }}", "t", "h"), &vars).unwrap_err();
        assert_eq!(e.part, "subject");
    }
}
