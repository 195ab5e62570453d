//! Bad requests of every shape get problem+json with a stable code and a
//! request id, never a 500.

use serde_json::json;

use crate::helpers::*;

#[actix_web::test]
async fn unreadable_bodies_are_problems() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/auth/signup");
    let cases: Vec<(&str, &str, Vec<u8>, u16, &str)> = vec![
        (
            "truncated JSON",
            "application/json",
            b"{\"email\": ".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "not JSON",
            "application/json",
            b"email=a@b.cn".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "invalid UTF-8",
            "application/json",
            b"{\"email\": \"\xff\xfe\"}".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "trailing text",
            "application/json",
            b"{} {}".to_vec(),
            400,
            "malformed_json",
        ),
        (
            "form content type",
            "application/x-www-form-urlencoded",
            b"email=a".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (
            "array instead of object",
            "application/json",
            b"[]".to_vec(),
            422,
            "validation_failed",
        ),
        (
            "too large",
            "application/json",
            format!("{{\"email\": \"{}\"}}", "a".repeat(300_000)).into_bytes(),
            413,
            "payload_too_large",
        ),
    ];
    for (case, content_type, body, status, code) in cases {
        let res = app
            .client
            .post(&url)
            .insert_header(("content-type", content_type))
            .send_body(body)
            .await
            .unwrap_or_else(|e| panic!("case {case}: {e}"));
        let reply = Reply::read(res).await;
        assert_eq!(reply.status.as_u16(), status, "case {case}: {}", reply.body);
        assert_eq!(reply.body["code"], code, "case {case}");
        assert!(
            reply.header("x-request-id").is_some(),
            "case {case}: request id"
        );
        assert_eq!(
            reply.body["request_id"].as_str(),
            reply.header("x-request-id"),
            "case {case}"
        );
    }
    let no_body = Reply::read(app.client.post(&url).send().await.unwrap()).await;
    no_body.assert_problem(415, "unsupported_media_type");
    assert_eq!(app.count("users").await, 0);
}

#[actix_web::test]
async fn unknown_routes_and_ids_are_not_found() {
    let app = spawn_app().await;
    for path in [
        "/api/v1/nothing-here",
        "/nothing",
        "/api/v1/employers/not-a-uuid",
    ] {
        app.get(path, None).await.assert_problem(404, "not_found");
    }
    app.get(&format!("/api/v1/employers/{}", uuid::Uuid::now_v7()), None)
        .await
        .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn a_known_path_with_another_method_is_405() {
    let app = spawn_app().await;
    app.get("/api/v1/auth/login", None)
        .await
        .assert_problem(405, "method_not_allowed");
    app.send("PUT", "/api/v1/me", None, &json!({}))
        .await
        .assert_problem(405, "method_not_allowed");
}

#[actix_web::test]
async fn a_request_id_from_the_client_is_kept() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/healthz"))
        .insert_header(("x-request-id", "scanner-42"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers().get("x-request-id").unwrap(), "scanner-42");
    let res = app
        .client
        .get(app.url("/healthz"))
        .insert_header(("x-request-id", "bad id with spaces"))
        .send()
        .await
        .unwrap();
    assert_ne!(
        res.headers().get("x-request-id").unwrap(),
        "bad id with spaces"
    );
}

#[actix_web::test]
async fn employers_validate_the_credit_code_and_honour_idempotency_keys() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let body = json!({"name": "伊泰集团", "credit_code": CREDIT_CODES[1], "industry": "煤炭", "district": "东胜区"});
    let send = |key: &'static str, body: serde_json::Value| {
        let app = &app;
        let organiser = organiser.clone();
        async move {
            let res = app
                .client
                .post(app.url("/api/v1/employers"))
                .bearer_auth(&organiser)
                .insert_header(("Idempotency-Key", key))
                .send_json(&body)
                .await
                .unwrap();
            Reply::read(res).await
        }
    };
    let first = send("k-1", body.clone()).await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    let again = send("k-1", body.clone()).await;
    assert_eq!(again.status.as_u16(), 201);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(again.header("idempotency-replayed"), Some("true"));
    let mut other = body.clone();
    other["name"] = json!("另一家");
    send("k-1", other)
        .await
        .assert_problem(422, "idempotency_key_reused");
    assert_eq!(app.count("employers").await, 1);
    // Without the key, the same credit code twice is a conflict.
    app.post("/api/v1/employers", Some(&organiser), &body)
        .await
        .assert_problem(409, "credit_code_taken");

    let cases = vec![
        (
            "bad check character",
            json!({"name": "甲", "credit_code": "91350100M000100Y44", "industry": "能源", "district": "东胜区"}),
            "credit_code",
        ),
        (
            "short code",
            json!({"name": "甲", "credit_code": "9135", "industry": "能源", "district": "东胜区"}),
            "credit_code",
        ),
        (
            "empty name",
            json!({"name": " ", "credit_code": CREDIT_CODES[2], "industry": "能源", "district": "东胜区"}),
            "name",
        ),
        (
            "missing district",
            json!({"name": "甲", "credit_code": CREDIT_CODES[2], "industry": "能源"}),
            "district",
        ),
    ];
    for (case, body, field) in cases {
        let reply = app.post("/api/v1/employers", Some(&organiser), &body).await;
        assert_eq!(reply.status.as_u16(), 422, "case {case}: {}", reply.body);
        assert_eq!(reply.error_fields(), vec![field], "case {case}");
    }
    assert_eq!(app.count("employers").await, 1);

    let (candidate, _) = app.candidate("stu@pku.edu.cn").await;
    app.post("/api/v1/employers", Some(&candidate), &body)
        .await
        .assert_problem(403, "forbidden");
    app.post("/api/v1/employers", None, &body)
        .await
        .assert_problem(401, "missing_token");

    let id = first.body["id"].as_str().unwrap();
    let patched = app
        .patch(
            &format!("/api/v1/employers/{id}"),
            Some(&organiser),
            &json!({"description": "能源化工"}),
        )
        .await;
    assert_eq!(patched.body["description"], "能源化工", "{}", patched.body);
    let listed = app
        .get("/api/v1/employers?q=%E4%BC%8A%E6%B3%B0", None)
        .await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        listed.body
    );
}

