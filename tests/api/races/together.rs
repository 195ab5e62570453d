//! Scans that reach the door together, and first places that reach an
//! event together: on PostgreSQL each kind is answered by one statement
//! (`checkin::fast`, `registrations::fast`, `batch`), and each request must
//! still get the answer it would get alone.

use std::{future::Future, time::Duration};

use futures_util::future::join_all;
use nuancheng::entities::registrations;
use sea_orm::EntityTrait;
use serde_json::{Value, json};

use super::{door, emails, in_status, registered, thanks_emails};
use crate::{
    helpers::{CREDIT_CODES, Reply, TestApp, spawn_app, spawn_app_with},
    registrations::assert_invariants,
};

/// `requests`, held back on PostgreSQL for a moment behind a lock on
/// `table` (in a mode that lets reads through and stops writes), so that
/// they queue and go to the database together.
async fn held_behind<F: Future<Output = Vec<Reply>>>(
    app: &TestApp,
    table: &str,
    requests: F,
) -> Vec<Reply> {
    if !app.is_postgres() {
        return requests.await;
    }
    use sea_orm::{ConnectionTrait, TransactionTrait};
    let lock = app.db().begin().await.expect("a transaction");
    lock.execute_unprepared(&format!("LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))
        .await
        .expect("the lock");
    let release = async {
        tokio::time::sleep(Duration::from_millis(600)).await;
        lock.commit().await.expect("released");
    };
    tokio::join!(requests, release).0
}

/// On PostgreSQL, that some statement of the `metric` (a histogram of the
/// rows each statement carried) carried more than one row.
async fn some_statement_carried_several(app: &TestApp, metric: &str) {
    if !app.is_postgres() {
        return;
    }
    let read = |series: String| async move {
        let value = app.metric(&series).await;
        value.unwrap_or_else(|| panic!("{series} in /metrics"))
    };
    let alone = read(format!("{metric}_bucket{{le=\"1\"}}")).await;
    let statements = read(format!("{metric}_count")).await;
    assert!(
        statements > alone,
        "no statement carried more than one row ({statements} statements)"
    );
}

/// Every kind of scan at once, held back behind a lock on the check-ins
/// (PostgreSQL) so that they queue and go to the database together: eight
/// first scans, a ticket scanned twice at the same moment, a ticket shown
/// again, a scan sent twice with one `client_checkin_id`, a recruiter whose
/// employer is not at this door, an unknown ticket and a ticket of another
/// event. Each gets its own answer; the check-ins, their audit rows and
/// thank-you rows are one per admission; and at least one statement carried
/// several scans.
#[actix_web::test]
async fn scans_sent_together_each_get_their_own_answer() {
    let app = spawn_app().await;
    let (organiser, recruiter, event) = door(&app, json!({"capacity": 30})).await;
    let absent = app.employer(&organiser, CREDIT_CODES[1]).await;
    let (stranger, _) = app.invited(&organiser, "recruiter", Some(&absent)).await;
    let other_event = app.published_event(&organiser, json!({})).await;
    let mut tickets = Vec::new();
    for _ in 0..12 {
        let student = app.student("master", 2027).await;
        let id = registered(&app, &event, &student).await;
        tickets.push(app.ticket_of(&id).await);
    }
    let elsewhere = app.student("phd", 2026).await;
    let elsewhere = registered(&app, &other_event, &elsewhere).await;
    let elsewhere = app.ticket_of(&elsewhere).await;
    let path = format!("/api/v1/events/{event}/checkins");
    let first = json!({"ticket_code": tickets[0]});
    let before = app.post(&path, Some(&recruiter), &first).await;
    assert_eq!(before.status.as_u16(), 201, "{}", before.body);
    let answered = "SELECT COUNT(*) FROM audit_log a JOIN audit_subjects s ON s.audit_id = a.id \
                    WHERE a.action = 'POST /api/v1/events/{id}/checkins' AND a.status IN (200, 201)";
    assert_eq!(app.scalar(answered).await, 1);

    let retried = uuid::Uuid::now_v7();
    let mut bodies: Vec<(Value, &str)> = tickets[1..9]
        .iter()
        .map(|t| (json!({"ticket_code": t}), recruiter.as_str()))
        .collect();
    bodies.extend([
        (json!({"ticket_code": tickets[9]}), recruiter.as_str()),
        (json!({"ticket_code": tickets[9]}), recruiter.as_str()),
        (json!({"ticket_code": tickets[0]}), recruiter.as_str()),
        (
            json!({"ticket_code": tickets[10], "client_checkin_id": retried}),
            recruiter.as_str(),
        ),
        (
            json!({"ticket_code": tickets[10], "client_checkin_id": retried}),
            recruiter.as_str(),
        ),
        (json!({"ticket_code": tickets[11]}), stranger.as_str()),
        (json!({"ticket_code": "NO-SUCH-TICKET"}), recruiter.as_str()),
        (json!({"ticket_code": elsewhere}), recruiter.as_str()),
    ]);
    let scans = join_all(
        bodies
            .iter()
            .map(|(body, token)| app.post(&path, Some(token), body)),
    );
    let replies = held_behind(&app, "checkins", scans).await;

    let status = |i: usize| replies[i].status.as_u16();
    for (i, reply) in replies[..8].iter().enumerate() {
        assert_eq!(reply.status.as_u16(), 201, "first scan {i}: {}", reply.body);
        assert_eq!(reply.body["result"], "checked_in");
        assert!(reply.body["candidate"]["id"].is_string(), "{}", reply.body);
    }
    let twins = [status(8), status(9)];
    assert!(
        twins.contains(&201) && twins.contains(&200),
        "twins: {twins:?}"
    );
    let (admitted, shown) = if status(8) == 201 { (8, 9) } else { (9, 8) };
    assert_eq!(replies[shown].body["result"], "already_checked_in");
    assert_eq!(
        replies[shown].body["checkin"]["id"],
        replies[admitted].body["checkin"]["id"]
    );
    assert_eq!(status(10), 200, "{}", replies[10].body);
    assert_eq!(
        replies[10].body["checkin"]["id"],
        before.body["checkin"]["id"]
    );
    for i in [11, 12] {
        assert_eq!(
            status(i),
            201,
            "the same scan sent twice: {}",
            replies[i].body
        );
        assert_eq!(
            replies[i].body["checkin"]["id"],
            replies[11].body["checkin"]["id"]
        );
    }
    replies[13].assert_problem(403, "forbidden");
    replies[14].assert_problem(404, "unknown_ticket");
    replies[15].assert_problem(409, "ticket_for_other_event");

    // tickets[0] before, eight firsts, the twins' one, the retried one.
    assert_eq!(app.count("checkins").await, 11);
    assert_eq!(thanks_emails(&app).await, 11);
    // One audit row and person per answer given: the one before, each
    // admission, each ticket shown again (the twin's and tickets[0]'s),
    // and both of the scan sent twice.
    assert_eq!(app.scalar(answered).await, 1 + 8 + 2 + 1 + 2);
    some_statement_carried_several(&app, "checkin_scan_statement_rows").await;
}

/// First places at two events at once, held back behind a lock on the
/// registrations (PostgreSQL) so that they go to the database together:
/// ten students at a roomy event, one of them twice, one with an
/// `Idempotency-Key`, and five students for three seats and a waitlist.
/// Each gets its own answer; the seats, the waitlist's positions, the
/// emails, webhook deliveries and audit rows are one per place; a retry
/// with the key gets the same place; and at least one statement carried
/// several registrations.
#[actix_web::test]
async fn registrations_sent_together_each_get_their_own_answer() {
    let app = spawn_app_with(|s| s.webhooks.allow_private_targets = true).await;
    let admin = app.admin().await;
    let hook = json!({"url": "http://127.0.0.1:9/hooks", "secret": "a-shared-secret-0123456789",
                      "event_types": ["registration.created"]});
    let subscribed = app.post("/api/v1/webhooks", Some(&admin), &hook).await;
    assert_eq!(subscribed.status.as_u16(), 201, "{}", subscribed.body);
    let organiser = app.organiser().await;
    let roomy = app
        .published_event(&organiser, json!({"capacity": 40}))
        .await;
    let crowded = app
        .published_event(&organiser, json!({"capacity": 3, "waitlist_limit": 5}))
        .await;
    let students = app.students(16).await;
    let keyed = |token: &str| {
        let request = app
            .client
            .post(app.url(&format!("/api/v1/events/{roomy}/registrations")))
            .bearer_auth(token)
            .insert_header(("Idempotency-Key", "together-1"));
        async move { Reply::read(request.send().await.expect("an answer")).await }
    };
    let mut requests: Vec<std::pin::Pin<Box<dyn Future<Output = Reply> + '_>>> = Vec::new();
    for student in &students[..10] {
        requests.push(Box::pin(app.register(&roomy, &student.token)));
    }
    requests.push(Box::pin(app.register(&roomy, &students[0].token)));
    requests.push(Box::pin(keyed(&students[10].token)));
    for student in &students[11..16] {
        requests.push(Box::pin(app.register(&crowded, &student.token)));
    }
    let replies = held_behind(&app, "registrations", join_all(requests)).await;

    let status = |i: usize| replies[i].status.as_u16();
    for (i, reply) in replies[1..10].iter().enumerate() {
        assert_eq!(
            reply.status.as_u16(),
            201,
            "student {}: {}",
            i + 1,
            reply.body
        );
        assert_eq!(reply.body["status"], "confirmed");
        assert_eq!(reply.body["event_id"], roomy.as_str());
        let id: uuid::Uuid = reply.body["id"].as_str().expect("an id").parse().unwrap();
        let place = registrations::Entity::find_by_id(id).one(app.db()).await;
        let owner = place.unwrap().expect("the place").user_id.to_string();
        assert_eq!(owner, students[i + 1].id, "student {}'s place", i + 1);
    }
    // The student who asked twice: one place, and the other answer shows it.
    let twins = [status(0), status(10)];
    assert!(
        twins.contains(&201) && twins.contains(&409),
        "twins: {twins:?}"
    );
    let (placed, refused) = if status(0) == 201 { (0, 10) } else { (10, 0) };
    replies[refused].assert_problem(409, "already_registered");
    assert_eq!(
        replies[refused].body["existing"]["id"],
        replies[placed].body["id"]
    );
    assert_eq!(status(11), 201, "{}", replies[11].body);
    let again = keyed(&students[10].token).await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.body);
    assert_eq!(again.body, replies[11].body);
    let crowd = &replies[12..];
    let seated = crowd
        .iter()
        .filter(|r| r.body["status"] == "confirmed")
        .count();
    let mut positions: Vec<i64> = crowd
        .iter()
        .filter(|r| r.body["status"] == "waitlisted")
        .map(|r| r.body["waitlist_position"].as_i64().expect("a position"))
        .collect();
    positions.sort_unstable();
    assert!(
        crowd.iter().all(|r| r.status.as_u16() == 201),
        "{:?}",
        super::statuses(crowd)
    );
    assert_eq!((seated, positions), (3, vec![1, 2]));

    assert_eq!(assert_invariants(&app, &roomy).await, (11, 0));
    assert_eq!(assert_invariants(&app, &crowded).await, (3, 2));
    assert_eq!(in_status(&app, "confirmed").await, 14);
    assert_eq!(emails(&app, "registration_confirmed").await, 14);
    assert_eq!(emails(&app, "registration_waitlisted").await, 2);
    let deliveries = "SELECT COUNT(*) FROM webhook_deliveries \
                      WHERE event_type = 'registration.created'";
    assert_eq!(app.scalar(deliveries).await, 16);
    // One audit row per place, and one for the retry's answer.
    let logged = "SELECT COUNT(*) FROM audit_log \
                  WHERE action = 'POST /api/v1/events/{id}/registrations' AND status = 201";
    assert_eq!(app.scalar(logged).await, 16 + 1);
    let places = "SELECT COUNT(DISTINCT a.target_id) FROM audit_log a \
                  JOIN registrations r ON r.id = a.target_id WHERE a.status = 201";
    assert_eq!(app.scalar(places).await, 16);
    some_statement_carried_several(&app, "registration_statement_rows").await;
}

/// Students who reach full events together, held back behind a lock on
/// the registrations (PostgreSQL) so that they queue and go to the database
/// together: seven for an event with waitlist places for all (one of them
/// twice at once, one with an `Idempotency-Key`), four for an event with
/// two places left. Each gets its own place and position, 1, 2, 3, … with
/// no gap; the emails, webhook bodies and stored answers say the position
/// the answer does; the twin and the students past the waitlist are
/// refused; and at least one transaction carried several places.
#[actix_web::test]
async fn waitlist_places_sent_together_each_get_their_own_position() {
    use nuancheng::entities::{notifications, webhook_deliveries};
    use sea_orm::{ColumnTrait, QueryFilter};

    let app = spawn_app_with(|s| s.webhooks.allow_private_targets = true).await;
    let admin = app.admin().await;
    let hook = json!({"url": "http://127.0.0.1:9/hooks", "secret": "a-shared-secret-0123456789",
                      "event_types": ["registration.created"]});
    let subscribed = app.post("/api/v1/webhooks", Some(&admin), &hook).await;
    assert_eq!(subscribed.status.as_u16(), 201, "{}", subscribed.body);
    let organiser = app.organiser().await;
    let roomy = app
        .published_event(&organiser, json!({"capacity": 2, "waitlist_limit": 8}))
        .await;
    let tight = app
        .published_event(&organiser, json!({"capacity": 1, "waitlist_limit": 2}))
        .await;
    let students = app.students(14).await;
    // The seats go first, one by one.
    for (event, student) in [(&roomy, &students[0]), (&roomy, &students[1])] {
        let seated = app.register(event, &student.token).await;
        assert_eq!(seated.body["status"], "confirmed", "{}", seated.body);
    }
    let seated = app.register(&tight, &students[9].token).await;
    assert_eq!(seated.body["status"], "confirmed", "{}", seated.body);

    let keyed = |token: &str| {
        let request = app
            .client
            .post(app.url(&format!("/api/v1/events/{roomy}/registrations")))
            .bearer_auth(token)
            .insert_header(("Idempotency-Key", "waitlist-together-1"));
        async move { Reply::read(request.send().await.expect("an answer")).await }
    };
    let mut requests: Vec<std::pin::Pin<Box<dyn Future<Output = Reply> + '_>>> = Vec::new();
    for student in &students[2..8] {
        requests.push(Box::pin(app.register(&roomy, &student.token)));
    }
    requests.push(Box::pin(app.register(&roomy, &students[2].token)));
    requests.push(Box::pin(keyed(&students[8].token)));
    for student in &students[10..14] {
        requests.push(Box::pin(app.register(&tight, &student.token)));
    }
    let replies = held_behind(&app, "registrations", join_all(requests)).await;

    // The twins: one place, and the other answer shows it.
    let twins = [&replies[0], &replies[6]];
    let (placed, refused) = match twins[0].status.as_u16() {
        201 => (twins[0], twins[1]),
        _ => (twins[1], twins[0]),
    };
    refused.assert_problem(409, "already_registered");
    assert_eq!(refused.body["existing"]["id"], placed.body["id"]);
    let mut waiting: Vec<&Reply> = replies[1..6].iter().collect();
    waiting.extend([placed, &replies[7]]);
    for reply in &waiting {
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
        assert_eq!(reply.body["status"], "waitlisted", "{}", reply.body);
        assert!(reply.body["ticket_code"].is_null(), "{}", reply.body);
    }
    let positions = |replies: &[&Reply]| {
        let mut positions: Vec<i64> = replies
            .iter()
            .filter_map(|r| r.body["waitlist_position"].as_i64())
            .collect();
        positions.sort_unstable();
        positions
    };
    assert_eq!(positions(&waiting), (1..=7).collect::<Vec<_>>());
    let again = keyed(&students[8].token).await;
    assert_eq!(again.status.as_u16(), 201, "{}", again.body);
    assert_eq!(again.body, replies[7].body);

    let tight_replies: Vec<&Reply> = replies[8..].iter().collect();
    let (placed_tight, full): (Vec<&Reply>, Vec<&Reply>) = tight_replies
        .into_iter()
        .partition(|r| r.status.as_u16() == 201);
    assert_eq!(positions(&placed_tight), vec![1, 2]);
    assert_eq!(full.len(), 2, "{:?}", super::statuses(&replies[8..]));
    for reply in full {
        reply.assert_problem(422, "event_full");
    }
    assert_eq!(assert_invariants(&app, &roomy).await, (2, 7));
    assert_eq!(assert_invariants(&app, &tight).await, (1, 2));

    // What was written with each place says its position.
    waiting.extend(placed_tight);
    for reply in &waiting {
        let id = reply.body["id"].as_str().expect("an id");
        let position = reply.body["waitlist_position"]
            .as_i64()
            .expect("a position");
        let place: uuid::Uuid = id.parse().unwrap();
        let place = registrations::Entity::find_by_id(place).one(app.db()).await;
        let place = place.unwrap().expect("the place");
        assert_eq!(i64::from(place.waitlist_position.unwrap()), position);
        let owner = students.iter().find(|s| s.id == place.user_id.to_string());
        let owner = owner.expect("a student of the test");
        let email = notifications::Entity::find()
            .filter(notifications::Column::ToEmail.eq(owner.email.as_str()))
            .filter(notifications::Column::Kind.eq("registration_waitlisted"))
            .all(app.db())
            .await
            .expect("the emails");
        assert_eq!(email.len(), 1, "{}'s waitlist emails", owner.email);
        let says = format!("第 {position} 位");
        assert!(email[0].text_body.contains(&says), "{}", email[0].text_body);
        let hook = webhook_deliveries::Entity::find()
            .filter(webhook_deliveries::Column::Payload.contains(id))
            .all(app.db())
            .await
            .expect("the deliveries");
        assert_eq!(hook.len(), 1, "{id}'s deliveries");
        let payload: Value = serde_json::from_str(&hook[0].payload).expect("JSON");
        assert_eq!(payload["data"]["waitlist_position"], position);
        assert_eq!(payload["data"]["status"], "waitlisted");
    }
    assert_eq!(emails(&app, "registration_waitlisted").await, 9);
    let places = "SELECT COUNT(DISTINCT a.target_id) FROM audit_log a \
                  JOIN registrations r ON r.id = a.target_id WHERE a.status = 201";
    assert_eq!(app.scalar(places).await, 3 + 9);
    some_statement_carried_several(&app, "waitlist_statement_rows").await;
}

/// A waitlist transaction that fails writes nothing, and each of its
/// registrations goes the general way: on PostgreSQL a first student's
/// place is held behind a lock on the registrations while the others queue
/// behind it in the event's lane, one of them the same student again, so
/// the next transaction meets that student's place at the unique index
/// and fails as a whole. Everyone else still gets a place, the positions
/// have no gap, and the counters match the rows.
#[actix_web::test]
async fn a_failed_waitlist_transaction_leaves_nothing_and_its_places_go_the_general_way() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app
        .published_event(&organiser, json!({"capacity": 1, "waitlist_limit": 10}))
        .await;
    let students = app.students(7).await;
    let seated = app.register(&event, &students[0].token).await;
    assert_eq!(seated.body["status"], "confirmed", "{}", seated.body);

    let first = app.register(&event, &students[1].token);
    let rest = async {
        // The first place is on its way (and held) before the others.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut rest = vec![app.register(&event, &students[1].token)];
        rest.extend(students[2..].iter().map(|s| app.register(&event, &s.token)));
        join_all(rest).await
    };
    let mut rest = held_behind(&app, "registrations", async {
        let (first, rest) = tokio::join!(first, rest);
        let mut all = vec![first];
        all.extend(rest);
        all
    })
    .await;
    let first = rest.remove(0);

    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    rest[0].assert_problem(409, "already_registered");
    assert_eq!(rest[0].body["existing"]["id"], first.body["id"]);
    let mut positions = vec![first.body["waitlist_position"].as_i64()];
    for reply in &rest[1..] {
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
        assert_eq!(reply.body["status"], "waitlisted", "{}", reply.body);
        positions.push(reply.body["waitlist_position"].as_i64());
    }
    positions.sort_unstable();
    assert_eq!(positions, (1..=6).map(Some).collect::<Vec<_>>());
    assert_eq!(assert_invariants(&app, &event).await, (1, 6));
    assert_eq!(emails(&app, "registration_waitlisted").await, 6);
    some_statement_carried_several(&app, "waitlist_statement_rows").await;
}

