//! Organisers' own wording of every event email, for one event or a whole
//! campaign: what students receive, what falls back, previews, and what is
//! refused.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::*;

/// Every kind an organiser may word, with one of its own variables.
const KINDS: [(&str, &str); 10] = [
    ("registration_confirmed", "ticket_code"),
    ("registration_waitlisted", "waitlist_position"),
    ("registration_promoted", "ticket_code"),
    ("registration_cancelled", "by_organiser"),
    ("event_changed", "changes"),
    ("event_cancelled", "reason"),
    ("checkin_thanks", "employers"),
    ("event_reminder", "hours_before"),
    ("no_show_follow_up", "unsubscribe_link"),
    ("no_intent_follow_up", "unsubscribe_link"),
];

fn template(subject: &str, text: &str, html: &str) -> Value {
    json!({"subject": subject, "text": text, "html": html})
}

/// The confirmation worded by organisers: subject with the event, the
/// ticket in the body.
fn confirmation(tag: &str) -> Value {
    template(
        &format!("{tag}：{{{{ event.title }}}}"),
        "{{ student.full_name }}同学，您的电子票：{{ ticket_code }}\n地点：{{ event.venue }}",
        "<p>{{ student.full_name }}：{{ event.title }}</p><p>{{ ticket_code }}</p>",
    )
}

async fn put(app: &TestApp, path: &str, organiser: &str, body: &Value) {
    let saved = app.send("PUT", path, Some(organiser), body).await;
    assert_eq!(saved.status.as_u16(), 200, "PUT {path}: {}", saved.body);
}

/// Deletes the template at `path`; a student who then registers for
/// `event` gets the built-in confirmation.
async fn delete_falls_back(app: &TestApp, organiser: &str, path: &str, event: &str) {
    let deleted = app.send("DELETE", path, Some(organiser), &json!({})).await;
    assert_eq!(deleted.status.as_u16(), 204, "{}", deleted.body);
    app.get(path, Some(organiser))
        .await
        .assert_problem(404, "template_not_set");
    let other = app.student("master", 2027).await;
    app.register(event, &other.token).await;
    let built_in = app.sink.wait_for(&other.email, 1).await;
    assert!(
        built_in.subject().starts_with("报名成功"),
        "{}",
        built_in.subject()
    );
}

#[actix_web::test]
async fn an_event_template_words_the_confirmation_a_student_receives_and_delete_falls_back() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app
        .published_event(&organiser, json!({"title": "能源化工<专场>&宣讲会"}))
        .await;
    let path = format!("/api/v1/events/{event}/templates/registration_confirmed");
    put(&app, &path, &organiser, &confirmation("暖城欢迎您")).await;
    let got = app.get(&path, Some(&organiser)).await;
    assert_eq!(got.status.as_u16(), 200, "{}", got.body);
    assert_eq!(got.body["subject"], "暖城欢迎您：{{ event.title }}");
    assert_eq!(got.body["event_id"], json!(event));

    let student = app.student("master", 2027).await;
    let registration = app.register(&event, &student.token).await;
    assert_eq!(registration.status.as_u16(), 201, "{}", registration.body);
    let ticket = app
        .ticket_of(registration.body["id"].as_str().unwrap())
        .await;
    let mail = app.sink.wait_for(&student.email, 1).await;
    assert_eq!(mail.subject(), "暖城欢迎您：能源化工<专场>&宣讲会");
    let body = mail.text();
    assert!(body.contains(&format!("您的电子票：{ticket}")), "{body}");
    assert!(
        body.contains("：能源化工&lt;专场&gt;&amp;宣讲会</p>"),
        "{body}"
    );
    assert!(
        mail.raw.contains("event.ics"),
        "the calendar file still goes"
    );
    // The ticket is a secret: once sent, the outbox keeps no body with it.
    let mut kept = 1;
    for _ in 0..100 {
        kept = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM notifications WHERE kind = 'registration_confirmed' \
                 AND (status <> 'sent' OR text_body LIKE '%{ticket}%' OR html_body LIKE '%{ticket}%')"
            ))
            .await;
        if kept == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(kept, 0, "the sent confirmation keeps its ticket code");

    delete_falls_back(&app, &organiser, &path, &event).await;
}

