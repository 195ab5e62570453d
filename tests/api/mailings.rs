//! Scheduled mail on a clock the test moves: reminders once however many
//! workers look, follow-ups to the right students, unsubscribing, and the
//! organisers' view, switches and templates.

use std::{sync::Arc, time::Duration};

use chrono::TimeDelta;
use nuancheng::notify::{clock::Clock, schedule::Scheduler, unsubscribe, worker::Worker};
use serde_json::{Value, json};

use crate::helpers::*;

/// A worker whose scheduler reads `clock`.
fn worker(app: &TestApp, clock: &Clock) -> Worker {
    let settings = Arc::new((*app.state.settings).clone());
    let scheduler = Scheduler::new(app.db().clone(), settings.clone(), clock.clone());
    Worker::new(app.db().clone(), settings.email.clone())
        .unwrap()
        .scheduling(scheduler, Duration::from_secs(3600))
}

/// An event starting in 25 hours, two hours long.
async fn event_tomorrow(app: &TestApp, organiser: &str) -> String {
    let starts = chrono::Utc::now() + TimeDelta::hours(25);
    app.published_event(
        organiser,
        json!({
            "starts_at": starts.to_rfc3339(),
            "ends_at": (starts + TimeDelta::hours(2)).to_rfc3339(),
        }),
    )
    .await
}

fn with_subject(app: &TestApp, to: &str, part: &str) -> usize {
    app.sink
        .to(to)
        .iter()
        .filter(|m| m.subject().contains(part))
        .count()
}

async fn settle(app: &TestApp) {
    // The app's own worker sends what the test's schedulers queued.
    for _ in 0..100 {
        if app
            .scalar("SELECT COUNT(*) FROM notifications WHERE status = 'pending'")
            .await
            == 0
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the outbox did not drain");
}

#[actix_web::test]
async fn the_day_before_reminder_goes_out_once_with_two_workers_and_not_to_the_cancelled() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = event_tomorrow(&app, &organiser).await;
    let coming = app.student("master", 2027).await;
    let leaving = app.student("master", 2027).await;
    assert_eq!(
        app.register(&event, &coming.token).await.status.as_u16(),
        201
    );
    let cancelled = app.register(&event, &leaving.token).await;
    let registration = cancelled.body["id"].as_str().unwrap().to_owned();
    let cancel = app
        .post(
            &format!("/api/v1/registrations/{registration}/cancel"),
            Some(&leaving.token),
            &json!({}),
        )
        .await;
    assert_eq!(cancel.status.as_u16(), 200, "{}", cancel.body);

    let clock = Clock::manual(chrono::Utc::now());
    let (first, second) = (worker(&app, &clock), worker(&app, &clock));
    assert_eq!(
        first.schedule_due().await.unwrap(),
        0,
        "nothing is due a day ahead"
    );

    clock.advance(TimeDelta::hours(1) + TimeDelta::minutes(1));
    let (a, b) = futures_util::future::join(first.schedule_due(), second.schedule_due()).await;
    assert_eq!(
        a.unwrap() + b.unwrap(),
        1,
        "one reminder between the two workers"
    );
    assert_eq!(first.schedule_due().await.unwrap(), 0, "not again");
    assert_eq!(second.schedule_due().await.unwrap(), 0, "not again");
    settle(&app).await;
    assert_eq!(with_subject(&app, &coming.email, "活动提醒"), 1);
    assert_eq!(with_subject(&app, &leaving.email, "活动提醒"), 0);
    let reminder = app
        .sink
        .to(&coming.email)
        .into_iter()
        .find(|m| m.subject().contains("活动提醒"))
        .unwrap();
    assert!(
        !reminder.raw.contains("List-Unsubscribe"),
        "reminders are not optional mail"
    );

    let view = app
        .get(
            &format!("/api/v1/events/{event}/mailings"),
            Some(&organiser),
        )
        .await;
    assert_eq!(view.status.as_u16(), 200, "{}", view.body);
    let items = view.body["items"].as_array().unwrap();
    let day = items
        .iter()
        .find(|i| i["mailing"] == "reminder_24h")
        .unwrap();
    assert_eq!(
        (day["state"].as_str(), day["queued"].as_u64()),
        (Some("queued"), Some(1))
    );
    let two = items
        .iter()
        .find(|i| i["mailing"] == "reminder_2h")
        .unwrap();
    assert_eq!(two["state"], "scheduled");
}

#[actix_web::test]
async fn a_reminder_whose_time_passed_before_the_event_was_made_is_not_sent() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let starts = chrono::Utc::now() + TimeDelta::hours(5);
    let event = app
        .published_event(&organiser, json!({"starts_at": starts.to_rfc3339(), "ends_at": (starts + TimeDelta::hours(1)).to_rfc3339()}))
        .await;
    let student = app.student("master", 2027).await;
    app.register(&event, &student.token).await;
    let clock = Clock::manual(chrono::Utc::now());
    assert_eq!(
        worker(&app, &clock).schedule_due().await.unwrap(),
        0,
        "the 24 h reminder is stale"
    );
    let view = app
        .get(
            &format!("/api/v1/events/{event}/mailings"),
            Some(&organiser),
        )
        .await;
    let day = view.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["mailing"] == "reminder_24h")
        .cloned()
        .unwrap();
    assert_eq!(day["state"], "skipped_stale");
    clock.advance(TimeDelta::hours(3) + TimeDelta::minutes(1));
    assert_eq!(
        worker(&app, &clock).schedule_due().await.unwrap(),
        1,
        "the 2 h reminder goes"
    );
}

