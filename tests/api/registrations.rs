//! Registration: seats, waitlist, cancellation and promotion, tickets,
//! exports, and capacity under concurrency.

use std::collections::HashMap;

use awc::http::StatusCode;
use futures_util::future::join_all;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
use serde_json::json;

use crate::helpers::{CREDIT_CODES, Student, TestApp, spawn_app};
use nuancheng::entities::{
    events,
    registrations::{self, RegistrationStatus},
};

/// Reads an event's registrations and counters straight from the database
/// and checks that they agree: confirmed within capacity, waitlist within
/// its limit, positions exactly 1..=n, and no free seat while an eligible
/// student waits.
pub(crate) async fn assert_invariants(app: &TestApp, event_id: &str) -> (usize, usize) {
    let id: uuid::Uuid = event_id.parse().unwrap();
    let event = events::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .unwrap();
    let rows = registrations::Entity::find()
        .filter(registrations::Column::EventId.eq(id))
        .order_by_asc(registrations::Column::WaitlistPosition)
        .all(app.db())
        .await
        .unwrap();
    let confirmed = rows
        .iter()
        .filter(|r| r.status == RegistrationStatus::Confirmed)
        .count();
    let positions: Vec<i32> = rows
        .iter()
        .filter(|r| r.status == RegistrationStatus::Waitlisted)
        .map(|r| {
            r.waitlist_position
                .expect("a waitlisted row has a position")
        })
        .collect();
    assert!(confirmed as i32 <= event.capacity, "oversold: {confirmed}");
    assert!(positions.len() as i32 <= event.waitlist_limit);
    assert_eq!(
        positions,
        (1..=positions.len() as i32).collect::<Vec<_>>(),
        "positions must be dense"
    );
    assert_eq!(event.confirmed_count as usize, confirmed, "counter");
    assert_eq!(event.waitlist_count as usize, positions.len(), "counter");
    if !positions.is_empty() {
        assert_eq!(
            confirmed as i32, event.capacity,
            "a seat is free while people wait"
        );
    }
    assert!(
        rows.iter()
            .filter(|r| r.status != RegistrationStatus::Waitlisted)
            .all(|r| r.waitlist_position.is_none())
    );
    (confirmed, positions.len())
}

#[actix_web::test]
async fn seats_then_waitlist_then_full_with_emails_and_idempotent_retries() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let id = app
        .published_event(&organiser, json!({"capacity": 2, "waitlist_limit": 1}))
        .await;
    let students: Vec<Student> = join_all((0..4).map(|_| app.student("master", 2027))).await;

    let first = app
        .client
        .post(app.url(&format!("/api/v1/events/{id}/registrations")))
        .bearer_auth(&students[0].token)
        .insert_header(("Idempotency-Key", "reg-1"))
        .send()
        .await
        .unwrap();
    let first = crate::helpers::Reply::read(first).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    assert_eq!(first.body["status"], "confirmed");
    let ticket = first.body["ticket_code"].as_str().unwrap().to_owned();
    assert_eq!(ticket.len(), 26);
    assert!(first.body["waitlist_position"].is_null());

    // The same key again: the first answer, nothing new.
    let again = app
        .client
        .post(app.url(&format!("/api/v1/events/{id}/registrations")))
        .bearer_auth(&students[0].token)
        .insert_header(("Idempotency-Key", "reg-1"))
        .send()
        .await
        .unwrap();
    let again = crate::helpers::Reply::read(again).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], first.body["id"]);
    // Without the key: 409 with the existing registration.
    let dup = app.register(&id, &students[0].token).await;
    dup.assert_problem(409, "already_registered");
    assert_eq!(dup.body["existing"]["id"], first.body["id"]);
    assert_eq!(app.count("registrations").await, 1);

    let second = app.register(&id, &students[1].token).await;
    assert_eq!(second.body["status"], "confirmed");
    let third = app.register(&id, &students[2].token).await;
    assert_eq!(third.status, StatusCode::CREATED);
    assert_eq!(third.body["status"], "waitlisted");
    assert_eq!(third.body["waitlist_position"], 1);
    assert!(third.body.get("ticket_code").is_none(), "{}", third.body);
    app.register(&id, &students[3].token)
        .await
        .assert_problem(422, "event_full");

    let detail = app.get(&format!("/api/v1/events/{id}"), None).await;
    assert_eq!(
        (
            &detail.body["confirmed_count"],
            &detail.body["waitlist_count"],
            &detail.body["seats_left"]
        ),
        (&json!(2), &json!(1), &json!(0))
    );

    let confirmed = app.sink.wait_for(&students[0].email, 1).await;
    assert!(
        confirmed.subject().contains("报名成功"),
        "{}",
        confirmed.subject()
    );
    let text = confirmed.text();
    assert!(text.contains(&ticket), "{text}");
    assert!(
        text.contains("BEGIN:VCALENDAR") && text.contains("DTSTART:"),
        "{text}"
    );
    assert!(confirmed.raw.contains("event.ics"));
    let waitlisted = app.sink.wait_for(&students[2].email, 1).await;
    assert!(
        waitlisted.subject().contains("候补"),
        "{}",
        waitlisted.subject()
    );
    assert!(waitlisted.text().contains("第 1 位"));
    assert!(!waitlisted.text().contains("BEGIN:VCALENDAR"));
    assert_invariants(&app, &id).await;
}

