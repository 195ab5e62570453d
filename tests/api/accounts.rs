use awc::http::StatusCode;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use crate::helpers::*;

#[actix_web::test]
async fn signup_creates_a_candidate_and_mails_a_verification_link() {
    let app = spawn_app().await;
    let reply = app.signup(&signup_body("Li.Lei@PKU.edu.cn")).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let user = &reply.body["user"];
    assert_eq!(user["email"], "li.lei@pku.edu.cn");
    assert_eq!(user["role"], "candidate");
    assert_eq!(user["full_name"], "李雷");
    assert_eq!(user["university"], "北京大学");
    assert_eq!(user["email_verified"], false);
    assert!(user.get("password_hash").is_none());
    assert!(reply.body["refresh_token"].as_str().unwrap().len() >= 43);
    assert_eq!(reply.body["expires_in"], 900);

    let mail = app.sink.wait_for("li.lei@pku.edu.cn", 1).await;
    assert!(
        mail.subject().contains("验证"),
        "subject {}",
        mail.subject()
    );
    let token = mail.token_for("/verify-email");
    assert!(
        mail.text()
            .contains("http://frontend.test/verify-email?token=")
    );

    let verified = app
        .post("/api/v1/auth/verify-email", None, &json!({"token": token}))
        .await;
    assert_eq!(verified.status, StatusCode::NO_CONTENT, "{}", verified.body);
    let access = reply.body["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/me", Some(access)).await;
    assert_eq!(me.body["email_verified"], true);

    app.post("/api/v1/auth/verify-email", None, &json!({"token": token}))
        .await
        .assert_problem(422, "invalid_token");
    app.post(
        "/api/v1/auth/verify-email",
        None,
        &json!({"token": "made-up"}),
    )
    .await
    .assert_problem(422, "invalid_token");
}

#[actix_web::test]
async fn signup_names_every_bad_field_and_writes_nothing() {
    let app = spawn_app().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("missing email", without("email"), "email"),
        ("bad email", with("email", json!("not-an-email")), "email"),
        (
            "short password",
            with("password", json!("abc1")),
            "password",
        ),
        (
            "password without digit",
            with("password", json!("abcdefghij")),
            "password",
        ),
        ("empty name", with("full_name", json!("   ")), "full_name"),
        (
            "long name",
            with("full_name", json!("名".repeat(101))),
            "full_name",
        ),
        ("bad phone", with("phone", json!("12345")), "phone"),
        ("unknown degree", with("degree", json!("doctor")), "degree"),
        (
            "year as text",
            with("graduation_year", json!("2027")),
            "graduation_year",
        ),
        (
            "year out of range",
            with("graduation_year", json!(1800)),
            "graduation_year",
        ),
        (
            "unknown referral",
            with("referral_code", json!("NOPE2345")),
            "referral_code",
        ),
    ];
    for (case, body, field) in cases {
        let reply = app.signup(&body).await;
        assert_eq!(reply.status.as_u16(), 422, "case {case}: {}", reply.body);
        assert!(
            reply.error_fields().contains(&field.to_owned()),
            "case {case}: {}",
            reply.body
        );
    }
    let several = app
        .signup(&json!({"email": "x", "password": "1", "full_name": "", "university": "清华大学", "major": "物理", "degree": "phd", "graduation_year": 2026}))
        .await;
    assert_eq!(
        several.error_fields(),
        vec!["email", "password", "full_name", "privacy_notice_version"],
        "{}",
        several.body
    );
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.count("notifications").await, 0);
}

fn with(field: &str, value: Value) -> Value {
    let mut body = signup_body("case@pku.edu.cn");
    body[field] = value;
    body
}

fn without(field: &str) -> Value {
    let mut body = signup_body("case@pku.edu.cn");
    body.as_object_mut().unwrap().remove(field);
    body
}

#[actix_web::test]
async fn a_second_signup_with_the_same_address_is_a_conflict() {
    let app = spawn_app().await;
    app.candidate("han@zju.edu.cn").await;
    app.signup(&signup_body("HAN@zju.edu.cn"))
        .await
        .assert_problem(409, "email_taken");
    assert_eq!(app.count("users").await, 1);
}