#[actix_web::test]
async fn follow_ups_go_to_no_shows_and_to_those_who_came_without_an_intent_unless_unsubscribed() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = event_tomorrow(&app, &organiser).await;
    let absent = app.student("master", 2027).await;
    let came = app.student("master", 2027).await;
    let quiet = app.student("master", 2027).await;
    let linked = app.student("master", 2027).await;
    let mut registration = None;
    for s in [&absent, &came, &quiet, &linked] {
        let r = app.register(&event, &s.token).await;
        assert_eq!(r.status.as_u16(), 201, "{}", r.body);
        if s.email == came.email {
            registration = Some(r);
        }
    }
    let registration = registration.unwrap();
    let code = app
        .ticket_of(registration.body["id"].as_str().unwrap())
        .await;
    let scan = app
        .post(
            &format!("/api/v1/events/{event}/checkins"),
            Some(&organiser),
            &json!({"ticket_code": code}),
        )
        .await;
    assert_eq!(scan.status.as_u16(), 201, "{}", scan.body);
    // One student turns follow-ups off on the profile, another by the link.
    let off = app
        .patch(
            "/api/v1/me",
            Some(&quiet.token),
            &json!({"follow_up_emails": false}),
        )
        .await;
    assert_eq!(off.status.as_u16(), 200, "{}", off.body);
    let token = unsubscribe::token(
        &app.state.settings.auth.jwt_secret,
        linked.id.parse().unwrap(),
    );
    let one_click = app
        .post(
            &format!("/api/v1/unsubscribe?token={token}"),
            None,
            &json!({}),
        )
        .await;
    assert_eq!(one_click.status.as_u16(), 200, "{}", one_click.body);
    let forged = app
        .post("/api/v1/unsubscribe?token=AAAA", None, &json!({}))
        .await;
    forged.assert_problem(400, "invalid_token");
    let missing = app.post("/api/v1/unsubscribe", None, &json!({})).await;
    missing.assert_problem(400, "invalid_query");

    let clock =
        Clock::manual(chrono::Utc::now() + TimeDelta::hours(25 + 2 + 2) + TimeDelta::minutes(1));
    let w = worker(&app, &clock);
    assert_eq!(w.schedule_due().await.unwrap(), 2);
    assert_eq!(w.schedule_due().await.unwrap(), 0);
    settle(&app).await;
    assert_eq!(with_subject(&app, &absent.email, "我们想念您"), 1);
    assert_eq!(
        with_subject(&app, &came.email, "我们想念您"),
        0,
        "a checked-in student is no no-show"
    );
    assert_eq!(with_subject(&app, &came.email, "仍在招聘"), 1);
    for s in [&quiet, &linked] {
        assert_eq!(
            with_subject(&app, &s.email, "我们想念您"),
            0,
            "unsubscribed"
        );
    }
    let mail = app
        .sink
        .to(&absent.email)
        .into_iter()
        .find(|m| m.subject().contains("我们想念您"))
        .unwrap();
    let unfolded = mail.raw.replace("\r\n ", " ");
    assert!(
        unfolded.contains("List-Unsubscribe: <http://frontend.test/api/v1/unsubscribe?token="),
        "{unfolded}"
    );
    assert!(unfolded.contains("List-Unsubscribe-Post: List-Unsubscribe=One-Click"));
}

#[actix_web::test]
async fn organisers_switch_a_kind_off_and_the_scheduler_honours_it() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = event_tomorrow(&app, &organiser).await;
    let student = app.student("master", 2027).await;
    app.register(&event, &student.token).await;
    let path = format!("/api/v1/events/{event}/mailings");
    let off = app
        .patch(&path, Some(&organiser), &json!({"reminder": false}))
        .await;
    assert_eq!(off.status.as_u16(), 200, "{}", off.body);
    assert!(
        off.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["kind"] == "reminder")
            .all(|i| i["enabled"] == false)
    );
    let clock = Clock::manual(chrono::Utc::now() + TimeDelta::hours(2));
    assert_eq!(worker(&app, &clock).schedule_due().await.unwrap(), 0);

    let cases: [(&str, Value, u16, &str); 3] = [
        (
            "wrong type",
            json!({"reminder": "no"}),
            422,
            "validation_failed",
        ),
        (
            "unknown kind",
            json!({"digest": true}),
            422,
            "validation_failed",
        ),
        ("not an object", json!([true]), 422, "validation_failed"),
    ];
    for (case, body, status, code) in cases {
        let r = app.patch(&path, Some(&organiser), &body).await;
        assert_eq!(r.status.as_u16(), status, "{case}: {}", r.body);
        assert_eq!(r.body["code"], code, "{case}: {}", r.body);
    }
    let missing = app
        .get(
            &format!("/api/v1/events/{}/mailings", uuid::Uuid::now_v7()),
            Some(&organiser),
        )
        .await;
    missing.assert_problem(404, "not_found");
    app.get(&path, Some(&student.token))
        .await
        .assert_problem(403, "forbidden");
    app.patch(&path, Some(&student.token), &json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.get(&path, None)
        .await
        .assert_problem(401, "missing_token");
}

