//! Campaigns, positions and events: what organisers build and students find.

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{CREDIT_CODES, event_body, spawn_app};

fn position_body() -> Value {
    json!({
        "title": "煤制油工艺工程师",
        "majors": ["化学工程", "化学工艺", "化学工程"],
        "degree_min": "master",
        "headcount": 5,
        "talent_category": "shortage",
        "salary_min": 12000,
        "salary_max": 20000,
        "location": "鄂尔多斯市准格尔旗",
        "benefits": ["人才公寓", "安家补贴"]
    })
}

#[actix_web::test]
async fn an_organiser_builds_a_campaign_and_students_find_its_events() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let campaign_id = app.campaign(&organiser).await;
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;

    let position = app
        .post(
            &format!("/api/v1/employers/{employer}/positions"),
            Some(&organiser),
            &position_body(),
        )
        .await;
    assert_eq!(position.status, StatusCode::CREATED, "{}", position.body);
    assert_eq!(position.body["majors"], json!(["化学工程", "化学工艺"]));
    assert_eq!(position.body["benefits"], json!(["人才公寓", "安家补贴"]));

    let created = app
        .post(
            "/api/v1/events",
            Some(&organiser),
            &event_body(json!({"campaign_id": campaign_id, "employer_ids": [employer]})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["status"], "draft");
    let id = created.body["id"].as_str().unwrap().to_owned();

    // A draft is invisible to the public.
    app.get(&format!("/api/v1/events/{id}"), None)
        .await
        .assert_problem(404, "not_found");
    let (student, _) = app.candidate("lilei@pku.edu.cn").await;
    app.register(&id, &student)
        .await
        .assert_problem(404, "not_found");
    assert_eq!(
        app.get("/api/v1/events", None).await.body["items"],
        json!([])
    );

    let published = app
        .post(
            &format!("/api/v1/events/{id}/publish"),
            Some(&organiser),
            &json!({}),
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.body);
    app.post(
        &format!("/api/v1/events/{id}/publish"),
        Some(&organiser),
        &json!({}),
    )
    .await
    .assert_problem(409, "invalid_transition");

    let detail = app.get(&format!("/api/v1/events/{id}"), None).await;
    assert_eq!(detail.status, StatusCode::OK);
    assert_eq!(detail.body["status"], "published");
    assert_eq!(detail.body["seats_left"], 50);
    assert_eq!(detail.body["confirmed_count"], 0);
    assert_eq!(detail.body["waitlist_count"], 0);
    assert_eq!(detail.body["employers"][0]["id"], employer.as_str());
    assert_eq!(
        detail.body["employers"][0]["positions"][0]["title"],
        "煤制油工艺工程师"
    );

    // Positions by event, degree and category.
    let by_event = app
        .get(
            &format!("/api/v1/positions?event_id={id}&degree=master&talent_category=shortage"),
            None,
        )
        .await;
    assert_eq!(by_event.body["items"].as_array().unwrap().len(), 1);
    let too_low = app
        .get(
            &format!("/api/v1/positions?event_id={id}&degree=bachelor"),
            None,
        )
        .await;
    assert_eq!(too_low.body["items"], json!([]));
}