#[actix_web::test]
async fn signup_with_a_referral_code_records_the_referrer() {
    let app = spawn_app().await;
    let (_, first) = app.candidate("a@tsinghua.edu.cn").await;
    let code = first["user"]["referral_code"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let mut body = signup_body("b@tsinghua.edu.cn");
    body["referral_code"] = json!(code);
    let reply = app.signup(&body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let referred: Option<uuid::Uuid> = {
        use nuancheng::entities::users;
        use sea_orm::EntityTrait;
        let id: uuid::Uuid = reply.body["user"]["id"].as_str().unwrap().parse().unwrap();
        users::Entity::find_by_id(id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
            .referred_by
    };
    assert_eq!(
        referred.unwrap().to_string(),
        first["user"]["id"].as_str().unwrap()
    );
}

#[actix_web::test]
async fn login_checks_the_password() {
    let app = spawn_app().await;
    app.candidate("wang@pku.edu.cn").await;
    let ok = app.login("WANG@pku.edu.cn", PASSWORD).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
    assert_eq!(ok.body["user"]["email"], "wang@pku.edu.cn");
    assert_eq!(ok.body["token_type"], "Bearer");
    app.login("wang@pku.edu.cn", "wrong-password1")
        .await
        .assert_problem(401, "invalid_credentials");
    app.login("nobody@pku.edu.cn", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    app.login("not an email", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    app.post(
        "/api/v1/auth/login",
        None,
        &json!({"email": "wang@pku.edu.cn"}),
    )
    .await
    .assert_problem(422, "validation_failed");
}

/// A hash stored with earlier parameters (argon2's default: 19 MiB, two
/// passes) still signs in, and a good sign-in stores the password hashed
/// with today's (7 MiB, five passes); a wrong password changes nothing.
#[actix_web::test]
async fn a_sign_in_moves_an_old_hash_to_todays_parameters() {
    use argon2::{Argon2, PasswordHasher};
    use sea_orm::ConnectionTrait;
    let app = spawn_app().await;
    let email = "gao@pku.edu.cn";
    app.candidate(email).await;
    let old = Argon2::default()
        .hash_password(PASSWORD.as_bytes())
        .unwrap()
        .to_string();
    assert!(old.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{old}");
    app.db()
        .execute_unprepared(&format!(
            "UPDATE users SET password_hash = '{old}' WHERE email = '{email}'"
        ))
        .await
        .unwrap();
    let hashed = |params: &str| {
        format!(
            "SELECT COUNT(*) FROM users WHERE email = '{email}' \
             AND password_hash LIKE '$argon2id$v=19${params}$%'"
        )
    };
    app.login(email, "wrong-password1")
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(app.scalar(&hashed("m=19456,t=2,p=1")).await, 1);
    let first = app.login(email, PASSWORD).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    assert_eq!(app.scalar(&hashed("m=7168,t=5,p=1")).await, 1);
    let again = app.login(email, PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
}

#[actix_web::test]
async fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family() {
    let app = spawn_app().await;
    let (_, signup) = app.candidate("zhao@pku.edu.cn").await;
    let first = signup["refresh_token"].as_str().unwrap().to_owned();

    let second = app
        .post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": first}),
        )
        .await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let second_token = second.body["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(second_token, first);
    let access = second.body["access_token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/v1/me", Some(access)).await.status,
        StatusCode::OK
    );

    // The first token again: someone has a copy. Both copies die.
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": first}),
    )
    .await
    .assert_problem(401, "refresh_token_reused");
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": second_token}),
    )
    .await
    .assert_problem(401, "invalid_refresh_token");

    // A separate login is another family and still works.
    let login = app.login("zhao@pku.edu.cn", PASSWORD).await;
    let third = login.body["refresh_token"].as_str().unwrap();
    assert_eq!(
        app.post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": third})
        )
        .await
        .status,
        StatusCode::OK
    );
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": "garbage"}),
    )
    .await
    .assert_problem(401, "invalid_refresh_token");
}

#[actix_web::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let (_, signup) = app.candidate("qian@pku.edu.cn").await;
    let refresh = signup["refresh_token"].as_str().unwrap();
    let out = app
        .post(
            "/api/v1/auth/logout",
            None,
            &json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": refresh}),
    )
    .await
    .assert_problem(401, "invalid_refresh_token");
    // Logging out twice is fine.
    let again = app
        .post(
            "/api/v1/auth/logout",
            None,
            &json!({"refresh_token": refresh}),
        )
        .await;
    assert_eq!(again.status, StatusCode::NO_CONTENT);
}

#[actix_web::test]
async fn access_tokens_that_are_missing_forged_or_expired_are_refused() {
    let app = spawn_app().await;
    let (token, signup) = app.candidate("sun@pku.edu.cn").await;
    let user_id = signup["user"]["id"].as_str().unwrap();
    app.get("/api/v1/me", None)
        .await
        .assert_problem(401, "missing_token");
    app.get("/api/v1/me", Some("not-a-jwt"))
        .await
        .assert_problem(401, "invalid_token");

    let parts: Vec<&str> = token.split('.').collect();
    let payload = String::from_utf8(URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    let promoted = URL_SAFE_NO_PAD.encode(payload.replace("candidate", "admin"));
    let tampered = format!("{}.{}.{}", parts[0], promoted, parts[2]);
    app.get("/api/v1/users", Some(&tampered))
        .await
        .assert_problem(401, "invalid_token");

    let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    app.get("/api/v1/me", Some(&format!("{none_header}.{}.", parts[1])))
        .await
        .assert_problem(401, "invalid_token");

    let now = chrono::Utc::now().timestamp();
    let claims = json!({"sub": user_id, "role": "candidate", "iat": now - 3600, "exp": now - 1800, "iss": "nuancheng"});
    let key = jsonwebtoken::EncodingKey::from_secret(app.state.settings.auth.jwt_secret.as_bytes());
    let expired = jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).unwrap();
    app.get("/api/v1/me", Some(&expired))
        .await
        .assert_problem(401, "invalid_token");
    let other_key = jsonwebtoken::EncodingKey::from_secret(b"another secret");
    let claims = json!({"sub": user_id, "role": "candidate", "iat": now, "exp": now + 600, "iss": "nuancheng"});
    let forged =
        jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &other_key).unwrap();
    app.get("/api/v1/me", Some(&forged))
        .await
        .assert_problem(401, "invalid_token");
}

