//! Regressions for the holes a hostile reading of the API found: each test
//! fails on the code before its fix.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{CREDIT_CODES, PASSWORD, Reply, spawn_app, spawn_app_with};

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

/// Behind one trusted proxy the client is the entry the proxy appended, the
/// last one: varying what the client writes in front of it does not buy a
/// fresh rate-limit budget.
#[actix_web::test]
async fn a_forged_forwarded_for_does_not_reset_the_login_budget() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.http.trusted_proxies = 1;
        s.rate_limit.auth_per_minute = 20;
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..21 {
        let res = app
            .client
            .post(app.url("/api/v1/auth/login"))
            .insert_header(("X-Forwarded-For", format!("10.9.{i}.1, 203.0.113.7")))
            .send_json(&json!({"email": "nobody@nuancheng.test", "password": "wrong-password-1"}))
            .await
            .expect("login");
        statuses.push(res.status().as_u16());
    }
    assert!(statuses[..20].iter().all(|s| *s == 401), "{statuses:?}");
    assert_eq!(statuses[20], 429, "{statuses:?}");
    // Another client behind the same proxy has its own budget.
    let res = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .insert_header(("X-Forwarded-For", "203.0.113.8"))
        .send_json(&json!({"email": "nobody@nuancheng.test", "password": "wrong-password-1"}))
        .await
        .expect("login");
    assert_eq!(res.status().as_u16(), 401);
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
    assert_eq!(idempotency::purge_expired(app.db()).await.unwrap(), 1);
    assert_eq!(app.count("idempotency_keys").await, 2);
}

