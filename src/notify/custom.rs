//! Organisers' own wording of event emails: subject, text and HTML as
//! minijinja templates, kept in `mail_templates` for one event or for every
//! event of a campaign. Templates run sandboxed (no files, no imports), an
//! unknown variable is an error rather than empty text, and everything that
//! reaches the HTML part is escaped unless the template says otherwise.

use std::collections::HashMap;

use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbErr, EntityTrait, IdenStatic, Iterable, JoinType,
    QueryFilter,
    sea_query::{Expr, ExprTrait, Order, SelectStatement},
};
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{
    Rendered,
    kinds::{Extras, TemplateKind},
    templates,
};
use crate::{
    config::Settings,
    entities::{employers, event_employers, events, mail_templates, positions, users},
};

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
/// campaign's; one query for both.
pub async fn find<C: ConnectionTrait>(
    conn: &C,
    event: &events::Model,
    kind: TemplateKind,
) -> Result<Option<mail_templates::Model>, DbErr> {
    Ok(find_for(conn, std::slice::from_ref(event), kind)
        .await?
        .remove(&event.id))
}

/// [`find`] inside a read of the event itself: joins to `read` (a select
/// from `events`, one row per event) the template of `kind` (an SQL
/// expression, so the read may decide it from the event's row), selects
/// its columns named with `prefix` (read them back with
/// `mail_templates::Model::from_query_result_optional`), and orders the
/// event's own before its campaign's. Limit the read to one row per event.
pub fn join_template(read: &mut SelectStatement, kind: Expr, prefix: impl IdenStatic) {
    use events::Column as E;
    use mail_templates::Column as T;
    let template = |column: T| Expr::col((mail_templates::Entity, column));
    let owner = Condition::any()
        .add(template(T::EventId).equals((events::Entity, E::Id)))
        .add(
            Condition::all()
                .add(template(T::EventId).is_null())
                .add(template(T::CampaignId).equals((events::Entity, E::CampaignId))),
        );
    read.join(
        JoinType::LeftJoin,
        mail_templates::Entity,
        Condition::all().add(template(T::Kind).eq(kind)).add(owner),
    )
    .order_by_expr(template(T::EventId).is_null(), Order::Asc);
    for column in T::iter() {
        read.expr_as(
            column.select_as(column.into_expr()),
            sea_orm::sea_query::Alias::new(format!("{}{}", prefix.as_str(), column.as_str())),
        );
    }
}

/// [`find`] for each of `events` at once, in one query; events worded the
/// built-in way are not in the map.
pub async fn find_for<C: ConnectionTrait>(
    conn: &C,
    events: &[events::Model],
    kind: TemplateKind,
) -> Result<HashMap<Uuid, mail_templates::Model>, DbErr> {
    use mail_templates::Column as C;
    if events.is_empty() {
        return Ok(HashMap::new());
    }
    let campaigns: Vec<Uuid> = events.iter().filter_map(|e| e.campaign_id).collect();
    let mut owner = Condition::any().add(C::EventId.is_in(events.iter().map(|e| e.id)));
    if !campaigns.is_empty() {
        owner = owner.add(C::CampaignId.is_in(campaigns));
    }
    let found = mail_templates::Entity::find()
        .filter(C::Kind.eq(kind.as_str()))
        .filter(owner)
        .all(conn)
        .await?;
    let (mut own, mut campaign) = (HashMap::new(), HashMap::new());
    for template in found {
        match (template.event_id, template.campaign_id) {
            (Some(event), _) => own.insert(event, template),
            (None, Some(id)) => campaign.insert(id, template),
            (None, None) => None,
        };
    }
    Ok(events
        .iter()
        .filter_map(|event| {
            let template = own
                .remove(&event.id)
                .or_else(|| event.campaign_id.and_then(|id| campaign.get(&id).cloned()))?;
            Some((event.id, template))
        })
        .collect())
}

/// How one kind of email of one event is worded: the organisers' template
/// if there is one, else the built-in wording. Loaded once for a batch of
/// emails.
#[derive(Clone)]
pub struct Wording {
    kind: TemplateKind,
    template: Option<mail_templates::Model>,
    /// The employers taking part, read only when a template may list them.
    employers: Vec<templates::EmployerLine>,
    events_page: String,
}

impl Wording {
    pub async fn load<C: ConnectionTrait>(
        conn: &C,
        settings: &Settings,
        event: &events::Model,
        kind: TemplateKind,
    ) -> Result<Self, DbErr> {
        let template = find(conn, event, kind).await?;
        Self::with(conn, settings, event, kind, template).await
    }

    /// [`Self::load`] with the template already found (by [`find`], or in
    /// the same terms by a read of the caller's own).
    pub async fn with<C: ConnectionTrait>(
        conn: &C,
        settings: &Settings,
        event: &events::Model,
        kind: TemplateKind,
        template: Option<mail_templates::Model>,
    ) -> Result<Self, DbErr> {
        let employers = match template {
            Some(_) => hiring(conn, event.id).await?,
            None => Vec::new(),
        };
        Ok(Self {
            employers,
            ..Self::new(settings, kind, template)
        })
    }