#[actix_web::test]
async fn profile_changes_are_validated_and_kept() {
    let app = spawn_app().await;
    let (token, _) = app.candidate("zhou@pku.edu.cn").await;
    let changed = app
        .patch(
            "/api/v1/me",
            Some(&token),
            &json!({"major": "储能科学与工程", "degree": "phd", "phone": ""}),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.body);
    assert_eq!(changed.body["major"], "储能科学与工程");
    assert_eq!(changed.body["degree"], "phd");
    assert_eq!(changed.body["phone"], Value::Null);
    let bad = app
        .patch(
            "/api/v1/me",
            Some(&token),
            &json!({"phone": "123", "graduation_year": 3000, "full_name": "  "}),
        )
        .await;
    bad.assert_problem(422, "validation_failed");
    assert_eq!(
        bad.error_fields(),
        vec!["full_name", "phone", "graduation_year"]
    );
    let me = app.get("/api/v1/me", Some(&token)).await;
    assert_eq!(
        me.body["major"], "储能科学与工程",
        "a refused change keeps nothing"
    );
    app.patch("/api/v1/me", None, &json!({}))
        .await
        .assert_problem(401, "missing_token");
}

#[actix_web::test]
async fn password_reset_answers_alike_and_the_link_sets_a_new_password() {
    let app = spawn_app().await;
    let (_, signup) = app.candidate("wu@pku.edu.cn").await;
    app.sink.wait_for("wu@pku.edu.cn", 1).await;

    let unknown = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": "ghost@pku.edu.cn"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::ACCEPTED);
    let known = app
        .post(
            "/api/v1/auth/password-reset",
            None,
            &json!({"email": "wu@pku.edu.cn"}),
        )
        .await;
    assert_eq!(known.status, StatusCode::ACCEPTED);
    let mail = app.sink.wait_for("wu@pku.edu.cn", 2).await;
    assert!(mail.subject().contains("重置"), "{}", mail.subject());
    let token = mail.token_for("/reset-password");

    app.post(
        "/api/v1/auth/password-reset/confirm",
        None,
        &json!({"token": token, "new_password": "short"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let done = app
        .post(
            "/api/v1/auth/password-reset/confirm",
            None,
            &json!({"token": token, "new_password": "newpassword9"}),
        )
        .await;
    assert_eq!(done.status, StatusCode::NO_CONTENT, "{}", done.body);
    app.login("wu@pku.edu.cn", PASSWORD)
        .await
        .assert_problem(401, "invalid_credentials");
    assert_eq!(
        app.login("wu@pku.edu.cn", "newpassword9").await.status,
        StatusCode::OK
    );
    // Every session from before the reset is gone, and the link works once.
    let old_refresh = signup["refresh_token"].as_str().unwrap();
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": old_refresh}),
    )
    .await
    .assert_problem(401, "invalid_refresh_token");
    app.post(
        "/api/v1/auth/password-reset/confirm",
        None,
        &json!({"token": token, "new_password": "another9pass"}),
    )
    .await
    .assert_problem(422, "invalid_token");
    assert!(app.sink.to("ghost@pku.edu.cn").is_empty());
}

#[actix_web::test]
async fn organisers_invite_recruiters_bound_to_an_employer() {
    let app = spawn_app().await;
    let organiser = app.organiser().await;
    let employer = app.employer(&organiser, CREDIT_CODES[0]).await;
    let (recruiter, accepted) = app.invited(&organiser, "recruiter", Some(&employer)).await;
    assert_eq!(accepted.body_user()["role"], "recruiter");
    assert_eq!(accepted.body_user()["employer_id"], employer.as_str());
    assert_eq!(accepted.body_user()["email_verified"], true);

    let email = "someone@ordos-energy.cn";
    let cases: Vec<(&str, Option<&str>, Value, u16, &str)> = vec![
        (
            "no token",
            None,
            json!({"email": email, "role": "recruiter", "employer_id": employer}),
            401,
            "missing_token",
        ),
        (
            "a recruiter",
            Some(&recruiter),
            json!({"email": email, "role": "recruiter", "employer_id": employer}),
            403,
            "forbidden",
        ),
        (
            "recruiter without employer",
            Some(&organiser),
            json!({"email": email, "role": "recruiter"}),
            422,
            "validation_failed",
        ),
        (
            "unknown employer",
            Some(&organiser),
            json!({"email": email, "role": "recruiter", "employer_id": uuid::Uuid::now_v7()}),
            422,
            "validation_failed",
        ),
        (
            "organiser with employer",
            Some(&organiser),
            json!({"email": email, "role": "organiser", "employer_id": employer}),
            422,
            "validation_failed",
        ),
        (
            "admin role",
            Some(&organiser),
            json!({"email": email, "role": "admin"}),
            422,
            "validation_failed",
        ),
        (
            "bad email",
            Some(&organiser),
            json!({"email": "nope", "role": "organiser"}),
            422,
            "validation_failed",
        ),
        (
            "existing account",
            Some(&organiser),
            json!({"email": accepted.body_user()["email"], "role": "organiser"}),
            409,
            "email_taken",
        ),
    ];
    for (case, token, body, status, code) in cases {
        let reply = app.post("/api/v1/users/invitations", token, &body).await;
        assert_eq!(reply.status.as_u16(), status, "case {case}: {}", reply.body);
        assert_eq!(reply.body["code"], code, "case {case}");
    }
    assert!(
        app.sink.to(email).is_empty(),
        "no refused invitation sent mail"
    );
}

trait UserOf {
    fn body_user(&self) -> &Value;
}

impl UserOf for Value {
    fn body_user(&self) -> &Value {
        &self["user"]
    }
}

#[actix_web::test]
async fn an_invitation_link_works_once() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let invite = app
        .post(
            "/api/v1/users/invitations",
            Some(&admin),
            &json!({"email": "bureau@ordos.gov.cn", "role": "organiser"}),
        )
        .await;
    assert_eq!(invite.status, StatusCode::CREATED, "{}", invite.body);
    assert_eq!(invite.body["role"], "organiser");
    let mail = app.sink.wait_for("bureau@ordos.gov.cn", 1).await;
    assert!(mail.subject().contains("邀请"), "{}", mail.subject());
    let token = mail.token_for("/accept-invitation");
    app.post(
        "/api/v1/auth/accept-invitation",
        None,
        &json!({"token": token, "password": "weak", "full_name": "张伟"}),
    )
    .await
    .assert_problem(422, "validation_failed");
    let ok = app
        .post(
            "/api/v1/auth/accept-invitation",
            None,
            &json!({"token": token, "password": PASSWORD, "full_name": "张伟"}),
        )
        .await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.body["user"]["role"], "organiser");
    app.post(
        "/api/v1/auth/accept-invitation",
        None,
        &json!({"token": token, "password": PASSWORD, "full_name": "张伟"}),
    )
    .await
    .assert_problem(422, "invalid_token");
}

