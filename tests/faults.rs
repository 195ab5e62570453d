//! Faults, with nothing lost. These tests start the real `nuancheng` binary
//! and hurt it: killed with -9 in the middle of a registration burst, and
//! (on PostgreSQL, where `NUANCHENG_FAULTS_RESTART_POSTGRES=1` says the
//! machine's PostgreSQL may be restarted) its database restarted under load.
//! A 2xx the server gave must survive either. All traffic stays on loopback;
//! every wait is bounded.
//!
//! Each registration goes on a connection of its own (`force_close`): a
//! kept-alive connection the server closes just as it is reused would be
//! an error of the client's pool, not an answer the server failed to give.
//! When a request gets no answer at all, the failure shows the server's
//! stderr.
//!
//! Like the API tests they run on a temporary SQLite file, or on a fresh
//! PostgreSQL database when `TEST_DATABASE_URL` names a server.

mod common;

use std::{
    collections::{HashMap, HashSet},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use awc::Client;
use common::*;
use futures_util::future::join_all;
use nuancheng::{entities::notifications, tokens::JwtKeys};
use sea_orm::{ColumnTrait, Database, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use uuid::Uuid;

/// Faults that stop a shared service must not overlap.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// What a fault test starts from: the real binary on a fresh database
/// (with `more` in its environment), a client, an open connection to the
/// database, a published event with 1,000 seats and `students` students.
struct Scene {
    database: TestDatabase,
    mail_dir: std::path::PathBuf,
    server: Server,
    client: Client,
    db: sea_orm::DatabaseConnection,
    event: String,
    students: Vec<(Uuid, String, String)>,
}

async fn scene(students: usize, more: &[(&str, &str)]) -> Scene {
    let database = fresh_database().await;
    let mail_dir = database.dir.0.join("mail");
    let port = free_port();
    let mut env = Server::env_for(&database, &mail_dir, port);
    env.extend(more.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let server = Server::start(env, port).await;
    let client = Client::builder().timeout(Duration::from_secs(30)).finish();
    let db = Database::connect(&database.url)
        .await
        .expect("the database");
    let admin = admin_token(&server, &client).await;
    let event = published_event(&server, &client, &admin, 1000).await;
    let students = common::students(&db, &JwtKeys::new(&settings().auth), students).await;
    Scene {
        database,
        mail_dir,
        server,
        client,
        db,
        event,
        students,
    }
}

/// Whether this run may stop the machine's PostgreSQL: on PostgreSQL, with
/// `NUANCHENG_FAULTS_RESTART_POSTGRES=1`; else the test says it is skipped.
fn may_stop_postgres() -> bool {
    let allowed = std::env::var("NUANCHENG_FAULTS_RESTART_POSTGRES").as_deref() == Ok("1")
        && std::env::var("TEST_DATABASE_URL").is_ok_and(|v| !v.is_empty());
    if !allowed {
        eprintln!("skipped: set TEST_DATABASE_URL and NUANCHENG_FAULTS_RESTART_POSTGRES=1");
    }
    allowed
}

/// Waits until `/readyz` answers 200, for at most `within`.
async fn ready_within(server: &Server, client: &Client, within: Duration, after: &str) {
    let deadline = Instant::now() + within;
    loop {
        let res = client
            .get(server.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        if res.status().as_u16() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not ready {within:?} after {after}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn register_all(
    base: String,
    client: &Client,
    event: &str,
    students: &[(Uuid, String, String)],
    answered: Arc<AtomicUsize>,
) -> Vec<Option<(u16, Value, bool)>> {
    join_all(students.iter().enumerate().map(|(i, (_, _, token))| {
        let answered = answered.clone();
        let request = client
            .post(format!("{base}/api/v1/events/{event}/registrations"))
            .bearer_auth(token)
            .insert_header(("Idempotency-Key", format!("burst-{i}")))
            .force_close()
            .send_json(&json!({}));
        async move {
            let res = request.await.ok()?;
            let answer = read(res).await;
            answered.fetch_add(1, Ordering::SeqCst);
            Some(answer)
        }
    }))
    .await
}

/// 300 students register for one event at once; the server is killed with
/// -9 once some have been answered, then started again. Every registration
/// answered 201 exists, none twice, each with its confirmation email, the
/// event's counters equal its rows, and a retry with the same
/// Idempotency-Key gets the original answer, or runs afresh when the first
/// never committed.
#[actix_web::test]
async fn kill_9_during_a_registration_burst_loses_no_answered_registration() {
    let _serial = SERIAL.lock().await;
    let Scene {
        database,
        mut server,
        client,
        db,
        event,
        students,
        ..
    } = scene(300, &[]).await;

    let answered = Arc::new(AtomicUsize::new(0));
    let burst = register_all(server.url(""), &client, &event, &students, answered.clone());
    let killer = async {
        let deadline = Instant::now() + Duration::from_secs(20);
        while answered.load(Ordering::SeqCst) < 40 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        server.kill_9();
    };
    let (first, ()) = tokio::join!(burst, killer);
    let created: HashMap<usize, String> = first
        .iter()
        .enumerate()
        .filter_map(|(i, a)| match a {
            Some((201, body, _)) => Some((i, body["id"].as_str()?.to_owned())),
            _ => None,
        })
        .collect();
    let unanswered = first.iter().filter(|a| a.is_none()).count();
    assert!(
        created.len() >= 40,
        "{} answered before the kill",
        created.len()
    );
    assert!(
        unanswered > 0,
        "the kill came after the burst: nothing was cut off"
    );

    server.restart().await;
    // Every registration answered 201 is there, for its student.
    for (i, id) in &created {
        let owner = scalar(
            &db,
            &format!(
                "SELECT COUNT(*) FROM registrations WHERE id = '{id}' AND status = 'confirmed'"
            ),
        )
        .await;
        let owner = if owner == 0 && database.postgres.is_none() {
            // SQLite keeps uuids as 16-byte blobs.
            scalar(&db, &format!(
                "SELECT COUNT(*) FROM registrations WHERE hex(id) = '{}' AND status = 'confirmed'",
                id.replace('-', "").to_uppercase()
            ))
            .await
        } else {
            owner
        };
        assert_eq!(owner, 1, "student {i}'s answered registration {id} is lost");
    }
    let rows = scalar(&db, "SELECT COUNT(*) FROM registrations").await;
    let students_registered =
        scalar(&db, "SELECT COUNT(DISTINCT user_id) FROM registrations").await;
    assert_eq!(rows, students_registered, "a student registered twice");
    let confirmed = scalar(
        &db,
        "SELECT COUNT(*) FROM registrations WHERE status = 'confirmed'",
    )
    .await;
    assert_eq!(
        scalar(&db, "SELECT confirmed_count FROM events").await,
        confirmed,
        "the event's counter differs from its rows"
    );
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM notifications WHERE kind = 'registration_confirmed'"
        )
        .await,
        confirmed,
        "every registration has its confirmation email, once"
    );

    // Claims whose work never committed are free again after the lease.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let again = register_all(server.url(""), &client, &event, &students, Arc::default()).await;
    let cut = again.iter().filter(|a| a.is_none()).count();
    assert_eq!(
        cut,
        0,
        "requests got no answer after the restart; {}",
        server.report()
    );
    let mut ids = HashSet::new();
    for (i, answer) in again.iter().enumerate() {
        let (status, body, replayed) = answer.as_ref().expect("an answer after the restart");
        assert_eq!(*status, 201, "student {i}: {body}");
        let id = body["id"].as_str().unwrap().to_owned();
        if let Some(first_id) = created.get(&i) {
            assert_eq!(
                &id, first_id,
                "student {i} got another answer than the first"
            );
            assert!(replayed, "student {i}'s first answer was replayed");
        }
        assert!(ids.insert(id), "two students share a registration");
    }
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM registrations").await, 300);
    assert_eq!(scalar(&db, "SELECT confirmed_count FROM events").await, 300);
    assert_eq!(
        scalar(
            &db,
            "SELECT COUNT(*) FROM notifications WHERE kind = 'registration_confirmed'"
        )
        .await,
        300
    );
    drop(server);
    let _ = db.close().await;
    drop_database(&database).await;
}

/// PostgreSQL stops under load and starts again: while it is down `/readyz`
/// is 503 and requests fail fast with 503 `database_unavailable`; within a
/// few seconds of its return the same process serves again, and nothing
/// answered 201 is lost.
#[actix_web::test]
async fn a_postgres_restart_under_load_is_a_short_503_and_no_loss() {
    if !may_stop_postgres() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let Scene {
        database,
        mut server,
        client,
        db,
        event,
        students,
        ..
    } = scene(120, &[]).await;
    let _ = db.close().await;

    // Load before, during and after the outage: registrations, one every 25 ms.
    let load = join_all(students.iter().enumerate().map(|(i, (_, _, token))| {
        let request = client
            .post(server.url(&format!("/api/v1/events/{event}/registrations")))
            .bearer_auth(token)
            .insert_header(("Idempotency-Key", format!("restart-{i}")))
            .force_close()
            .send_json(&json!({}));
        let delay = Duration::from_millis(25 * i as u64);
        async move {
            tokio::time::sleep(delay).await;
            let started = Instant::now();
            match request.await {
                Ok(res) => Ok((read(res).await, started.elapsed())),
                Err(e) => Err(format!("request {i}, {:?} in: {e:?}", started.elapsed())),
            }
        }
    }));
    let outage = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let stopped = PostgresStopped::stop().await;
        let down_since = Instant::now();
        // Readiness says so, quickly.
        let res = client
            .get(server.url("/readyz"))
            .send()
            .await
            .expect("readyz");
        let (status, body, _) = read(res).await;
        assert_eq!(status, 503, "{body}");
        assert_eq!(body["code"], "database_unavailable");
        tokio::time::sleep(Duration::from_millis(1500)).await;
        stopped.start().await;
        down_since.elapsed()
    };
    let (answers, down_for) = tokio::join!(load, outage);
    let unanswered: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        unanswered.is_empty(),
        "requests got no answer: {unanswered:?}; {}",
        server.report()
    );
    let answers: Vec<_> = answers.into_iter().flatten().collect();
    let mut unavailable = 0;
    for ((status, body, _), took) in &answers {
        match status {
            201 => {}
            503 => {
                assert_eq!(body["code"], "database_unavailable", "{body}");
                unavailable += 1;
            }
            other => panic!(
                "a request answered {other} during the outage: {body}; {}",
                server.report()
            ),
        }
        assert!(
            *took < Duration::from_secs(5),
            "a request hung for {took:?}"
        );
    }
    assert!(unavailable > 0, "the outage ({down_for:?}) was never seen");

    // The same process serves again within a few seconds.
    ready_within(
        &server,
        &client,
        Duration::from_secs(15),
        "PostgreSQL came back",
    )
    .await;
    let db = Database::connect(&database.url)
        .await
        .expect("the database again");
    // Every 201 is a row. A 503 leaves none behind, except where the
    // connection was cut after PostgreSQL committed but before it said so:
    // the server cannot know, and the retry below must then replay the 201.
    let created = answers.iter().filter(|((s, _, _), _)| *s == 201).count() as i64;
    let rows = scalar(&db, "SELECT COUNT(*) FROM registrations").await;
    assert!(
        (created..=created + unavailable).contains(&rows),
        "{rows} rows for {created} answers 201 and {unavailable} 503"
    );
    // A retry of those refused now succeeds, with the same key: once, and a
    // replay for each whose commit went unanswered.
    let retried = join_all(
        answers
            .iter()
            .enumerate()
            .filter(|(_, ((s, _, _), _))| *s == 503)
            .map(|(i, _)| {
                let request = client
                    .post(server.url(&format!("/api/v1/events/{event}/registrations")))
                    .bearer_auth(&students[i].2)
                    .insert_header(("Idempotency-Key", format!("restart-{i}")))
                    .force_close()
                    .send_json(&json!({}));
                async move {
                    let (status, _, replayed) = read(request.await.expect("an answer")).await;
                    (status, replayed)
                }
            }),
    )
    .await;
    assert!(retried.iter().all(|(s, _)| *s == 201), "{retried:?}");
    let replayed = retried.iter().filter(|(_, r)| *r).count() as i64;
    assert_eq!(replayed, rows - created, "replays of unanswered commits");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM registrations").await, 120);
    drop(server);
    let _ = db.close().await;
    drop_database(&database).await;
}

/// The worker's records of emails sent commit without waiting for the
/// log's flush (`notify::lease::unflushed`), so a database that crashes
/// just after may lose some of them. No email is lost with them: each
/// one is sent again when its lease runs out, under its `Message-ID`. The
/// registrations, which did wait for the flush, all survive the crash.
#[actix_web::test]
async fn a_postgres_crash_while_mail_goes_out_loses_no_email() {
    if !may_stop_postgres() {
        return;
    }
    let _serial = SERIAL.lock().await;
    let lease = [
        ("NUANCHENG__EMAIL__LEASE_SECS", "3"),
        ("NUANCHENG__EMAIL__SMTP_TIMEOUT_SECS", "1"),
    ];
    let Scene {
        database,
        mail_dir,
        mut server,
        client,
        db,
        event,
        students,
    } = scene(80, &lease).await;
    let _ = db.close().await;

    // A registration every 20 ms, each with its email for the worker to
    // send at once; the database crashes in the middle of them.
    let register = |i: usize| {
        client
            .post(server.url(&format!("/api/v1/events/{event}/registrations")))
            .bearer_auth(&students[i].2)
            .insert_header(("Idempotency-Key", format!("crash-{i}")))
            .force_close()
            .send_json(&json!({}))
    };
    let load = join_all((0..students.len()).map(|i| {
        let request = register(i);
        async move {
            tokio::time::sleep(Duration::from_millis(20 * i as u64)).await;
            request.await.ok().map(|res| async { read(res).await.0 })
        }
    }));
    let crash = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let crashed = PostgresStopped::crash().await;
        tokio::time::sleep(Duration::from_millis(1000)).await;
        crashed.start().await;
    };
    let (answers, ()) = tokio::join!(load, crash);
    let mut statuses = Vec::new();
    for answer in answers {
        statuses.push(match answer {
            Some(status) => Some(status.await),
            None => None,
        });
    }
    assert!(
        statuses.iter().any(|status| *status != Some(201)),
        "no registration met the crash"
    );
    ready_within(&server, &client, Duration::from_secs(30), "the crash").await;
    // Those the crash refused (or cut off) register now, with their keys.
    for (i, status) in statuses.iter().enumerate() {
        if *status != Some(201) {
            let (again, body, _) = read(register(i).await.expect("an answer")).await;
            assert_eq!(again, 201, "student {i} after {status:?}: {body}");
        }
    }

    // Every registration's email goes out, its lost records of sending
    // included: the outbox drains, and the mail folder holds each email.
    let db = Database::connect(&database.url)
        .await
        .expect("the database again");
    assert_eq!(scalar(&db, "SELECT COUNT(*) FROM registrations").await, 80);
    let deadline = Instant::now() + Duration::from_secs(60);
    let unsent = "SELECT COUNT(*) FROM notifications \
                  WHERE kind = 'registration_confirmed' AND status <> 'sent'";
    while scalar(&db, unsent).await > 0 {
        assert!(
            Instant::now() < deadline,
            "emails unsent a minute after the crash; {}",
            server.report()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let ids: Vec<Uuid> = notifications::Entity::find()
        .filter(notifications::Column::Kind.eq("registration_confirmed"))
        .all(&db)
        .await
        .expect("the emails")
        .into_iter()
        .map(|email| email.id)
        .collect();
    assert_eq!(ids.len(), 80, "one confirmation per registration");
    let files: Vec<String> = std::fs::read_dir(&mail_dir)
        .expect("the mail folder")
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect();
    let missing: Vec<&Uuid> = ids
        .iter()
        .filter(|id| {
            let message_id = format!("<{id}@nuancheng>");
            !files.iter().any(|file| file.contains(&message_id))
        })
        .collect();
    assert!(
        missing.is_empty(),
        "emails marked sent but never written: {missing:?}"
    );
    eprintln!(
        "{} files for {} emails: {} sent again after the crash",
        files.len(),
        ids.len(),
        files.len().saturating_sub(ids.len())
    );
    drop(server);
    let _ = db.close().await;
    drop_database(&database).await;
}
