//! Races fired for real: twenty or more requests at once over HTTP, each
//! test asserting the one outcome the rules allow (statuses, rows, the
//! counters on the event row, emails queued), on SQLite and PostgreSQL.
//! Here the races over an event's seats and its door; `once` has what must
//! happen once (keys, links, intents), `outbox` the admin's retries.

mod once;
mod outbox;
mod together;

use awc::http::StatusCode;
use futures_util::future::join_all;
use serde_json::{Value, json};

use crate::{
    helpers::{CREDIT_CODES, Reply, Student, TestApp, spawn_app},
    registrations::assert_invariants,
};

/// An empty JSON body, for requests that borrow theirs.
static EMPTY: std::sync::LazyLock<Value> = std::sync::LazyLock::new(|| json!({}));

/// Emails of one kind in the outbox.
async fn emails(app: &TestApp, kind: &str) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(*) FROM notifications WHERE kind = '{kind}'"
    ))
    .await
}

/// The thank-you emails queued, once the worker has written every pending
/// one (it writes them a moment after the check-ins).
async fn thanks_emails(app: &TestApp) -> i64 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while app.scalar("SELECT COUNT(*) FROM checkin_thanks").await > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "thank-you emails still unwritten after 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    emails(app, "checkin_thanks").await
}

/// Registrations in one status (each test has one event).
async fn in_status(app: &TestApp, status: &str) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(*) FROM registrations WHERE status = '{status}'"
    ))
    .await
}

/// Registers a student and gives the registration's id.
async fn registered(app: &TestApp, event: &str, student: &Student) -> String {
    let reply = app.register(event, &student.token).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

fn statuses(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.status.as_u16()).collect()
}

/// The one reply with `status`, and the others.
#[track_caller]
fn the_one(replies: &[Reply], status: u16) -> (&Reply, Vec<&Reply>) {
    let (one, rest): (Vec<&Reply>, Vec<&Reply>) =
        replies.iter().partition(|r| r.status.as_u16() == status);
    assert_eq!(one.len(), 1, "one {status}: {:?}", statuses(replies));
    (one[0], rest)
}

/// An organiser, a recruiter of an employer taking part, and the event.
async fn door(app: &TestApp, changes: Value) -> (String, String, String) {
    let organiser = app.organiser().await;
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;
    let (recruiter, _) = app.invited(&organiser, "recruiter", Some(&employer)).await;
    let mut changes = changes;
    changes["employer_ids"] = json!([employer]);
    let event = app.published_event(&organiser, changes).await;
    (organiser, recruiter, event)
}

fn walk_in(email: &str) -> Value {
    json!({"email": email, "full_name": "张伟", "phone": "13700137000", "university": "浙江大学",
           "major": "电气工程", "degree": "master", "graduation_year": 2026,
           "privacy_notice_version": "2026-11"})
}