    /// The wording with `template` (found by [`find_for`]), for emails whose
    /// caller passes the employers to [`Self::render`].
    pub fn new(
        settings: &Settings,
        kind: TemplateKind,
        template: Option<mail_templates::Model>,
    ) -> Self {
        Self {
            kind,
            template,
            employers: Vec::new(),
            events_page: settings.page("/events"),
        }
    }

    /// The email to `student`; `employers` are those the built-in wording
    /// lists (the thank-you and the no-intent follow-up), `extras` what
    /// this kind says beyond the student and the event.
    pub fn render(
        &self,
        student: Student<'_>,
        facts: &templates::EventFacts<'_>,
        employers: &[templates::EmployerLine],
        extras: &Extras,
    ) -> Rendered {
        let default = self.kind.builtin(
            &self.events_page,
            student.full_name,
            facts,
            employers,
            extras,
        );
        match &self.template {
            Some(template) => {
                let employers = if self.employers.is_empty() {
                    employers
                } else {
                    &self.employers
                };
                let vars = vars(self.kind, student, facts, employers, extras);
                apply(template, default, &vars)
            }
            None => default,
        }
    }
}

/// The organiser's wording of `default`, or `default` itself when the
/// template fails (it rendered when it was saved, so this is rare and
/// logged): a student never misses an email over a template.
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

/// Who an email is to, as a template names them.
#[derive(Debug, Clone, Copy)]
pub struct Student<'a> {
    pub full_name: &'a str,
    pub email: &'a str,
}

impl<'a> Student<'a> {
    pub fn of(user: &'a users::Model) -> Self {
        Self {
            full_name: &user.full_name,
            email: &user.email,
        }
    }

    /// The made-up student of a preview.
    pub fn sample() -> Self {
        Self {
            full_name: "张同学",
            email: "zhang.tongxue@example.edu.cn",
        }
    }
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

/// Employers made up for checking a campaign's template.
pub fn sample_employers() -> Vec<templates::EmployerLine> {
    vec![templates::EmployerLine {
        name: "示例能源集团".into(),
        positions: vec![(
            "化工工艺工程师".into(),
            vec!["安家补贴".into(), "人才公寓".into()],
        )],
    }]
}

/// The variables a template of `kind` may use (docs/api.md lists them):
/// the student, the event, the employers, and the kind's own.
pub fn vars(
    kind: TemplateKind,
    student: Student<'_>,
    facts: &templates::EventFacts<'_>,
    employers: &[templates::EmployerLine],
    extras: &Extras,
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
    let mut vars = json!({
        "student": {"full_name": student.full_name, "email": student.email},
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
    });
    if let Value::Object(map) = &mut vars {
        map.extend(kind.extras(extras));
    }
    vars
}

/// The employers taking part in an event, by name, each with its positions.
pub async fn hiring<C: ConnectionTrait>(
    conn: &C,
    event_id: Uuid,
) -> Result<Vec<templates::EmployerLine>, DbErr> {
    Ok(hiring_at(conn, &[event_id])
        .await?
        .remove(&event_id)
        .unwrap_or_default())
}

/// [`hiring`] for each of `event_ids`, in three queries however many there
/// are; an event without employers is not in the map.
pub async fn hiring_at<C: ConnectionTrait>(
    conn: &C,
    event_ids: &[Uuid],
) -> Result<HashMap<Uuid, Vec<templates::EmployerLine>>, DbErr> {
    if event_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let taking_part = event_employers::Entity::find()
        .filter(event_employers::Column::EventId.is_in(event_ids.iter().copied()))
        .all(conn)
        .await?;
    let mut ids: Vec<Uuid> = taking_part.iter().map(|e| e.employer_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut positions_of: HashMap<Uuid, Vec<(String, Vec<String>)>> = HashMap::new();
    for p in positions::Entity::find()
        .filter(positions::Column::EmployerId.is_in(ids.iter().copied()))
        .all(conn)
        .await?
    {
        let benefits = serde_json::from_value(p.benefits).unwrap_or_default();
        positions_of
            .entry(p.employer_id)
            .or_default()
            .push((p.title, benefits));
    }
    let mut employers = employers::Entity::find()
        .filter(employers::Column::Id.is_in(ids))
        .all(conn)
        .await?;
    employers.sort_by(|a, b| a.name.cmp(&b.name));
    let mut by_event: HashMap<Uuid, Vec<templates::EmployerLine>> = HashMap::new();
    for employer in &employers {
        for link in taking_part.iter().filter(|l| l.employer_id == employer.id) {
            by_event
                .entry(link.event_id)
                .or_default()
                .push(templates::EmployerLine {
                    name: employer.name.clone(),
                    positions: positions_of.get(&employer.id).cloned().unwrap_or_default(),
                });
        }
    }
    Ok(by_event)
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
