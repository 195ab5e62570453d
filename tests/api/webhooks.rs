//! Signed webhooks: a receiver on loopback checks every signature, a
//! receiver that fails twice gets the delivery exactly once more, private
//! targets are refused without the setting, admins redeliver.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use hmac::{Hmac, Mac};
use nuancheng::notify::worker::Worker;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::*;

/// One request the receiver got: its headers (lower-cased names) and body.
#[derive(Clone, Debug)]
struct Received {
    headers: Vec<(String, String)>,
    body: String,
}

impl Received {
    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }
}

/// A receiver on 127.0.0.1 that answers each request with the next status
/// of `answers` (then 200).
async fn receiver(answers: Vec<u16>) -> (String, Arc<Mutex<Vec<Received>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/nuancheng", listener.local_addr().unwrap());
    let got: Arc<Mutex<Vec<Received>>> = Arc::default();
    let seen = got.clone();
    tokio::spawn(async move {
        let mut answers = answers.into_iter();
        loop {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            let received = loop {
                let n = socket.read(&mut buf).await.unwrap();
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let headers: Vec<(String, String)> = head
                        .lines()
                        .skip(1)
                        .filter_map(|l| l.split_once(':'))
                        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
                        .collect();
                    let length: usize = headers
                        .iter()
                        .find(|(k, _)| k == "content-length")
                        .map(|(_, v)| v.parse().unwrap())
                        .unwrap_or(0);
                    if body.len() >= length {
                        break Received {
                            headers,
                            body: body.to_owned(),
                        };
                    }
                }
                if n == 0 {
                    panic!("the request ended early");
                }
            };
            seen.lock().unwrap().push(received);
            let status = answers.next().unwrap_or(200);
            let reply =
                format!("HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            let _ = socket.write_all(reply.as_bytes()).await;
        }
    });
    (url, got)
}

/// What a receiver does with `X-Nuancheng-Signature` (docs/api.md shows the same).
fn verify(secret: &str, header: &str, body: &str) -> bool {
    let mut t = None;
    let mut v1 = None;
    for part in header.split(',') {
        match part.split_once('=') {
            Some(("t", value)) => t = Some(value),
            Some(("v1", value)) => v1 = Some(value),
            _ => {}
        }
    }
    let (Some(t), Some(v1)) = (t, v1) else {
        return false;
    };
    let Ok(expected) = hex::decode(v1) else {
        return false;
    };
    let fresh = t
        .parse::<i64>()
        .is_ok_and(|t| (chrono::Utc::now().timestamp() - t).abs() < 300);
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    fresh && mac.verify_slice(&expected).is_ok()
}

const SECRET: &str = "receiver-shared-secret-0123456789";

/// `url` registered by `admin` for `event_types`, with [`SECRET`]: 201.
async fn subscribe(app: &TestApp, admin: &str, url: &str, event_types: Value) -> Reply {
    let created = app
        .post(
            "/api/v1/webhooks",
            Some(admin),
            &json!({"url": url, "secret": SECRET, "event_types": event_types}),
        )
        .await;
    assert_eq!(created.status.as_u16(), 201, "{}", created.body);
    created
}

async fn wait_for(got: &Arc<Mutex<Vec<Received>>>, n: usize) {
    for _ in 0..200 {
        if got.lock().unwrap().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "the receiver got {} of {n} requests",
        got.lock().unwrap().len()
    );
}