#[actix_web::test]
async fn a_template_previews_with_a_real_registration_and_bad_ones_are_422_with_the_line() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = event_tomorrow(&app, &organiser).await;
    let student = app.student("master", 2027).await;
    let registration = app.register(&event, &student.token).await;
    let path = format!("/api/v1/events/{event}/templates/event_reminder");
    let saved = app
        .send("PUT", &path, Some(&organiser), &json!({
            "subject": "{{ student.full_name }}，{{ event.title }} 明天见",
            "text": "{{ student.full_name }}同学：\n{{ event.venue }}，{{ event.starts_at }}",
            "html": "<p>{{ student.full_name }} · <a href=\"{{ event.link }}\">{{ event.title }}</a></p>"
        }))
        .await;
    assert_eq!(saved.status.as_u16(), 200, "{}", saved.body);
    let preview = app
        .post(
            &format!("{path}/preview"),
            Some(&organiser),
            &json!({"registration_id": registration.body["id"]}),
        )
        .await;
    assert_eq!(preview.status.as_u16(), 200, "{}", preview.body);
    assert!(
        preview.body["subject"]
            .as_str()
            .unwrap()
            .ends_with("明天见"),
        "{}",
        preview.body
    );
    assert!(
        preview.body["text"]
            .as_str()
            .unwrap()
            .contains("北京大学百周年纪念讲堂")
    );
    let escaped = app
        .post(
            &format!("{path}/preview"),
            Some(&organiser),
            &json!({"subject": "s", "text": "t", "html": "<b>{{ '<i>' }}</b>"}),
        )
        .await;
    assert_eq!(escaped.body["html"], "<b>&lt;i&gt;</b>", "{}", escaped.body);
    let sample = app
        .post(
            &format!("/api/v1/events/{event}/templates/no_show_follow_up/preview"),
            Some(&organiser),
            &json!({}),
        )
        .await;
    assert_eq!(sample.status.as_u16(), 200, "{}", sample.body);
    assert!(sample.body["text"].as_str().unwrap().contains("张同学"));

    let bad = |subject: &str, text: &str, html: &str| json!({"subject": subject, "text": text, "html": html});
    let cases = [
        (
            "unknown variable",
            bad("s", "ok\n{{ student.nickname }}", "h"),
            "text",
            "line 2",
        ),
        (
            "does not compile",
            bad("s", "t", "<p>\n{% if %}"),
            "html",
            "line 2",
        ),
        (
            "unknown top-level",
            bad("{{ secret }}", "t", "h"),
            "subject",
            "line 1",
        ),
    ];
    for (case, body, field, line) in cases {
        let r = app.send("PUT", &path, Some(&organiser), &body).await;
        r.assert_problem(422, "validation_failed");
        let error = &r.body["errors"][0];
        assert_eq!(
            (error["field"].as_str(), error["code"].as_str()),
            (Some(field), Some("template_invalid")),
            "{case}: {}",
            r.body
        );
        assert!(
            error["message"].as_str().unwrap().starts_with(line),
            "{case}: {}",
            r.body
        );
        let p = app
            .post(&format!("{path}/preview"), Some(&organiser), &body)
            .await;
        p.assert_problem(422, "validation_failed");
    }
    let partial = app
        .post(
            &format!("{path}/preview"),
            Some(&organiser),
            &json!({"subject": "s"}),
        )
        .await;
    partial.assert_problem(422, "validation_failed");
    let stranger = app
        .post(
            &format!("{path}/preview"),
            Some(&organiser),
            &json!({"registration_id": uuid::Uuid::now_v7()}),
        )
        .await;
    stranger.assert_problem(422, "validation_failed");
    let missing_field = app
        .send(
            "PUT",
            &path,
            Some(&organiser),
            &json!({"subject": "s", "text": "t"}),
        )
        .await;
    missing_field.assert_problem(422, "validation_failed");
    let kind = app
        .post(
            &format!("/api/v1/events/{event}/templates/password_reset/preview"),
            Some(&organiser),
            &json!({}),
        )
        .await;
    kind.assert_problem(404, "unknown_template_kind");
    app.post(&format!("{path}/preview"), Some(&student.token), &json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.send("PUT", &path, Some(&student.token), &json!({}))
        .await
        .assert_problem(403, "forbidden");
    app.send("DELETE", &path, Some(&student.token), &json!({}))
        .await
        .assert_problem(403, "forbidden");
    let deleted = app
        .send("DELETE", &path, Some(&organiser), &json!({}))
        .await;
    assert_eq!(deleted.status.as_u16(), 204);
    app.send("DELETE", &path, Some(&organiser), &json!({}))
        .await
        .assert_problem(404, "template_not_set");
}
