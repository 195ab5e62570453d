//! The outbox: nothing is lost while the mail server is down, failures end
//! in `failed` after the last try, admins retry, workers never double-send.

use std::time::Duration;

use nuancheng::{
    entities::notifications::{self, NotificationStatus},
    notify::{self, templates, worker::Worker},
};
use sea_orm::EntityTrait;
use serde_json::json;

use crate::helpers::*;

async fn status_of(app: &TestApp, to: &str) -> notifications::Model {
    use sea_orm::{ColumnTrait, QueryFilter};
    notifications::Entity::find()
        .filter(notifications::Column::ToEmail.eq(to))
        .one(app.db())
        .await
        .unwrap()
        .expect("a row")
}

async fn wait_until(mut check: impl AsyncFnMut() -> bool, what: &str) {
    for _ in 0..300 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("timed out waiting until {what}");
}

#[actix_web::test]
async fn mail_waits_while_the_server_is_down_and_goes_out_when_it_is_back() {
    let app = spawn_app().await;
    app.sink.set_accepting(false);
    app.candidate("down@pku.edu.cn").await;
    wait_until(
        async || status_of(&app, "down@pku.edu.cn").await.attempts >= 1,
        "a try failed",
    )
    .await;
    let row = status_of(&app, "down@pku.edu.cn").await;
    assert_eq!(row.status, NotificationStatus::Pending);
    assert!(row.last_error.is_some());
    assert!(app.sink.to("down@pku.edu.cn").is_empty());

    app.sink.set_accepting(true);
    let mail = app.sink.wait_for("down@pku.edu.cn", 1).await;
    assert!(mail.subject().contains("验证"));
    wait_until(
        async || status_of(&app, "down@pku.edu.cn").await.status == NotificationStatus::Sent,
        "sent",
    )
    .await;
}