/// Sends raw bytes over TCP, closes the sending half, and reads the answer:
/// for bodies no HTTP client would send.
async fn raw_exchange(app: &TestApp, request: &str) -> (u16, String, serde_json::Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(app.address.trim_start_matches("http://"))
        .await
        .expect("connect");
    stream.write_all(request.as_bytes()).await.expect("write");
    stream.shutdown().await.expect("close the sending half");
    let mut answer = Vec::new();
    tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut answer),
    )
    .await
    .expect("an answer within 5 s")
    .expect("read");
    let answer = String::from_utf8(answer).expect("UTF-8");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head and a body");
    let status = head[9..12].parse().expect("a status");
    let content_type = head
        .lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-type: ")
                .map(str::to_owned)
        })
        .unwrap_or_default();
    (
        status,
        content_type,
        serde_json::from_str(body).unwrap_or_default(),
    )
}

/// A body that ends before its declared length, or whose chunked encoding
/// is broken, cannot be read: 400 `malformed_body`, and nothing happens.
#[actix_web::test]
async fn a_body_that_cannot_be_read_is_malformed_body() {
    let app = spawn_app().await;
    let head = "POST /api/v1/auth/signup HTTP/1.1\r\nHost: nuancheng.test\r\n\
                Content-Type: application/json\r\n";
    let cases = [
        (
            "shorter than its Content-Length",
            format!("{head}Content-Length: 100\r\n\r\n{{\"email\": "),
        ),
        (
            "a chunk size that is not hex",
            format!("{head}Transfer-Encoding: chunked\r\n\r\n5\r\n{{\"ema\r\nzz\r\n"),
        ),
    ];
    for (case, request) in cases {
        let (status, content_type, body) = raw_exchange(&app, &request).await;
        assert_eq!(status, 400, "case {case}: {body}");
        assert_eq!(body["code"], "malformed_body", "case {case}: {body}");
        assert_eq!(body["status"], 400, "case {case}");
        assert!(
            content_type.starts_with("application/problem+json"),
            "case {case}: {content_type}"
        );
    }
    assert_eq!(app.count("users").await, 0);
}

