//! Personal data under PIPL: the privacy notice at signup and at the door,
//! contact sharing that recruiters' views obey at once, and the audit trail
//! (one row per write, per read and per export of someone else's data; the
//! student's own access log; rows nobody can change).

use awc::http::StatusCode;
use serde_json::{Value, json};

use crate::{
    checkins::{Door, door, scan, ticket},
    helpers::{Student, TestApp, signup_body, spawn_app},
};

const NOTICE: &str = "2026-11";

/// Audit rows of one kind and action, straight from the database.
async fn rows(app: &TestApp, kind: &str, action: &str) -> i64 {
    app.scalar(&format!(
        "SELECT COUNT(*) FROM audit_log WHERE kind = '{kind}' AND action = '{action}'"
    ))
    .await
}

/// Audit rows naming `person`, as an admin finds them.
async fn rows_about(app: &TestApp, admin: &str, person: &str) -> usize {
    let found = app
        .get(
            &format!("/api/v1/audit?subject_id={person}&limit=200"),
            Some(admin),
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    found.body["items"].as_array().unwrap().len()
}

/// The statuses of the scans that name `person` in the audit trail,
/// smallest first.
async fn scan_statuses(app: &TestApp, admin: &str, person: &str) -> Vec<i64> {
    let found = app
        .get(
            &format!(
                "/api/v1/audit?subject_id={person}&action=POST%20/api/v1/events/{{id}}/checkins"
            ),
            Some(admin),
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let mut statuses: Vec<i64> = found.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["status"].as_i64().unwrap())
        .collect();
    statuses.sort_unstable();
    statuses
}

/// A student who checked in at the door's event, so its recruiter may
/// contact them if they share their contacts.
async fn met_at_the_door(app: &TestApp, d: &Door) -> (Student, String) {
    let student = app.student("master", 2027).await;
    let code = ticket(app, &d.event, &student).await;
    let scanned = scan(app, d, &d.recruiter, json!({"ticket_code": code})).await;
    assert_eq!(scanned.status, StatusCode::CREATED, "{}", scanned.body);
    let registration = scanned.body["registration"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    (student, registration)
}

#[actix_web::test]
async fn signup_needs_the_notice_in_force_and_records_both_consents() {
    let app = spawn_app().await;
    let notice = app.get("/api/v1/privacy/notice", None).await;
    assert_eq!(notice.status, StatusCode::OK, "{}", notice.body);
    assert_eq!(notice.body["version"], NOTICE);

    let mut body = signup_body("consent@pku.edu.cn");
    body.as_object_mut()
        .unwrap()
        .remove("privacy_notice_version");
    let missing = app.signup(&body).await;
    missing.assert_problem(422, "validation_failed");
    assert_eq!(missing.error_fields(), ["privacy_notice_version"]);
    assert_eq!(
        missing.body["errors"][0]["code"], "required",
        "{}",
        missing.body
    );

    body["privacy_notice_version"] = json!("2020-01");
    let old = app.signup(&body).await;
    old.assert_problem(422, "validation_failed");
    assert_eq!(old.body["errors"][0]["code"], "outdated_privacy_notice");
    assert_eq!(app.count("users").await, 0, "nothing was written");

    body["privacy_notice_version"] = json!(NOTICE);
    let made = app.signup(&body).await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let token = made.body["access_token"].as_str().unwrap();
    let consents = app.get("/api/v1/me/consents", Some(token)).await;
    assert_eq!(consents.status, StatusCode::OK, "{}", consents.body);
    assert_eq!(consents.body["privacy_notice_version"], NOTICE);
    assert_eq!(consents.body["notice_in_force"], NOTICE);
    assert_eq!(
        consents.body["share_contacts"], false,
        "not shared unless asked"
    );
    let history = consents.body["history"].as_array().unwrap();
    let kinds: Vec<(&str, bool)> = history
        .iter()
        .map(|h| (h["kind"].as_str().unwrap(), h["granted"].as_bool().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [("privacy_notice", true), ("contact_sharing", false)]
    );
}

#[actix_web::test]
async fn consents_change_only_for_their_owner_and_only_with_good_input() {
    let app = spawn_app().await;
    let (token, _) = app.candidate("mind@pku.edu.cn").await;
    let path = "/api/v1/me/consents";
    app.get(path, None)
        .await
        .assert_problem(401, "missing_token");
    app.patch(path, None, &json!({"share_contacts": true}))
        .await
        .assert_problem(401, "missing_token");
    for (body, code, case) in [
        (json!({"share_contacts": "yes"}), 422, "a string for a flag"),
        (
            json!({"privacy_notice_version": "1999"}),
            422,
            "a version not in force",
        ),
        (
            json!({"share_contacts": true, "extra": 1}),
            422,
            "an unknown field",
        ),
        (json!([]), 422, "not an object"),
    ] {
        let reply = app.patch(path, Some(&token), &body).await;
        assert_eq!(reply.status.as_u16(), code, "{case}: {}", reply.body);
        assert_eq!(
            reply.header("content-type"),
            Some("application/problem+json"),
            "{case}"
        );
    }
    let granted = app
        .patch(path, Some(&token), &json!({"share_contacts": true}))
        .await;
    assert_eq!(granted.status, StatusCode::OK, "{}", granted.body);
    assert_eq!(granted.body["share_contacts"], true);
    // The same again records nothing new.
    let again = app
        .patch(path, Some(&token), &json!({"share_contacts": true}))
        .await;
    assert_eq!(
        again.body["history"].as_array().unwrap().len(),
        3,
        "{}",
        again.body
    );
    let withdrawn = app
        .patch(path, Some(&token), &json!({"share_contacts": false}))
        .await;
    assert_eq!(withdrawn.body["share_contacts"], false);
    assert_eq!(withdrawn.body["history"].as_array().unwrap().len(), 4);
}

#[actix_web::test]
async fn a_walk_in_needs_the_notice_and_shares_only_when_asked() {
    let app = spawn_app().await;
    let d = door(&app, json!({})).await;
    let path = format!("/api/v1/events/{}/walk-ins", d.event);
    let body = json!({"email": "door@zju.edu.cn", "full_name": "韩梅梅", "university": "浙江大学",
        "major": "电气工程", "degree": "master", "graduation_year": 2026});
    let refused = app.post(&path, Some(&d.recruiter), &body).await;
    refused.assert_problem(422, "validation_failed");
    assert_eq!(refused.error_fields(), ["privacy_notice_version"]);

    let mut body = body;
    body["privacy_notice_version"] = json!(NOTICE);
    let admitted = app.post(&path, Some(&d.recruiter), &body).await;
    assert_eq!(admitted.status, StatusCode::CREATED, "{}", admitted.body);
    let sharing = app
        .scalar("SELECT COUNT(*) FROM users WHERE email = 'door@zju.edu.cn' AND contact_sharing_at IS NULL AND privacy_notice_version = '2026-11'")
        .await;
    assert_eq!(sharing, 1, "the notice is recorded, sharing is not assumed");
    let list = app
        .get(
            &format!("/api/v1/events/{}/registrations", d.event),
            Some(&d.recruiter),
        )
        .await;
    assert!(
        list.body["items"][0]["candidate"].get("email").is_none(),
        "{}",
        list.body
    );
}

/// Email and phone in what the recruiter sees, in the list, one
/// registration, and the CSV.
async fn recruiter_sees_contacts(app: &TestApp, d: &Door, registration: &str) -> [bool; 3] {
    let list = app
        .get(
            &format!("/api/v1/events/{}/registrations", d.event),
            Some(&d.recruiter),
        )
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.body);
    let one = app
        .get(
            &format!("/api/v1/registrations/{registration}"),
            Some(&d.recruiter),
        )
        .await;
    assert_eq!(one.status, StatusCode::OK, "{}", one.body);
    let csv = app
        .get(
            &format!("/api/v1/events/{}/registrations?format=csv", d.event),
            Some(&d.recruiter),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK);
    let text = csv.body.as_str().unwrap_or_default();
    let has = |v: &Value| v.get("email").is_some() && v.get("phone").is_some();
    [
        has(&list.body["items"][0]["candidate"]),
        has(&one.body["candidate"]),
        text.contains("@pku.edu.cn") && text.contains("13900000000"),
    ]
}

#[actix_web::test]
async fn recruiters_see_contacts_only_while_the_student_shares_them() {
    let app = spawn_app().await;
    let d = door(&app, json!({})).await;
    let (student, registration) = met_at_the_door(&app, &d).await;
    assert_eq!(
        recruiter_sees_contacts(&app, &d, &registration).await,
        [true; 3]
    );

    let off = app
        .patch(
            "/api/v1/me/consents",
            Some(&student.token),
            &json!({"share_contacts": false}),
        )
        .await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.body);
    assert_eq!(
        recruiter_sees_contacts(&app, &d, &registration).await,
        [false; 3],
        "a withdrawal holds at once"
    );
    // The bureau still reaches the student.
    let staff = app
        .get(
            &format!("/api/v1/registrations/{registration}"),
            Some(&d.organiser),
        )
        .await;
    assert_eq!(staff.body["candidate"]["email"], student.email.as_str());

    app.patch(
        "/api/v1/me/consents",
        Some(&student.token),
        &json!({"share_contacts": true}),
    )
    .await;
    assert_eq!(
        recruiter_sees_contacts(&app, &d, &registration).await,
        [true; 3]
    );
}

#[actix_web::test]
async fn every_read_and_export_of_someone_elses_data_leaves_one_row() {
    let app = spawn_app().await;
    let d = door(&app, json!({})).await;
    let (student, registration) = met_at_the_door(&app, &d).await;
    let intent = app
        .post(
            "/api/v1/intents",
            Some(&d.recruiter),
            &json!({"candidate_id": student.id, "event_id": d.event, "talent_category": "high_level"}),
        )
        .await;
    assert_eq!(intent.status, StatusCode::CREATED, "{}", intent.body);
    let intent = intent.body["id"].as_str().unwrap().to_owned();
    let admin = app.admin().await;
    let event = &d.event;
    let reads: Vec<(&str, String, &str, &str)> = vec![
        (
            "read",
            format!("/api/v1/events/{event}/registrations"),
            "GET /api/v1/events/{id}/registrations",
            &d.recruiter,
        ),
        (
            "export",
            format!("/api/v1/events/{event}/registrations?format=csv"),
            "GET /api/v1/events/{id}/registrations",
            &d.recruiter,
        ),
        (
            "export",
            format!("/api/v1/events/{event}/registrations?format=xlsx"),
            "GET /api/v1/events/{id}/registrations",
            &d.organiser,
        ),
        (
            "read",
            format!("/api/v1/registrations/{registration}"),
            "GET /api/v1/registrations/{id}",
            &d.recruiter,
        ),
        (
            "export",
            format!("/api/v1/events/{event}/checkin-list"),
            "GET /api/v1/events/{id}/checkin-list",
            &d.recruiter,
        ),
        (
            "read",
            "/api/v1/intents".into(),
            "GET /api/v1/intents",
            &d.recruiter,
        ),
        (
            "export",
            "/api/v1/intents?format=csv".into(),
            "GET /api/v1/intents",
            &d.organiser,
        ),
        (
            "read",
            format!("/api/v1/intents/{intent}"),
            "GET /api/v1/intents/{id}",
            &d.organiser,
        ),
        ("read", "/api/v1/users".into(), "GET /api/v1/users", &admin),
        (
            "read",
            "/api/v1/notifications".into(),
            "GET /api/v1/notifications",
            &admin,
        ),
    ];
    for (kind, path, action, token) in &reads {
        let before = rows(&app, kind, action).await;
        let about = rows_about(&app, &admin, &student.id).await;
        let reply = app.get(path, Some(token)).await;
        assert_eq!(reply.status, StatusCode::OK, "{path}: {}", reply.body);
        assert_eq!(rows(&app, kind, action).await, before + 1, "{kind} {path}");
        assert_eq!(
            rows_about(&app, &admin, &student.id).await,
            about + 1,
            "{path} names the student"
        );
    }
    // The student's own reads are not someone else's access.
    let before = app.count("audit_log").await;
    let mine = app
        .get(
            &format!("/api/v1/registrations/{registration}"),
            Some(&student.token),
        )
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    app.get("/api/v1/me/intents", Some(&student.token)).await;
    assert_eq!(app.count("audit_log").await, before);

    let log = app
        .get("/api/v1/me/access-log?limit=200", Some(&student.token))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.body);
    let entries = log.body["items"].as_array().unwrap();
    // Every read above is there (the admin's user list and outbox name the
    // student too), newest first, each with who did it.
    assert_eq!(entries.len(), reads.len(), "{}", log.body);
    assert_eq!(entries[0]["action"], "GET /api/v1/notifications");
    let recruiter_read = entries
        .iter()
        .find(|e| e["action"] == "GET /api/v1/registrations/{id}")
        .expect("the recruiter's read");
    assert_eq!(recruiter_read["actor"]["role"], "recruiter");
    assert_eq!(recruiter_read["actor"]["full_name"], "王芳");
    assert_eq!(recruiter_read["actor"]["employer"], "鄂尔多斯市能源集团");
    app.get("/api/v1/me/access-log", None)
        .await
        .assert_problem(401, "missing_token");
    app.get("/api/v1/me/access-log?limit=0", Some(&student.token))
        .await
        .assert_problem(422, "validation_failed");
}