#[actix_web::test]
async fn a_campaign_template_words_every_event_of_the_campaign_unless_the_event_has_its_own() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let campaign = app.campaign(&organiser).await;
    let plain = app
        .published_event(&organiser, json!({"campaign_id": campaign}))
        .await;
    let own = app
        .published_event(&organiser, json!({"campaign_id": campaign}))
        .await;
    let outside = app.published_event(&organiser, json!({})).await;
    let kind = "registration_confirmed";
    put(
        &app,
        &format!("/api/v1/campaigns/{campaign}/templates/{kind}"),
        &organiser,
        &confirmation("名校引才"),
    )
    .await;
    put(
        &app,
        &format!("/api/v1/events/{own}/templates/{kind}"),
        &organiser,
        &confirmation("本场专属"),
    )
    .await;
    put(
        &app,
        &format!("/api/v1/campaigns/{campaign}/templates/event_cancelled"),
        &organiser,
        &template(
            "取消：{{ event.title }}",
            "{{ student.full_name }}：{{ reason }}",
            "<p>{{ reason }}</p>",
        ),
    )
    .await;

    let listed = app
        .get(&format!("/api/v1/events/{own}/templates"), Some(&organiser))
        .await;
    assert_eq!(listed.status.as_u16(), 200, "{}", listed.body);
    let items = listed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), KINDS.len(), "{}", listed.body);
    let item = |kind: &str| items.iter().find(|i| i["kind"] == kind).unwrap().clone();
    let confirmed = item(kind);
    assert_eq!(
        (
            &confirmed["event_template"],
            &confirmed["campaign_template"],
            &confirmed["sent"]
        ),
        (&json!(true), &json!(true), &json!("event")),
        "{confirmed}"
    );
    assert!(
        confirmed["default_subject"]
            .as_str()
            .unwrap()
            .starts_with("报名成功"),
        "{confirmed}"
    );
    assert!(
        confirmed["variables"]
            .as_array()
            .unwrap()
            .contains(&json!("ticket_code"))
    );
    assert_eq!(item("event_cancelled")["sent"], "campaign");
    assert_eq!(item("checkin_thanks")["sent"], "built_in");

    let student = app.student("master", 2027).await;
    for event in [&plain, &own, &outside] {
        let r = app.register(event, &student.token).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    }
    app.sink.wait_for(&student.email, 3).await;
    let subjects: Vec<String> = app
        .sink
        .to(&student.email)
        .iter()
        .map(|m| m.subject())
        .collect();
    let count = |prefix: &str| subjects.iter().filter(|s| s.starts_with(prefix)).count();
    assert_eq!(
        (count("名校引才"), count("本场专属"), count("报名成功")),
        (1, 1, 1),
        "{subjects:?}"
    );

    let cancelled = app
        .post(
            &format!("/api/v1/events/{plain}/cancel"),
            Some(&organiser),
            &json!({"reason": "场地调整"}),
        )
        .await;
    assert_eq!(cancelled.status.as_u16(), 200, "{}", cancelled.body);
    let mail = app.sink.wait_for(&student.email, 4).await;
    assert!(mail.subject().starts_with("取消："), "{}", mail.subject());
    assert!(mail.text().contains("：场地调整"), "{}", mail.text());

    let path = format!("/api/v1/campaigns/{campaign}/templates/{kind}");
    let late = app
        .published_event(&organiser, json!({"campaign_id": campaign}))
        .await;
    delete_falls_back(&app, &organiser, &path, &late).await;
}

