//! Check-in at the door: scans, races, offline lists and batches, walk-ins,
//! figures and the live stream.

use std::time::Duration;

use awc::http::StatusCode;
use futures_util::{StreamExt, future::join_all};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{CREDIT_CODES, Reply, Student, TestApp, spawn_app};

/// An event with one participating employer (with a position) and a
/// recruiter of it; also a recruiter of an employer not taking part.
pub(crate) struct Door {
    pub(crate) organiser: String,
    pub(crate) recruiter: String,
    pub(crate) outsider: String,
    pub(crate) event: String,
}

pub(crate) async fn door(app: &TestApp, changes: Value) -> Door {
    let organiser = app.organiser().await;
    let ours = app.employer(&organiser, CREDIT_CODES[0]).await;
    let theirs = app.employer(&organiser, CREDIT_CODES[1]).await;
    let position = app
        .post(
            &format!("/api/v1/employers/{ours}/positions"),
            Some(&organiser),
            &json!({"title": "新能源研发工程师", "degree_min": "master", "headcount": 3,
                    "talent_category": "high_level", "location": "康巴什区",
                    "benefits": ["人才公寓", "安家补贴"]}),
        )
        .await;
    assert_eq!(position.status, StatusCode::CREATED, "{}", position.body);
    let (recruiter, _) = app.invited(&organiser, "recruiter", Some(&ours)).await;
    let (outsider, _) = app.invited(&organiser, "recruiter", Some(&theirs)).await;
    let mut changes = changes;
    changes["employer_ids"] = json!([ours]);
    let event = app.published_event(&organiser, changes).await;
    Door {
        organiser,
        recruiter,
        outsider,
        event,
    }
}

/// Registers a student and gives its ticket code.
pub(crate) async fn ticket(app: &TestApp, event: &str, student: &Student) -> String {
    let reply = app.register(event, &student.token).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    app.ticket_of(reply.body["id"].as_str().unwrap()).await
}

pub(crate) async fn scan(app: &TestApp, door: &Door, token: &str, body: Value) -> Reply {
    app.post(
        &format!("/api/v1/events/{}/checkins", door.event),
        Some(token),
        &body,
    )
    .await
}

