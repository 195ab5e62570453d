use crate::helpers::*;

#[actix_web::test]
async fn health_readiness_and_metrics() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.body["status"], "ok");
    assert_eq!(app.get("/readyz", None).await.body["status"], "ready");
    app.get("/api/v1/nothing", None).await;
    let res = app.client.get(app.url("/metrics")).send().await.unwrap();
    let reply = Reply::read(res).await;
    let text = reply.body.as_str().expect("plain text");
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="unmatched",status="404"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(
        text.contains(r#"outbox_emails{status="pending"}"#),
        "{text}"
    );
}

#[actix_web::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db().clone().close().await.expect("close the pool");
    let reply = app.get("/readyz", None).await;
    reply.assert_problem(503, "database_unavailable");
    assert_eq!(app.get("/healthz", None).await.status.as_u16(), 200);
}

#[actix_web::test]
async fn the_openapi_document_and_offline_docs_page() {
    let app = spawn_app().await;
    let doc = app.get("/api/v1/openapi.json", None).await;
    assert_eq!(doc.status.as_u16(), 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/auth/signup",
        "/api/v1/auth/refresh",
        "/api/v1/users/{id}",
        "/api/v1/employers",
        "/healthz",
    ] {
        assert!(
            doc.body["paths"].get(path).is_some(),
            "{path} is documented"
        );
    }
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
    let page = app.client.get(app.url("/docs/")).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    let page = app
        .client
        .get(app.url("/docs/swagger-ui.css"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.status().as_u16(),
        200,
        "assets are served by the server itself"
    );
}

#[actix_web::test]
async fn cors_allows_only_the_configured_origins() {
    let app =
        spawn_app_with(|s| s.http.cors_origins = vec!["https://www.nuancheng.cn".into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(awc::http::Method::OPTIONS, app.url("/api/v1/auth/login"))
            .insert_header(("Origin", origin))
            .insert_header(("Access-Control-Request-Method", "POST"))
            .insert_header(("Access-Control-Request-Headers", "content-type"))
            .send()
    };
    let allowed = preflight("https://www.nuancheng.cn").await.unwrap();
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .unwrap(),
        "https://www.nuancheng.cn"
    );
    let refused = preflight("https://evil.example").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[actix_web::test]
async fn every_migration_rolls_back_and_reapplies() {
    use migration::{Migrator, MigratorTrait};
    let app = spawn_app_with(|s| s.server.run_worker = false).await;
    app.candidate("m@pku.edu.cn").await;
    Migrator::down(app.db(), None).await.expect("all downs run");
    assert!(
        Migrator::get_applied_migrations(app.db())
            .await
            .unwrap()
            .is_empty()
    );
    Migrator::up(app.db(), None)
        .await
        .expect("all ups run again");
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.get("/readyz", None).await.status.as_u16(), 200);
}

/// Every documented operation that needs a token answers 401 without one:
/// the document describes real routes, and none of them forgot its guard.
/// One whose token is optional (`security: [{}, {"bearer": []}]`) answers
/// without one, and 401 to a bad one.
#[actix_web::test]
async fn every_guarded_operation_refuses_a_missing_token() {
    let app = spawn_app().await;
    let doc = app.get("/api/v1/openapi.json", None).await;
    let mut checked = 0;
    let mut optional = 0;
    for (path, operations) in doc.body["paths"].as_object().unwrap() {
        let url = path.replace("{id}", "0190b6a0-0000-7000-8000-000000000000");
        for (method, operation) in operations.as_object().unwrap() {
            let Some(security) = operation["security"].as_array() else {
                continue;
            };
            let anyone = security
                .iter()
                .any(|s| s.as_object().is_some_and(|s| s.is_empty()));
            let token = anyone.then_some("not-a-token");
            let reply = app
                .send(&method.to_uppercase(), &url, token, &serde_json::json!({}))
                .await;
            assert_eq!(
                reply.status.as_u16(),
                401,
                "{method} {path} with token {token:?}: {}",
                reply.body
            );
            if anyone {
                let reply = app
                    .send(&method.to_uppercase(), &url, None, &serde_json::json!({}))
                    .await;
                assert_ne!(
                    reply.status.as_u16(),
                    401,
                    "{method} {path}: {}",
                    reply.body
                );
                optional += 1;
            } else {
                checked += 1;
            }
        }
    }
    assert!(
        optional >= 2,
        "only {optional} operations with an optional token"
    );
    assert!(
        checked >= 35,
        "only {checked} guarded operations documented"
    );
}
