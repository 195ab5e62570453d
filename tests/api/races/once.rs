//! Races over what must happen once: a scanner's client id, an
//! Idempotency-Key, an intent's move and its creation, an email link.

use awc::http::StatusCode;
use futures_util::future::join_all;
use serde_json::{Value, json};

use super::{emails, in_status, registered, statuses, thanks_emails, the_one};
use crate::{
    helpers::{CREDIT_CODES, Reply, spawn_app},
    registrations::assert_invariants,
};

/// One `client_checkin_id` (a scanner retrying on a bad connection) twenty
/// times at once: one check-in, and every answer is that check-in as the
/// first time (201), or 409 `checkin_in_progress`.
#[actix_web::test]
async fn one_client_checkin_id_twenty_times_at_once() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let student = app.student("master", 2027).await;
    let id = registered(&app, &event, &student).await;
    let body = json!({"ticket_code": app.ticket_of(&id).await,
                      "client_checkin_id": uuid::Uuid::new_v4(), "gate": "东门"});
    let path = format!("/api/v1/events/{event}/checkins");
    let replies = join_all((0..20).map(|_| app.post(&path, Some(&organiser), &body))).await;
    let ids: Vec<&Value> = replies
        .iter()
        .filter(|r| r.status != StatusCode::CONFLICT)
        .map(|r| &r.body["checkin"]["id"])
        .collect();
    for reply in &replies {
        if reply.status == StatusCode::CONFLICT {
            reply.assert_problem(409, "checkin_in_progress");
        } else {
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            assert_eq!(reply.body["result"], "checked_in");
            assert_eq!(&reply.body["checkin"]["id"], ids[0]);
        }
    }
    assert_eq!(app.count("checkins").await, 1);
    assert_eq!(thanks_emails(&app).await, 1);
}

/// The same `Idempotency-Key` twenty times at once for one registration:
/// one registration row; every answer is the original 201 (the repeats
/// marked `idempotency-replayed: true`) or 409 `idempotency_in_progress`.
#[actix_web::test]
async fn one_idempotency_key_twenty_times_at_once() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let student = app.student("master", 2027).await;
    let send = || async {
        let res = app
            .client
            .post(app.url(&format!("/api/v1/events/{event}/registrations")))
            .bearer_auth(&student.token)
            .insert_header(("Idempotency-Key", "register-once"))
            .send()
            .await
            .expect("register");
        Reply::read(res).await
    };
    let replies = join_all((0..20).map(|_| send())).await;
    let originals: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED && r.header("idempotency-replayed").is_none())
        .collect();
    assert_eq!(originals.len(), 1, "{:?}", statuses(&replies));
    let first = &originals[0].body;
    for reply in &replies {
        if reply.status == StatusCode::CREATED {
            assert_eq!(&reply.body, first, "a replay is the first answer");
        } else {
            reply.assert_problem(409, "idempotency_in_progress");
        }
    }
    let again = send().await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    assert_eq!(&again.body, first);
    assert_eq!(app.count("registrations").await, 1);
    assert_eq!(app.count("idempotency_keys").await, 1);
    assert_eq!(assert_invariants(&app, &event).await, (1, 0));
    assert_eq!(emails(&app, "registration_confirmed").await, 1);
}

/// Twenty moves of one offered intent at once, half to withdrawn and half
/// to declined (neither leads to the other): one is made, the others are
/// 409 `invalid_transition`, and the history gains exactly one row.
#[actix_web::test]
async fn simultaneous_moves_of_one_intent_make_exactly_one() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;
    let student = app.student("master", 2027).await;
    let created = app
        .post(
            "/api/v1/intents",
            Some(&organiser),
            &json!({"candidate_id": student.id, "employer_id": employer, "status": "offered"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let path = format!("/api/v1/intents/{}", created.body["id"].as_str().unwrap());
    let bodies: Vec<Value> = (0..20)
        .map(|i| {
            let to = if i % 2 == 0 { "withdrawn" } else { "declined" };
            json!({"status": to, "note": format!("第{i}次")})
        })
        .collect();
    let replies = join_all(bodies.iter().map(|b| app.patch(&path, Some(&organiser), b))).await;
    let (moved, rest) = the_one(&replies, 200);
    for reply in rest {
        reply.assert_problem(409, "invalid_transition");
    }
    let to = moved.body["status"].as_str().unwrap();
    let now = app.get(&path, Some(&organiser)).await;
    assert_eq!(now.body["status"], to);
    let history = now.body["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{}", now.body);
    assert_eq!(
        (&history[1]["from"], &history[1]["to"]),
        (&json!("offered"), &json!(to))
    );
    assert_eq!(app.count("intent_history").await, 2);
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM intents WHERE open_key IS NULL AND closed_at IS NOT NULL")
            .await,
        1
    );
}

/// The same intent recorded twenty times at once, signed on the spot: one
/// 201, the rest 409 `intent_exists` carrying it; one row, one history
/// entry, one email to the candidate.
#[actix_web::test]
async fn simultaneous_creates_of_one_intent_make_exactly_one() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;
    let student = app.student("master", 2027).await;
    let body = json!({"candidate_id": student.id, "employer_id": employer, "status": "signed"});
    let replies =
        join_all((0..20).map(|_| app.post("/api/v1/intents", Some(&organiser), &body))).await;
    let (created, rest) = the_one(&replies, 201);
    for reply in rest {
        reply.assert_problem(409, "intent_exists");
        assert_eq!(
            reply.body["existing"]["id"], created.body["id"],
            "{}",
            reply.body
        );
    }
    assert_eq!(app.count("intents").await, 1);
    assert_eq!(app.count("intent_history").await, 1);
    assert_eq!(emails(&app, "intent_signed").await, 1);
}

