//! Floods: rate limits an attacker cannot step around, bounded password hashing, bounded live streams, slow clients.

use std::time::{Duration, Instant};

use awc::http::StatusCode;
use futures_util::future::join_all;
use serde_json::json;

use crate::helpers::{PASSWORD, Reply, spawn_app, spawn_app_with};

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
