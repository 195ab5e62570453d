//! Regressions for the holes a hostile reading of the API found: each test
//! fails on the code before its fix.

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::{CREDIT_CODES, spawn_app};

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