#[actix_web::test]
async fn a_scan_admits_once_and_says_who_arrived() {
    let app = spawn_app().await;
    let d = door(&app, json!({"capacity": 2, "waitlist_limit": 2})).await;
    let student = app.student("master", 2027).await;
    let code = ticket(&app, &d.event, &student).await;

    let first = scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": code.to_lowercase(), "gate": "东门"}),
    )
    .await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["result"], "checked_in");
    assert_eq!(first.body["candidate"]["university"], "北京大学");
    assert_eq!(first.body["candidate"]["major"], "材料科学");
    assert_eq!(first.body["candidate"]["degree"], "master");
    assert!(first.body["candidate"].get("email").is_none());
    assert_eq!(first.body["checkin"]["gate"], "东门");
    assert_eq!(first.body["checkin"]["checked_in_by"]["full_name"], "王芳");
    assert_eq!(first.body["registration"]["status"], "confirmed");

    let again = scan(
        &app,
        &d,
        &d.organiser,
        json!({"ticket_code": code, "gate": "西门"}),
    )
    .await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
    assert_eq!(again.body["result"], "already_checked_in");
    assert_eq!(again.body["checkin"]["id"], first.body["checkin"]["id"]);
    assert_eq!(again.body["checkin"]["gate"], "东门");
    assert_eq!(
        again.body["checkin"]["checked_in_at"],
        first.body["checkin"]["checked_in_at"]
    );

    // A retried request with the same client id is the same check-in.
    let other = app.student("master", 2027).await;
    let other_code = ticket(&app, &d.event, &other).await;
    let client_id = uuid::Uuid::new_v4().to_string();
    let body = json!({"ticket_code": other_code, "client_checkin_id": client_id});
    let one = scan(&app, &d, &d.recruiter, body.clone()).await;
    let two = scan(&app, &d, &d.recruiter, body).await;
    assert_eq!(
        (one.status, two.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(one.body["checkin"]["id"], two.body["checkin"]["id"]);
    scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": code, "client_checkin_id": client_id}),
    )
    .await
    .assert_problem(409, "client_checkin_id_reused");
    assert_eq!(app.count("checkins").await, 2);

    let waiting = app.student("master", 2027).await;
    let waiting_code = ticket(&app, &d.event, &waiting).await;
    scan(&app, &d, &d.recruiter, json!({"ticket_code": waiting_code}))
        .await
        .assert_problem(422, "not_confirmed");
    scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": "AAAAAAAAAAAAAAAAAAAAAAAAAA"}),
    )
    .await
    .assert_problem(404, "unknown_ticket");
    let elsewhere = app.published_event(&d.organiser, json!({})).await;
    let stranger = app.student("master", 2027).await;
    let foreign = ticket(&app, &elsewhere, &stranger).await;
    scan(&app, &d, &d.recruiter, json!({"ticket_code": foreign}))
        .await
        .assert_problem(409, "ticket_for_other_event");
    scan(&app, &d, &d.outsider, json!({"ticket_code": code}))
        .await
        .assert_problem(403, "forbidden");
    scan(&app, &d, &student.token, json!({"ticket_code": code}))
        .await
        .assert_problem(403, "forbidden");
    let reply = scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": code, "scanned_at": "2099-01-01T00:00:00Z"}),
    )
    .await;
    assert_eq!(reply.error_fields(), ["scanned_at"], "{}", reply.body);

    // On PostgreSQL every admission and repeat above took one statement;
    // the refusals went the general way, which has their words.
    let metrics = app.get("/metrics", None).await;
    let metrics = metrics.body.as_str().unwrap_or_default();
    let (fast, general) = if app.is_postgres() { (4, 0) } else { (0, 4) };
    for (way, n) in [("one_statement", fast), ("general", general)] {
        let line = format!("checkin_scans_total{{way=\"{way}\"}} {n}");
        assert!(
            metrics.contains(&line) || n == 0 && !metrics.contains(&format!("way=\"{way}\"")),
            "{line} in {metrics}"
        );
    }

    // A student who has been admitted cannot cancel afterwards.
    let reg = first.body["registration"]["id"].as_str().unwrap();
    app.post(
        &format!("/api/v1/registrations/{reg}/cancel"),
        Some(&student.token),
        &json!({}),
    )
    .await
    .assert_problem(409, "already_checked_in");

    // A thank-you with the employers and what they offer.
    let mail = app.sink.wait_for(&student.email, 2).await;
    assert!(mail.subject().contains("感谢参加"), "{}", mail.subject());
    let text = mail.text();
    assert!(
        text.contains("鄂尔多斯市能源集团") && text.contains("新能源研发工程师"),
        "{text}"
    );
    assert!(text.contains("人才公寓、安家补贴"), "{text}");
}