/// An `Idempotency-Key` must be 1 to 200 printable ASCII characters; any
/// other is 400 `invalid_idempotency_key` and creates nothing. 200
/// characters are fine.
#[actix_web::test]
async fn a_bad_idempotency_key_is_refused() {
    use awc::http::header::HeaderValue;

    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let send = |key: HeaderValue, credit_code: &'static str| {
        let (app, organiser) = (&app, &organiser);
        async move {
            let res = app
                .client
                .post(app.url("/api/v1/employers"))
                .bearer_auth(organiser)
                .insert_header(("Idempotency-Key", key))
                .send_json(&json!({"name": "伊泰集团", "credit_code": credit_code,
                                   "industry": "煤炭", "district": "东胜区"}))
                .await
                .expect("send");
            Reply::read(res).await
        }
    };
    let long = "k".repeat(201);
    let cases = [
        ("empty", HeaderValue::from_static("")),
        ("a space inside", HeaderValue::from_static("two words")),
        ("201 characters", HeaderValue::from_str(&long).unwrap()),
        (
            "not ASCII",
            HeaderValue::from_bytes("键".as_bytes()).unwrap(),
        ),
    ];
    for (case, key) in cases {
        let reply = send(key, CREDIT_CODES[0]).await;
        assert_eq!(reply.status.as_u16(), 400, "case {case}: {}", reply.body);
        reply.assert_problem(400, "invalid_idempotency_key");
    }
    assert_eq!(app.count("employers").await, 0);
    assert_eq!(app.count("idempotency_keys").await, 0);
    let longest = HeaderValue::from_str(&"k".repeat(200)).unwrap();
    let created = send(longest, CREDIT_CODES[0]).await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
}

/// A refresh token past its lifetime is 401 `refresh_token_expired`;
/// nothing is rotated.
#[actix_web::test]
async fn an_expired_refresh_token_is_refused() {
    use nuancheng::entities::refresh_tokens;
    use sea_orm::{EntityTrait, sea_query::Expr};

    let app = spawn_app().await;
    let (_, signup) = app.candidate("expired@pku.edu.cn").await;
    refresh_tokens::Entity::update_many()
        .col_expr(
            refresh_tokens::Column::ExpiresAt,
            Expr::value(nuancheng::db::now() - chrono::TimeDelta::minutes(1)),
        )
        .exec(app.db())
        .await
        .unwrap();
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": signup["refresh_token"]}),
    )
    .await
    .assert_problem(401, "refresh_token_expired");
    assert_eq!(app.count("refresh_tokens").await, 1);
    let unused = app
        .scalar("SELECT COUNT(*) FROM refresh_tokens WHERE used_at IS NULL AND revoked_at IS NULL")
        .await;
    assert_eq!(unused, 1, "the expired token was not used");
}

/// An event's time and state have their own codes: publishing an event that
/// has started is 422 `event_in_past`; a scan or walk-in at a draft or a
/// completed event is 422 `event_not_open`; cancelling a registration once
/// the event is over, completed or not yet, is 422 `event_completed`.
#[actix_web::test]
async fn an_events_time_and_state_have_their_codes() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let walk_in = json!({"email": "walkin@zju.edu.cn", "full_name": "张伟", "university": "浙江大学",
                         "major": "电气工程", "degree": "master", "graduation_year": 2026,
                         "privacy_notice_version": "2026-11"});
    let started = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    let draft = app
        .post(
            "/api/v1/events",
            Some(&organiser),
            &event_body(json!({"starts_at": started.to_rfc3339(),
                               "ends_at": (started + chrono::TimeDelta::hours(3)).to_rfc3339()})),
        )
        .await;
    assert_eq!(draft.status.as_u16(), 201, "{}", draft.body);
    let draft = draft.body["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/events/{draft}/publish"),
        Some(&organiser),
        &json!({}),
    )
    .await
    .assert_problem(422, "event_in_past");
    let still = app
        .get(&format!("/api/v1/events/{draft}"), Some(&organiser))
        .await;
    assert_eq!(still.body["status"], "draft");
    app.post(
        &format!("/api/v1/events/{draft}/checkins"),
        Some(&organiser),
        &json!({"ticket_code": "AAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    )
    .await
    .assert_problem(422, "event_not_open");
    app.post(
        &format!("/api/v1/events/{draft}/walk-ins"),
        Some(&organiser),
        &walk_in,
    )
    .await
    .assert_problem(422, "event_not_open");

    let event = app.published_event(&organiser, json!({})).await;
    let mut registrations = Vec::new();
    for _ in 0..2 {
        let student = app.student("master", 2027).await;
        let reply = app.register(&event, &student.token).await;
        assert_eq!(reply.status.as_u16(), 201, "{}", reply.body);
        registrations.push((student, reply.body["id"].as_str().unwrap().to_owned()));
    }
    let ended = chrono::Utc::now() - chrono::TimeDelta::minutes(5);
    let moved = app
        .patch(
            &format!("/api/v1/events/{event}"),
            Some(&organiser),
            &json!({"starts_at": (ended - chrono::TimeDelta::hours(2)).to_rfc3339(),
                    "ends_at": ended.to_rfc3339()}),
        )
        .await;
    assert_eq!(moved.status.as_u16(), 200, "{}", moved.body);
    let cancel = |token: String, id: String| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/registrations/{id}/cancel"),
                Some(&token),
                &json!({}),
            )
            .await
        }
    };
    let (student, id) = &registrations[0];
    cancel(student.token.clone(), id.clone())
        .await
        .assert_problem(422, "event_completed");
    let completed = app
        .post(
            &format!("/api/v1/events/{event}/complete"),
            Some(&organiser),
            &json!({}),
        )
        .await;
    assert_eq!(completed.status.as_u16(), 200, "{}", completed.body);
    cancel(organiser.clone(), registrations[1].1.clone())
        .await
        .assert_problem(422, "event_completed");
    let ticket = app.ticket_of(id).await;
    app.post(
        &format!("/api/v1/events/{event}/checkins"),
        Some(&organiser),
        &json!({"ticket_code": ticket}),
    )
    .await
    .assert_problem(422, "event_not_open");
    app.post(
        &format!("/api/v1/events/{event}/walk-ins"),
        Some(&organiser),
        &walk_in,
    )
    .await
    .assert_problem(422, "event_not_open");
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM registrations WHERE status = 'confirmed'")
            .await,
        2
    );
    assert_eq!(app.count("checkins").await, 0);
    assert_eq!(
        app.count("users WHERE email = 'walkin@zju.edu.cn'").await,
        0
    );
}