#[actix_web::test]
async fn admins_list_users_and_disabling_one_stops_its_tokens() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let organiser = app.organiser().await;
    let (candidate, signup) = app.candidate("zheng@pku.edu.cn").await;
    let candidate_id = signup["user"]["id"].as_str().unwrap();

    // Two admins (organiser() makes its own inviter), the organiser, the candidate.
    let all = app.get("/api/v1/users?limit=3", Some(&admin)).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    assert_eq!(all.body["items"].as_array().unwrap().len(), 3);
    assert_eq!(all.body["items"][0]["id"], candidate_id, "newest first");
    let cursor = all.body["next_cursor"].as_str().unwrap();
    let rest = app
        .get(
            &format!("/api/v1/users?limit=3&cursor={cursor}"),
            Some(&admin),
        )
        .await;
    assert_eq!(
        rest.body["items"].as_array().unwrap().len(),
        1,
        "4 users in all: {}",
        rest.body
    );
    assert_eq!(rest.body["next_cursor"], Value::Null);
    let candidates = app.get("/api/v1/users?role=candidate", Some(&admin)).await;
    assert_eq!(candidates.body["items"][0]["id"], candidate_id);
    app.get("/api/v1/users?role=king", Some(&admin))
        .await
        .assert_problem(400, "invalid_query");
    app.get("/api/v1/users?limit=500", Some(&admin))
        .await
        .assert_problem(422, "validation_failed");
    app.get("/api/v1/users", Some(&organiser))
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/users", Some(&candidate))
        .await
        .assert_problem(403, "forbidden");
    app.get("/api/v1/users", None)
        .await
        .assert_problem(401, "missing_token");

    let path = format!("/api/v1/users/{candidate_id}");
    let disabled = app
        .patch(&path, Some(&admin), &json!({"disabled": true}))
        .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.body);
    assert_eq!(disabled.body["disabled"], true);
    app.get("/api/v1/me", Some(&candidate))
        .await
        .assert_problem(401, "account_disabled");
    app.login("zheng@pku.edu.cn", PASSWORD)
        .await
        .assert_problem(401, "account_disabled");
    let refresh = signup["refresh_token"].as_str().unwrap();
    app.post(
        "/api/v1/auth/refresh",
        None,
        &json!({"refresh_token": refresh}),
    )
    .await
    .assert_problem(401, "invalid_refresh_token");

    let enabled = app
        .patch(
            &path,
            Some(&admin),
            &json!({"disabled": false, "role": "organiser"}),
        )
        .await;
    assert_eq!(enabled.body["role"], "organiser", "{}", enabled.body);
    assert_eq!(
        app.login("zheng@pku.edu.cn", PASSWORD).await.status,
        StatusCode::OK
    );

    app.patch(&path, Some(&admin), &json!({"role": "recruiter"}))
        .await
        .assert_problem(422, "validation_failed");
    app.patch(&path, Some(&organiser), &json!({"disabled": true}))
        .await
        .assert_problem(403, "forbidden");
    app.patch(
        &format!("/api/v1/users/{}", uuid::Uuid::now_v7()),
        Some(&admin),
        &json!({"disabled": true}),
    )
    .await
    .assert_problem(404, "not_found");
    app.patch("/api/v1/users/not-a-uuid", Some(&admin), &json!({}))
        .await
        .assert_problem(404, "not_found");
    let me = app.get("/api/v1/me", Some(&admin)).await;
    let admin_path = format!("/api/v1/users/{}", me.body["id"].as_str().unwrap());
    app.patch(&admin_path, Some(&admin), &json!({"disabled": true}))
        .await
        .assert_problem(409, "cannot_change_self");
}