/// A verification link and a password-reset link, each used twenty times
/// at once: exactly one use succeeds, the rest are 422 `invalid_token`; the
/// password that stands is the winner's.
#[actix_web::test]
async fn an_email_link_used_twenty_times_at_once_works_once() {
    let app = spawn_app().await;
    let email = "zhaolei@pku.edu.cn";
    app.candidate(email).await;
    let token = app.sink.wait_for(email, 1).await.token_for("/verify-email");
    let body = json!({"token": token});
    let replies =
        join_all((0..20).map(|_| app.post("/api/v1/auth/verify-email", None, &body))).await;
    let (_, rest) = the_one(&replies, 204);
    for reply in rest {
        reply.assert_problem(422, "invalid_token");
    }
    let verified = app
        .scalar(&format!(
            "SELECT COUNT(*) FROM users WHERE email = '{email}' AND email_verified_at IS NOT NULL"
        ))
        .await;
    assert_eq!(verified, 1);

    let asked = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": email}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let token = app
        .sink
        .wait_for(email, 2)
        .await
        .token_for("/reset-password");
    let bodies: Vec<Value> = (0..20)
        .map(|i| json!({"token": token, "new_password": format!("newpassword{i:02}")}))
        .collect();
    let replies = join_all(
        bodies
            .iter()
            .map(|b| app.post("/api/v1/auth/password-reset/confirm", None, b)),
    )
    .await;
    let (done, _) = the_one(&replies, 204);
    let winner = replies.iter().position(|r| std::ptr::eq(r, done)).unwrap();
    for (i, reply) in replies.iter().enumerate().filter(|(i, _)| *i != winner) {
        reply.assert_problem(422, "invalid_token");
        if i == (winner + 1) % 20 {
            app.login(email, &format!("newpassword{i:02}"))
                .await
                .assert_problem(401, "invalid_credentials");
        }
    }
    let login = app.login(email, &format!("newpassword{winner:02}")).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
}

/// One student sending "register" twenty times at once without a key (a
/// double-tapped button on a slow network), first for a new place and then
/// after cancelling it: one registration and one seat each time, one email,
/// and every other answer 409 `already_registered` with the place that
/// exists (or `registration_in_progress` while it is being made).
#[actix_web::test]
async fn one_student_registering_twenty_times_at_once_takes_one_seat() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app
        .published_event(&organiser, json!({"capacity": 5, "waitlist_limit": 5}))
        .await;
    let student = app.student("master", 2027).await;
    let twenty = || join_all((0..20).map(|_| app.register(&event, &student.token)));
    let mut ids = Vec::new();
    for round in 0..2 {
        let replies = twenty().await;
        let (made, others) = the_one(&replies, 201);
        for other in others {
            assert_eq!(other.status.as_u16(), 409, "{}", other.body);
            match other.body["code"].as_str() {
                Some("already_registered") => {
                    assert_eq!(
                        other.body["existing"]["id"], made.body["id"],
                        "{}",
                        other.body
                    );
                }
                Some("registration_in_progress") => {}
                code => panic!("round {round}: {code:?} {}", other.body),
            }
        }
        assert_eq!(made.body["status"], "confirmed");
        let id = made.body["id"].as_str().unwrap().to_owned();
        ids.push(id.clone());
        if round == 0 {
            let cancelled = app
                .post(
                    &format!("/api/v1/registrations/{id}/cancel"),
                    Some(&student.token),
                    &json!({}),
                )
                .await;
            assert_eq!(cancelled.status.as_u16(), 200, "{}", cancelled.body);
        }
    }
    assert_eq!(ids[0], ids[1], "the cancelled place is taken again");
    assert_eq!(app.count("registrations").await, 1);
    assert_eq!(in_status(&app, "confirmed").await, 1);
    assert_invariants(&app, &event).await;
    assert_eq!(emails(&app, "registration_confirmed").await, 2);
}