/// Two workers and a mail server slow enough that a batch outlives its
/// lease: the second worker takes the rows the first has not reached, the
/// first skips them, and every email is handed over exactly once.
#[actix_web::test]
async fn two_workers_never_send_one_email_twice() {
    use nuancheng::notify::{self, templates, worker::Worker};

    let app = crate::helpers::spawn_app_with(|s| {
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

async fn open_live(
    app: &crate::helpers::TestApp,
    event: &str,
    token: &str,
) -> awc::ClientResponse<
    impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>> + use<>,
> {
    app.client
        .get(app.url(&format!("/api/v1/events/{event}/live")))
        .bearer_auth(token)
        .send()
        .await
        .expect("live stream")
}

/// A user holds at most five live streams; fifty streams of ten users, all
/// served by one feed, do not slow a check-in.
#[actix_web::test]
async fn live_streams_are_bounded_and_shared() {
    use futures_util::StreamExt;

    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let mut streams = Vec::new();
    for _ in 0..5 {
        let live = open_live(&app, &event, &organiser).await;
        assert_eq!(live.status(), StatusCode::OK);
        streams.push(live);
    }
    let sixth = crate::helpers::Reply::read(open_live(&app, &event, &organiser).await).await;
    sixth.assert_problem(429, "rate_limited");
    assert!(sixth.header("retry-after").is_some());

    let mut others = Vec::new();
    for _ in 0..9 {
        others.push(app.organiser().await);
    }
    for other in &others {
        for _ in 0..5 {
            let live = open_live(&app, &event, other).await;
            assert_eq!(live.status(), StatusCode::OK);
            streams.push(live);
        }
    }
    assert_eq!(app.state.streams.running(), 50);
    for live in &mut streams {
        let first = tokio::time::timeout(std::time::Duration::from_secs(3), live.next())
            .await
            .expect("a first message")
            .expect("a chunk")
            .expect("bytes");
        assert!(first.starts_with(b"event: stats"), "{first:?}");
    }
    let student = app.student("master", 2027).await;
    let registered = app.register(&event, &student.token).await;
    let ticket = app.ticket_of(registered.body["id"].as_str().unwrap()).await;
    let started = std::time::Instant::now();
    let scanned = app
        .post(
            &format!("/api/v1/events/{event}/checkins"),
            Some(&organiser),
            &json!({"ticket_code": ticket}),
        )
        .await;
    assert_eq!(scanned.status, StatusCode::CREATED, "{}", scanned.body);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(1),
        "a check-in beside 50 streams took {:?}",
        started.elapsed()
    );
}

/// A live stream ends when the access token it was opened with expires.
#[actix_web::test]
async fn a_live_stream_ends_with_its_token() {
    use futures_util::StreamExt;

    let app = crate::helpers::spawn_app_with(|s| s.auth.access_token_ttl_secs = 2).await;
    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let mut live = open_live(&app, &event, &organiser).await;
    assert_eq!(live.status(), StatusCode::OK);
    let ended = tokio::time::timeout(std::time::Duration::from_secs(6), async {
        while let Some(chunk) = live.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived its token");
    assert_eq!(app.state.streams.running(), 0);
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

/// Every route that takes a token from an email or a session is limited per
/// client address, like login: 25 tries with made-up tokens from one address
/// meet 429 `rate_limited` with a `Retry-After`, each route on its own budget.
#[actix_web::test]
async fn routes_that_consume_a_token_are_rate_limited() {
    let app = spawn_app_with(|s| s.rate_limit.auth_per_minute = 20).await;
    let bogus = "A".repeat(43);
    let routes = [
        ("/api/v1/auth/refresh", json!({"refresh_token": bogus})),
        ("/api/v1/auth/logout", json!({"refresh_token": bogus})),
        ("/api/v1/auth/verify-email", json!({"token": bogus})),
        (
            "/api/v1/auth/password-reset/confirm",
            json!({"token": bogus, "new_password": "newpassword9"}),
        ),
        (
            "/api/v1/auth/accept-invitation",
            json!({"token": bogus, "password": "newpassword9", "full_name": "王芳"}),
        ),
    ];
    for (path, body) in routes {
        let mut limited = 0;
        for _ in 0..25 {
            let reply = app.post(path, None, &body).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                reply.assert_problem(429, "rate_limited");
                assert!(reply.header("retry-after").is_some(), "{path}: Retry-After");
                limited += 1;
            }
        }
        assert!(limited > 0, "{path}: none of 25 was limited");
    }
}

/// A flood of reset confirmations with made-up tokens spends no password
/// hashes (the token is looked up first), so a student's login in the middle
/// of it still answers within a second.
#[actix_web::test]
async fn a_flood_of_bogus_reset_confirms_does_not_starve_login() {
    let app = spawn_app().await;
    app.candidate("flood@pku.edu.cn").await;
    let flood = join_all((0..100).map(|i| {
        app.post_owned(
            "/api/v1/auth/password-reset/confirm",
            json!({"token": format!("{i:A>43}"), "new_password": "newpassword9"}),
        )
    }));
    // Its own client, so it does not wait for one of the flood's connections.
    let client = awc::Client::default();
    let login = async {
        actix_web::rt::time::sleep(Duration::from_millis(100)).await;
        let started = Instant::now();
        let res = client
            .post(app.url("/api/v1/auth/login"))
            .send_json(&json!({"email": "flood@pku.edu.cn", "password": PASSWORD}))
            .await
            .expect("login");
        let reply = Reply::read(res).await;
        (reply, started.elapsed())
    };
    let (replies, (login, took)) = tokio::join!(flood, login);
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    assert!(
        took < Duration::from_secs(1),
        "login took {took:?} during the flood"
    );
    for reply in replies {
        reply.assert_problem(422, "invalid_token");
    }
}

/// A made-up token is refused before any password is hashed, on both routes
/// that set a password from a link: with one hashing slot and no patience,
/// twenty at once are all 422 `invalid_token`, none 503 `busy`.
#[actix_web::test]
async fn made_up_link_tokens_spend_no_password_hash() {
    let app = spawn_app_with(|s| {
        s.auth.max_concurrent_hashes = 1;
        s.auth.hash_wait_ms = 1;
    })
    .await;
    for (path, field) in [
        ("/api/v1/auth/password-reset/confirm", "new_password"),
        ("/api/v1/auth/accept-invitation", "password"),
    ] {
        let replies = join_all((0..20).map(|i| {
            app.post_owned(
                path,
                json!({"token": format!("{i:B>43}"), field: "newpassword9", "full_name": "王芳"}),
            )
        }))
        .await;
        for reply in replies {
            assert_eq!(
                reply.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path}: {}",
                reply.body
            );
            reply.assert_problem(422, "invalid_token");
        }
    }
}

/// Password hashes are bounded process-wide: with one slot and no patience,
/// a burst of logins gets 503 `busy` with a `Retry-After` instead of queueing
/// without end, and the server answers normally afterwards.
#[actix_web::test]
async fn hashing_past_its_bound_answers_busy() {
    let app = spawn_app_with(|s| {
        s.auth.max_concurrent_hashes = 1;
        s.auth.hash_wait_ms = 1;
    })
    .await;
    let replies = join_all((0..20).map(|i| {
        app.post_owned(
            "/api/v1/auth/login",
            json!({"email": format!("ghost{i}@pku.edu.cn"), "password": PASSWORD}),
        )
    }))
    .await;
    let mut busy = 0;
    for reply in &replies {
        if reply.status == StatusCode::SERVICE_UNAVAILABLE {
            reply.assert_problem(503, "busy");
            assert_eq!(reply.header("retry-after"), Some("1"));
            busy += 1;
        } else {
            reply.assert_problem(401, "invalid_credentials");
        }
    }
    assert!(busy > 0, "none of 20 logins at once was turned away");
    assert!(busy < 20, "every login was turned away");
}

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

/// A client that sends its request head a byte at a time is answered 408
/// and closed once `server.client_request_timeout_ms` passes, and fifty of
/// them do not keep the server from answering others.
#[actix_web::test]
async fn slow_clients_are_cut_off() {
    use tokio::{
        io::{AsyncReadExt, AsyncWriteExt},
        net::TcpStream,
    };

    let app = spawn_app_with(|s| s.server.client_request_timeout_ms = 1000).await;
    let host = app.address.trim_start_matches("http://").to_owned();
    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = TcpStream::connect(&host).await.expect("connect");
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\nHo")
            .await
            .unwrap();
        slow.push(stream);
    }
    let started = Instant::now();
    let healthy = app.get("/healthz", None).await;
    assert_eq!(healthy.status, StatusCode::OK);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );

    let started = Instant::now();
    let mut first = slow.remove(0);
    let mut answer = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            // One more byte a while, as a slowloris client sends.
            let _ = first.write_all(b"s").await;
            let mut buf = [0u8; 256];
            match tokio::time::timeout(Duration::from_millis(300), first.read(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return,
                Ok(Ok(n)) => answer.extend_from_slice(&buf[..n]),
                Err(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "a slow client held its connection for 5 s");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
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