/// A scan at the door and the student's cancellation of the same
/// registration, twenty pairs at once: in every pair exactly one wins.
/// Either the student is admitted and the cancellation is 409
/// `already_checked_in`, or the registration is cancelled and the scan is
/// 422 `not_confirmed`; never both, never neither.
#[actix_web::test]
async fn a_scan_racing_a_cancellation_has_exactly_one_winner() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app
        .published_event(&organiser, json!({"capacity": 20, "waitlist_limit": 0}))
        .await;
    let mut pairs = Vec::new();
    for _ in 0..20 {
        let student = app.student("master", 2027).await;
        let id = registered(&app, &event, &student).await;
        let ticket = app.ticket_of(&id).await;
        pairs.push((student, id, ticket));
    }
    let races = pairs.iter().enumerate().map(|(i, (student, id, ticket))| {
        let (app, organiser, event) = (&app, &organiser, &event);
        async move {
            let (scan_path, scan_body) = (
                format!("/api/v1/events/{event}/checkins"),
                json!({"ticket_code": ticket}),
            );
            let cancel_path = format!("/api/v1/registrations/{id}/cancel");
            let scan = app.post(&scan_path, Some(organiser), &scan_body);
            let cancel = app.post(&cancel_path, Some(&student.token), &EMPTY);
            // Half the pairs send the cancellation first.
            if i % 2 == 0 {
                tokio::join!(scan, cancel)
            } else {
                let (cancel, scan) = tokio::join!(cancel, scan);
                (scan, cancel)
            }
        }
    });
    let (mut admitted, mut cancelled) = (0, 0);
    for (i, (scan, cancel)) in join_all(races).await.iter().enumerate() {
        match (scan.status.as_u16(), cancel.status.as_u16()) {
            (201, _) => {
                assert_eq!(scan.body["result"], "checked_in", "pair {i}");
                cancel.assert_problem(409, "already_checked_in");
                admitted += 1;
            }
            (_, 200) => {
                scan.assert_problem(422, "not_confirmed");
                assert_eq!(cancel.body["status"], "cancelled", "pair {i}");
                cancelled += 1;
            }
            other => panic!("pair {i}: {other:?}: {} / {}", scan.body, cancel.body),
        }
    }
    assert_eq!(app.count("checkins").await, admitted);
    assert_eq!(in_status(&app, "cancelled").await, cancelled);
    let both = app
        .scalar(
            "SELECT COUNT(*) FROM checkins c JOIN registrations r ON r.id = c.registration_id \
             WHERE r.status <> 'confirmed'",
        )
        .await;
    assert_eq!(both, 0, "a cancelled registration with a check-in");
    assert_eq!(
        assert_invariants(&app, &event).await,
        (admitted as usize, 0)
    );
    assert_eq!(thanks_emails(&app).await, admitted);
    assert_eq!(emails(&app, "registration_cancelled").await, cancelled);
}

/// One registration cancelled twenty times at once, by its student and by
/// an organiser: one 200, the rest 409 `already_cancelled`; the freed seat
/// goes to the first on the waitlist once, and one cancellation email.
#[actix_web::test]
async fn one_registration_cancelled_twenty_times_at_once() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app
        .published_event(&organiser, json!({"capacity": 1, "waitlist_limit": 2}))
        .await;
    let seated = app.student("master", 2027).await;
    let next = app.student("master", 2027).await;
    let last = app.student("master", 2027).await;
    let id = registered(&app, &event, &seated).await;
    let next_id = registered(&app, &event, &next).await;
    registered(&app, &event, &last).await;
    let path = format!("/api/v1/registrations/{id}/cancel");
    let replies = join_all((0..20).map(|i| {
        let token = if i % 2 == 0 {
            &seated.token
        } else {
            &organiser
        };
        app.post(&path, Some(token), &EMPTY)
    }))
    .await;
    let (done, rest) = the_one(&replies, 200);
    assert_eq!(done.body["status"], "cancelled");
    for reply in rest {
        reply.assert_problem(409, "already_cancelled");
    }
    assert_eq!(assert_invariants(&app, &event).await, (1, 1));
    let promoted = app
        .get(
            &format!("/api/v1/registrations/{next_id}"),
            Some(&next.token),
        )
        .await;
    assert_eq!(promoted.body["status"], "confirmed", "{}", promoted.body);
    assert_eq!(emails(&app, "registration_cancelled").await, 1);
    assert_eq!(emails(&app, "registration_promoted").await, 1);
}

