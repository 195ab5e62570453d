//! The outbox under faults: two workers, a mail server that is down, and secrets that must not stay at rest.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::{spawn_app, spawn_app_with};

/// Two workers and a mail server slow enough that a batch outlives its
/// lease: the second worker takes the rows the first has not reached, the
/// first skips them, and every email is handed over exactly once.
#[actix_web::test]
async fn two_workers_never_send_one_email_twice() {
    use nuancheng::notify::{self, templates, worker::Worker};

    let app = spawn_app_with(|s| {
        s.server.run_worker = false;
        s.email.lease_secs = 2;
        s.email.smtp_timeout_secs = 1;
        s.email.poll_interval_ms = 20;
    })
    .await;
    app.sink.set_delay(std::time::Duration::from_millis(250));
    for i in 0..20 {
        let mail = templates::verify_email(&format!("学生{i}"), "http://frontend.test/x", 48);
        notify::enqueue(app.db(), &format!("s{i}@pku.edu.cn"), mail, Vec::new())
            .await
            .unwrap();
    }
    for _ in 0..2 {
        let worker = Worker::new(app.db().clone(), app.state.settings.email.clone()).unwrap();
        actix_web::rt::spawn(worker.run());
    }
    for i in 0..20 {
        app.sink.wait_for(&format!("s{i}@pku.edu.cn"), 1).await;
    }
    // Long enough for a second copy of the last ones to arrive, if any would.
    tokio::time::sleep(std::time::Duration::from_millis(800)).await;
    for i in 0..20 {
        let copies = app.sink.to(&format!("s{i}@pku.edu.cn")).len();
        assert_eq!(copies, 1, "s{i} got {copies} copies");
    }
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM notifications WHERE status = 'sent'")
            .await,
        20
    );
}

/// Reset, verification and invitation links and ticket codes do not stay in
/// the outbox once their email is sent.
#[actix_web::test]
async fn no_usable_secret_stays_in_the_outbox_after_sending() {
    let app = spawn_app().await;
    app.candidate("wang@zju.edu.cn").await;
    let reset = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": "wang@zju.edu.cn"}),
        )
        .await;
    assert_eq!(reset.status, StatusCode::ACCEPTED);
    let mail = app.sink.wait_for("wang@zju.edu.cn", 2).await;
    let token = mail.token_for("/reset-password");
    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let student = app.student("master", 2027).await;
    let registered = app.register(&event, &student.token).await;
    let ticket = app.ticket_of(registered.body["id"].as_str().unwrap()).await;
    app.sink.wait_for(&student.email, 1).await;
    // The worker records the outcome right after the server accepts it.
    for _ in 0..100 {
        let pending = app
            .scalar("SELECT COUNT(*) FROM notifications WHERE status <> 'sent'")
            .await;
        if pending == 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for secret in [&token, &ticket] {
        let holding = app
            .scalar(&format!(
                "SELECT COUNT(*) FROM notifications WHERE text_body LIKE '%{secret}%' \
                 OR html_body LIKE '%{secret}%'"
            ))
            .await;
        assert_eq!(holding, 0, "a sent email still holds {secret}");
    }
}

/// The mail server refuses every connection for a while and then comes
/// back: each email queued meanwhile is delivered exactly once, and the
/// admin's outbox view shows the tries it took.
#[actix_web::test]
async fn an_smtp_outage_delays_mail_and_loses_none() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    app.sink.set_accepting(false);
    let addresses: Vec<String> = (0..12).map(|i| format!("outage{i}@zju.edu.cn")).collect();
    for address in &addresses {
        app.candidate(address).await;
    }
    let tried = "SELECT COUNT(*) FROM notifications WHERE kind = 'verify_email' AND attempts >= 2";
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.scalar(tried).await < addresses.len() as i64 {
        assert!(Instant::now() < deadline, "the worker stopped trying");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        app.sink.messages().is_empty(),
        "nothing got through the outage"
    );

    app.sink.set_accepting(true);
    for address in &addresses {
        app.sink.wait_for(address, 1).await;
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = app
            .get("/api/v1/notifications?status=sent&limit=100", Some(&admin))
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let sent: Vec<&serde_json::Value> = page.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["kind"] == "verify_email")
            .collect();
        if sent.len() == addresses.len() {
            for n in sent {
                assert!(n["attempts"].as_i64().unwrap() >= 3, "{n}");
            }
            break;
        }
        assert!(Instant::now() < deadline, "not all recorded as sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    for address in &addresses {
        assert_eq!(app.sink.to(address).len(), 1, "{address} got a copy");
    }
}

/// A worker asked to stop (SIGTERM) finishes the emails it is handing over
/// and gives the rest of its batch back at once: another worker sends them
/// without waiting for their two-minute lease, each exactly once. Two
/// students' queues: each student's emails go one at a time, so most of the
/// batch is still waiting when the stop comes.
#[actix_web::test]
async fn a_stopped_worker_gives_its_batch_back() {
    use nuancheng::notify::{self, templates, worker::Worker};

    let app = spawn_app_with(|s| {
        s.server.run_worker = false;
        s.email.poll_interval_ms = 20;
    })
    .await;
    app.sink.set_delay(Duration::from_millis(300));
    for i in 0..12 {
        let mail = templates::verify_email(&format!("学生{i}"), "http://frontend.test/x", 48);
        notify::enqueue(
            app.db(),
            &format!("stop{}@pku.edu.cn", i % 2),
            mail,
            Vec::new(),
        )
        .await
        .unwrap();
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let first = Worker::new(app.db().clone(), app.state.settings.email.clone())
        .unwrap()
        .stopped_by(stopped);
    let first = actix_web::rt::spawn(first.run());
    let deadline = Instant::now() + Duration::from_secs(10);
    while app.sink.messages().is_empty() {
        assert!(Instant::now() < deadline, "the first worker sent nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(3), first)
        .await
        .expect("the worker stops within a send")
        .unwrap();
    let sent_by_first = app.sink.messages().len();
    assert!(
        sent_by_first < 12,
        "the stop came too late to test anything"
    );
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM notifications WHERE locked_until IS NOT NULL")
            .await,
        0,
        "the unsent rows were given back"
    );

    let second = Worker::new(app.db().clone(), app.state.settings.email.clone()).unwrap();
    actix_web::rt::spawn(second.run());
    for i in 0..2 {
        app.sink.wait_for(&format!("stop{i}@pku.edu.cn"), 6).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(app.sink.messages().len(), 12, "each email once");
    for i in 0..2 {
        assert_eq!(app.sink.to(&format!("stop{i}@pku.edu.cn")).len(), 6);
    }
}
