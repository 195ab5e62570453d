//! Every event email as an .eml file under `target/eml/`, built-in and
//! with an organiser's template, for reading the way a student sees them:
//! `cargo test --lib notify::samples`.

use std::path::{Path, PathBuf};

use super::{
    Rendered, custom,
    kinds::{Extras, TemplateKind},
    templates::{EmployerLine, EventFacts},
    transport::build_message,
};
use crate::entities::notifications::{self, NotificationStatus};

fn facts() -> EventFacts<'static> {
    let starts_at = chrono::DateTime::parse_from_rfc3339("2026-12-01T06:00:00Z")
        .expect("a valid time")
        .to_utc();
    EventFacts {
        title: "鄂尔多斯市名校引才专项行动·北京大学专场 <能源&化工>",
        university: "北京大学",
        venue: "百周年纪念讲堂",
        city: "北京",
        starts_at,
        ends_at: starts_at + chrono::TimeDelta::hours(2),
        link: "https://nuancheng.example/events/0193a1b2-0000-7000-8000-000000000001".into(),
    }
}

fn employers() -> Vec<EmployerLine> {
    vec![EmployerLine {
        name: "鄂尔多斯能源集团".into(),
        positions: vec![
            (
                "煤制油工艺工程师".into(),
                vec!["人才公寓".into(), "安家补贴".into()],
            ),
            ("数据分析师".into(), vec![]),
        ],
    }]
}

/// An organiser's template using every variable of `kind`.
fn sample_template(kind: TemplateKind) -> (String, String, String) {
    let mut text = String::from("{{ student.full_name }}同学，您好！\n");
    let mut html = String::from("<p>{{ student.full_name }}同学，您好！</p>\n");
    for name in kind.variables() {
        if name == "employers" {
            text.push_str(
                "{% for e in employers %}· {{ e.name }}{% for p in e.positions %} / {{ p.title }}{% endfor %}\n{% endfor %}",
            );
            html.push_str("<ul>{% for e in employers %}<li>{{ e.name }}</li>{% endfor %}</ul>\n");
        } else {
            text.push_str(&format!("{name}: {{{{ {name} }}}}\n"));
            html.push_str(&format!("<p>{name}: {{{{ {name} }}}}</p>\n"));
        }
    }
    (
        "【暖城之邀】{{ event.title }}".into(),
        text,
        format!("<!DOCTYPE html><html><body>{html}</body></html>"),
    )
}

fn write(dir: &Path, name: &str, mail: Rendered) {
    let now = chrono::Utc::now();
    let row = notifications::Model {
        id: uuid::Uuid::now_v7(),
        kind: mail.kind.into(),
        to_email: "zhang.tongxue@pku.edu.cn".into(),
        subject: mail.subject,
        text_body: mail.text,
        html_body: mail.html,
        attachments: None,
        status: NotificationStatus::Pending,
        attempts: 0,
        next_attempt_at: now,
        locked_until: None,
        lease_token: None,
        last_error: None,
        sent_at: None,
        created_at: now,
        list_unsubscribe: None,
    };
    let message = build_message("暖城之邀 <noreply@nuancheng.example>", &row).expect("builds");
    std::fs::write(dir.join(format!("{name}.eml")), message.formatted()).expect("writes");
}

#[test]
fn every_event_email_is_written_as_eml() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/eml");
    std::fs::create_dir_all(&dir).expect("target/eml");
    let facts = facts();
    let employers = employers();
    let mut extras = Extras::sample();
    extras.changes = vec!["地点 / Venue：百周年纪念讲堂 → 英杰交流中心".into()];
    extras.reason = "因场地检修 <临时> 取消".into();
    let student = custom::Student {
        full_name: "张<同学>",
        email: "zhang.tongxue@pku.edu.cn",
    };
    for kind in TemplateKind::ALL {
        let built_in = kind.builtin(
            "https://nuancheng.example/events",
            student.full_name,
            &facts,
            &employers,
            &extras,
        );
        assert!(!built_in.html.contains("<同学>"), "{kind:?} escapes HTML");
        write(&dir, kind.as_str(), built_in);
        let (subject, text, html) = sample_template(kind);
        let parts = custom::Parts {
            subject: &subject,
            text: &text,
            html: &html,
        };
        let vars = custom::vars(kind, student, &facts, &employers, &extras);
        let custom = custom::render(kind.as_str(), &parts, &vars).expect("every variable renders");
        assert!(
            custom.html.contains("张&lt;同学&gt;"),
            "{kind:?} escapes HTML"
        );
        write(&dir, &format!("{}-custom", kind.as_str()), custom);
    }
}