#[actix_web::test]
async fn event_lists_filter_and_page_by_start_time() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let campaign_id = app.campaign(&organiser).await;
    let now = chrono::Utc::now();
    let mut ids = Vec::new();
    // Created in the opposite order of their start times.
    for (days, university, city, kind) in [
        (30, "浙江大学", "杭州", "job_fair"),
        (20, "清华大学", "北京", "info_session"),
        (10, "北京大学", "北京", "info_session"),
    ] {
        let starts = now + chrono::TimeDelta::days(days);
        let id = app
            .published_event(
                &organiser,
                json!({
                    "title": format!("{university}专场"),
                    "university": university,
                    "city": city,
                    "kind": kind,
                    "campaign_id": if city == "北京" { json!(campaign_id) } else { Value::Null },
                    "starts_at": starts.to_rfc3339(),
                    "ends_at": (starts + chrono::TimeDelta::hours(3)).to_rfc3339(),
                }),
            )
            .await;
        ids.push(id);
    }
    // A draft is listed for organisers who ask, never for the public.
    let draft = app
        .post("/api/v1/events", Some(&organiser), &event_body(json!({})))
        .await;
    assert_eq!(draft.status, StatusCode::CREATED);

    let titles = |reply: &crate::helpers::Reply| -> Vec<String> {
        reply.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["university"].as_str().unwrap().to_owned())
            .collect()
    };
    let first = app.get("/api/v1/events?limit=2", None).await;
    assert_eq!(titles(&first), ["北京大学", "清华大学"]);
    let cursor = first.body["next_cursor"].as_str().unwrap();
    let second = app
        .get(&format!("/api/v1/events?limit=2&cursor={cursor}"), None)
        .await;
    assert_eq!(titles(&second), ["浙江大学"]);
    assert!(second.body["next_cursor"].is_null());

    let enc = |s: &str| -> String { s.bytes().map(|b| format!("%{b:02X}")).collect::<String>() };
    let cases: Vec<(String, Vec<&str>)> = vec![
        (
            format!("city={}", enc("北京")),
            vec!["北京大学", "清华大学"],
        ),
        (format!("q={}", enc("浙江")), vec!["浙江大学"]),
        (format!("university={}", enc("清华大学")), vec!["清华大学"]),
        (
            format!("campaign_id={campaign_id}"),
            vec!["北京大学", "清华大学"],
        ),
        ("kind=job_fair".into(), vec!["浙江大学"]),
        (
            format!(
                "from={}&to={}",
                enc(&(now + chrono::TimeDelta::days(15)).to_rfc3339()),
                enc(&(now + chrono::TimeDelta::days(25)).to_rfc3339())
            ),
            vec!["清华大学"],
        ),
    ];
    for (query, expected) in cases {
        let reply = app.get(&format!("/api/v1/events?{query}"), None).await;
        assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.body);
        assert_eq!(titles(&reply), expected, "{query}");
    }

    let drafts = app
        .get("/api/v1/events?status=draft", Some(&organiser))
        .await;
    assert_eq!(drafts.body["items"].as_array().unwrap().len(), 1);
    app.get("/api/v1/events?status=draft", None)
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/events?cursor=nonsense", None)
        .await
        .assert_problem(422, "validation_failed");
}

#[actix_web::test]
async fn bad_event_input_names_the_field_and_writes_nothing() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let starts = chrono::Utc::now() + chrono::TimeDelta::days(3);
    let cases: Vec<(Value, &str)> = vec![
        (json!({"capacity": 0}), "capacity"),
        (json!({"capacity": -5}), "capacity"),
        (json!({"waitlist_limit": -1}), "waitlist_limit"),
        (
            json!({"ends_at": (starts - chrono::TimeDelta::hours(1)).to_rfc3339(), "starts_at": starts.to_rfc3339()}),
            "ends_at",
        ),
        (
            json!({"registration_closes_at": (starts + chrono::TimeDelta::days(30)).to_rfc3339()}),
            "registration_closes_at",
        ),
        (
            json!({"employer_ids": ["0190b6a0-0000-7000-8000-000000000000"]}),
            "employer_ids",
        ),
        (
            json!({"campaign_id": "0190b6a0-0000-7000-8000-000000000000"}),
            "campaign_id",
        ),
        (json!({"title": "长".repeat(201)}), "title"),
        (json!({"venue": "  "}), "venue"),
        (json!({"capacity": "fifty"}), "capacity"),
        (json!({"kind": "party"}), "kind"),
        (
            json!({"graduation_years": [2026, 1900]}),
            "graduation_years[1]",
        ),
        (json!({"min_degree": "kindergarten"}), "min_degree"),
        (json!({"starts_at": "-5000-01-01T00:00:00Z"}), "starts_at"),
        (
            json!({"registration_opens_at": "2999-01-01T00:00:00Z"}),
            "registration_opens_at",
        ),
    ];
    for (changes, field) in cases {
        let reply = app
            .post(
                "/api/v1/events",
                Some(&organiser),
                &event_body(changes.clone()),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{changes}: {}",
            reply.body
        );
        assert!(
            reply.error_fields().iter().any(|f| f == field),
            "{changes}: expected {field} in {}",
            reply.body
        );
    }
    let not_utf8 = app
        .client
        .post(app.url("/api/v1/events"))
        .bearer_auth(&organiser)
        .insert_header(("Content-Type", "application/json"))
        .send_body(&b"{\"title\": \"\xff\xfe\"}"[..])
        .await
        .unwrap();
    let not_utf8 = crate::helpers::Reply::read(not_utf8).await;
    not_utf8.assert_problem(400, "malformed_json");
    assert_eq!(app.count("events").await, 0);
    assert_eq!(app.count("event_employers").await, 0);

    // The same rules hold for a change, checked against the stored event.
    let id = app.published_event(&organiser, json!({})).await;
    let reply = app
        .patch(
            &format!("/api/v1/events/{id}"),
            Some(&organiser),
            &json!({"ends_at": (chrono::Utc::now() - chrono::TimeDelta::days(1)).to_rfc3339()}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["ends_at"]);
    let student = app.candidate("hanmeimei@pku.edu.cn").await.0;
    app.post(
        &format!("/api/v1/events/{id}/cancel"),
        Some(&student),
        &json!({"reason": "x"}),
    )
    .await
    .assert_problem(403, "forbidden");
}