#[actix_web::test]
async fn a_mail_fails_after_its_last_try_and_an_admin_can_retry_it() {
    let app = spawn_app_with(|s| s.email.max_attempts = 2).await;
    let admin = app.admin().await;
    app.sink.set_accepting(false);
    app.candidate("never@pku.edu.cn").await;
    wait_until(
        async || status_of(&app, "never@pku.edu.cn").await.status == NotificationStatus::Failed,
        "failed",
    )
    .await;
    assert_eq!(status_of(&app, "never@pku.edu.cn").await.attempts, 2);

    let failed = app
        .get("/api/v1/notifications?status=failed", Some(&admin))
        .await;
    assert_eq!(failed.status.as_u16(), 200, "{}", failed.body);
    let items = failed.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["to"], "never@pku.edu.cn");
    let id = items[0]["id"].as_str().unwrap().to_owned();

    let (candidate, _) = app.candidate("other@pku.edu.cn").await;
    app.get("/api/v1/notifications", Some(&candidate))
        .await
        .assert_problem(403, "forbidden");
    app.post(
        &format!("/api/v1/notifications/{id}/retry"),
        Some(&candidate),
        &json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.get("/api/v1/notifications?status=lost", Some(&admin))
        .await
        .assert_problem(400, "invalid_query");

    app.sink.set_accepting(true);
    let retried = app
        .post(
            &format!("/api/v1/notifications/{id}/retry"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(retried.status.as_u16(), 200, "{}", retried.body);
    assert_eq!(retried.body["status"], "pending");
    assert_eq!(
        retried.body["attempts"], 0,
        "a retry gets a fresh set of tries"
    );
    app.sink.wait_for("never@pku.edu.cn", 1).await;
    wait_until(
        async || status_of(&app, "never@pku.edu.cn").await.status == NotificationStatus::Sent,
        "sent",
    )
    .await;
    app.post(
        &format!("/api/v1/notifications/{id}/retry"),
        Some(&admin),
        &json!({}),
    )
    .await
    .assert_problem(409, "already_sent");
    app.post(
        &format!("/api/v1/notifications/{}/retry", uuid::Uuid::now_v7()),
        Some(&admin),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");
    let to = app
        .get("/api/v1/notifications?to=NEVER@pku.edu.cn", Some(&admin))
        .await;
    assert_eq!(to.body["items"].as_array().unwrap().len(), 1, "{}", to.body);
}

#[actix_web::test]
async fn concurrent_workers_send_each_mail_exactly_once() {
    let app = spawn_app_with(|s| s.server.run_worker = false).await;
    for i in 0..40 {
        let mail = templates::verify_email(
            "李雷",
            &format!("http://frontend.test/verify-email?token=t{i}"),
            48,
        );
        notify::enqueue(app.db(), &format!("s{i}@pku.edu.cn"), mail, vec![])
            .await
            .unwrap();
    }
    let settings = app.state.settings.email.clone();
    let workers: Vec<Worker> = (0..4)
        .map(|_| Worker::new(app.db().clone(), settings.clone()).unwrap())
        .collect();
    let mut sent = 0;
    for _ in 0..20 {
        let rounds = futures_util::future::join_all(workers.iter().map(|w| w.run_once())).await;
        let n: usize = rounds.into_iter().map(|r| r.expect("a worker round")).sum();
        sent += n;
        if n == 0 {
            break;
        }
    }
    assert_eq!(sent, 40);
    let messages = app.sink.messages();
    assert_eq!(messages.len(), 40, "each mail once");
    let mut recipients: Vec<String> = messages.iter().flat_map(|m| m.to.clone()).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 40, "no mail twice");
}

/// With the file transport each email becomes an .eml file: addressed to
/// its recipient, with the subject, the body and the row's Message-ID.
#[actix_web::test]
async fn the_file_transport_writes_eml_files() {
    let dir = std::env::temp_dir().join(format!("nuancheng-mail-{}", uuid::Uuid::new_v4()));
    let dir_for_settings = dir.clone();
    let app = spawn_app_with(move |s| {
        s.email.transport = nuancheng::config::EmailTransportKind::File;
        s.email.file_dir = dir_for_settings;
    })
    .await;
    app.candidate("file@pku.edu.cn").await;
    // Recorded as sent once the file is written whole.
    wait_until(
        async || status_of(&app, "file@pku.edu.cn").await.status == NotificationStatus::Sent,
        "the email is written",
    )
    .await;
    let row = status_of(&app, "file@pku.edu.cn").await;
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(files[0].extension().and_then(|e| e.to_str()), Some("eml"));
    let raw = std::fs::read_to_string(&files[0]).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let mail = crate::smtp::ReceivedMail {
        to: Vec::new(),
        raw,
    };
    let headers = mail.raw.split("\r\n\r\n").next().unwrap().to_owned();
    assert!(
        headers.lines().any(|l| l == "To: file@pku.edu.cn"),
        "{headers}"
    );
    assert!(
        headers.contains(&format!("<{}@nuancheng>", row.id)),
        "the Message-ID names the row: {headers}"
    );
    assert_eq!(mail.subject(), row.subject);
    assert!(mail.subject().contains("验证"), "{}", mail.subject());
    let text = mail.text();
    assert!(
        text.contains("http://frontend.test/verify-email?token="),
        "{text}"
    );
    assert!(text.contains("李雷"), "{text}");
}

/// A check-in's thank-you email is written by the mail worker, not by the
/// scan: a check-in made while no worker writes them keeps its email
/// pending (its `checkin_thanks` row is committed with the check-in, so
/// nothing is lost, even through the migration that moved pending emails
/// from a flag on the check-in to that table, rolled back and applied
/// again), and two workers started afterwards write and send it once.
#[actix_web::test]
async fn a_thank_you_waits_for_a_worker_and_is_written_once() {
    use crate::checkins::{door, scan, ticket};
    let app = spawn_app_with(|s| s.server.run_worker = false).await;
    // A worker that only sends (the invitations `door` waits for).
    let sender = Worker::new(app.db().clone(), app.state.settings.email.clone()).unwrap();
    actix_web::rt::spawn(sender.run());
    let d = door(&app, json!({"capacity": 5})).await;
    let student = app.student("master", 2027).await;
    let code = ticket(&app, &d.event, &student).await;
    let scanned = scan(&app, &d, &d.recruiter, json!({"ticket_code": code})).await;
    assert_eq!(scanned.status.as_u16(), 201, "{}", scanned.body);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let thanks = "SELECT COUNT(*) FROM notifications WHERE kind = 'checkin_thanks'";
    assert_eq!(app.scalar(thanks).await, 0);
    let pending = "SELECT COUNT(*) FROM checkin_thanks";
    assert_eq!(app.scalar(pending).await, 1);
    {
        use migration::{Migrator, MigratorTrait};
        let names: Vec<String> = Migrator::migrations()
            .iter()
            .map(|m| m.name().to_owned())
            .collect();
        let moved = names
            .iter()
            .position(|n| n.starts_with("m20261207_120000"))
            .expect("the migration that moved pending thank-yous");
        Migrator::down(app.db(), Some((names.len() - moved) as u32))
            .await
            .expect("roll back to the flag");
        assert_eq!(
            app.scalar("SELECT COUNT(*) FROM checkins WHERE thanks_pending")
                .await,
            1
        );
        nuancheng::db::migrate_up(app.db()).await.expect("migrate");
        assert_eq!(app.scalar(pending).await, 1);
    }

    for _ in 0..2 {
        let worker = Worker::for_settings(app.db().clone(), &app.state.settings).unwrap();
        actix_web::rt::spawn(worker.run());
    }
    let mail = app.sink.wait_for_subject(&student.email, "感谢参加").await;
    assert!(mail.text().contains("新能源研发工程师"), "{}", mail.text());
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.scalar(thanks).await, 1);
    assert_eq!(app.scalar(pending).await, 0);
    let copies = app
        .sink
        .to(&student.email)
        .iter()
        .filter(|m| m.subject().contains("感谢参加"))
        .count();
    assert_eq!(copies, 1);
}

/// Thank-you emails written in one batch for check-ins at several events:
/// each names its own event's employers and is worded by its own template,
/// its campaign's, or the built-in wording.
#[actix_web::test]
async fn one_batch_of_thank_yous_words_each_event_its_own_way() {
    let app = spawn_app_with(|s| s.server.run_worker = false).await;
    // A worker that only sends (the organiser's invitation).
    let sender = Worker::new(app.db().clone(), app.state.settings.email.clone()).unwrap();
    actix_web::rt::spawn(sender.run());
    let organiser = app.organiser().await;
    let campaign = app.campaign(&organiser).await;
    let mut employers = Vec::new();
    for (code, title) in CREDIT_CODES
        .iter()
        .zip(["储能工程师", "煤化工工艺师", "数据分析师"])
    {
        let id = app.employer(&organiser, code).await;
        let position = app
            .post(
                &format!("/api/v1/employers/{id}/positions"),
                Some(&organiser),
                &json!({"title": title, "degree_min": "master", "headcount": 1,
                        "talent_category": "high_level", "location": "康巴什区", "benefits": []}),
            )
            .await;
        assert_eq!(position.status.as_u16(), 201, "{}", position.body);
        employers.push(id);
    }
    let (a, b, c) = (&employers[0], &employers[1], &employers[2]);
    let in_campaign = app
        .published_event(
            &organiser,
            json!({"campaign_id": campaign, "employer_ids": [a]}),
        )
        .await;
    let own = app
        .published_event(
            &organiser,
            json!({"campaign_id": campaign, "employer_ids": [b]}),
        )
        .await;
    let outside = app
        .published_event(&organiser, json!({"employer_ids": [a, c]}))
        .await;
    let worded = |subject: &str| {
        json!({"subject": subject,
               "text": "{% for e in employers %}{% for p in e.positions %}[{{ p.title }}]{% endfor %}{% endfor %}",
               "html": "<p>{{ student.full_name }}</p>"})
    };
    for (path, subject) in [
        (
            format!("/api/v1/campaigns/{campaign}/templates/checkin_thanks"),
            "活动致谢",
        ),
        (
            format!("/api/v1/events/{own}/templates/checkin_thanks"),
            "本场致谢",
        ),
    ] {
        let saved = app
            .send("PUT", &path, Some(&organiser), &worded(subject))
            .await;
        assert_eq!(saved.status.as_u16(), 200, "{}", saved.body);
    }
    let mut students = Vec::new();
    for event in [&in_campaign, &own, &outside] {
        let student = app.student("master", 2027).await;
        let registered = app.register(event, &student.token).await;
        let code = app.ticket_of(registered.body["id"].as_str().unwrap()).await;
        let scanned = app
            .post(
                &format!("/api/v1/events/{event}/checkins"),
                Some(&organiser),
                &json!({"ticket_code": code}),
            )
            .await;
        assert_eq!(scanned.status.as_u16(), 201, "{}", scanned.body);
        students.push(student);
    }
    assert_eq!(app.scalar("SELECT COUNT(*) FROM checkin_thanks").await, 3);
    let worker = Worker::for_settings(app.db().clone(), &app.state.settings).unwrap();
    actix_web::rt::spawn(worker.run());

    let expected = [
        ("活动致谢", "[储能工程师]"),
        ("本场致谢", "[煤化工工艺师]"),
        ("感谢参加", "储能工程师"),
    ];
    for (student, (subject, names)) in students.iter().zip(expected) {
        let mail = app.sink.wait_for_subject(&student.email, subject).await;
        let text = mail.text();
        assert!(text.contains(names), "{subject}: {text}");
        let others = ["储能工程师", "煤化工工艺师", "数据分析师"]
            .into_iter()
            .filter(|t| text.contains(t))
            .count();
        let listed = if subject == "感谢参加" { 2 } else { 1 };
        assert_eq!(others, listed, "{subject}: {text}");
    }
    assert!(
        app.sink
            .to(&students[2].email)
            .iter()
            .any(|m| m.text().contains("数据分析师")),
        "the built-in wording lists every employer of its event"
    );
}

/// A backlog does not make each claim slower. PostgreSQL's statistics may
/// be taken at any moment, e.g. while the worker holds a batch under its
/// lease; later a mailing queues thousands of rows. Left to itself the
/// planner then reads and sorts every pending row, bodies and all, for
/// each batch the worker claims; the claim's transaction makes it read the
/// due index in order and stop at the batch, and the claim takes the
/// oldest due rows.
#[actix_web::test]
async fn a_backlog_is_claimed_in_index_order_whatever_the_statistics_say() {
    use chrono::{TimeDelta, Utc};
    use nuancheng::notify::lease;
    use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement, TransactionTrait};

    let app = spawn_app_with(|s| s.server.run_worker = false).await;
    if !app.is_postgres() {
        return; // SQLite has one writer and no such planner choice.
    }
    let db = app.db();
    let queue = |n: u32, who: &str, leased_until: &str| {
        format!(
            "INSERT INTO notifications (id, kind, to_email, subject, text_body, html_body, \
                 status, attempts, next_attempt_at, created_at, locked_until) \
             SELECT gen_random_uuid(), 'checkin_thanks', '{who}' || i || '@pku.edu.cn', '感谢参加', \
                 repeat('感谢您参加宣讲会。', 60), repeat('<p>感谢您参加宣讲会。</p>', 60), \
                 'pending', 0, now() - make_interval(secs => random() * 86400), now(), {leased_until} \
             FROM generate_series(1, {n}) AS i"
        )
    };
    for step in [
        queue(200, "first", "now() + interval '5 minutes'"),
        "ANALYZE notifications".to_owned(),
        "UPDATE notifications SET status = 'sent', sent_at = now(), locked_until = NULL".to_owned(),
        queue(3000, "s", "NULL"),
    ] {
        db.execute_unprepared(&step).await.unwrap();
    }

    let plan = async |settings: Option<&str>| {
        let txn = db.begin().await.unwrap();
        if let Some(settings) = settings {
            txn.execute_unprepared(settings).await.unwrap();
        }
        let due = lease::due::<notifications::Entity>(Utc::now(), 32, sea_orm::Condition::all())
            .build(DbBackend::Postgres);
        let explain = Statement::from_sql_and_values(
            DbBackend::Postgres,
            format!("EXPLAIN {}", due.sql),
            due.values.map(|v| v.0).unwrap_or_default(),
        );
        let lines = txn.query_all_raw(explain).await.unwrap();
        txn.rollback().await.unwrap();
        lines
            .iter()
            .map(|line| line.try_get_by_index::<String>(0).unwrap())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let left_alone = plan(None).await;
    assert!(
        left_alone.contains("Sort"),
        "the planner no longer sorts the whole backlog on its own; this test shows nothing:\n{left_alone}"
    );
    let claimed = plan(Some(lease::IN_INDEX_ORDER)).await;
    assert!(
        !claimed.contains("Sort") && claimed.contains("Index Scan using ix_notifications_due"),
        "{claimed}"
    );

    let (rows, _) = lease::claim::<notifications::Entity>(db, 32, TimeDelta::seconds(60))
        .await
        .unwrap();
    let oldest = db
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT id FROM notifications WHERE status = 'pending' \
             ORDER BY next_attempt_at LIMIT 32",
        ))
        .await
        .unwrap()
        .iter()
        .map(|row| row.try_get_by_index::<uuid::Uuid>(0).unwrap())
        .collect::<Vec<_>>();
    assert_eq!(rows.iter().map(|r| r.id).collect::<Vec<_>>(), oldest);
}