#[actix_web::test]
async fn a_receiver_that_fails_twice_gets_the_signed_delivery_exactly_once_more_and_on_redelivery()
{
    let app = spawn_app_with(|s| s.webhooks.allow_private_targets = true).await;
    let admin = app.admin().await;
    let (url, got) = receiver(vec![500, 503]).await;
    let created = subscribe(&app, &admin, &url, json!(["registration.created"])).await;
    assert_eq!(created.body["secret"], SECRET);
    let endpoint = created.body["id"].as_str().unwrap().to_owned();
    let listed = app.get("/api/v1/webhooks", Some(&admin)).await;
    assert!(
        listed.body[0].get("secret").is_none(),
        "the secret is shown once: {}",
        listed.body
    );

    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let student = app.student("master", 2027).await;
    let registration = app.register(&event, &student.token).await;
    wait_for(&got, 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let requests = got.lock().unwrap().clone();
    assert_eq!(
        requests.len(),
        3,
        "two failures, one success, nothing after"
    );
    let id = requests[0].header("x-nuancheng-delivery").to_owned();
    for r in &requests {
        assert!(
            verify(SECRET, r.header("x-nuancheng-signature"), &r.body),
            "signature of {r:?}"
        );
        assert!(!verify(
            "another secret",
            r.header("x-nuancheng-signature"),
            &r.body
        ));
        assert_eq!(
            r.header("x-nuancheng-delivery"),
            id,
            "one delivery id on every try"
        );
        assert_eq!(r.header("x-nuancheng-event"), "registration.created");
    }
    let body: Value = serde_json::from_str(&requests[2].body).unwrap();
    assert_eq!(body["type"], "registration.created");
    assert_eq!(body["data"]["registration_id"], registration.body["id"]);

    let log = app
        .get(
            &format!("/api/v1/webhooks/{endpoint}/deliveries"),
            Some(&admin),
        )
        .await;
    assert_eq!(log.status.as_u16(), 200, "{}", log.body);
    let delivery = &log.body["items"][0];
    assert_eq!(
        (delivery["status"].as_str(), delivery["attempts"].as_i64()),
        (Some("delivered"), Some(3)),
        "{}",
        log.body
    );
    assert_eq!(delivery["id"], id.as_str());

    let again = app
        .post(
            &format!("/api/v1/webhooks/deliveries/{id}/redeliver"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.body);
    wait_for(&got, 4).await;
    assert_eq!(got.lock().unwrap()[3].header("x-nuancheng-delivery"), id);

    let missing = app
        .post(
            &format!(
                "/api/v1/webhooks/deliveries/{}/redeliver",
                uuid::Uuid::now_v7()
            ),
            Some(&admin),
            &json!({}),
        )
        .await;
    missing.assert_problem(404, "not_found");
    for path in [
        format!("/api/v1/webhooks/{endpoint}/deliveries"),
        "/api/v1/webhooks".into(),
    ] {
        app.get(&path, Some(&organiser))
            .await
            .assert_problem(403, "forbidden");
        app.get(&path, None)
            .await
            .assert_problem(401, "missing_token");
    }
    app.post(
        &format!("/api/v1/webhooks/deliveries/{id}/redeliver"),
        Some(&organiser),
        &json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    app.send(
        "DELETE",
        &format!("/api/v1/webhooks/{endpoint}"),
        Some(&organiser),
        &json!({}),
    )
    .await
    .assert_problem(403, "forbidden");
    let bad_cursor = app
        .get(
            &format!("/api/v1/webhooks/{endpoint}/deliveries?cursor=%%%"),
            Some(&admin),
        )
        .await;
    bad_cursor.assert_problem(422, "validation_failed");
    let deleted = app
        .send(
            "DELETE",
            &format!("/api/v1/webhooks/{endpoint}"),
            Some(&admin),
            &json!({}),
        )
        .await;
    assert_eq!(deleted.status.as_u16(), 204);
    app.get(
        &format!("/api/v1/webhooks/{endpoint}/deliveries"),
        Some(&admin),
    )
    .await
    .assert_problem(404, "not_found");
}

#[actix_web::test]
async fn private_targets_and_bad_endpoints_are_refused() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let ok_types = json!(["intent.signed"]);
    let cases = [
        (
            "loopback",
            json!({"url": "http://127.0.0.1:8080/hook", "event_types": ok_types}),
            "url",
            "private_target",
        ),
        (
            "localhost",
            json!({"url": "http://localhost/hook", "event_types": ok_types}),
            "url",
            "private_target",
        ),
        (
            "private",
            json!({"url": "https://10.0.0.7/hook", "event_types": ok_types}),
            "url",
            "private_target",
        ),
        (
            "link-local",
            json!({"url": "http://169.254.169.254/latest", "event_types": ok_types}),
            "url",
            "private_target",
        ),
        (
            "ipv6 loopback",
            json!({"url": "http://[::1]/hook", "event_types": ok_types}),
            "url",
            "private_target",
        ),
        (
            "not http",
            json!({"url": "ftp://example.com/x", "event_types": ok_types}),
            "url",
            "invalid",
        ),
        (
            "not a url",
            json!({"url": "hook", "event_types": ok_types}),
            "url",
            "invalid",
        ),
        (
            "credentials",
            json!({"url": "https://a:b@example.com/", "event_types": ok_types}),
            "url",
            "invalid",
        ),
        (
            "short secret",
            json!({"url": "https://93.184.215.14/", "secret": "short", "event_types": ok_types}),
            "secret",
            "invalid_length",
        ),
        (
            "no types",
            json!({"url": "https://93.184.215.14/", "event_types": []}),
            "event_types",
            "required",
        ),
        (
            "unknown type",
            json!({"url": "https://93.184.215.14/", "event_types": ["user.deleted"]}),
            "event_types[0]",
            "invalid",
        ),
        (
            "missing url",
            json!({"event_types": ok_types}),
            "url",
            "required",
        ),
    ];
    for (case, body, field, code) in cases {
        let r = app.post("/api/v1/webhooks", Some(&admin), &body).await;
        r.assert_problem(422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{case}: {}", r.body);
        assert_eq!(r.body["errors"][0]["code"], code, "{case}: {}", r.body);
    }
    assert_eq!(app.count("webhook_endpoints").await, 0);
    let public = app
        .post(
            "/api/v1/webhooks",
            Some(&admin),
            &json!({"url": "https://93.184.215.14/hook", "event_types": ok_types}),
        )
        .await;
    assert_eq!(public.status.as_u16(), 201, "{}", public.body);
    assert!(
        public.body["secret"].as_str().unwrap().len() >= 32,
        "a secret is made up"
    );
    let organiser = app.organiser().await;
    let body = json!({"url": "https://93.184.215.14/hook", "event_types": ok_types});
    app.post("/api/v1/webhooks", Some(&organiser), &body)
        .await
        .assert_problem(403, "forbidden");
    app.post("/api/v1/webhooks", None, &body)
        .await
        .assert_problem(401, "missing_token");
}

#[actix_web::test]
async fn a_check_in_reaches_each_endpoint_that_wants_it_once_with_what_was_admitted() {
    use crate::checkins::{door, scan, ticket};
    let app = spawn_app_with(|s| s.webhooks.allow_private_targets = true).await;
    let admin = app.admin().await;
    let mut receivers = Vec::new();
    for types in [
        json!(["checkin.created"]),
        json!(["registration.created", "checkin.created"]),
        json!(["registration.created"]),
    ] {
        let (url, got) = receiver(vec![]).await;
        let created = subscribe(&app, &admin, &url, types).await;
        receivers.push((created.body["id"].as_str().unwrap().to_owned(), got));
    }
    let d = door(&app, json!({})).await;
    let student = app.student("phd", 2027).await;
    let code = ticket(&app, &d.event, &student).await;
    let first = scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": code, "gate": "南门"}),
    )
    .await;
    assert_eq!(first.status.as_u16(), 201, "{}", first.body);
    let again = scan(&app, &d, &d.organiser, json!({"ticket_code": code})).await;
    assert_eq!(again.status.as_u16(), 200, "{}", again.body);

    let checkins_of = |got: &Arc<Mutex<Vec<Received>>>| -> Vec<Received> {
        got.lock()
            .unwrap()
            .iter()
            .filter(|r| r.header("x-nuancheng-event") == "checkin.created")
            .cloned()
            .collect()
    };
    wait_for(&receivers[0].1, 1).await;
    wait_for(&receivers[1].1, 2).await;
    wait_for(&receivers[2].1, 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(checkins_of(&receivers[2].1).is_empty(), "not subscribed");
    for (endpoint, got) in &receivers[..2] {
        let delivered = checkins_of(got);
        assert_eq!(delivered.len(), 1, "one check-in, one delivery");
        let r = &delivered[0];
        assert!(verify(SECRET, r.header("x-nuancheng-signature"), &r.body));
        let body: Value = serde_json::from_str(&r.body).unwrap();
        assert_eq!(body["type"], "checkin.created");
        let data = &body["data"];
        assert_eq!(data["checkin_id"], first.body["checkin"]["id"]);
        assert_eq!(data["event_id"], d.event.as_str());
        assert_eq!(data["registration_id"], first.body["registration"]["id"]);
        assert_eq!(data["user_id"], first.body["candidate"]["id"]);
        assert_eq!(data["source"], "scan");
        let sent = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
        assert_eq!(
            sent(&data["scanned_at"]),
            sent(&first.body["checkin"]["scanned_at"])
        );
        assert!(
            (chrono::Utc::now() - sent(&body["created_at"]).to_utc()).num_seconds() < 60,
            "{body}"
        );
        assert!(uuid::Uuid::parse_str(body["id"].as_str().unwrap()).is_ok());

        // Deliveries are numbered in the order they were made (UUIDv7).
        let log = app
            .get(
                &format!("/api/v1/webhooks/{endpoint}/deliveries"),
                Some(&admin),
            )
            .await;
        let ids: Vec<uuid::Uuid> = log.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["id"].as_str().unwrap().parse().unwrap())
            .collect();
        assert!(ids.iter().all(|id| id.get_version_num() == 7), "{ids:?}");
        assert_eq!(r.header("x-nuancheng-delivery"), ids[0].to_string());
    }
}

/// A receiver on 127.0.0.1 that accepts connections and never answers;
/// returns its URL and how many connections it has taken.
async fn silent_receiver() -> (String, Arc<Mutex<usize>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hooks/silent", listener.local_addr().unwrap());
    let taken: Arc<Mutex<usize>> = Arc::default();
    let count = taken.clone();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            *count.lock().unwrap() += 1;
            held.push(socket);
        }
    });
    (url, taken)
}