/// What the shared extractors refuse is documented on every operation that
/// takes it, with the status the server really answers: a malformed body,
/// a body of another type, an unknown id, a query parameter that does not
/// parse and a control character in the query string. Sent as an admin (or
/// a student, where only students may call), so the refusal is about the
/// request and not the caller; with an unknown id
/// in the path, a handler may look the id up before it reads the body.
#[actix_web::test]
async fn refusals_of_what_an_operation_takes_are_documented() {
    let app = spawn_app_with(|s| s.server.run_worker = false).await;
    let admin = app.admin().await;
    let (student, _) = app.candidate("refused@pku.edu.cn").await;
    let doc = app.get("/api/v1/openapi.json", None).await.body;
    let unknown = uuid::Uuid::now_v7().to_string();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let documented = |status: u16| {
                operation["responses"]
                    .get(status.to_string())
                    .is_some_and(|r| r["content"].get("application/problem+json").is_some())
            };
            let params = operation["parameters"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            let takes = |place: &str| params.iter().any(|p| p["in"] == place);
            let url = path.replace("{id}", &unknown);
            let mut cases: Vec<(&str, String, &str, &[u8], u16)> = vec![(
                "a control character in the query",
                format!("{url}?note=%01"),
                "application/json",
                b"{}",
                422,
            )];
            if operation.get("requestBody").is_some() {
                cases.push((
                    "a malformed body",
                    url.clone(),
                    "application/json",
                    b"{",
                    400,
                ));
                cases.push(("a text body", url.clone(), "text/plain", b"{}", 415));
            }
            if takes("path") && operation.get("requestBody").is_none() {
                cases.push(("an unknown id", url.clone(), "application/json", b"{}", 404));
            }
            if params
                .iter()
                .any(|p| p["in"] == "query" && p["name"] == "limit")
            {
                cases.push((
                    "a limit that is not a number",
                    format!("{url}?limit=x"),
                    "application/json",
                    b"{}",
                    400,
                ));
            }
            for (case, target, content_type, body, status) in cases {
                let send = |token: &str| {
                    app.client
                        .request(
                            method.to_uppercase().parse().expect("a method"),
                            app.url(&target),
                        )
                        .bearer_auth(token)
                        .insert_header(("content-type", content_type))
                        .send_body(body.to_vec())
                };
                let mut reply = Reply::read(send(&admin).await.expect("send")).await;
                if reply.status.as_u16() == 403 {
                    reply = Reply::read(send(&student).await.expect("send")).await;
                }
                let answered = reply.status.as_u16();
                assert!(
                    answered == status || (answered == 404 && takes("path")),
                    "{method} {path}, {case}: {answered} {}",
                    reply.body
                );
                assert!(
                    documented(answered),
                    "{method} {path} does not document {answered} ({case})"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "only {checked} refusals checked");
}