#[actix_web::test]
async fn simultaneous_scans_of_one_ticket_give_exactly_one_check_in() {
    let app = spawn_app().await;
    let d = door(&app, json!({"capacity": 40})).await;
    let student = app.student("master", 2027).await;
    let code = ticket(&app, &d.event, &student).await;
    let replies = join_all((0..30).map(|i| {
        let token = if i % 2 == 0 {
            &d.recruiter
        } else {
            &d.organiser
        };
        scan(
            &app,
            &d,
            token,
            json!({"ticket_code": code, "gate": format!("门{}", i % 3)}),
        )
    }))
    .await;
    let created: Vec<&Reply> = replies
        .iter()
        .filter(|r| r.status == StatusCode::CREATED)
        .collect();
    assert_eq!(
        created.len(),
        1,
        "{:?}",
        replies.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let id = &created[0].body["checkin"]["id"];
    for reply in &replies {
        assert!(
            reply.status == StatusCode::CREATED || reply.status == StatusCode::OK,
            "{}",
            reply.body
        );
        assert_eq!(&reply.body["checkin"]["id"], id);
    }
    assert_eq!(app.count("checkins").await, 1);

    // Many different tickets at once: none is lost.
    let mut codes = Vec::new();
    for _ in 0..25 {
        let s = app.student("phd", 2026).await;
        codes.push(ticket(&app, &d.event, &s).await);
    }
    let replies = join_all(
        codes
            .iter()
            .map(|c| scan(&app, &d, &d.recruiter, json!({"ticket_code": c}))),
    )
    .await;
    assert!(replies.iter().all(|r| r.status == StatusCode::CREATED));
    assert_eq!(app.count("checkins").await, 26);
    let stats = app
        .get(
            &format!("/api/v1/events/{}/stats", d.event),
            Some(&d.organiser),
        )
        .await;
    assert_eq!(stats.body["checked_in"], 26);
}

#[actix_web::test]
async fn an_offline_scanner_downloads_hashes_and_uploads_a_batch() {
    let app = spawn_app().await;
    // Doors open an hour before the talk.
    let starts = chrono::Utc::now() + chrono::TimeDelta::hours(1);
    let d = door(
        &app,
        json!({"capacity": 3, "waitlist_limit": 1, "starts_at": starts.to_rfc3339(),
               "ends_at": (starts + chrono::TimeDelta::hours(2)).to_rfc3339()}),
    )
    .await;
    let mut students = Vec::new();
    let mut codes = Vec::new();
    for _ in 0..4 {
        let s = app.student("master", 2027).await;
        codes.push(ticket(&app, &d.event, &s).await);
        students.push(s);
    }
    let list = app
        .get(
            &format!("/api/v1/events/{}/checkin-list", d.event),
            Some(&d.recruiter),
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let entries = list.body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "confirmed only");
    let text = list.body.to_string();
    for code in &codes {
        assert!(!text.contains(code.as_str()), "no ticket code in the list");
    }
    assert!(!text.contains(&students[0].email) && !text.contains("13900000000"));
    let hash = |code: &str| -> String {
        Sha256::digest(format!("{}:{code}", d.event).as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    assert!(entries.iter().any(|e| e["ticket_hash"] == hash(&codes[0])));
    // The hash is no ticket.
    scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": hash(&codes[0])}),
    )
    .await
    .assert_problem(404, "unknown_ticket");
    app.get(
        &format!("/api/v1/events/{}/checkin-list", d.event),
        Some(&d.outsider),
    )
    .await
    .assert_problem(403, "forbidden");

    let ten_minutes_ago = (chrono::Utc::now() - chrono::TimeDelta::minutes(10)).to_rfc3339();
    let ids: Vec<String> = (0..6).map(|_| uuid::Uuid::new_v4().to_string()).collect();
    let batch = json!({"checkins": [
        {"ticket_code": codes[0], "client_checkin_id": ids[0], "scanned_at": ten_minutes_ago, "gate": "北门"},
        {"ticket_code": "ZZZZZZZZZZZZZZZZZZZZZZZZZZ", "client_checkin_id": ids[1]},
        {"ticket_code": codes[0], "client_checkin_id": ids[2]},
        {"ticket_code": codes[3], "client_checkin_id": ids[3]},
        {"ticket_code": codes[1], "client_checkin_id": ids[4], "scanned_at": "2099-01-01T00:00:00Z"},
        {"ticket_code": codes[2], "client_checkin_id": ids[5]},
    ]});
    let path = format!("/api/v1/events/{}/checkins/batch", d.event);
    let reply = app.post(&path, Some(&d.recruiter), &batch).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let results = reply.body["results"].as_array().unwrap();
    let outcome: Vec<(i64, &str)> = results
        .iter()
        .map(|r| (r["status"].as_i64().unwrap(), r["result"].as_str().unwrap()))
        .collect();
    assert_eq!(
        outcome,
        [
            (201, "checked_in"),
            (404, "unknown_ticket"),
            (200, "already_checked_in"),
            (422, "not_confirmed"),
            (422, "validation_failed"),
            (201, "checked_in"),
        ]
    );
    assert!(
        results[4]["detail"]
            .as_str()
            .unwrap()
            .contains("checkins[4].scanned_at")
    );
    assert_eq!(
        results[0]["checkin"]["scanned_at"].as_str().unwrap()[..16],
        ten_minutes_ago[..16]
    );
    assert_eq!(results[0]["checkin"]["source"], "offline");
    assert_eq!(
        (
            &reply.body["checked_in"],
            &reply.body["already_checked_in"],
            &reply.body["failed"]
        ),
        (&json!(2), &json!(1), &json!(3))
    );
    assert_eq!(app.count("checkins").await, 2);

    // Sent again (the connection dropped before the answer): nothing new.
    let again = app.post(&path, Some(&d.recruiter), &batch).await;
    let results = again.body["results"].as_array().unwrap();
    assert_eq!(
        results[0]["checkin"]["id"],
        reply.body["results"][0]["checkin"]["id"]
    );
    assert_eq!(
        results[5]["checkin"]["id"],
        reply.body["results"][5]["checkin"]["id"]
    );
    assert_eq!(app.count("checkins").await, 2);

    let too_many = json!({"checkins": vec![json!({"ticket_code": "X"}); 501]});
    app.post(&path, Some(&d.recruiter), &too_many)
        .await
        .assert_problem(422, "validation_failed");
    let list = app
        .get(
            &format!("/api/v1/events/{}/checkin-list", d.event),
            Some(&d.recruiter),
        )
        .await;
    let admitted = list.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["checked_in_at"].is_null())
        .count();
    assert_eq!(admitted, 2);
}

/// The next `stats` message of a live stream, as JSON.
pub(crate) async fn next_stats<S, E>(live: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, E>> + Unpin,
    E: std::fmt::Debug,
{
    let chunk = tokio::time::timeout(Duration::from_secs(3), live.next())
        .await
        .expect("a message within 3 s")
        .expect("the stream is open")
        .unwrap();
    let text = String::from_utf8(chunk.to_vec()).unwrap();
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data: "))
        .expect("a data line")
        .to_owned();
    serde_json::from_str(&data).unwrap()
}

fn walk_in_body(email: &str) -> Value {
    json!({"email": email, "full_name": "张伟", "phone": "13700137000", "university": "浙江大学",
           "major": "电气工程", "degree": "master", "graduation_year": 2026, "gate": "南门",
           "privacy_notice_version": "2026-11"})
}

#[actix_web::test]
async fn walk_ins_are_registered_and_admitted_at_once() {
    let app = spawn_app().await;
    let d = door(&app, json!({"capacity": 1, "waitlist_limit": 1})).await;
    let path = format!("/api/v1/events/{}/walk-ins", d.event);

    let new = app
        .post(
            &path,
            Some(&d.recruiter),
            &walk_in_body("zhangwei@zju.edu.cn"),
        )
        .await;
    assert_eq!(new.status, StatusCode::CREATED, "{}", new.body);
    assert_eq!(new.body["account_created"], true);
    assert_eq!(new.body["checkin"]["source"], "walk_in");
    assert_eq!(new.body["candidate"]["university"], "浙江大学");
    // The new account sets its password from the email and signs in.
    let welcome = app.sink.wait_for("zhangwei@zju.edu.cn", 1).await;
    assert!(
        welcome.subject().contains("设置密码"),
        "{}",
        welcome.subject()
    );
    let token = welcome.token_for("/reset-password");
    let set = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            &json!({"token": token, "new_password": "ordos2026ok"}),
        )
        .await;
    assert_eq!(set.status, StatusCode::NO_CONTENT, "{}", set.body);
    assert_eq!(
        app.login("zhangwei@zju.edu.cn", "ordos2026ok").await.status,
        StatusCode::OK
    );
    let thanks = app.sink.wait_for("zhangwei@zju.edu.cn", 2).await;
    assert!(thanks.subject().contains("感谢参加"));

    // The room is full: a recruiter may not add more, an organiser may.
    let (existing, _) = app.candidate("hanmeimei@pku.edu.cn").await;
    app.post(
        &path,
        Some(&d.recruiter),
        &walk_in_body("newcomer@pku.edu.cn"),
    )
    .await
    .assert_problem(422, "event_full");
    // A recruiter cannot admit (and so see the details of) a student it
    // merely names; a registered student shows a ticket.
    app.post(
        &path,
        Some(&d.recruiter),
        &walk_in_body("hanmeimei@pku.edu.cn"),
    )
    .await
    .assert_problem(409, "account_exists");
    let reused = app
        .post(
            &path,
            Some(&d.organiser),
            &walk_in_body("HanMeimei@pku.edu.cn"),
        )
        .await;
    assert_eq!(reused.status, StatusCode::CREATED, "{}", reused.body);
    assert_eq!(reused.body["account_created"], false);
    let mine = app.get("/api/v1/me/registrations", Some(&existing)).await;
    assert_eq!(mine.body["items"][0]["status"], "confirmed");
    let event = app.get(&format!("/api/v1/events/{}", d.event), None).await;
    assert_eq!(
        (&event.body["confirmed_count"], &event.body["seats_left"]),
        (&json!(2), &json!(0))
    );

    // Past its capacity, the event can still be changed.
    let moved = app
        .patch(
            &format!("/api/v1/events/{}", d.event),
            Some(&d.organiser),
            &json!({"venue": "浙江大学紫金港校区体育馆"}),
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);

    // Again at the door: already in.
    let twice = app
        .post(
            &path,
            Some(&d.organiser),
            &walk_in_body("hanmeimei@pku.edu.cn"),
        )
        .await;
    assert_eq!(twice.status, StatusCode::OK, "{}", twice.body);
    assert_eq!(twice.body["result"], "already_checked_in");

    app.post(
        &path,
        Some(&d.organiser),
        &walk_in_body(&staff_email(&app, &d).await),
    )
    .await
    .assert_problem(409, "not_a_candidate");
    let mut bad = walk_in_body("not-an-email");
    bad["graduation_year"] = json!(1800);
    let reply = app.post(&path, Some(&d.organiser), &bad).await;
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["email", "graduation_year"], "{}", reply.body);
    app.post(&path, Some(&d.outsider), &walk_in_body("x@pku.edu.cn"))
        .await
        .assert_problem(403, "forbidden");
    let stats = app
        .get(
            &format!("/api/v1/events/{}/stats", d.event),
            Some(&d.recruiter),
        )
        .await;
    assert_eq!(
        (&stats.body["walk_ins"], &stats.body["checked_in"]),
        (&json!(2), &json!(2))
    );
}

