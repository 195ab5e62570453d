//! Bad input and broken rules: text that does not fit, control characters, and what a student or recruiter may not do.

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::{CREDIT_CODES, spawn_app, spawn_app_with};

/// A 200-character employer name and a 200-character position title make a
/// "signed" subject longer than the outbox's subject column: signing must
/// still work, with the subject cut on a character boundary.
#[actix_web::test]
async fn signing_with_long_names_fits_the_subject() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;
    let renamed = app
        .patch(
            &format!("/api/v1/employers/{employer}"),
            Some(&organiser),
            &json!({"name": "鄂".repeat(200)}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let position = app
        .post(
            &format!("/api/v1/employers/{employer}/positions"),
            Some(&organiser),
            &json!({"title": "尔".repeat(200), "degree_min": "master", "headcount": 1, "talent_category": "high_level",
                    "location": "康巴什区"}),
        )
        .await;
    assert_eq!(position.status, StatusCode::CREATED, "{}", position.body);
    let student = app.student("master", 2027).await;
    let signed = app
        .post(
            "/api/v1/intents",
            Some(&organiser),
            &json!({"candidate_id": student.id, "employer_id": employer,
                    "position_id": position.body["id"], "status": "signed"}),
        )
        .await;
    assert_eq!(signed.status, StatusCode::CREATED, "{}", signed.body);
    let subject_len = app
        .scalar("SELECT MAX(LENGTH(subject)) FROM notifications WHERE kind = 'intent_signed'")
        .await;
    assert!(
        (1..=300).contains(&subject_len),
        "subject of {subject_len} characters"
    );
}

/// NUL and other control characters are refused where text enters, naming
/// the field, on every database (PostgreSQL cannot store NUL and answered
/// 500 before); a batch with one such ticket records nothing.
#[actix_web::test]
async fn control_characters_are_refused_with_the_field() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let student = app.student("master", 2027).await;
    let registered = app.register(&event, &student.token).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let ticket = app.ticket_of(registered.body["id"].as_str().unwrap()).await;

    let queries = [
        ("/api/v1/events?q=%00", "q", None),
        ("/api/v1/events?university=a%00b", "university", None),
        ("/api/v1/events?city=%01", "city", None),
        ("/api/v1/employers?q=%00", "q", Some(&organiser)),
        (
            &format!("/api/v1/events/{event}/registrations?q=%00") as &str,
            "q",
            Some(&organiser),
        ),
        ("/api/v1/notifications?to=%00", "to", Some(&admin)),
    ];
    for (path, field, token) in queries {
        let reply = app.get(path, token.map(String::as_str)).await;
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.error_fields(), [field], "{path}: {}", reply.body);
    }

    let other = app.student("master", 2027).await;
    let reply = app
        .post(
            &format!("/api/v1/events/{event}/registrations"),
            Some(&other.token),
            &json!({"referral_code": "AB\u{0}CD"}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["referral_code"], "{}", reply.body);

    let reply = app
        .post(
            &format!("/api/v1/events/{event}/checkins"),
            Some(&organiser),
            &json!({"ticket_code": format!("{ticket}\u{0}")}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["ticket_code"], "{}", reply.body);

    let reply = app
        .post(
            &format!("/api/v1/events/{event}/checkins/batch"),
            Some(&organiser),
            &json!({"checkins": [{"ticket_code": ticket}, {"ticket_code": "X\u{0}"}]}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(
        reply.error_fields(),
        ["checkins[1].ticket_code"],
        "{}",
        reply.body
    );
    assert_eq!(
        app.count("checkins").await,
        0,
        "nothing of the batch was recorded"
    );
}

/// With `registration.require_verified_email` (the production default), a
/// student registers only after confirming their address.
#[actix_web::test]
async fn an_unverified_student_may_not_register() {
    let app = spawn_app_with(|s| s.registration.require_verified_email = true).await;
    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let (token, _) = app.candidate("li@pku.edu.cn").await;
    app.register(&event, &token)
        .await
        .assert_problem(403, "email_not_verified");
    assert_eq!(app.count("registrations").await, 0);
    let mail = app.sink.wait_for("li@pku.edu.cn", 1).await;
    let verified = app
        .post(
            "/api/v1/auth/verify-email",
            None,
            &json!({"token": mail.token_for("/verify-email")}),
        )
        .await;
    assert!(verified.status.is_success(), "{}", verified.body);
    let registered = app.register(&event, &token).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
}

/// A student who registered for an employer's event and then cancelled
/// never came: the employer's recruiter may not record an intent for them
/// (which would show it the student's profile and could email them).
#[actix_web::test]
async fn a_cancelled_registration_does_not_count_as_met() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;
    let (recruiter, _) = app.invited(&organiser, "recruiter", Some(&employer)).await;
    let event = app
        .published_event(&organiser, json!({"employer_ids": [employer]}))
        .await;
    let student = app.student("master", 2027).await;
    let registered = app.register(&event, &student.token).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let cancelled = app
        .post(
            &format!(
                "/api/v1/registrations/{}/cancel",
                registered.body["id"].as_str().unwrap()
            ),
            Some(&student.token),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);

    let reply = app
        .post(
            "/api/v1/intents",
            Some(&recruiter),
            &json!({"candidate_id": student.id}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["candidate_id"], "{}", reply.body);
    assert_eq!(reply.body["errors"][0]["code"], "not_met", "{}", reply.body);
    assert_eq!(app.count("intents").await, 0);
}