#[actix_web::test]
async fn login_signup_and_reset_are_rate_limited_per_client() {
    let app = spawn_app_with(|s| s.rate_limit.auth_per_minute = 3).await;
    for _ in 0..3 {
        app.login("x@pku.edu.cn", PASSWORD)
            .await
            .assert_problem(401, "invalid_credentials");
    }
    let limited = app.login("x@pku.edu.cn", PASSWORD).await;
    limited.assert_problem(429, "rate_limited");
    let wait: u64 = limited
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    // Signup has a budget of its own.
    assert_eq!(
        app.signup(&signup_body("y@pku.edu.cn")).await.status,
        StatusCode::CREATED
    );
}

#[actix_web::test]
async fn create_admin_is_idempotent() {
    use nuancheng::accounts::service::{AdminOutcome, ensure_admin};
    let app = spawn_app().await;
    let first = ensure_admin(app.db(), "root@ordos.gov.cn", PASSWORD)
        .await
        .unwrap();
    assert!(matches!(first, AdminOutcome::Created(_)));
    let second = ensure_admin(app.db(), "ROOT@ordos.gov.cn", "another9pass")
        .await
        .unwrap();
    assert!(matches!(second, AdminOutcome::AlreadyExists { .. }));
    assert!(ensure_admin(app.db(), "bad", PASSWORD).await.is_err());
    assert!(
        ensure_admin(app.db(), "ok@ordos.gov.cn", "weak")
            .await
            .is_err()
    );
    assert_eq!(
        app.login("root@ordos.gov.cn", PASSWORD).await.body["user"]["role"],
        "admin"
    );
}