#[actix_web::test]
async fn lifecycle_moves_forward_only_and_cancelling_tells_every_registrant() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let id = app
        .published_event(&organiser, json!({"capacity": 1, "waitlist_limit": 2}))
        .await;
    let confirmed = app.student("master", 2027).await;
    let waiting = app.student("master", 2027).await;
    let gone = app.student("master", 2027).await;
    for s in [&confirmed, &waiting] {
        assert_eq!(
            app.register(&id, &s.token).await.status,
            StatusCode::CREATED
        );
    }
    let gone_reg = app.register(&id, &gone.token).await;
    let gone_id = gone_reg.body["id"].as_str().unwrap();
    let cancelled = app
        .post(
            &format!("/api/v1/registrations/{gone_id}/cancel"),
            Some(&gone.token),
            &json!({}),
        )
        .await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);

    app.post(
        &format!("/api/v1/events/{id}/complete"),
        Some(&organiser),
        &json!({}),
    )
    .await
    .assert_problem(422, "event_not_over");
    app.post(
        &format!("/api/v1/events/{id}/cancel"),
        Some(&organiser),
        &json!({"reason": ""}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let reply = app
        .post(
            &format!("/api/v1/events/{id}/cancel"),
            Some(&organiser),
            &json!({"reason": "场馆临时维修"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["status"], "cancelled");
    assert_eq!(reply.body["cancel_reason"], "场馆临时维修");

    for (student, n) in [(&confirmed, 2), (&waiting, 2)] {
        let mail = app.sink.wait_for(&student.email, n).await;
        assert!(mail.subject().contains("活动取消"), "{}", mail.subject());
        assert!(mail.text().contains("场馆临时维修"));
    }
    // The confirmed student's calendar entry is withdrawn too.
    assert!(
        app.sink
            .wait_for(&confirmed.email, 2)
            .await
            .text()
            .contains("STATUS:CANCELLED")
    );
    // Someone who had already cancelled hears nothing more.
    app.sink.wait_for(&gone.email, 2).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.sink.to(&gone.email).len(), 2);

    app.post(
        &format!("/api/v1/events/{id}/cancel"),
        Some(&organiser),
        &json!({"reason": "x"}),
    )
    .await
    .assert_problem(409, "invalid_transition");
    app.patch(
        &format!("/api/v1/events/{id}"),
        Some(&organiser),
        &json!({"title": "新标题"}),
    )
    .await
    .assert_problem(409, "event_not_editable");
    let late = app.student("master", 2027).await;
    app.register(&id, &late.token)
        .await
        .assert_problem(422, "event_cancelled");
    // A cancelled event stays readable for those who registered.
    assert_eq!(
        app.get(&format!("/api/v1/events/{id}"), None).await.body["status"],
        "cancelled"
    );
}

#[actix_web::test]
async fn a_new_time_or_venue_emails_confirmed_and_waitlisted_registrants() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let id = app
        .published_event(&organiser, json!({"capacity": 1, "waitlist_limit": 1}))
        .await;
    let confirmed = app.student("phd", 2026).await;
    let waiting = app.student("phd", 2026).await;
    for s in [&confirmed, &waiting] {
        assert_eq!(
            app.register(&id, &s.token).await.status,
            StatusCode::CREATED
        );
    }
    app.sink.wait_for(&confirmed.email, 1).await;
    app.sink.wait_for(&waiting.email, 1).await;

    // A change of description alone is no news.
    let reply = app
        .patch(
            &format!("/api/v1/events/{id}"),
            Some(&organiser),
            &json!({"description": "新增岗位"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);

    let reply = app
        .patch(
            &format!("/api/v1/events/{id}"),
            Some(&organiser),
            &json!({"venue": "北京大学英杰交流中心阳光大厅"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    for student in [&confirmed, &waiting] {
        let mail = app.sink.wait_for(&student.email, 2).await;
        assert!(mail.subject().contains("变更"), "{}", mail.subject());
        let text = mail.text();
        assert!(
            text.contains("北京大学百周年纪念讲堂 → 北京大学英杰交流中心阳光大厅"),
            "{text}"
        );
    }
    assert!(
        app.sink
            .wait_for(&confirmed.email, 2)
            .await
            .text()
            .contains("BEGIN:VCALENDAR")
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.sink.to(&confirmed.email).len(), 2);

    // Fewer seats than are confirmed is refused; more seats promote at once.
    app.patch(
        &format!("/api/v1/events/{id}"),
        Some(&organiser),
        &json!({"waitlist_limit": 0}),
    )
    .await
    .assert_problem(422, "waitlist_below_current");
    let reply = app
        .patch(
            &format!("/api/v1/events/{id}"),
            Some(&organiser),
            &json!({"capacity": 2}),
        )
        .await;
    assert_eq!(reply.body["confirmed_count"], 2);
    assert_eq!(reply.body["waitlist_count"], 0);
    let mail = app.sink.wait_for(&waiting.email, 3).await;
    assert!(mail.subject().contains("候补成功"), "{}", mail.subject());
    app.patch(
        &format!("/api/v1/events/{id}"),
        Some(&organiser),
        &json!({"capacity": 1}),
    )
    .await
    .assert_problem(422, "capacity_below_confirmed");
}

#[actix_web::test]
async fn a_campaign_cannot_end_before_it_starts() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let reply = app
        .post(
            "/api/v1/campaigns",
            Some(&organiser),
            &json!({"name": "", "year": 1999, "starts_on": "2026-09-01", "ends_on": "2026-08-01"}),
        )
        .await;
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["ends_on", "name", "year"], "{}", reply.body);
    let reply = app
        .post(
            "/api/v1/campaigns",
            Some(&organiser),
            &json!({"name": "名校引才", "year": 2026, "starts_on": "2026-13-01", "ends_on": "2026-08-01"}),
        )
        .await;
    assert_eq!(reply.error_fields(), ["starts_on"], "{}", reply.body);
    assert_eq!(app.count("campaigns").await, 0);

    let id = app.campaign(&organiser).await;
    let reply = app
        .patch(
            &format!("/api/v1/campaigns/{id}"),
            Some(&organiser),
            &json!({"ends_on": "2026-01-01"}),
        )
        .await;
    assert_eq!(reply.error_fields(), ["ends_on"]);
    let reply = app
        .patch(
            &format!("/api/v1/campaigns/{id}"),
            Some(&organiser),
            &json!({"name": "名校引才专项行动（第二批）"}),
        )
        .await;
    assert_eq!(reply.body["name"], "名校引才专项行动（第二批）");
    assert_eq!(
        app.get("/api/v1/campaigns?year=2026", None).await.body["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let student = app.candidate("lucy@zju.edu.cn").await.0;
    // Who may call comes before what was sent, on every database.
    for _ in 0..5 {
        app.post("/api/v1/campaigns", Some(&student), &json!({}))
            .await
            .assert_problem(403, "forbidden");
        app.post("/api/v1/campaigns", None, &json!({"year": "x"}))
            .await
            .assert_problem(401, "missing_token");
    }
    app.post(
        "/api/v1/campaigns",
        Some(&student),
        &json!({"name": "x", "year": 2026, "starts_on": "2026-09-01", "ends_on": "2026-10-01"}),
    )
    .await
    .assert_problem(403, "forbidden");
}

#[actix_web::test]
async fn positions_belong_to_their_employer() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let ours = app.employer(&organiser, CREDIT_CODES[0]).await;
    let theirs = app.employer(&organiser, CREDIT_CODES[1]).await;
    let (recruiter, _) = app.invited(&organiser, "recruiter", Some(&ours)).await;

    let created = app
        .post(
            &format!("/api/v1/employers/{ours}/positions"),
            Some(&recruiter),
            &position_body(),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let position = created.body["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/v1/employers/{theirs}/positions"),
        Some(&recruiter),
        &position_body(),
    )
    .await
    .assert_problem(403, "forbidden");

    let reply = app
        .patch(
            &format!("/api/v1/positions/{position}"),
            Some(&recruiter),
            &json!({"salary_max": 8000}),
        )
        .await;
    reply.assert_problem(422, "validation_failed");
    assert_eq!(reply.error_fields(), ["salary_max"]);
    let reply = app
        .patch(
            &format!("/api/v1/positions/{position}"),
            Some(&recruiter),
            &json!({"salary_min": null, "salary_max": 8000, "benefits": ["人才公寓"]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(reply.body["salary_min"].is_null());
    assert_eq!(reply.body["benefits"], json!(["人才公寓"]));

    let mut bad = position_body();
    bad["headcount"] = json!(0);
    bad["majors"] = json!(["", "化学"]);
    let reply = app
        .post(
            &format!("/api/v1/employers/{ours}/positions"),
            Some(&organiser),
            &bad,
        )
        .await;
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["headcount", "majors[0]"], "{}", reply.body);

    let listed = app
        .get(&format!("/api/v1/employers/{ours}/positions"), None)
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let missing = "0190b6a0-0000-7000-8000-000000000000";
    app.get(&format!("/api/v1/employers/{missing}/positions"), None)
        .await
        .assert_problem(404, "not_found");
}