async fn staff_email(app: &TestApp, d: &Door) -> String {
    app.get("/api/v1/me", Some(&d.recruiter)).await.body["email"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[actix_web::test]
async fn figures_by_gate_no_shows_and_a_live_stream() {
    // A recount only every 30 s: an update within a second can only come from
    // the change the scan pushes.
    let app = crate::helpers::spawn_app_with(|s| s.live.poll_ms = 30_000).await;
    let d = door(&app, json!({"capacity": 5})).await;
    let mut codes = Vec::new();
    for _ in 0..3 {
        let s = app.student("master", 2027).await;
        codes.push(ticket(&app, &d.event, &s).await);
    }
    let mut live = app
        .client
        .get(app.url(&format!("/api/v1/events/{}/live", d.event)))
        .bearer_auth(&d.recruiter)
        .send()
        .await
        .unwrap();
    assert_eq!(live.status(), StatusCode::OK);
    assert!(
        live.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let first = next_stats(&mut live).await;
    assert_eq!(
        (&first["confirmed"], &first["checked_in"]),
        (&json!(3), &json!(0))
    );

    let started = std::time::Instant::now();
    scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": codes[0], "gate": "东门"}),
    )
    .await;
    let update = next_stats(&mut live).await;
    assert_eq!(update["checked_in"], 1);
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );

    scan(
        &app,
        &d,
        &d.organiser,
        json!({"ticket_code": codes[1], "gate": "东门"}),
    )
    .await;
    scan(&app, &d, &d.organiser, json!({"ticket_code": codes[2]})).await;
    let stats = app
        .get(
            &format!("/api/v1/events/{}/stats", d.event),
            Some(&d.organiser),
        )
        .await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.body);
    assert_eq!(stats.body["checked_in"], 3);
    assert!(stats.body["no_show"].is_null(), "not over yet");
    assert_eq!(
        stats.body["gates"],
        json!([{"gate": null, "checked_in": 1}, {"gate": "东门", "checked_in": 2}])
    );

    // A browser's EventSource sends the token in the query.
    let by_query = app
        .client
        .get(app.url(&format!(
            "/api/v1/events/{}/live?access_token={}",
            d.event, d.organiser
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(by_query.status(), StatusCode::OK);
    // A viewer whose account is disabled stops receiving figures.
    let admin = app.admin().await;
    let me = app.get("/api/v1/me", Some(&d.recruiter)).await;
    let disabled = app
        .patch(
            &format!("/api/v1/users/{}", me.body["id"].as_str().unwrap()),
            Some(&admin),
            &json!({"disabled": true}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    scan(
        &app,
        &d,
        &d.organiser,
        json!({"ticket_code": "ZZZZZZZZZZZZZZZZZZZZZZZZZZ"}),
    )
    .await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Some(chunk) = live.next().await {
            if chunk.is_err() {
                break;
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the stream ends for a disabled viewer");
    let refused = app
        .client
        .get(app.url(&format!("/api/v1/events/{}/live", d.event)))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    app.get(
        &format!("/api/v1/events/{}/stats", d.event),
        Some(&d.outsider),
    )
    .await
    .assert_problem(403, "forbidden");

    // Once it is over, the confirmed who never came are no-shows.
    let over = app
        .published_event(&d.organiser, json!({"capacity": 5}))
        .await;
    let a = app.student("master", 2027).await;
    let b = app.student("master", 2027).await;
    let code_a = ticket(&app, &over, &a).await;
    ticket(&app, &over, &b).await;
    app.post(
        &format!("/api/v1/events/{over}/checkins"),
        Some(&d.organiser),
        &json!({"ticket_code": code_a}),
    )
    .await;
    let past = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    let reply = app
        .patch(
            &format!("/api/v1/events/{over}"),
            Some(&d.organiser),
            &json!({"starts_at": (past - chrono::TimeDelta::hours(2)).to_rfc3339(), "ends_at": past.to_rfc3339()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let stats = app
        .get(&format!("/api/v1/events/{over}/stats"), Some(&d.organiser))
        .await;
    assert_eq!(
        (&stats.body["checked_in"], &stats.body["no_show"]),
        (&json!(1), &json!(1))
    );
}

#[actix_web::test]
async fn recruiters_see_contact_details_only_of_people_they_met() {
    let app = spawn_app().await;
    let d = door(&app, json!({"capacity": 5})).await;
    let met = app.student("master", 2027).await;
    let not_met = app.student("master", 2027).await;
    let code = ticket(&app, &d.event, &met).await;
    ticket(&app, &d.event, &not_met).await;
    scan(&app, &d, &d.recruiter, json!({"ticket_code": code})).await;
    let list = app
        .get(
            &format!("/api/v1/events/{}/registrations", d.event),
            Some(&d.recruiter),
        )
        .await;
    let items = list.body["items"].as_array().unwrap();
    let email_of = |i: usize| items[i]["candidate"].get("email").cloned();
    assert_eq!(email_of(0), Some(json!(met.email)));
    assert_eq!(email_of(1), None);
    assert_eq!(items[0]["candidate"]["phone"], "13900000000");
}

/// A scan that says when it was made (a phone that held it for a moment)
/// is admitted with that time, in one statement on PostgreSQL; one dated
/// before the event's day is refused with the field named.
#[actix_web::test]
async fn a_scan_keeps_the_time_it_was_made() {
    use chrono::{DurationRound, TimeDelta, Utc};
    let app = spawn_app().await;
    let starts = Utc::now() + TimeDelta::hours(1);
    let d = door(
        &app,
        json!({"capacity": 5, "waitlist_limit": 1, "starts_at": starts.to_rfc3339(),
               "ends_at": (starts + TimeDelta::hours(2)).to_rfc3339()}),
    )
    .await;
    let student = app.student("master", 2027).await;
    let code = ticket(&app, &d.event, &student).await;
    let at = (Utc::now() - TimeDelta::minutes(3))
        .duration_trunc(TimeDelta::seconds(1))
        .unwrap();
    let reply = scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": code, "scanned_at": at.to_rfc3339()}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let kept = reply.body["checkin"]["scanned_at"].as_str().unwrap();
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(kept).unwrap(),
        at,
        "{}",
        reply.body
    );

    let late = app.student("master", 2027).await;
    let late_code = ticket(&app, &d.event, &late).await;
    let too_early = starts - TimeDelta::days(2);
    let reply = scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": late_code, "scanned_at": too_early.to_rfc3339()}),
    )
    .await;
    assert_eq!(reply.error_fields(), ["scanned_at"], "{}", reply.body);
    assert_eq!(app.count("checkins").await, 1);

    let metrics = app.get("/metrics", None).await;
    let metrics = metrics.body.as_str().unwrap_or_default();
    let way = if app.is_postgres() {
        "one_statement"
    } else {
        "general"
    };
    let line = format!("checkin_scans_total{{way=\"{way}\"}} 1");
    assert!(metrics.contains(&line), "{line} in {metrics}");
}
