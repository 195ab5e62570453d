//! Intents to join: the state machine, history, permissions, reports,
//! funnel, referrals and exports.

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{CREDIT_CODES, Reply, Student, TestApp, spawn_app};

const STATES: [&str; 7] = [
    "interested",
    "interviewing",
    "offered",
    "signed",
    "onboarded",
    "withdrawn",
    "declined",
];

const LEGAL: [(&str, &str); 14] = [
    ("interested", "interviewing"),
    ("interested", "offered"),
    ("interested", "signed"),
    ("interviewing", "offered"),
    ("interviewing", "signed"),
    ("offered", "signed"),
    ("signed", "onboarded"),
    ("interested", "withdrawn"),
    ("interviewing", "withdrawn"),
    ("offered", "withdrawn"),
    ("signed", "withdrawn"),
    ("interested", "declined"),
    ("interviewing", "declined"),
    ("offered", "declined"),
];

struct Setup {
    organiser: String,
    recruiter: String,
    outsider: String,
    employer: String,
    other_employer: String,
    position: String,
}

async fn setup(app: &TestApp) -> Setup {
    let organiser = app.organiser().await;
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;
    let other_employer = app.employer(&organiser, CREDIT_CODES[1]).await;
    let renamed = app
        .patch(
            &format!("/api/v1/employers/{other_employer}"),
            Some(&organiser),
            &json!({"name": "伊泰集团", "industry": "煤化工"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.body);
    let position = app
        .post(
            &format!("/api/v1/employers/{employer}/positions"),
            Some(&organiser),
            &json!({"title": "煤化工工艺工程师", "degree_min": "master", "headcount": 4,
                    "talent_category": "high_level", "location": "准格尔旗",
                    "benefits": ["人才公寓", "安家补贴"]}),
        )
        .await;
    assert_eq!(position.status, StatusCode::CREATED, "{}", position.body);
    let (recruiter, _) = app.invited(&organiser, "recruiter", Some(&employer)).await;
    let (outsider, _) = app
        .invited(&organiser, "recruiter", Some(&other_employer))
        .await;
    Setup {
        organiser,
        recruiter,
        outsider,
        employer,
        other_employer,
        position: position.body["id"].as_str().unwrap().to_owned(),
    }
}

async fn intent(app: &TestApp, token: &str, body: Value) -> Reply {
    app.post("/api/v1/intents", Some(token), &body).await
}

async fn transition(app: &TestApp, token: &str, id: &str, to: &str) -> Reply {
    app.patch(
        &format!("/api/v1/intents/{id}"),
        Some(token),
        &json!({"status": to, "note": format!("→ {to}")}),
    )
    .await
}

/// An intent of a fresh student, brought to `state` through legal moves.
async fn intent_in(app: &TestApp, s: &Setup, state: &str) -> String {
    let student = app.student("master", 2027).await;
    let start = match state {
        "onboarded" | "withdrawn" => "signed",
        "declined" => "offered",
        other => other,
    };
    let created = intent(
        app,
        &s.organiser,
        json!({"candidate_id": student.id, "employer_id": s.employer, "status": start}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let id = created.body["id"].as_str().unwrap().to_owned();
    if start != state {
        let moved = transition(app, &s.recruiter, &id, state).await;
        assert_eq!(moved.status, StatusCode::OK, "{}", moved.body);
    }
    id
}

#[actix_web::test]
async fn every_move_of_the_state_machine_over_http() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    for from in STATES {
        for to in STATES {
            let id = intent_in(&app, &s, from).await;
            let reply = transition(&app, &s.recruiter, &id, to).await;
            if LEGAL.contains(&(from, to)) {
                assert_eq!(
                    reply.status,
                    StatusCode::OK,
                    "{from} -> {to}: {}",
                    reply.body
                );
                assert_eq!(reply.body["status"], to);
            } else {
                reply.assert_problem(409, "invalid_transition");
                let unchanged = app
                    .get(&format!("/api/v1/intents/{id}"), Some(&s.organiser))
                    .await;
                assert_eq!(unchanged.body["status"], from, "{from} -> {to}");
            }
        }
    }
}

#[actix_web::test]
async fn an_intent_from_the_door_to_signing_with_its_history() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let event = app
        .published_event(&s.organiser, json!({"employer_ids": [s.employer]}))
        .await;
    let student = app.student("phd", 2026).await;
    let reg = app.register(&event, &student.token).await;
    let code = app.ticket_of(reg.body["id"].as_str().unwrap()).await;
    let checkin = app
        .post(
            &format!("/api/v1/events/{event}/checkins"),
            Some(&s.recruiter),
            &json!({"ticket_code": code}),
        )
        .await;
    let checkin_id = checkin.body["checkin"]["id"].as_str().unwrap().to_owned();

    let created = intent(
        &app,
        &s.recruiter,
        json!({"candidate_id": student.id, "position_id": s.position, "checkin_id": checkin_id,
               "note": "宣讲会后面谈，意向强烈"}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["status"], "interested");
    assert_eq!(created.body["event"]["id"], event.as_str());
    assert_eq!(created.body["talent_category"], "high_level");
    assert_eq!(created.body["employer"]["name"], "鄂尔多斯市能源集团");
    assert_eq!(created.body["candidate"]["degree"], "phd");
    let id = created.body["id"].as_str().unwrap().to_owned();

    let dup = intent(
        &app,
        &s.organiser,
        json!({"candidate_id": student.id, "employer_id": s.employer, "position_id": s.position}),
    )
    .await;
    dup.assert_problem(409, "intent_exists");
    assert_eq!(dup.body["existing"]["id"], id.as_str());

    for to in ["interviewing", "offered", "signed"] {
        let reply = transition(&app, &s.recruiter, &id, to).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let mail = app.sink.wait_for_subject(&student.email, "签约").await;
    let text = mail.text();
    assert!(
        text.contains("煤化工工艺工程师") && text.contains("人才公寓、安家补贴"),
        "{text}"
    );
    let onboarded = transition(&app, &s.organiser, &id, "onboarded").await;
    assert_eq!(onboarded.status, StatusCode::OK);
    assert!(onboarded.body["signed_at"].is_string());
    assert!(onboarded.body["closed_at"].is_string());

    let read = app
        .get(&format!("/api/v1/intents/{id}"), Some(&s.organiser))
        .await;
    let history = read.body["history"].as_array().unwrap();
    let moves: Vec<(Value, Value)> = history
        .iter()
        .map(|h| (h["from"].clone(), h["to"].clone()))
        .collect();
    assert_eq!(
        moves,
        [
            (json!(null), json!("interested")),
            (json!("interested"), json!("interviewing")),
            (json!("interviewing"), json!("offered")),
            (json!("offered"), json!("signed")),
            (json!("signed"), json!("onboarded")),
        ]
    );
    assert_eq!(history[0]["note"], "宣讲会后面谈，意向强烈");
    assert_eq!(history[0]["actor"]["full_name"], "王芳");
    assert!(history[4]["at"].is_string());

    // Who may see and do what.
    let mine = app.get("/api/v1/me/intents", Some(&student.token)).await;
    assert_eq!(mine.body["items"][0]["id"], id.as_str());
    assert_eq!(
        app.get(&format!("/api/v1/intents/{id}"), Some(&student.token))
            .await
            .status,
        StatusCode::OK
    );
    transition(&app, &student.token, &id, "withdrawn")
        .await
        .assert_problem(403, "forbidden");
    app.get(&format!("/api/v1/intents/{id}"), Some(&s.outsider))
        .await
        .assert_problem(404, "not_found");
    transition(&app, &s.outsider, &id, "withdrawn")
        .await
        .assert_problem(404, "not_found");
    let stranger = app.student("phd", 2026).await;
    app.get(&format!("/api/v1/intents/{id}"), Some(&stranger.token))
        .await
        .assert_problem(404, "not_found");
    // The candidate reads its intent, not the employer's working notes.
    let own = app
        .get(&format!("/api/v1/intents/{id}"), Some(&student.token))
        .await;
    assert_eq!(own.body["note"], "");
    assert!(
        own.body["history"]
            .as_array()
            .unwrap()
            .iter()
            .all(|h| h["note"] == "")
    );
    // A recruiter records intents only of students it has met.
    let reply = intent(&app, &s.recruiter, json!({"candidate_id": stranger.id})).await;
    assert_eq!(reply.error_fields(), ["candidate_id"], "{}", reply.body);
    assert_eq!(reply.body["errors"][0]["code"], "not_met");
    intent(&app, &stranger.token, json!({"candidate_id": stranger.id}))
        .await
        .assert_problem(403, "forbidden");
    intent(
        &app,
        &s.recruiter,
        json!({"candidate_id": student.id, "employer_id": s.other_employer}),
    )
    .await
    .assert_problem(403, "forbidden");
    let listed = app.get("/api/v1/intents", Some(&s.outsider)).await;
    assert_eq!(listed.body["items"], json!([]));
    let listed = app.get("/api/v1/intents", Some(&s.recruiter)).await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);

    // Bad references name their field and write nothing.
    let reply = intent(
        &app,
        &s.recruiter,
        json!({"candidate_id": s.employer, "position_id": "0190b6a0-0000-7000-8000-000000000000",
               "status": "onboarded"}),
    )
    .await;
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(
        fields,
        ["candidate_id", "position_id", "status"],
        "{}",
        reply.body
    );
    let other_event = app.published_event(&s.organiser, json!({})).await;
    let reply = intent(
        &app,
        &s.recruiter,
        json!({"candidate_id": student.id, "event_id": other_event}),
    )
    .await;
    assert_eq!(reply.error_fields(), ["event_id"]);
    assert_eq!(app.count("intents").await, 1);

    // Closed, the same pair may start again.
    let again = intent(
        &app,
        &s.recruiter,
        json!({"candidate_id": student.id, "position_id": s.position}),
    )
    .await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    let stats = app
        .get(&format!("/api/v1/events/{event}/stats"), Some(&s.organiser))
        .await;
    assert_eq!(stats.body["intents"], json!({"onboarded": 1}));
}

/// An intent to seed: student index, who records it, another employer than
/// the recruiter's, with the position or not, event, final state.
type Planned<'a> = (usize, &'a str, Option<&'a str>, bool, &'a str, &'a str);

/// A small campaign whose figures are counted by hand below.
struct Seeded {
    organiser: String,
    campaign: String,
    event_a: String,
    event_b: String,
}

async fn seed(app: &TestApp, s: &Setup) -> (Seeded, Vec<Student>) {
    let campaign = app
        .post(
            "/api/v1/campaigns",
            Some(&s.organiser),
            &json!({"name": "名校引才专项行动", "year": 2026, "starts_on": "2026-09-01", "ends_on": "2027-06-30"}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let both = json!([s.employer, s.other_employer]);
    let event_a = app
        .published_event(
            &s.organiser,
            json!({"campaign_id": campaign, "employer_ids": both, "title": "北大专场"}),
        )
        .await;
    let event_b = app
        .published_event(
            &s.organiser,
            json!({"campaign_id": campaign, "employer_ids": both, "title": "清华专场"}),
        )
        .await;
    let outside = app
        .published_event(
            &s.organiser,
            json!({"employer_ids": both, "title": "校外专场"}),
        )
        .await;
    // Students: 0 and 1 at 北京大学, 2 at 清华大学 (phd), 3 at 浙江大学.
    let students = vec![
        app.student_at("北京大学", "master", 2026).await,
        app.student_at("北京大学", "bachelor", 2026).await,
        app.student_at("清华大学", "phd", 2026).await,
        app.student_at("浙江大学", "master", 2027).await,
    ];
    for (i, st) in students.iter().enumerate() {
        app.register(&event_a, &st.token).await;
        if i != 3 {
            app.register(&event_b, &st.token).await;
        }
    }
    app.register(&outside, &students[3].token).await;
    let (org, rec) = (&s.organiser, &s.recruiter);
    let other = s.other_employer.as_str();
    // (student, token, employer, position, event, final state)
    let plan: Vec<Planned> = vec![
        (0, rec, None, true, &event_a, "signed"),
        (0, org, Some(other), false, &event_b, "interviewing"),
        (1, rec, None, false, &event_a, "onboarded"),
        (2, rec, None, true, &event_b, "withdrawn"),
        (2, org, Some(other), false, &event_b, "signed"),
        (3, rec, None, true, &event_a, "offered"),
        (3, org, Some(other), false, &outside, "signed"),
    ];
    for (who, token, employer, with_position, event, state) in plan {
        let mut body = json!({"candidate_id": students[who].id, "event_id": event});
        if let Some(employer) = employer {
            body["employer_id"] = json!(employer);
        }
        if with_position {
            body["position_id"] = json!(s.position);
        }
        let start = if matches!(state, "onboarded" | "withdrawn") {
            "signed"
        } else {
            state
        };
        body["status"] = json!(start);
        let created = intent(app, token, body).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        if start != state {
            let id = created.body["id"].as_str().unwrap();
            assert_eq!(
                transition(app, token, id, state).await.status,
                StatusCode::OK
            );
        }
    }
    (
        Seeded {
            organiser: s.organiser.clone(),
            campaign,
            event_a,
            event_b,
        },
        students,
    )
}

fn counts(reply: &Reply) -> Vec<(String, i64)> {
    let mut rows: Vec<(String, i64)> = reply.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["label"].as_str().unwrap().to_owned(),
                r["count"].as_i64().unwrap(),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[actix_web::test]
async fn reports_match_hand_counted_figures() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let (d, _students) = seed(&app, &s).await;
    let report = |query: String| {
        let app = &app;
        let token = d.organiser.clone();
        async move {
            app.get(&format!("/api/v1/reports/intents?{query}"), Some(&token))
                .await
        }
    };
    let c = &d.campaign;
    let pku = "北京大学".to_owned();
    let thu = "清华大学".to_owned();

    // Signed now (signed or onboarded), whole platform: student 0 (energy),
    // 1 (onboarded, energy), 2 (other employer), 3 (other employer, outside).
    let r = report("group_by=university&status=signed".into()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        counts(&r),
        [(pku.clone(), 2), ("浙江大学".into(), 1), (thu.clone(), 1)]
    );
    assert_eq!(r.body["total"], 4);

    // Within the campaign the outside event's signing drops out.
    let r = report(format!("group_by=university&status=signed&campaign_id={c}")).await;
    assert_eq!(counts(&r), [(pku.clone(), 2), (thu.clone(), 1)]);
    assert_eq!(r.body["total"], 3);

    let r = report(format!("group_by=employer&status=signed&campaign_id={c}")).await;
    assert_eq!(
        counts(&r),
        [("伊泰集团".into(), 1), ("鄂尔多斯市能源集团".into(), 2)]
    );

    let r = report(format!("group_by=degree&status=signed&campaign_id={c}")).await;
    assert_eq!(
        counts(&r),
        [
            ("bachelor".into(), 1),
            ("master".into(), 1),
            ("phd".into(), 1)
        ]
    );

    let r = report(format!("group_by=talent_category&campaign_id={c}")).await;
    // With a position: high_level (3); without: other (3).
    assert_eq!(counts(&r), [("high_level".into(), 3), ("other".into(), 3)]);
    assert_eq!(r.body["total"], 6);

    let r = report(format!("group_by=event&campaign_id={c}")).await;
    assert_eq!(counts(&r), [("北大专场".into(), 3), ("清华专场".into(), 3)]);
    let b = r.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|row| row["label"] == "清华专场")
        .unwrap();
    assert_eq!(
        b["by_status"],
        json!({"interviewing": 1, "signed": 1, "withdrawn": 1})
    );

    // Student 0 signed late on 31 May UTC, already 1 June in Beijing.
    {
        use nuancheng::entities::intents::{self, IntentStatus};
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        let late: chrono::DateTime<chrono::Utc> = "2026-05-31T20:00:00Z".parse().unwrap();
        let event_a: uuid::Uuid = d.event_a.parse().unwrap();
        let moved = intents::Entity::update_many()
            .col_expr(intents::Column::SignedAt, Expr::value(Some(late)))
            .filter(intents::Column::EventId.eq(event_a))
            .filter(intents::Column::Status.eq(IntentStatus::Signed))
            .exec(app.db())
            .await
            .unwrap();
        assert_eq!(moved.rows_affected, 1);
    }
    let r = report(format!(
        "group_by=month&status=signed&event_id={}",
        d.event_a
    ))
    .await;
    // Signed (or onboarded since) at event A: students 0 and 1, each in the
    // Beijing month of its signing, whatever today's date.
    let listed = app
        .get(
            &format!("/api/v1/intents?event_id={}&limit=200", d.event_a),
            Some(&d.organiser),
        )
        .await;
    let beijing = chrono::FixedOffset::east_opt(8 * 3600).unwrap();
    let mut months: std::collections::BTreeMap<String, i64> = Default::default();
    for item in listed.body["items"].as_array().unwrap() {
        if matches!(item["status"].as_str(), Some("signed" | "onboarded")) {
            let at: chrono::DateTime<chrono::FixedOffset> =
                item["signed_at"].as_str().unwrap().parse().unwrap();
            let month = at.with_timezone(&beijing).format("%Y-%m").to_string();
            *months.entry(month).or_default() += 1;
        }
    }
    assert_eq!(months.values().sum::<i64>(), 2, "{}", listed.body);
    assert!(months.contains_key("2026-06"), "{months:?}");
    assert_eq!(counts(&r), months.into_iter().collect::<Vec<_>>());

    let r = report("group_by=employer&status=withdrawn".into()).await;
    assert_eq!(counts(&r), [("鄂尔多斯市能源集团".into(), 1)]);

    // Funnel for the campaign, distinct candidates: all four registered
    // (student 3 only at event A) and nobody checked in; 0, 1, 2 and 3 have
    // intents from its events; offered or later now: 0 (signed), 1
    // (onboarded), 2 (signed with the other employer), 3 (offered);
    // signed: 0, 1, 2; onboarded: 1.
    let f = app
        .get(
            &format!("/api/v1/reports/funnel?campaign_id={c}"),
            Some(&d.organiser),
        )
        .await;
    assert_eq!(
        f.body,
        json!({"registered": 4, "confirmed": 4, "checked_in": 0, "intents": 4,
               "offered": 4, "signed": 3, "onboarded": 1})
    );
    let f = app
        .get(
            &format!("/api/v1/reports/funnel?event_id={}", d.event_b),
            Some(&d.organiser),
        )
        .await;
    assert_eq!(
        f.body,
        json!({"registered": 3, "confirmed": 3, "checked_in": 0, "intents": 2,
               "offered": 1, "signed": 1, "onboarded": 0})
    );

    // The list takes the same scope: 北京大学's students in the campaign
    // have three intents (student 0 two, student 1 one).
    let pku_encoded: String = "北京大学".bytes().map(|b| format!("%{b:02X}")).collect();
    let listed = app
        .get(
            &format!("/api/v1/intents?campaign_id={c}&university={pku_encoded}"),
            Some(&d.organiser),
        )
        .await;
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        3,
        "{}",
        listed.body
    );

    // Files for the spreadsheets.
    let csv = app
        .client
        .get(app.url(&format!(
            "/api/v1/reports/intents?group_by=university&status=signed&campaign_id={c}&format=csv"
        )))
        .bearer_auth(&d.organiser)
        .send()
        .await;
    let bytes = csv.unwrap().body().await.unwrap();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(
        text.starts_with("\u{feff}university,count,interested"),
        "{text}"
    );
    assert!(text.contains("北京大学,2,0,0,0,1,1,0,0\r\n"), "{text}");
    assert!(text.contains("合计 total,3,"), "{text}");
    let xlsx = app
        .client
        .get(app.url("/api/v1/intents"))
        .bearer_auth(&d.organiser)
        .insert_header((
            "Accept",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        ))
        .send()
        .await;
    let mut xlsx = xlsx.unwrap();
    assert!(
        xlsx.headers()
            .get("content-disposition")
            .unwrap()
            .to_str()
            .unwrap()
            .contains("intents.xlsx")
    );
    let bytes = xlsx.body().await.unwrap();
    assert_eq!(&bytes[..4], b"PK\x03\x04");
    assert!(String::from_utf8_lossy(&bytes).contains("煤化工工艺工程师"));

    // Reports are for organisers.
    app.get("/api/v1/reports/intents?group_by=event", Some(&s.recruiter))
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/reports/funnel", Some(&s.recruiter))
        .await
        .assert_problem(403, "forbidden");
    app.get(
        "/api/v1/reports/intents?group_by=event&format=pdf",
        Some(&d.organiser),
    )
    .await
    .assert_problem(400, "invalid_format");
    app.get(
        "/api/v1/reports/intents?group_by=galaxy",
        Some(&d.organiser),
    )
    .await
    .assert_problem(400, "invalid_query");
}

#[actix_web::test]
async fn referrals_count_who_came_and_who_signed() {
    let app = spawn_app().await;
    let s = setup(&app).await;
    let (referrer_token, referrer) = app.candidate("laozhang@pku.edu.cn").await;
    let code = referrer["user"]["referral_code"]
        .as_str()
        .unwrap()
        .to_owned();
    // One signs up with the code, one registers with it.
    let mut body = crate::helpers::signup_body("xiaoli@pku.edu.cn");
    body["referral_code"] = json!(code);
    let signed_up = app.signup(&body).await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
    let friend_id = signed_up.body["user"]["id"].as_str().unwrap().to_owned();
    let event = app
        .published_event(&s.organiser, json!({"employer_ids": [s.employer]}))
        .await;
    let other = app.student("master", 2027).await;
    let reply = app
        .post(
            &format!("/api/v1/events/{event}/registrations"),
            Some(&other.token),
            &json!({"referral_code": code.to_lowercase()}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    // The friend signs with the employer.
    let created = intent(
        &app,
        &s.organiser,
        json!({"candidate_id": friend_id, "employer_id": s.employer, "status": "signed"}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);

    let mine = app.get("/api/v1/me/referral", Some(&referrer_token)).await;
    assert_eq!(
        mine.body,
        json!({"code": code, "signups_referred": 1, "registrations_referred": 1, "intents_signed_referred": 1})
    );
    let report = app
        .get("/api/v1/reports/referrals", Some(&s.organiser))
        .await;
    assert_eq!(report.body["rows"][0]["full_name"], "李雷");
    assert_eq!(report.body["rows"][0]["signed"], 1);
    assert_eq!(report.body["rows"][0]["signups"], 1);
    assert_eq!(report.body["rows"][0]["registrations"], 1);
    app.get("/api/v1/reports/referrals", Some(&referrer_token))
        .await
        .assert_problem(403, "forbidden");
}