#[actix_web::test]
async fn cancelling_promotes_the_first_eligible_student_and_keeps_positions_dense() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let id = app
        .published_event(&organiser, json!({"capacity": 1, "waitlist_limit": 5}))
        .await;
    let seated = app.student("master", 2027).await;
    let bachelor = app.student("bachelor", 2027).await;
    let master = app.student("master", 2027).await;
    let phd = app.student("phd", 2027).await;
    let mut reg = HashMap::new();
    for (name, s) in [
        ("seated", &seated),
        ("bachelor", &bachelor),
        ("master", &master),
        ("phd", &phd),
    ] {
        let reply = app.register(&id, &s.token).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reg.insert(name, reply.body["id"].as_str().unwrap().to_owned());
    }
    // The rules tighten after the bachelor joined the waitlist.
    let reply = app
        .patch(
            &format!("/api/v1/events/{id}"),
            Some(&organiser),
            &json!({"min_degree": "master"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let cancelled = app
        .post(
            &format!("/api/v1/registrations/{}/cancel", reg["seated"]),
            Some(&seated.token),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    assert_eq!(cancelled.body["status"], "cancelled");
    app.post(
        &format!("/api/v1/registrations/{}/cancel", reg["seated"]),
        Some(&seated.token),
        &json!({}),
    )
    .await
    .assert_problem(409, "already_cancelled");

    let status = |token: String, name: &'static str| {
        let path = format!("/api/v1/registrations/{}", reg[name]);
        let app = &app;
        async move {
            let r = app.get(&path, Some(&token)).await;
            (
                r.body["status"].as_str().unwrap().to_owned(),
                r.body["waitlist_position"].clone(),
            )
        }
    };
    // The bachelor is skipped but keeps its place; the master is promoted.
    assert_eq!(
        status(master.token.clone(), "master").await,
        ("confirmed".into(), json!(null))
    );
    assert_eq!(
        status(bachelor.token.clone(), "bachelor").await,
        ("waitlisted".into(), json!(1))
    );
    assert_eq!(
        status(phd.token.clone(), "phd").await,
        ("waitlisted".into(), json!(2))
    );
    assert_invariants(&app, &id).await;

    let mail = app.sink.wait_for(&seated.email, 2).await;
    assert!(mail.subject().contains("报名已取消"), "{}", mail.subject());
    let promoted = app.sink.wait_for(&master.email, 2).await;
    assert!(
        promoted.subject().contains("候补成功"),
        "{}",
        promoted.subject()
    );
    assert!(promoted.text().contains("BEGIN:VCALENDAR"));
    let ticket = app
        .get(
            &format!("/api/v1/registrations/{}/ticket", reg["master"]),
            Some(&master.token),
        )
        .await;
    assert!(
        promoted
            .text()
            .contains(ticket.body["ticket_code"].as_str().unwrap())
    );

    // An organiser cancels the bachelor: the phd moves up to 1.
    let reply = app
        .post(
            &format!("/api/v1/registrations/{}/cancel", reg["bachelor"]),
            Some(&organiser),
            &json!({}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(
        status(phd.token.clone(), "phd").await,
        ("waitlisted".into(), json!(1))
    );
    let mail = app.sink.wait_for(&bachelor.email, 2).await;
    assert!(mail.text().contains("主办方已取消"), "{}", mail.text());
    assert_invariants(&app, &id).await;

    // Someone else's registration is not there to cancel.
    let stranger = app.student("phd", 2027).await;
    app.post(
        &format!("/api/v1/registrations/{}/cancel", reg["phd"]),
        Some(&stranger.token),
        &json!({}),
    )
    .await
    .assert_problem(404, "not_found");

    // A cancelled student may register again and gets a new ticket.
    let again = app.register(&id, &seated.token).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    assert_eq!(again.body["status"], "waitlisted");
    assert_eq!(again.body["waitlist_position"], 2);
    assert_eq!(again.body["id"].as_str().unwrap(), reg["seated"]);
}

#[actix_web::test]
async fn eligibility_and_the_registration_window() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let id = app
        .published_event(
            &organiser,
            json!({"min_degree": "master", "graduation_years": [2027, 2026]}),
        )
        .await;
    let bachelor = app.student("bachelor", 2027).await;
    let reply = app.register(&id, &bachelor.token).await;
    reply.assert_problem(422, "not_eligible");
    assert!(reply.body["detail"].as_str().unwrap().contains("master"));
    let old = app.student("phd", 2024).await;
    let reply = app.register(&id, &old.token).await;
    reply.assert_problem(422, "not_eligible");
    assert!(
        reply.body["detail"]
            .as_str()
            .unwrap()
            .contains("2026, 2027"),
        "{}",
        reply.body
    );
    let ok = app.student("phd", 2026).await;
    assert_eq!(
        app.register(&id, &ok.token).await.status,
        StatusCode::CREATED
    );

    let now = chrono::Utc::now();
    let later = app
        .published_event(
            &organiser,
            json!({"registration_opens_at": (now + chrono::TimeDelta::days(1)).to_rfc3339()}),
        )
        .await;
    app.register(&later, &ok.token)
        .await
        .assert_problem(422, "registration_closed");
    let closed = app
        .published_event(
            &organiser,
            json!({"registration_opens_at": (now - chrono::TimeDelta::days(2)).to_rfc3339(),
            "registration_closes_at": (now + chrono::TimeDelta::seconds(1)).to_rfc3339()}),
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    app.register(&closed, &ok.token)
        .await
        .assert_problem(422, "registration_closed");

    // Only students register; a referral code must exist.
    app.register(&id, &organiser)
        .await
        .assert_problem(403, "forbidden");
    let other = app.student("phd", 2026).await;
    let reply = app
        .post(
            &format!("/api/v1/events/{id}/registrations"),
            Some(&other.token),
            &json!({"referral_code": "NOSUCHCODE"}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["referral_code"]);
    assert_eq!(app.count("registrations").await, 1);
}

#[actix_web::test]
async fn tickets_are_for_their_owner_and_never_in_lists() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let ours = app.employer(&organiser, CREDIT_CODES[0]).await;
    let theirs = app.employer(&organiser, CREDIT_CODES[1]).await;
    let (recruiter, _) = app.invited(&organiser, "recruiter", Some(&ours)).await;
    let (outsider, _) = app.invited(&organiser, "recruiter", Some(&theirs)).await;
    let id = app
        .published_event(
            &organiser,
            json!({"capacity": 1, "waitlist_limit": 1, "employer_ids": [ours]}),
        )
        .await;
    let owner = app.student("master", 2027).await;
    let waiting = app.student("master", 2027).await;
    let reg = app.register(&id, &owner.token).await;
    let reg_id = reg.body["id"].as_str().unwrap();
    let code = reg.body["ticket_code"].as_str().unwrap();
    let wait_reg = app.register(&id, &waiting.token).await;

    let ticket = app
        .get(
            &format!("/api/v1/registrations/{reg_id}/ticket"),
            Some(&owner.token),
        )
        .await;
    assert_eq!(ticket.status, StatusCode::OK, "{}", ticket.body);
    assert_eq!(ticket.body["ticket_code"], code);
    let svg = ticket.body["qr_svg"].as_str().unwrap();
    assert!(svg.contains("<svg") && svg.contains("</svg>"));
    app.get(
        &format!("/api/v1/registrations/{reg_id}/ticket"),
        Some(&waiting.token),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/registrations/{reg_id}/ticket"),
        Some(&organiser),
    )
    .await
    .assert_problem(404, "not_found");
    app.get(
        &format!(
            "/api/v1/registrations/{}/ticket",
            wait_reg.body["id"].as_str().unwrap()
        ),
        Some(&waiting.token),
    )
    .await
    .assert_problem(422, "not_confirmed");

    // Organisers and the participating recruiter see the registration, not the code.
    for token in [&organiser, &recruiter] {
        let one = app
            .get(&format!("/api/v1/registrations/{reg_id}"), Some(token))
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.body);
        assert!(!one.body.to_string().contains(code));
        let list = app
            .get(&format!("/api/v1/events/{id}/registrations"), Some(token))
            .await;
        assert_eq!(list.body["items"].as_array().unwrap().len(), 2);
        assert!(!list.body.to_string().contains(code));
    }
    app.get(&format!("/api/v1/registrations/{reg_id}"), Some(&outsider))
        .await
        .assert_problem(404, "not_found");
    app.get(
        &format!("/api/v1/registrations/{reg_id}"),
        Some(&waiting.token),
    )
    .await
    .assert_problem(404, "not_found");
    let mine = app
        .get("/api/v1/me/registrations", Some(&owner.token))
        .await;
    assert_eq!(mine.body["items"][0]["ticket_code"], code);
    assert_eq!(
        mine.body["items"][0]["event"]["title"],
        "鄂尔多斯市名校引才专项行动·北京大学专场宣讲会"
    );
    let theirs_too = app
        .get("/api/v1/me/registrations", Some(&waiting.token))
        .await;
    assert_eq!(theirs_too.body["items"].as_array().unwrap().len(), 1);
}

#[actix_web::test]
async fn organisers_and_participating_recruiters_list_and_export_registrations() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let ours = app.employer(&organiser, CREDIT_CODES[0]).await;
    let theirs = app.employer(&organiser, CREDIT_CODES[1]).await;
    let (recruiter, _) = app.invited(&organiser, "recruiter", Some(&ours)).await;
    let (outsider, _) = app.invited(&organiser, "recruiter", Some(&theirs)).await;
    let id = app
        .published_event(
            &organiser,
            json!({"capacity": 2, "waitlist_limit": 5, "employer_ids": [ours]}),
        )
        .await;
    let mut students = Vec::new();
    for _ in 0..3 {
        let s = app.student("master", 2027).await;
        assert_eq!(
            app.register(&id, &s.token).await.status,
            StatusCode::CREATED
        );
        students.push(s);
    }
    let path = format!("/api/v1/events/{id}/registrations");

    let all = app.get(&path, Some(&organiser)).await;
    assert_eq!(
        all.body["items"][0]["candidate"]["email"],
        students[0].email.as_str()
    );
    let page = app.get(&format!("{path}?limit=2"), Some(&organiser)).await;
    let cursor = page.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(&format!("{path}?limit=2&cursor={cursor}"), Some(&organiser))
        .await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 1);
    assert!(rest.body["next_cursor"].is_null());
    let waiting = app
        .get(&format!("{path}?status=waitlisted"), Some(&organiser))
        .await;
    assert_eq!(waiting.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(waiting.body["items"][0]["waitlist_position"], 1);
    let q = &students[1].email[..20];
    let found = app.get(&format!("{path}?q={q}"), Some(&organiser)).await;
    assert_eq!(
        found.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        found.body
    );

    // A recruiter at the event sees who comes, without contact details.
    let seen = app.get(&path, Some(&recruiter)).await;
    assert_eq!(seen.status, StatusCode::OK);
    assert!(seen.body["items"][0]["candidate"].get("email").is_none());
    assert_eq!(seen.body["items"][0]["candidate"]["university"], "北京大学");
    app.get(&path, Some(&outsider))
        .await
        .assert_problem(403, "forbidden");
    app.get(&path, Some(&students[0].token))
        .await
        .assert_problem(403, "forbidden");

    let csv = app
        .client
        .get(app.url(&path))
        .bearer_auth(&organiser)
        .insert_header(("Accept", "text/csv"))
        .send()
        .await
        .unwrap();
    let mut csv = csv;
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let bytes = csv.body().await.unwrap();
    assert!(
        bytes.starts_with(b"\xEF\xBB\xBF"),
        "a UTF-8 byte-order mark first"
    );
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    let lines: Vec<&str> = text.trim_end().split("\r\n").collect();
    assert_eq!(lines.len(), 4, "{text}");
    assert!(lines[0].contains("full_name") && lines[0].contains("email"));
    assert!(lines[1].contains("北京大学") && lines[1].contains(&students[0].email));
    assert!(text.contains("waitlisted"));
    // The recruiter's file has the same columns; the contact columns stay
    // empty for students it has not met, and fill in once one checks in.
    let header = "registration_id,status,waitlist_position,full_name,university,major,\
                  degree,graduation_year,email,phone,registered_at,confirmed_at,cancelled_at";
    let rows = recruiter_csv(&app, &path, &recruiter).await;
    assert_eq!(rows[0], header);
    assert_eq!(rows.len(), 4, "{rows:?}");
    for row in &rows[1..] {
        let cells: Vec<&str> = row.split(',').collect();
        assert_eq!(cells.len(), 13, "{row}");
        assert_eq!(cells[4], "北京大学", "{row}");
        assert_eq!((cells[8], cells[9]), ("", ""), "not met yet: {row}");
    }
    let first = all.body["items"][0]["id"].as_str().unwrap();
    let scanned = app
        .post(
            &format!("/api/v1/events/{id}/checkins"),
            Some(&organiser),
            &json!({"ticket_code": app.ticket_of(first).await}),
        )
        .await;
    assert_eq!(scanned.status, StatusCode::CREATED, "{}", scanned.body);
    let rows = recruiter_csv(&app, &path, &recruiter).await;
    for row in &rows[1..] {
        let cells: Vec<&str> = row.split(',').collect();
        if cells[0] == first {
            assert_eq!(
                (cells[8], cells[9]),
                (students[0].email.as_str(), "13900000000")
            );
        } else {
            assert_eq!((cells[8], cells[9]), ("", ""), "not met: {row}");
        }
    }
}

/// A registrations export as a recruiter gets it: 200, `text/csv`, a
/// byte-order mark, then its lines.
async fn recruiter_csv(app: &TestApp, path: &str, recruiter: &str) -> Vec<String> {
    let mut res = app
        .client
        .get(app.url(path))
        .bearer_auth(recruiter)
        .insert_header(("Accept", "text/csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers().get("content-type").unwrap().to_str().unwrap();
    assert!(content_type.starts_with("text/csv"), "{content_type}");
    let bytes = res.body().await.unwrap();
    let text = std::str::from_utf8(&bytes).unwrap();
    let text = text
        .strip_prefix('\u{feff}')
        .expect("a UTF-8 byte-order mark first");
    text.trim_end().split("\r\n").map(str::to_owned).collect()
}

/// 200 students press "register" at the same moment for 50 seats and a
/// waitlist of 25.
#[actix_web::test]
async fn two_hundred_at_once_never_oversell() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let id = app
        .published_event(&organiser, json!({"capacity": 50, "waitlist_limit": 25}))
        .await;
    let mut students = Vec::new();
    for _ in 0..200 {
        students.push(app.student("master", 2027).await);
    }
    let replies = join_all(students.iter().map(|s| app.register(&id, &s.token))).await;
    let mut outcomes: HashMap<String, usize> = HashMap::new();
    for reply in &replies {
        let key = match reply.status.as_u16() {
            201 => reply.body["status"].as_str().unwrap().to_owned(),
            422 => reply.body["code"].as_str().unwrap().to_owned(),
            other => panic!("unexpected {other}: {}", reply.body),
        };
        *outcomes.entry(key).or_default() += 1;
    }
    assert_eq!(outcomes.get("confirmed"), Some(&50), "{outcomes:?}");
    assert_eq!(outcomes.get("waitlisted"), Some(&25), "{outcomes:?}");
    assert_eq!(outcomes.get("event_full"), Some(&125), "{outcomes:?}");
    let mut positions: Vec<i64> = replies
        .iter()
        .filter_map(|r| r.body["waitlist_position"].as_i64())
        .collect();
    positions.sort_unstable();
    assert_eq!(positions, (1..=25).collect::<Vec<_>>());
    assert_eq!(assert_invariants(&app, &id).await, (50, 25));
    assert_eq!(app.count("registrations").await, 75);
    // A place that was taken meanwhile leaves nothing behind: one email
    // and one audit row for each place, none for a refusal.
    let emails = "SELECT COUNT(*) FROM notifications WHERE kind = ";
    let confirmed = format!("{emails}'registration_confirmed'");
    assert_eq!(app.scalar(&confirmed).await, 50);
    let waitlisted = format!("{emails}'registration_waitlisted'");
    assert_eq!(app.scalar(&waitlisted).await, 25);
    let audited = "SELECT COUNT(*) FROM audit_log WHERE status = 201 AND target_id IN \
                   (SELECT id FROM registrations)";
    assert_eq!(app.scalar(audited).await, 75);
}

/// Cancellations and new registrations race; afterwards the counters, the
/// rows and the waitlist order still agree.
#[actix_web::test]
async fn cancellations_racing_registrations_keep_the_invariants() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let id = app
        .published_event(&organiser, json!({"capacity": 20, "waitlist_limit": 20}))
        .await;
    let mut registered = Vec::new();
    for _ in 0..30 {
        let s = app.student("master", 2027).await;
        let reply = app.register(&id, &s.token).await;
        assert_eq!(reply.status, StatusCode::CREATED);
        registered.push((s, reply.body["id"].as_str().unwrap().to_owned()));
    }
    let mut newcomers = Vec::new();
    for _ in 0..30 {
        newcomers.push(app.student("master", 2027).await);
    }
    // Every third registration is cancelled: confirmed and waitlisted alike.
    let cancels = registered.iter().step_by(3).map(|(s, reg)| {
        let path = format!("/api/v1/registrations/{reg}/cancel");
        let app = &app;
        async move { app.post(&path, Some(&s.token), &json!({})).await }
    });
    let registers = newcomers.iter().map(|s| app.register(&id, &s.token));
    let (cancelled, joined) = tokio::join!(join_all(cancels), join_all(registers));
    for reply in &cancelled {
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let mut full = 0;
    for reply in &joined {
        match reply.status.as_u16() {
            201 => {}
            422 => {
                assert_eq!(reply.body["code"], "event_full");
                full += 1;
            }
            other => panic!("unexpected {other}: {}", reply.body),
        }
    }
    let (confirmed, waiting) = assert_invariants(&app, &id).await;
    // Everyone who got in is still in: 30 - 10 cancelled, plus the
    // newcomers who were not refused. Who was refused depends on timing.
    assert_eq!(confirmed + waiting, 50 - full);
    assert!(full >= 10, "40 places for 50 people: {full} refused");
    assert_eq!(confirmed, 20);
}