/// One endpoint that never answers (its timeout is a minute) and one that
/// answers 500 hold up neither the emails nor a third endpoint that
/// answers: each endpoint's deliveries go in their own order beside the
/// others', and webhooks beside the outbox. The silent endpoint gets only
/// its first delivery while that one hangs; the failing one gets one try,
/// and its other deliveries wait, untried, as long as that one does.
#[actix_web::test]
async fn an_endpoint_that_never_answers_holds_up_neither_emails_nor_other_endpoints() {
    let app = spawn_app_with(|s| {
        s.webhooks.allow_private_targets = true;
        s.webhooks.timeout_secs = 60;
        s.webhooks.backoff_base_secs = 60;
        s.webhooks.backoff_max_secs = 120;
        s.server.run_worker = false;
    })
    .await;
    // A worker that only sends emails (signing up waits for them), stopped
    // before the registrations; the one that also delivers webhooks starts
    // once they are queued, and only it can send their emails.
    let (stop_sender, stopped) = tokio::sync::watch::channel(false);
    let sender = Worker::new(app.db().clone(), app.state.settings.email.clone())
        .unwrap()
        .stopped_by(stopped);
    let sending = actix_web::rt::spawn(sender.run());
    let admin = app.admin().await;
    let (silent, connections) = silent_receiver().await;
    let (failing, failed) = receiver(vec![500; 10]).await;
    let (answering, answered) = receiver(Vec::new()).await;
    for url in [&silent, &failing, &answering] {
        subscribe(&app, &admin, url, json!(["registration.created"])).await;
    }
    let of_failing =
        format!("endpoint_id IN (SELECT id FROM webhook_endpoints WHERE url = '{failing}')");

    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let mut students = Vec::new();
    for _ in 0..3 {
        students.push(app.student("master", 2027).await);
    }
    stop_sender.send(true).unwrap();
    sending.await.unwrap();
    for student in &students {
        let registered = app.register(&event, &student.token).await;
        assert_eq!(registered.status.as_u16(), 201, "{}", registered.body);
    }
    // Started once every delivery is queued, so that the failing
    // endpoint's first try finds the other two waiting.
    let worker = Worker::for_settings(app.db().clone(), &app.state.settings).unwrap();
    actix_web::rt::spawn(worker.run());
    wait_for(&answered, 3).await;
    for student in &students {
        app.sink.wait_for_subject(&student.email, "报名成功").await;
    }
    wait_for(&failed, 1).await;
    let tried =
        format!("SELECT COUNT(*) FROM webhook_deliveries WHERE {of_failing} AND attempts = 1");
    let waiting = format!(
        "SELECT COUNT(*) FROM webhook_deliveries w WHERE {of_failing} \
         AND attempts = 0 AND status = 'pending' AND lease_token IS NULL \
         AND next_attempt_at = (SELECT next_attempt_at FROM webhook_deliveries \
                                WHERE endpoint_id = w.endpoint_id AND attempts = 1)"
    );
    // The failed try is recorded, then the others are held back.
    for _ in 0..100 {
        if app.scalar(&waiting).await == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(app.scalar(&tried).await, 1);
    assert_eq!(
        app.scalar(&waiting).await,
        2,
        "the failing endpoint's other deliveries wait as long as its failed one"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(failed.lock().unwrap().len(), 1, "one try while it fails");
    assert_eq!(
        *connections.lock().unwrap(),
        1,
        "the silent endpoint's deliveries wait for its first"
    );
}