/// Eighteen cancellations, a capacity raise and the event's cancellation,
/// all at once. Each cancellation lands before the event is cancelled (200)
/// or after it (422 `event_cancelled`); so does the raise (200 or 409
/// `event_not_editable`). Afterwards the counters equal the rows, the
/// waitlist is 1..n, and every email matches what happened.
#[actix_web::test]
async fn cancellations_racing_a_capacity_raise_and_the_event_cancellation() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app
        .published_event(&organiser, json!({"capacity": 12, "waitlist_limit": 12}))
        .await;
    let mut regs = Vec::new();
    for _ in 0..24 {
        let student = app.student("master", 2027).await;
        let id = registered(&app, &event, &student).await;
        regs.push((student, id));
    }
    let cancels = regs.iter().enumerate().filter(|(i, _)| i % 4 != 0);
    let mut requests: Vec<(&str, String, Option<&str>, Value)> = cancels
        .map(|(_, (student, id))| {
            let path = format!("/api/v1/registrations/{id}/cancel");
            ("POST", path, Some(student.token.as_str()), json!({}))
        })
        .collect();
    let event_path = format!("/api/v1/events/{event}");
    requests.insert(
        6,
        (
            "PATCH",
            event_path.clone(),
            Some(organiser.as_str()),
            json!({"capacity": 18}),
        ),
    );
    requests.insert(
        12,
        (
            "POST",
            format!("{event_path}/cancel"),
            Some(organiser.as_str()),
            json!({"reason": "场馆临时关闭"}),
        ),
    );
    assert_eq!(requests.len(), 20);
    let replies = join_all(
        requests
            .iter()
            .map(|(method, path, token, body)| app.send(method, path, *token, body)),
    )
    .await;
    let (raise, called_off) = (&replies[6], &replies[12]);
    assert_eq!(called_off.status, StatusCode::OK, "{}", called_off.body);
    let capacity = match raise.status.as_u16() {
        200 => 18,
        _ => {
            raise.assert_problem(409, "event_not_editable");
            12
        }
    };
    let mut cancelled = 0;
    for (i, reply) in replies
        .iter()
        .enumerate()
        .filter(|(i, _)| ![6, 12].contains(i))
    {
        if reply.status == StatusCode::OK {
            assert_eq!(reply.body["status"], "cancelled", "request {i}");
            cancelled += 1;
        } else {
            reply.assert_problem(422, "event_cancelled");
        }
    }
    let detail = app.get(&event_path, None).await;
    assert_eq!(
        (&detail.body["status"], &detail.body["capacity"]),
        (&json!("cancelled"), &json!(capacity))
    );
    let (confirmed, waiting) = assert_invariants(&app, &event).await;
    assert_eq!(confirmed + waiting + cancelled, 24);
    assert_eq!(in_status(&app, "cancelled").await, cancelled as i64);
    assert_eq!(
        emails(&app, "registration_cancelled").await,
        cancelled as i64
    );
    // Everyone still registered when the event was called off was told.
    assert_eq!(
        emails(&app, "event_cancelled").await,
        (confirmed + waiting) as i64
    );
    // The first twelve were confirmed from the start; everyone else ever
    // confirmed (some were cancelled after) was promoted, with an email each.
    let promoted = {
        use nuancheng::entities::registrations;
        use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
        let first: Vec<uuid::Uuid> = regs[..12]
            .iter()
            .map(|(_, id)| id.parse().unwrap())
            .collect();
        registrations::Entity::find()
            .filter(registrations::Column::ConfirmedAt.is_not_null())
            .filter(registrations::Column::Id.is_not_in(first))
            .count(app.db())
            .await
            .unwrap() as i64
    };
    assert_eq!(emails(&app, "registration_promoted").await, promoted);
}