#[actix_web::test]
async fn simultaneous_signups_all_succeed_without_database_locks() {
    let app = spawn_app().await;
    let replies = futures_util::future::join_all(
        (0..40).map(|i| app.signup_owned(signup_body(&format!("s{i}@zju.edu.cn")))),
    )
    .await;
    for (i, reply) in replies.iter().enumerate() {
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "signup {i}: {}",
            reply.body
        );
    }
    assert_eq!(app.count("users").await, 40);
    assert_eq!(app.count("notifications").await, 40);
}

#[actix_web::test]
async fn one_refresh_token_sent_many_times_at_once_rotates_at_most_once() {
    let app = spawn_app().await;
    let (_, signup) = app.candidate("race@pku.edu.cn").await;
    let token = signup["refresh_token"].as_str().unwrap().to_owned();
    let replies = futures_util::future::join_all(
        (0..10).map(|_| app.post_owned("/api/v1/auth/refresh", json!({"refresh_token": token}))),
    )
    .await;
    let ok = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    assert!(ok <= 1, "at most one rotation, got {ok}");
    for reply in replies.iter().filter(|r| r.status != StatusCode::OK) {
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{}", reply.body);
    }
    // Reuse was seen, so the whole family is revoked, including any winner.
    for reply in replies.iter().filter(|r| r.status == StatusCode::OK) {
        let next = reply.body["refresh_token"].as_str().unwrap();
        app.post(
            "/api/v1/auth/refresh",
            None,
            &json!({"refresh_token": next}),
        )
        .await
        .assert_problem(401, "invalid_refresh_token");
    }
}
