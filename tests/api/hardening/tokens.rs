//! Links, sessions and keys that must stop working: reset links, access tokens after a reset or a disable, abandoned idempotency claims.

use std::time::Duration;

use awc::http::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

/// Asks for a reset link for `email` and gives the token of mail number `n`.
async fn reset_link(app: &crate::helpers::TestApp, email: &str, n: usize) -> String {
    let asked = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": email}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{}", asked.body);
    app.sink
        .wait_for(email, n)
        .await
        .token_for("/reset-password")
}

/// Two reset links were asked for; once one of them set a password, the
/// other is dead too, or whoever also got it (a shared inbox, a leaked
/// mail) could set the password again behind the owner's back.
#[actix_web::test]
async fn a_successful_reset_kills_the_other_reset_links() {
    let app = spawn_app().await;
    app.candidate("liu@pku.edu.cn").await;
    app.sink.wait_for("liu@pku.edu.cn", 1).await;
    let first = reset_link(&app, "liu@pku.edu.cn", 2).await;
    let second = reset_link(&app, "liu@pku.edu.cn", 3).await;
    let done = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            &json!({"token": first, "new_password": "newpassword9"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    app.post(
        "/api/v1/auth/password-reset/confirm",
        None,
        &json!({"token": second, "new_password": "otherpassword9"}),
    )
    .await
    .assert_problem(422, "invalid_token");
    assert_eq!(
        app.login("liu@pku.edu.cn", "newpassword9").await.status,
        StatusCode::OK,
        "the first reset's password stands"
    );
}

/// Waits until the clock is in a later whole second than now, so an access
/// token issued before the wait has an earlier `iat` (whole seconds) than
/// anything that happens after it.
async fn next_second() {
    let now = chrono::Utc::now().timestamp();
    while chrono::Utc::now().timestamp() <= now {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A password reset signs out everywhere at once: an access token issued
/// before it is 401 `invalid_token` right after it, not up to 15 minutes
/// later; the login that follows the reset (in the same second) works.
#[actix_web::test]
async fn a_password_reset_ends_access_tokens_issued_before_it() {
    let app = spawn_app().await;
    let (before, _) = app.candidate("sun@pku.edu.cn").await;
    app.sink.wait_for("sun@pku.edu.cn", 1).await;
    let link = reset_link(&app, "sun@pku.edu.cn", 2).await;
    assert_eq!(
        app.get("/api/v1/me", Some(&before)).await.status,
        StatusCode::OK
    );
    next_second().await;
    let done = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            &json!({"token": link, "new_password": "newpassword9"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    app.get("/api/v1/me", Some(&before))
        .await
        .assert_problem(401, "invalid_token");

    let login = app.login("sun@pku.edu.cn", "newpassword9").await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let after = login.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/me", Some(after)).await.status,
        StatusCode::OK,
        "a token issued after the reset works"
    );
}

/// Disabling an account ends its access tokens for good: enabling it again
/// does not bring a token issued before the disabling back to life.
#[actix_web::test]
async fn disabling_ends_access_tokens_even_after_enabling_again() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let (before, signup) = app.candidate("qian@pku.edu.cn").await;
    let path = format!("/api/v1/users/{}", signup["user"]["id"].as_str().unwrap());
    next_second().await;
    for disabled in [true, false] {
        let reply = app
            .patch(&path, Some(&admin), &json!({"disabled": disabled}))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    app.get("/api/v1/me", Some(&before))
        .await
        .assert_problem(401, "invalid_token");
    let again = app.token_of("qian@pku.edu.cn").await;
    assert_eq!(
        app.get("/api/v1/me", Some(&again)).await.status,
        StatusCode::OK
    );
}

/// A key claimed by a process that died before storing its answer would
/// answer `idempotency_in_progress` for ever; after the lease it is usable
/// again, and a key past its retention counts as never used.
#[actix_web::test]
async fn an_abandoned_idempotency_claim_expires() {
    use nuancheng::{db, entities::idempotency_keys, http::idempotency, tokens::hash_token};
    use sea_orm::{ActiveModelTrait, Set};

    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let student = app.student("master", 2027).await;
    let scope = format!("registration:{}:{event}", student.id);
    let body_hash = hash_token(&json!({"referral_code": null}).to_string());
    let claim = |key: &str, age: chrono::TimeDelta| idempotency_keys::ActiveModel {
        id: Set(uuid::Uuid::now_v7()),
        scope: Set(scope.clone()),
        key: Set(key.to_owned()),
        request_hash: Set(body_hash.clone()),
        response_status: Set(None),
        response_body: Set(None),
        created_at: Set(db::now() - age),
    };
    let register = |key: &'static str| {
        app.client
            .post(app.url(&format!("/api/v1/events/{event}/registrations")))
            .bearer_auth(&student.token)
            .insert_header(("Idempotency-Key", key))
            .send_json(&json!({}))
    };

    // Claimed a moment ago and still running: the retry is told to wait.
    claim("fresh", chrono::TimeDelta::seconds(1))
        .insert(app.db())
        .await
        .unwrap();
    let reply = crate::helpers::Reply::read(register("fresh").await.unwrap()).await;
    reply.assert_problem(409, "idempotency_in_progress");

    // Claimed past the lease by a process that never finished: runs afresh.
    claim(
        "abandoned",
        chrono::TimeDelta::seconds(app.state.settings.http.idempotency_lease_secs as i64 + 1),
    )
    .insert(app.db())
    .await
    .unwrap();
    let reply = crate::helpers::Reply::read(register("abandoned").await.unwrap()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let again = crate::helpers::Reply::read(register("abandoned").await.unwrap()).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    assert_eq!(again.body["id"], reply.body["id"]);

    // A key past its retention is deleted by the housekeeping.
    claim(
        "old",
        idempotency::RETENTION + chrono::TimeDelta::minutes(1),
    )
    .insert(app.db())
    .await
    .unwrap();
    assert_eq!(
        idempotency::purge_expired(app.db(), false).await.unwrap(),
        1
    );
    assert_eq!(app.count("idempotency_keys").await, 2);
}