/// Ten recruiters' walk-ins and ten students' registrations race for the
/// last seat of an event without a waitlist: exactly one gets it, the rest
/// are 422 `event_full`, and a losing walk-in leaves no account behind.
#[actix_web::test]
async fn walk_ins_and_registrations_race_for_the_last_seat() {
    let app = spawn_app().await;
    let (_, recruiter, event) = door(&app, json!({"capacity": 5, "waitlist_limit": 0})).await;
    for _ in 0..4 {
        let student = app.student("master", 2027).await;
        registered(&app, &event, &student).await;
    }
    let mut students = Vec::new();
    for _ in 0..10 {
        students.push(app.student("master", 2027).await);
    }
    let bodies: Vec<Value> = (0..10)
        .map(|i| walk_in(&format!("walkin{i}@zju.edu.cn")))
        .collect();
    let walk_path = format!("/api/v1/events/{event}/walk-ins");
    let walk_ins = bodies
        .iter()
        .map(|body| app.post(&walk_path, Some(&recruiter), body));
    let registrations = students.iter().map(|s| app.register(&event, &s.token));
    let (walk_ins, registrations) = tokio::join!(join_all(walk_ins), join_all(registrations));
    let walked: Vec<&Reply> = walk_ins
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    let joined: Vec<&Reply> = registrations
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert_eq!(
        walked.len() + joined.len(),
        1,
        "walk-ins {:?}, registrations {:?}",
        statuses(&walk_ins),
        statuses(&registrations)
    );
    for reply in walk_ins.iter().chain(&registrations) {
        if reply.status != StatusCode::CREATED {
            reply.assert_problem(422, "event_full");
        }
    }
    if let Some(joined) = joined.first() {
        assert_eq!(joined.body["status"], "confirmed");
    }
    let walked = walked.len() as i64;
    assert_eq!(assert_invariants(&app, &event).await, (5, 0));
    assert_eq!(app.count("registrations").await, 5);
    assert_eq!(app.count("checkins").await, walked);
    let accounts = app
        .scalar("SELECT COUNT(*) FROM users WHERE email LIKE 'walkin%'")
        .await;
    assert_eq!(accounts, walked, "an account only for the walk-in admitted");
    assert_eq!(emails(&app, "walk_in_welcome").await, walked);
    assert_eq!(emails(&app, "registration_confirmed").await, 5 - walked);
}

/// Twenty walk-ins with one email at once, from an organiser and a
/// recruiter in turn, the address spelt in two cases: one account, one
/// registration, one check-in. The first is 201; an organiser's others are
/// 200 `already_checked_in` with that check-in, a recruiter's are 409
/// `account_exists`.
#[actix_web::test]
async fn simultaneous_walk_ins_with_one_email_admit_once() {
    let app = spawn_app().await;
    let (organiser, recruiter, event) = door(&app, json!({"capacity": 10})).await;
    let path = format!("/api/v1/events/{event}/walk-ins");
    let bodies: Vec<Value> = (0..20)
        .map(|i| {
            walk_in(if i % 3 == 0 {
                "LiMing@zju.edu.cn"
            } else {
                "liming@zju.edu.cn"
            })
        })
        .collect();
    let replies = join_all(bodies.iter().enumerate().map(|(i, body)| {
        let token = if i % 2 == 0 { &organiser } else { &recruiter };
        app.post(&path, Some(token), body)
    }))
    .await;
    let (first, _) = the_one(&replies, 201);
    assert_eq!(first.body["account_created"], true, "{}", first.body);
    let checkin = &first.body["checkin"]["id"];
    for (i, reply) in replies.iter().enumerate() {
        match (i % 2, reply.status.as_u16()) {
            (_, 201) => {}
            (0, _) => {
                assert_eq!(reply.status, StatusCode::OK, "{i}: {}", reply.body);
                assert_eq!(reply.body["result"], "already_checked_in");
                assert_eq!(&reply.body["checkin"]["id"], checkin);
            }
            _ => reply.assert_problem(409, "account_exists"),
        }
    }
    let accounts = app
        .scalar("SELECT COUNT(*) FROM users WHERE email = 'liming@zju.edu.cn'")
        .await;
    assert_eq!(accounts, 1);
    assert_eq!(app.count("registrations").await, 1);
    assert_eq!(app.count("checkins").await, 1);
    assert_eq!(assert_invariants(&app, &event).await, (1, 0));
    assert_eq!(emails(&app, "walk_in_welcome").await, 1);
    assert_eq!(thanks_emails(&app).await, 1);
}