/// On PostgreSQL, students who reach an event together as its last seats
/// or waitlist places go: the first to arrive get what is left in their
/// lane's statements, and only a student past the waitlist goes the general
/// way (`registrations_total{way}`). Two seats and three waitlist places
/// are left for two groups of three, each held behind a lock on the
/// registrations so that the first of a group goes alone and the other two
/// together, one place left for them.
#[actix_web::test]
async fn the_last_seats_and_waitlist_places_go_to_the_first_of_a_group() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app
        .published_event(&organiser, json!({"capacity": 4, "waitlist_limit": 3}))
        .await;
    let students = app.students(8).await;
    for student in &students[..2] {
        let seated = app.register(&event, &student.token).await;
        assert_eq!(seated.body["status"], "confirmed", "{}", seated.body);
    }
    let mut replies = Vec::new();
    for group in students[2..].chunks(3) {
        let together = group.iter().map(|s| app.register(&event, &s.token));
        replies.extend(held_behind(&app, "registrations", join_all(together)).await);
    }
    let outcome = |r: &Reply| match r.status.as_u16() {
        201 => r.body["status"].as_str().unwrap_or_default().to_owned(),
        _ => r.body["code"].as_str().unwrap_or_default().to_owned(),
    };
    let count = |what: &str| replies.iter().filter(|r| outcome(r) == what).count();
    let seen: Vec<String> = replies.iter().map(outcome).collect();
    assert_eq!(count("confirmed"), 2, "{seen:?}");
    assert_eq!(count("waitlisted"), 3, "{seen:?}");
    assert_eq!(count("event_full"), 1, "{seen:?}");
    let mut positions: Vec<i64> = replies
        .iter()
        .filter_map(|r| r.body["waitlist_position"].as_i64())
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, vec![1, 2, 3]);
    assert_eq!(assert_invariants(&app, &event).await, (4, 3));
    if app.is_postgres() {
        let app = &app;
        let way = |way: &str| {
            let series = format!("registrations_total{{way=\"{way}\"}}");
            async move { app.metric(&series).await }
        };
        assert_eq!(way("seat_statement").await, Some(4.0));
        assert_eq!(way("waitlist_statement").await, Some(3.0));
        // Only the student past the waitlist, refused under the lock.
        assert_eq!(way("general").await, Some(1.0));
    }
}
