//! A student's rights over their data: the export of everything held about
//! them, erasure with `DELETE /me`, and retention, which erases the
//! inactive and trims old mail; the campaign's figures never change.

use std::collections::BTreeMap;

use awc::http::StatusCode;
use chrono::{DateTime, TimeDelta, Utc};
use nuancheng::{
    entities::{
        audit_log, audit_subjects, checkins, idempotency_keys, intents, notifications,
        refresh_tokens, registrations, users,
    },
    privacy::retention,
};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set, sea_query::Expr};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{CREDIT_CODES, PASSWORD, TestApp, signup_body, spawn_app, spawn_app_with};

/// A student who signed up with a password, with what identifies them.
struct Person {
    id: String,
    email: String,
    name: String,
    phone: String,
    token: String,
    referral_code: String,
    registration: String,
    checkin: String,
    intent: String,
}

/// An event with one employer, its recruiter, and the organiser.
struct Fair {
    organiser: String,
    recruiter: String,
    recruiter_email: String,
    event: String,
}

async fn fair(app: &TestApp) -> Fair {
    let organiser = app.organiser().await;
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;
    let (recruiter, body) = app.invited(&organiser, "recruiter", Some(&employer)).await;
    let event = app
        .published_event(&organiser, json!({"employer_ids": [employer]}))
        .await;
    Fair {
        organiser,
        recruiter,
        recruiter_email: body["user"]["email"].as_str().unwrap().to_owned(),
        event,
    }
}