#[actix_web::test]
async fn writes_are_recorded_with_who_what_where_and_the_request_id() {
    let app = spawn_app().await;
    let d = door(&app, json!({})).await;
    let student = app.student("master", 2027).await;
    let registered = app.register(&d.event, &student.token).await;
    assert_eq!(
        registered.status,
        StatusCode::CREATED,
        "{}",
        registered.body
    );
    let request_id = registered.header("x-request-id").unwrap().to_owned();
    let admin = app.admin().await;
    let found = app
        .get(
            &format!("/api/v1/audit?actor_id={}&kind=write", student.id),
            Some(&admin),
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.body);
    let items = found.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", found.body);
    let row = &items[0];
    assert_eq!(row["action"], "POST /api/v1/events/{id}/registrations");
    assert_eq!(
        row["path"],
        format!("/api/v1/events/{}/registrations", d.event)
    );
    assert_eq!(row["target_id"], registered.body["id"]);
    assert_eq!(row["actor_role"], "candidate");
    assert_eq!(row["status"], 201);
    assert_eq!(row["ip"], "127.0.0.1");
    assert_eq!(row["request_id"], request_id.as_str());

    // A refused write changes nothing and records nothing.
    let before = app.count("audit_log").await;
    let again = app.register(&d.event, &student.token).await;
    again.assert_problem(409, "already_registered");
    assert_eq!(app.count("audit_log").await, before);

    // A scan names the student it admitted, once (on PostgreSQL the row is
    // written by the scan's own statement, elsewhere after it), and so does
    // the same ticket shown again.
    let code = app.ticket_of(registered.body["id"].as_str().unwrap()).await;
    let scans = format!(
        "/api/v1/audit?subject_id={}&action=POST%20/api/v1/events/{{id}}/checkins",
        student.id
    );
    for (n, status) in [(1, 201), (2, 200)] {
        let scanned = scan(&app, &d, &d.recruiter, json!({"ticket_code": code})).await;
        assert_eq!(scanned.status.as_u16(), status, "{}", scanned.body);
        let about = app.get(&scans, Some(&admin)).await;
        let items = about.body["items"].as_array().unwrap();
        assert_eq!(items.len(), n, "{}", about.body);
        let row = items
            .iter()
            .find(|row| row["status"] == status)
            .expect("a row with the scan's status");
        assert_eq!(row["kind"], "write");
        assert_eq!(row["path"], format!("/api/v1/events/{}/checkins", d.event));
        assert_eq!(row["target_id"], d.event.as_str());
        assert_eq!(row["actor_role"], "recruiter");
        assert_eq!(row["ip"], "127.0.0.1");
        assert!(
            row["request_id"].as_str().is_some_and(|id| !id.is_empty()),
            "{row}"
        );
    }

    // The ticket shown with a new `client_checkin_id` is already in (200);
    // the same scan sent again (its `client_checkin_id` repeated) is a 201
    // once more. Each is recorded once, with its status. A
    // `client_checkin_id` that names another student's check-in is refused
    // and records nothing.
    let client_id = uuid::Uuid::now_v7();
    let shown = scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": code, "client_checkin_id": client_id}),
    )
    .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    let late = app.student("master", 2027).await;
    let late_code = ticket(&app, &d.event, &late).await;
    let late_id = uuid::Uuid::now_v7();
    for _ in 0..2 {
        let scanned = scan(
            &app,
            &d,
            &d.recruiter,
            json!({"ticket_code": late_code, "client_checkin_id": late_id}),
        )
        .await;
        assert_eq!(scanned.status, StatusCode::CREATED, "{}", scanned.body);
    }
    assert_eq!(
        scan_statuses(&app, &admin, &student.id).await,
        [200, 200, 201]
    );
    assert_eq!(scan_statuses(&app, &admin, &late.id).await, [201, 201]);
    let before = app.count("audit_log").await;
    scan(
        &app,
        &d,
        &d.recruiter,
        json!({"ticket_code": code, "client_checkin_id": late_id}),
    )
    .await
    .assert_problem(409, "client_checkin_id_reused");
    assert_eq!(app.count("audit_log").await, before);

    // So does an offline batch, for each student in it.
    let other = app.student("phd", 2026).await;
    let code = ticket(&app, &d.event, &other).await;
    let batch = app
        .post(
            &format!("/api/v1/events/{}/checkins/batch", d.event),
            Some(&d.recruiter),
            &json!({"checkins": [{"ticket_code": code, "client_checkin_id": uuid::Uuid::now_v7()}]}),
        )
        .await;
    assert_eq!(batch.status, StatusCode::OK, "{}", batch.body);
    let about = app
        .get(
            &format!("/api/v1/audit?subject_id={}", other.id),
            Some(&admin),
        )
        .await;
    let actions: Vec<&str> = about.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["POST /api/v1/events/{id}/checkins/batch"],
        "{}",
        about.body
    );
}

