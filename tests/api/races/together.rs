//! Scans that reach the door together: on PostgreSQL they are answered by
//! one statement (`checkin::fast`, `batch`), and each must still get the
//! answer it would get alone.

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{Value, json};

use super::{door, registered, thanks_emails};
use crate::helpers::{CREDIT_CODES, Reply, spawn_app};

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
    let replies: Vec<Reply> = if app.is_postgres() {
        use sea_orm::{ConnectionTrait, TransactionTrait};
        let lock = app.db().begin().await.expect("a transaction");
        lock.execute_unprepared("LOCK TABLE checkins IN SHARE ROW EXCLUSIVE MODE")
            .await
            .expect("the lock");
        let release = async {
            tokio::time::sleep(Duration::from_millis(600)).await;
            lock.commit().await.expect("released");
        };
        tokio::join!(scans, release).0
    } else {
        scans.await
    };

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
    if app.is_postgres() {
        let metrics = app.get("/metrics", None).await;
        let metrics = metrics.body.as_str().unwrap_or_default();
        let read = |name: &str| -> f64 {
            let line = metrics.lines().find(|l| l.starts_with(name));
            let value = line.and_then(|l| l.rsplit(' ').next()?.parse().ok());
            value.unwrap_or_else(|| panic!("{name} in /metrics:\n{metrics}"))
        };
        let alone = read("checkin_scan_statement_rows_bucket{le=\"1\"}");
        let statements = read("checkin_scan_statement_rows_count");
        assert!(
            statements > alone,
            "no statement carried more than one scan ({statements} statements)"
        );
    }
}