#[actix_web::test]
async fn every_kind_previews_for_an_event_and_a_campaign() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let campaign = app.campaign(&organiser).await;
    let event = app
        .published_event(&organiser, json!({"campaign_id": campaign}))
        .await;
    let student = app.student("master", 2027).await;
    let registration = app.register(&event, &student.token).await;
    for (kind, own) in KINDS {
        for base in [
            format!("/api/v1/events/{event}/templates/{kind}/preview"),
            format!("/api/v1/campaigns/{campaign}/templates/{kind}/preview"),
        ] {
            let built_in = app.post(&base, Some(&organiser), &json!({})).await;
            assert_eq!(built_in.status.as_u16(), 200, "{base}: {}", built_in.body);
            assert_eq!(built_in.body["kind"], kind, "{base}");
            assert!(
                built_in.body["text"].as_str().unwrap().contains("张同学"),
                "{base}: {}",
                built_in.body
            );
            let custom = app
                .post(
                    &base,
                    Some(&organiser),
                    &template(
                        "{{ event.title }}",
                        &format!("{{{{ student.full_name }}}} [{{{{ {own} }}}}]"),
                        &format!("<p>{{{{ {own} }}}}</p>"),
                    ),
                )
                .await;
            assert_eq!(custom.status.as_u16(), 200, "{base}: {}", custom.body);
            let text = custom.body["text"].as_str().unwrap();
            assert!(
                text.starts_with("张同学 [") && text.len() > "张同学 []".len(),
                "{base}: {text}"
            );
        }
    }
    let real = app
        .post(
            &format!("/api/v1/events/{event}/templates/registration_confirmed/preview"),
            Some(&organiser),
            &json!({"registration_id": registration.body["id"], "subject": "s",
                    "text": "{{ student.full_name }} {{ ticket_code }}", "html": "h"}),
        )
        .await;
    assert_eq!(real.status.as_u16(), 200, "{}", real.body);
    let ticket = app
        .ticket_of(registration.body["id"].as_str().unwrap())
        .await;
    let text = real.body["text"].as_str().unwrap();
    assert!(
        text.starts_with("学生") && text.ends_with(" SAMPLE0TICKET0CODE"),
        "the student is real, the ticket made up: {text}"
    );
    assert!(
        !text.contains(&ticket),
        "a preview never shows a real ticket"
    );
}