/// Signs up, registers, is admitted at the door and signs an intent whose
/// notes name them, as the recruiter writes them.
async fn person(
    app: &TestApp,
    fair: &Fair,
    name: &str,
    phone: &str,
    referral: Option<&str>,
) -> Person {
    let email = format!("{}@pku.edu.cn", Uuid::new_v4().simple());
    let mut body = signup_body(&email);
    body["full_name"] = json!(name);
    body["phone"] = json!(phone);
    if let Some(code) = referral {
        body["referral_code"] = json!(code);
    }
    let signed_up = app.signup(&body).await;
    assert_eq!(signed_up.status, StatusCode::CREATED, "{}", signed_up.body);
    let token = signed_up.body["access_token"].as_str().unwrap().to_owned();
    let user = &signed_up.body["user"];
    let registered = app.register(&fair.event, &token).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let registration = registered.body["id"].as_str().unwrap().to_owned();
    let code = app.ticket_of(&registration).await;
    let scanned = app
        .post(
            &format!("/api/v1/events/{}/checkins", fair.event),
            Some(&fair.recruiter),
            &json!({"ticket_code": code}),
        )
        .await;
    assert_eq!(scanned.status, StatusCode::CREATED, "{}", scanned.body);
    let checkin = scanned.body["checkin"]["id"].as_str().unwrap().to_owned();
    let created = app
        .post(
            "/api/v1/intents",
            Some(&fair.recruiter),
            &json!({"candidate_id": user["id"], "checkin_id": checkin,
                    "note": format!("{name}，电话{phone}，化工背景扎实")}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let intent = created.body["id"].as_str().unwrap().to_owned();
    let signed = app
        .patch(
            &format!("/api/v1/intents/{intent}"),
            Some(&fair.recruiter),
            &json!({"status": "signed", "note": format!("{name}已签约")}),
        )
        .await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    Person {
        id: user["id"].as_str().unwrap().to_owned(),
        email,
        name: name.to_owned(),
        phone: phone.to_owned(),
        token,
        referral_code: user["referral_code"].as_str().unwrap().to_owned(),
        registration,
        checkin,
        intent,
    }
}

/// Waits until the worker has sent every queued email.
async fn mail_settled(app: &TestApp) {
    for _ in 0..400 {
        let pending = app
            .scalar("SELECT COUNT(*) FROM notifications WHERE status = 'pending'")
            .await;
        if pending == 0 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("emails still pending after 20 s");
}

/// An email to `to` that the worker will not pick up for a day.
async fn queued_mail(app: &TestApp, to: &str) -> Uuid {
    let id = Uuid::now_v7();
    let now = nuancheng::db::now();
    notifications::ActiveModel {
        id: Set(id),
        kind: Set("event_changed".into()),
        to_email: Set(to.into()),
        subject: Set("活动信息变更".into()),
        text_body: Set("您好，活动时间有变".into()),
        html_body: Set("<p>您好，活动时间有变</p>".into()),
        attachments: Set(None),
        status: Set(notifications::NotificationStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now + TimeDelta::days(1)),
        locked_until: Set(None),
        lease_token: Set(None),
        last_error: Set(None),
        list_unsubscribe: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
    }
    .insert(app.db())
    .await
    .expect("queue a mail");
    id
}

/// Every figure the reports give, for comparing before and after. Referral
/// rows are keyed by referrer, without the name an erasure replaces.
async fn figures(app: &TestApp, organiser: &str, event: &str) -> BTreeMap<String, Value> {
    let mut paths = vec![
        "/api/v1/reports/funnel".to_owned(),
        format!("/api/v1/reports/funnel?event_id={event}"),
    ];
    for group in [
        "event",
        "university",
        "employer",
        "degree",
        "talent_category",
        "month",
    ] {
        paths.push(format!("/api/v1/reports/intents?group_by={group}"));
        paths.push(format!(
            "/api/v1/reports/intents?group_by={group}&status=signed"
        ));
    }
    let mut out = BTreeMap::new();
    for path in paths {
        let reply = app.get(&path, Some(organiser)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        out.insert(path, reply.body);
    }
    let referrals = app.get("/api/v1/reports/referrals", Some(organiser)).await;
    assert_eq!(referrals.status, StatusCode::OK, "{}", referrals.body);
    let mut rows: Vec<Value> = referrals.body["rows"].as_array().unwrap().clone();
    for row in &mut rows {
        row.as_object_mut().unwrap().remove("full_name");
    }
    rows.sort_by_key(|r| r["referrer_id"].as_str().unwrap().to_owned());
    out.insert("referrals".into(), Value::Array(rows));
    out
}

fn uuid(id: &str) -> Uuid {
    id.parse().expect("a uuid")
}

async fn user(app: &TestApp, id: &str) -> users::Model {
    users::Entity::find_by_id(uuid(id))
        .one(app.db())
        .await
        .unwrap()
        .expect("the user row stays")
}

#[actix_web::test]
async fn an_export_holds_the_students_data_and_nobody_elses() {
    let app = spawn_app().await;
    let fair = fair(&app).await;
    let lei = person(&app, &fair, "李雷", "13811112222", None).await;
    let mei = person(&app, &fair, "韩梅梅", "13933334444", None).await;
    mail_settled(&app).await;

    app.get("/api/v1/me/export", None)
        .await
        .assert_problem(401, "missing_token");
    app.get("/api/v1/me/export", Some("not-a-token"))
        .await
        .assert_problem(401, "invalid_token");

    let reply = app.get("/api/v1/me/export", Some(&lei.token)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json")),
        "{:?}",
        reply.header("content-type")
    );
    assert!(
        reply
            .header("content-disposition")
            .is_some_and(|c| c.starts_with("attachment")),
        "{:?}",
        reply.header("content-disposition")
    );
    let export = &reply.body;
    assert_eq!(export["profile"]["id"], lei.id);
    assert_eq!(export["profile"]["email"], lei.email);
    assert_eq!(export["profile"]["full_name"], lei.name);
    assert_eq!(export["profile"]["phone"], lei.phone);
    assert_eq!(export["profile"]["university"], "北京大学");
    assert_eq!(export["profile"]["has_password"], true);
    assert!(export["consents"].is_object(), "{export}");
    let regs = export["registrations"].as_array().unwrap();
    assert_eq!(regs.len(), 1, "{export}");
    assert_eq!(regs[0]["id"], lei.registration);
    assert_eq!(
        regs[0]["event_title"],
        "鄂尔多斯市名校引才专项行动·北京大学专场宣讲会"
    );
    let arrivals = export["checkins"].as_array().unwrap();
    assert_eq!(arrivals.len(), 1, "{export}");
    assert_eq!(arrivals[0]["id"], lei.checkin);
    let pipeline = export["intents"].as_array().unwrap();
    assert_eq!(pipeline.len(), 1, "{export}");
    assert_eq!(pipeline[0]["id"], lei.intent);
    assert_eq!(pipeline[0]["status"], "signed");
    assert_eq!(pipeline[0]["employer"], "鄂尔多斯市能源集团");
    let history = pipeline[0]["history"].as_array().unwrap();
    assert_eq!(history.len(), 2, "{export}");
    assert_eq!(history[1]["to"], "signed");
    assert_eq!(history[1]["by"], "王芳", "staff are named");
    let emails = export["emails"].as_array().unwrap();
    let kinds: Vec<&str> = emails.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.len() >= 3,
        "signup, registration and signing: {kinds:?}"
    );
    assert!(
        emails
            .iter()
            .all(|e| e["status"] == "sent" && e["text_body"].is_string()),
        "{emails:?}"
    );

    // Nothing of the other student, and no staff member's contact details.
    let text = export.to_string();
    for (what, value) in [
        ("the other's id", &mei.id),
        ("the other's email", &mei.email),
        ("the other's name", &mei.name),
        ("the other's phone", &mei.phone),
        ("the other's registration", &mei.registration),
        ("the other's check-in", &mei.checkin),
        ("the other's intent", &mei.intent),
        ("the other's referral code", &mei.referral_code),
        ("the recruiter's email", &fair.recruiter_email),
    ] {
        assert!(
            !text.contains(value.as_str()),
            "{what} ({value}) is in {text}"
        );
    }

    // Staff may export what is held about them too; it is theirs alone.
    let staff = app.get("/api/v1/me/export", Some(&fair.recruiter)).await;
    assert_eq!(staff.status, StatusCode::OK, "{}", staff.body);
    assert_eq!(staff.body["profile"]["email"], fair.recruiter_email);
    assert_eq!(staff.body["intents"], json!([]));
    assert!(!staff.body.to_string().contains(&lei.email));
}

#[actix_web::test]
async fn deleting_me_is_refused_without_the_right_caller_or_password() {
    let app = spawn_app().await;
    let fair = fair(&app).await;
    let lei = person(&app, &fair, "李雷", "13811112222", None).await;
    let admin = app.admin().await;

    app.send("DELETE", "/api/v1/me", None, &json!({"password": PASSWORD}))
        .await
        .assert_problem(401, "missing_token");
    for (who, token) in [
        ("recruiter", &fair.recruiter),
        ("organiser", &fair.organiser),
        ("admin", &admin),
    ] {
        let reply = app
            .send(
                "DELETE",
                "/api/v1/me",
                Some(token),
                &json!({"password": PASSWORD}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{who}: {}", reply.body);
        reply.assert_problem(403, "staff_cannot_self_erase");
    }
    // A staff member is told so before anything about the body.
    app.send("DELETE", "/api/v1/me", Some(&fair.recruiter), &json!({}))
        .await
        .assert_problem(403, "staff_cannot_self_erase");

    for (case, body, code, field) in [
        ("no password", json!({}), "required", "password"),
        (
            "empty password",
            json!({"password": ""}),
            "required",
            "password",
        ),
        (
            "a number",
            json!({"password": 12345678}),
            "invalid_type",
            "password",
        ),
    ] {
        let reply = app
            .send("DELETE", "/api/v1/me", Some(&lei.token), &body)
            .await;
        assert_eq!(reply.status.as_u16(), 422, "{case}: {}", reply.body);
        reply.assert_problem(422, "validation_failed");
        assert_eq!(reply.error_fields(), vec![field], "{case}");
        assert_eq!(
            reply.body["errors"][0]["code"], code,
            "{case}: {}",
            reply.body
        );
    }
    app.send(
        "DELETE",
        "/api/v1/me",
        Some(&lei.token),
        &json!({"password": "not-my-password"}),
    )
    .await
    .assert_problem(422, "wrong_password");

    // Nothing changed: the account works and holds what it held.
    let me = app.get("/api/v1/me", Some(&lei.token)).await;
    assert_eq!(me.status, StatusCode::OK, "{}", me.body);
    assert_eq!(me.body["full_name"], lei.name);
    assert_eq!(me.body["email"], lei.email);
    assert_eq!(app.login(&lei.email, PASSWORD).await.status, StatusCode::OK);
    assert!(user(&app, &lei.id).await.anonymised_at.is_none());

    // An account made without a password (a walk-in) sets one first.
    let walk_in = app.student("master", 2027).await;
    app.send(
        "DELETE",
        "/api/v1/me",
        Some(&walk_in.token),
        &json!({"password": PASSWORD}),
    )
    .await
    .assert_problem(409, "password_required");
    assert!(user(&app, &walk_in.id).await.anonymised_at.is_none());
}

#[actix_web::test]
async fn deleting_me_erases_the_identity_and_keeps_every_figure() {
    let app = spawn_app().await;
    let fair = fair(&app).await;
    let referrer = person(&app, &fair, "张伟", "13700001111", None).await;
    let lei = person(
        &app,
        &fair,
        "李雷",
        "13811112222",
        Some(&referrer.referral_code),
    )
    .await;
    let mei = person(
        &app,
        &fair,
        "韩梅梅",
        "13933334444",
        Some(&lei.referral_code),
    )
    .await;
    mail_settled(&app).await;
    let queued = queued_mail(&app, &lei.email).await;
    let admin = app.admin().await;
    let before = figures(&app, &fair.organiser, &fair.event).await;

    let reply = app
        .send(
            "DELETE",
            "/api/v1/me",
            Some(&lei.token),
            &json!({"password": PASSWORD}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);

    // The old token, the password and the address open nothing.
    app.get("/api/v1/me", Some(&lei.token))
        .await
        .assert_problem(401, "account_disabled");
    app.send(
        "DELETE",
        "/api/v1/me",
        Some(&lei.token),
        &json!({"password": PASSWORD}),
    )
    .await
    .assert_problem(401, "account_disabled");
    app.login(&lei.email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");

    // The row keeps what the figures count, and nothing that names her.
    let row = user(&app, &lei.id).await;
    assert_eq!(row.full_name, "已注销用户");
    assert!(row.email.ends_with("@erased.invalid"), "{}", row.email);
    assert_eq!(row.phone, None);
    assert_eq!(row.password_hash, None);
    assert_eq!(row.major, None);
    assert_eq!(row.contact_sharing_at, None);
    assert_ne!(row.referral_code, lei.referral_code);
    assert!(row.anonymised_at.is_some() && row.disabled_at.is_some());
    assert_eq!(row.university.as_deref(), Some("北京大学"));
    assert!(row.degree.is_some() && row.graduation_year == Some(2027));
    let sessions = refresh_tokens::Entity::find()
        .filter(refresh_tokens::Column::UserId.eq(uuid(&lei.id)))
        .all(app.db())
        .await
        .unwrap();
    assert!(sessions.is_empty(), "sessions ended: {sessions:?}");

    // Mail: the queued one is gone, the sent ones keep no text.
    assert!(
        notifications::Entity::find_by_id(queued)
            .one(app.db())
            .await
            .unwrap()
            .is_none()
    );
    let kept = notifications::Entity::find()
        .filter(notifications::Column::ToEmail.eq(row.email.clone()))
        .all(app.db())
        .await
        .unwrap();
    assert!(kept.len() >= 3, "the sent emails' rows stay: {kept:?}");
    assert!(
        kept.iter()
            .all(|n| n.text_body.is_empty() && n.html_body.is_empty() && n.attachments.is_none()),
        "{kept:?}"
    );
    assert_eq!(
        notifications::Entity::find()
            .filter(notifications::Column::ToEmail.eq(lei.email.clone()))
            .all(app.db())
            .await
            .unwrap()
            .len(),
        0
    );

    // Her name, address and phone are nowhere staff look.
    let mut listed = String::new();
    let users = app.get("/api/v1/users?limit=200", Some(&admin)).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.body);
    listed.push_str(&users.body.to_string());
    let regs = app
        .get(
            &format!("/api/v1/events/{}/registrations?limit=200", fair.event),
            Some(&fair.organiser),
        )
        .await;
    assert_eq!(regs.status, StatusCode::OK, "{}", regs.body);
    listed.push_str(&regs.body.to_string());
    let intent = app
        .get(
            &format!("/api/v1/intents/{}", lei.intent),
            Some(&fair.organiser),
        )
        .await;
    assert_eq!(intent.status, StatusCode::OK, "{}", intent.body);
    assert_eq!(intent.body["candidate"]["full_name"], "已注销用户");
    assert_eq!(intent.body["candidate"]["university"], "北京大学");
    assert_eq!(intent.body["status"], "signed");
    listed.push_str(&intent.body.to_string());
    for token in [&mei.token, &referrer.token] {
        listed.push_str(
            &app.get("/api/v1/me/export", Some(token))
                .await
                .body
                .to_string(),
        );
    }
    for (what, value) in [
        ("email", &lei.email),
        ("name", &lei.name),
        ("phone", &lei.phone),
    ] {
        assert!(
            !listed.contains(value.as_str()),
            "her {what} is still shown"
        );
    }
    assert!(listed.contains(&mei.name), "the others are still listed");

    // Nobody can bring the account back.
    for change in [json!({"disabled": false}), json!({"role": "organiser"})] {
        app.patch(&format!("/api/v1/users/{}", lei.id), Some(&admin), &change)
            .await
            .assert_problem(409, "account_erased");
    }

    assert_eq!(
        figures(&app, &fair.organiser, &fair.event).await,
        before,
        "every report gives the same figures"
    );
}

/// Moves every trace of a student's activity `days` into the past.
async fn age(app: &TestApp, id: &str, days: i64) {
    let then: DateTime<Utc> = nuancheng::db::now() - TimeDelta::days(days);
    let id = uuid(id);
    let db = app.db();
    users::Entity::update_many()
        .col_expr(users::Column::CreatedAt, Expr::value(then))
        .col_expr(users::Column::UpdatedAt, Expr::value(then))
        .filter(users::Column::Id.eq(id))
        .exec(db)
        .await
        .unwrap();
    registrations::Entity::update_many()
        .col_expr(registrations::Column::CreatedAt, Expr::value(then))
        .col_expr(registrations::Column::UpdatedAt, Expr::value(then))
        .filter(registrations::Column::UserId.eq(id))
        .exec(db)
        .await
        .unwrap();
    checkins::Entity::update_many()
        .col_expr(checkins::Column::CreatedAt, Expr::value(then))
        .filter(checkins::Column::UserId.eq(id))
        .exec(db)
        .await
        .unwrap();
    intents::Entity::update_many()
        .col_expr(intents::Column::UpdatedAt, Expr::value(then))
        .filter(intents::Column::CandidateId.eq(id))
        .exec(db)
        .await
        .unwrap();
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::CreatedAt, Expr::value(then))
        .filter(refresh_tokens::Column::UserId.eq(id))
        .exec(db)
        .await
        .unwrap();
}

/// Marks one email to `to` as sent `days` ago; gives its id.
async fn sent_long_ago(app: &TestApp, to: &str, days: i64) -> Uuid {
    let mail = notifications::Entity::find()
        .filter(notifications::Column::ToEmail.eq(to))
        .one(app.db())
        .await
        .unwrap()
        .expect("an email");
    let then = nuancheng::db::now() - TimeDelta::days(days);
    notifications::Entity::update_many()
        .col_expr(notifications::Column::SentAt, Expr::value(Some(then)))
        .filter(notifications::Column::Id.eq(mail.id))
        .exec(app.db())
        .await
        .unwrap();
    mail.id
}

async fn mail(app: &TestApp, id: Uuid) -> notifications::Model {
    notifications::Entity::find_by_id(id)
        .one(app.db())
        .await
        .unwrap()
        .expect("the row stays")
}

#[actix_web::test]
async fn retention_erases_the_inactive_trims_old_mail_and_keeps_every_figure() {
    let app = spawn_app().await;
    let privacy = app.state.settings.privacy.clone();
    let fair = fair(&app).await;
    let gone = person(&app, &fair, "李雷", "13811112222", None).await;
    let active = person(&app, &fair, "韩梅梅", "13933334444", None).await;
    mail_settled(&app).await;
    age(&app, &gone.id, privacy.retention_days + 1).await;
    // Staff are never erased by retention, however long they stay away.
    let recruiter_id = app.get("/api/v1/me", Some(&fair.recruiter)).await.body["id"]
        .as_str()
        .unwrap()
        .to_owned();
    age(&app, &recruiter_id, privacy.retention_days + 1).await;
    // Active a day inside the window: signed in then, nothing since.
    age(&app, &active.id, privacy.retention_days - 1).await;
    let old_mail = sent_long_ago(&app, &active.email, privacy.outbox_body_days + 1).await;
    let new_mail = sent_long_ago(&app, &fair.recruiter_email, privacy.outbox_body_days - 1).await;
    let old_key = Uuid::now_v7();
    idempotency_keys::ActiveModel {
        id: Set(old_key),
        scope: Set(format!("registration:{}:x", active.id)),
        key: Set("k".into()),
        request_hash: Set("h".into()),
        response_status: Set(Some(201)),
        response_body: Set(Some("{}".into())),
        created_at: Set(nuancheng::db::now() - TimeDelta::days(2)),
    }
    .insert(app.db())
    .await
    .unwrap();
    let before = figures(&app, &fair.organiser, &fair.event).await;
    let audit_rows = app.count("audit_log").await;

    let planned = retention::run(app.db(), &privacy, true).await.unwrap();
    assert!(planned.dry_run);
    assert_eq!(planned.students_anonymised, 1, "{planned:?}");
    assert_eq!(planned.email_bodies_deleted, 1, "{planned:?}");
    assert_eq!(planned.idempotency_keys_deleted, 1, "{planned:?}");
    // The dry run changed nothing and recorded nothing.
    assert!(user(&app, &gone.id).await.anonymised_at.is_none());
    assert!(!mail(&app, old_mail).await.text_body.is_empty());
    assert_eq!(app.count("idempotency_keys").await, 1);
    assert_eq!(app.count("audit_log").await, audit_rows);

    let done = retention::run(app.db(), &privacy, false).await.unwrap();
    assert_eq!(
        (
            done.students_anonymised,
            done.email_bodies_deleted,
            done.idempotency_keys_deleted
        ),
        (1, 1, 1),
        "{done:?}"
    );
    // One audit row says what was done and whom it erased.
    assert_eq!(app.count("audit_log").await, audit_rows + 1);
    let rows = audit_log::Entity::find()
        .filter(audit_log::Column::Action.eq("retention"))
        .all(app.db())
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].kind, "system");
    assert_eq!(rows[0].actor_id, None);
    let detail: Value = serde_json::from_str(rows[0].detail.as_deref().unwrap()).unwrap();
    assert_eq!(detail["students_anonymised"], 1, "{detail}");
    assert_eq!(detail["email_bodies_deleted"], 1, "{detail}");
    let subjects: Vec<Uuid> = audit_subjects::Entity::find()
        .filter(audit_subjects::Column::AuditId.eq(rows[0].id))
        .all(app.db())
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.user_id)
        .collect();
    assert_eq!(subjects, vec![uuid(&gone.id)]);

    let erased = user(&app, &gone.id).await;
    assert_eq!(erased.full_name, "已注销用户");
    assert_eq!(erased.phone, None);
    assert!(erased.anonymised_at.is_some());
    assert!(user(&app, &recruiter_id).await.anonymised_at.is_none());
    let kept = user(&app, &active.id).await;
    assert_eq!(kept.full_name, active.name);
    assert!(kept.anonymised_at.is_none());
    assert_eq!(
        app.login(&active.email, PASSWORD).await.status,
        StatusCode::OK
    );
    app.login(&gone.email, PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    let trimmed = mail(&app, old_mail).await;
    assert!(trimmed.text_body.is_empty() && trimmed.html_body.is_empty());
    assert_eq!(
        trimmed.to_email, active.email,
        "the row keeps its recipient"
    );
    assert!(trimmed.sent_at.is_some());
    assert!(!mail(&app, new_mail).await.text_body.is_empty());
    assert_eq!(app.count("idempotency_keys").await, 0);

    assert_eq!(
        figures(&app, &fair.organiser, &fair.event).await,
        before,
        "every report gives the same figures"
    );
    let again = retention::run(app.db(), &privacy, false).await.unwrap();
    assert_eq!(
        (again.students_anonymised, again.email_bodies_deleted),
        (0, 0),
        "{again:?}"
    );
}

#[actix_web::test]
async fn retention_deletes_spent_tokens_but_remembers_the_last_sign_in() {
    let app = spawn_app().await;
    let privacy = app.state.settings.privacy.clone();
    let (_, body) = app
        .candidate(&format!("{}@pku.edu.cn", Uuid::new_v4().simple()))
        .await;
    let id = uuid(body["user"]["id"].as_str().unwrap());
    let email = body["user"]["email"].as_str().unwrap().to_owned();
    // Two more sign-ins; then every session is long expired.
    app.token_of(&email).await;
    app.token_of(&email).await;
    let long_ago = nuancheng::db::now() - TimeDelta::days(60);
    refresh_tokens::Entity::update_many()
        .col_expr(refresh_tokens::Column::ExpiresAt, Expr::value(long_ago))
        .filter(refresh_tokens::Column::UserId.eq(id))
        .exec(app.db())
        .await
        .unwrap();
    assert_eq!(app.count("refresh_tokens").await, 3);

    let planned = retention::run(app.db(), &privacy, true).await.unwrap();
    assert_eq!(planned.refresh_tokens_deleted, 2, "{planned:?}");
    assert_eq!(app.count("refresh_tokens").await, 3);
    let done = retention::run(app.db(), &privacy, false).await.unwrap();
    assert_eq!(done.refresh_tokens_deleted, 2, "{done:?}");
    let left = refresh_tokens::Entity::find().all(app.db()).await.unwrap();
    assert_eq!(left.len(), 1, "the newest stays as the last sign-in");
    assert_eq!(done.students_anonymised, 0);
}

#[actix_web::test]
async fn the_retention_command_prints_what_it_would_do_and_does_it() {
    let app = spawn_app().await;
    let student = app.student("master", 2027).await;
    age(
        &app,
        &student.id,
        app.state.settings.privacy.retention_days + 30,
    )
    .await;
    let audit_rows = app.count("audit_log").await;
    // The binary runs on a blocking thread: this test's runtime also drives
    // the app's own background tasks, and a write they hold open must be
    // able to finish while the command waits for SQLite's lock.
    let url = app.state.settings.database.url.clone();
    let run = |args: &'static [&'static str]| {
        let url = url.clone();
        async move {
            let out = tokio::task::spawn_blocking(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_nuancheng"))
                    .args(args)
                    .env("NUANCHENG_ENV", "test")
                    .env(
                        "NUANCHENG_CONFIG_DIR",
                        concat!(env!("CARGO_MANIFEST_DIR"), "/config"),
                    )
                    .env("NUANCHENG__DATABASE__URL", url)
                    .env("RUST_LOG", "warn")
                    .output()
                    .expect("the binary runs")
            })
            .await
            .unwrap();
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "{args:?}: {stdout}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            stdout
        }
    };

    let planned = run(&["retention", "--dry-run"]).await;
    assert!(planned.contains("dry run"), "{planned}");
    assert!(planned.contains("to anonymise: 1"), "{planned}");
    assert!(user(&app, &student.id).await.anonymised_at.is_none());
    assert_eq!(app.count("audit_log").await, audit_rows);

    let done = run(&["retention"]).await;
    assert!(done.contains("anonymised: 1"), "{done}");
    assert!(user(&app, &student.id).await.anonymised_at.is_some());
    assert_eq!(
        app.scalar("SELECT COUNT(*) FROM audit_log WHERE action = 'retention'")
            .await,
        1
    );
}

#[actix_web::test]
async fn guessing_the_password_to_erase_is_rate_limited() {
    let app = spawn_app_with(|s| s.rate_limit.auth_per_minute = 2).await;
    let email = format!("{}@pku.edu.cn", Uuid::new_v4().simple());
    let (token, _) = app.candidate(&email).await;
    for attempt in 0..2 {
        let reply = app
            .send(
                "DELETE",
                "/api/v1/me",
                Some(&token),
                &json!({"password": "guess-2026"}),
            )
            .await;
        assert_eq!(
            reply.status.as_u16(),
            422,
            "attempt {attempt}: {}",
            reply.body
        );
    }
    let refused = app
        .send(
            "DELETE",
            "/api/v1/me",
            Some(&token),
            &json!({"password": PASSWORD}),
        )
        .await;
    refused.assert_problem(429, "rate_limited");
    assert!(refused.header("retry-after").is_some());
    assert_eq!(
        app.get("/api/v1/me", Some(&token)).await.status,
        StatusCode::OK
    );
}