#[actix_web::test]
async fn the_audit_log_is_for_admins_with_checked_filters_and_pages() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let (student, _) = app.candidate("pages@pku.edu.cn").await;
    let admin = app.admin().await;
    app.get("/api/v1/audit", None)
        .await
        .assert_problem(401, "missing_token");
    for token in [&organiser, &student] {
        app.get("/api/v1/audit", Some(token))
            .await
            .assert_problem(403, "forbidden");
    }
    for (query, case) in [
        ("kind=everything", "an unknown kind"),
        ("actor_id=nobody", "an actor that is no id"),
        (
            "from=2026-12-01T00:00:00Z&to=2026-11-01T00:00:00Z",
            "from after to",
        ),
        ("from=yesterday", "a time that is no time"),
    ] {
        let reply = app
            .get(&format!("/api/v1/audit?{query}"), Some(&admin))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{case}: {}",
            reply.body
        );
        assert!(reply.body["code"].is_string(), "{case}");
    }
    // Signups, invitations, acceptances: more than one page of two.
    let first = app.get("/api/v1/audit?limit=2", Some(&admin)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let cursor = first.body["next_cursor"].as_str().expect("more pages");
    let second = app
        .get(
            &format!("/api/v1/audit?limit=2&cursor={cursor}"),
            Some(&admin),
        )
        .await;
    let ids = |r: &Value| -> Vec<String> {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert!(
        ids(&first.body)
            .iter()
            .all(|id| !ids(&second.body).contains(id))
    );
    for query in ["limit=0", "cursor=%25%25"] {
        app.get(&format!("/api/v1/audit?{query}"), Some(&admin))
            .await
            .assert_problem(422, "validation_failed");
    }
    let future = app
        .get("/api/v1/audit?from=2100-01-01T00:00:00Z", Some(&admin))
        .await;
    assert_eq!(future.body["items"], json!([]));
}

#[actix_web::test]
async fn audit_rows_cannot_be_changed_through_the_api_nor_with_sql() {
    let app = spawn_app().await;
    app.candidate("history@pku.edu.cn").await;
    let admin = app.admin().await;
    let rows = app.count("audit_log").await;
    assert!(rows > 0);
    let id = app.get("/api/v1/audit", Some(&admin)).await.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for method in ["PATCH", "PUT", "DELETE"] {
        let reply = app
            .send(
                method,
                &format!("/api/v1/audit/{id}"),
                Some(&admin),
                &json!({"action": "x"}),
            )
            .await;
        assert!(
            [404, 405].contains(&reply.status.as_u16()),
            "{method}: {}",
            reply.body
        );
        let reply = app
            .send(method, "/api/v1/audit", Some(&admin), &json!({}))
            .await;
        assert!(
            [404, 405].contains(&reply.status.as_u16()),
            "{method} on the list"
        );
    }
    use sea_orm::ConnectionTrait;
    for sql in [
        "UPDATE audit_log SET action = 'nothing happened'",
        "DELETE FROM audit_log",
        "DELETE FROM audit_subjects",
        "UPDATE audit_subjects SET user_id = audit_id",
    ] {
        let refused = app.db().execute_unprepared(sql).await;
        assert!(refused.is_err(), "{sql} was allowed");
    }
    if app.is_postgres() {
        let refused = app.db().execute_unprepared("TRUNCATE audit_log").await;
        assert!(refused.is_err(), "TRUNCATE was allowed");
    }
    assert_eq!(
        app.count("audit_log").await,
        rows,
        "reading the log adds nothing"
    );
}