#[actix_web::test]
async fn bad_templates_and_callers_are_refused_with_stable_codes() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let campaign = app.campaign(&organiser).await;
    let event = app.published_event(&organiser, json!({})).await;
    let event_path = format!("/api/v1/events/{event}/templates/registration_waitlisted");
    let campaign_path = format!("/api/v1/campaigns/{campaign}/templates/registration_confirmed");
    let long = "x".repeat(50_001);
    let cases: [(&str, &str, Value, &str, &str); 7] = [
        (
            "syntax error",
            &event_path,
            template("s", "t", "<p>\n{% if %}"),
            "html",
            "template_invalid",
        ),
        (
            "unknown variable",
            &event_path,
            template("s", "ok\n{{ student.nickname }}", "h"),
            "text",
            "template_invalid",
        ),
        (
            "another kind's variable",
            &event_path,
            template("s", "{{ ticket_code }}", "h"),
            "text",
            "template_invalid",
        ),
        (
            "syntax error in a campaign's",
            &campaign_path,
            template("{{ event.title", "t", "h"),
            "subject",
            "template_invalid",
        ),
        (
            "oversized html",
            &campaign_path,
            template("s", "t", &long),
            "html",
            "too_long",
        ),
        (
            "oversized subject",
            &event_path,
            template(&"标".repeat(301), "t", "h"),
            "subject",
            "too_long",
        ),
        (
            "ticket in the subject",
            &campaign_path,
            template("票 {{ ticket_code }}", "t", "h"),
            "subject",
            "secret_in_subject",
        ),
    ];
    for (case, path, body, field, code) in cases {
        for (method, url) in [
            ("PUT", path.to_owned()),
            ("POST", format!("{path}/preview")),
        ] {
            let r = app.send(method, &url, Some(&organiser), &body).await;
            r.assert_problem(422, "validation_failed");
            let error = &r.body["errors"][0];
            assert_eq!(
                (error["field"].as_str(), error["code"].as_str()),
                (Some(field), Some(code)),
                "{case} ({method}): {}",
                r.body
            );
            if code == "template_invalid" {
                assert!(
                    error["message"].as_str().unwrap().starts_with("line "),
                    "{case}: {}",
                    r.body
                );
            }
        }
    }
    let line = app
        .send("PUT", &event_path, Some(&organiser), &cases_line_two())
        .await;
    assert!(
        line.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("line 2:"),
        "{}",
        line.body
    );
    assert_eq!(
        app.count("mail_templates").await,
        0,
        "nothing bad was saved"
    );

    let good = confirmation("好");
    let unknown = uuid::Uuid::now_v7();
    let not_found = [
        (
            "unknown kind on an event",
            format!("/api/v1/events/{event}/templates/password_reset"),
            "unknown_template_kind",
        ),
        (
            "unknown kind on a campaign",
            format!("/api/v1/campaigns/{campaign}/templates/verify_email"),
            "unknown_template_kind",
        ),
        (
            "unknown event",
            format!("/api/v1/events/{unknown}/templates/registration_confirmed"),
            "not_found",
        ),
        (
            "unknown campaign",
            format!("/api/v1/campaigns/{unknown}/templates/registration_confirmed"),
            "not_found",
        ),
    ];
    for (case, path, code) in &not_found {
        for (method, url) in [
            ("PUT", path.clone()),
            ("GET", path.clone()),
            ("DELETE", path.clone()),
            ("POST", format!("{path}/preview")),
        ] {
            let r = app.send(method, &url, Some(&organiser), &good).await;
            assert_eq!(
                (r.status.as_u16(), r.body["code"].as_str()),
                (404, Some(*code)),
                "{case} ({method}): {}",
                r.body
            );
        }
    }
    for path in [&event_path, &campaign_path] {
        app.get(path, Some(&organiser))
            .await
            .assert_problem(404, "template_not_set");
        app.send("DELETE", path, Some(&organiser), &json!({}))
            .await
            .assert_problem(404, "template_not_set");
    }
    let sampled = app
        .post(
            &format!("{campaign_path}/preview"),
            Some(&organiser),
            &json!({"registration_id": unknown}),
        )
        .await;
    sampled.assert_problem(422, "validation_failed");
    assert_eq!(sampled.body["errors"][0]["code"], "not_allowed");
    app.get(
        &format!("/api/v1/events/{unknown}/templates"),
        Some(&organiser),
    )
    .await
    .assert_problem(404, "not_found");

    let student = app.student("master", 2027).await;
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;
    let (recruiter, _) = app.invited(&organiser, "recruiter", Some(&employer)).await;
    let endpoints = [
        ("GET", format!("/api/v1/events/{event}/templates")),
        ("GET", event_path.clone()),
        ("PUT", event_path.clone()),
        ("DELETE", event_path.clone()),
        ("POST", format!("{event_path}/preview")),
        ("GET", campaign_path.clone()),
        ("PUT", campaign_path.clone()),
        ("DELETE", campaign_path.clone()),
        ("POST", format!("{campaign_path}/preview")),
    ];
    for (method, path) in &endpoints {
        app.send(method, path, None, &good)
            .await
            .assert_problem(401, "missing_token");
        for (who, token) in [("student", &student.token), ("recruiter", &recruiter)] {
            let r = app.send(method, path, Some(token), &good).await;
            assert_eq!(
                (r.status.as_u16(), r.body["code"].as_str()),
                (403, Some("forbidden")),
                "{who} {method} {path}: {}",
                r.body
            );
        }
    }
    assert_eq!(app.count("mail_templates").await, 0);
}

/// An unknown variable on the second line of the text.
fn cases_line_two() -> Value {
    template("s", "第一行\n{{ nope }}", "h")
}
