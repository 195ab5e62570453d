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
    nuancheng::db::migrate_down(app.db(), None)
        .await
        .expect("all downs run");
    assert!(
        Migrator::get_applied_migrations(app.db())
            .await
            .unwrap()
            .is_empty()
    );
    nuancheng::db::migrate_up(app.db())
        .await
        .expect("all ups run again");
    assert_eq!(app.count("users").await, 0);
    assert_eq!(app.get("/readyz", None).await.status.as_u16(), 200);
}

/// The documented operations anyone may call without a token.
const PUBLIC_OPERATIONS: [&str; 20] = [
    "get /healthz",
    "get /metrics",
    "get /readyz",
    "post /api/v1/auth/accept-invitation",
    "post /api/v1/auth/login",
    "post /api/v1/auth/logout",
    "post /api/v1/auth/password-reset",
    "post /api/v1/auth/password-reset/confirm",
    "post /api/v1/auth/refresh",
    "post /api/v1/auth/signup",
    "post /api/v1/auth/verify-email",
    "post /api/v1/unsubscribe",
    "get /api/v1/campaigns",
    "get /api/v1/campaigns/{id}",
    "get /api/v1/employers",
    "get /api/v1/employers/{id}",
    "get /api/v1/employers/{id}/positions",
    "get /api/v1/positions",
    "get /api/v1/positions/{id}",
    "get /api/v1/privacy/notice",
];

/// The operations anyone may call that show more to staff when a token is
/// sent (`security: [{}, {"bearer": []}]`).
const OPTIONAL_TOKEN_OPERATIONS: [&str; 2] = ["get /api/v1/events", "get /api/v1/events/{id}"];

/// Every documented operation that needs a token answers 401
/// `missing_token` without one: the document describes real routes, none of
/// them forgot its guard, and an operation goes without a token only if it
/// is listed above (so a route losing its `security` in the document is
/// noticed too). One whose token is optional answers without one, and 401
/// to a bad one.
#[actix_web::test]
async fn every_guarded_operation_refuses_a_missing_token() {
    let app = spawn_app().await;
    let doc = app.get("/api/v1/openapi.json", None).await;
    let (mut public, mut optional) = (Vec::new(), Vec::new());
    let mut guarded = 0;
    for (path, operations) in doc.body["paths"].as_object().unwrap() {
        let url = path.replace("{id}", "0190b6a0-0000-7000-8000-000000000000");
        for (method, operation) in operations.as_object().unwrap() {
            let name = format!("{method} {path}");
            let Some(security) = operation["security"].as_array() else {
                public.push(name);
                continue;
            };
            let verb = method.to_uppercase();
            let empty = serde_json::json!({});
            let send = |token| app.send(&verb, &url, token, &empty);
            if security
                .iter()
                .any(|s| s.as_object().is_some_and(|s| s.is_empty()))
            {
                let bad = send(Some("not-a-token")).await;
                assert_eq!(
                    bad.status.as_u16(),
                    401,
                    "{name} with a bad token: {}",
                    bad.body
                );
                let anonymous = send(None).await;
                assert_ne!(anonymous.status.as_u16(), 401, "{name}: {}", anonymous.body);
                optional.push(name);
                continue;
            }
            let reply = send(None).await;
            assert_eq!(reply.status.as_u16(), 401, "{name}: {}", reply.body);
            assert_eq!(
                reply.body["code"], "missing_token",
                "{name}: {}",
                reply.body
            );
            guarded += 1;
        }
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let listed = |l: &[&str]| sorted(l.iter().map(|s| (*s).to_owned()).collect());
    assert_eq!(
        sorted(public),
        listed(&PUBLIC_OPERATIONS),
        "the operations anyone may call"
    );
    assert_eq!(
        sorted(optional),
        listed(&OPTIONAL_TOKEN_OPERATIONS),
        "the operations whose token is optional"
    );
    assert!(
        guarded >= 39,
        "only {guarded} guarded operations documented"
    );
}

/// `/readyz` keeps traffic away while the schema is behind the binary: 503
/// `migrations_pending` with the last migration rolled back, 200 once it is
/// applied again.
#[actix_web::test]
async fn readiness_waits_for_every_migration() {
    use migration::{Migrator, MigratorTrait};
    let app = spawn_app_with(|s| s.server.run_worker = false).await;
    Migrator::down(app.db(), Some(1))
        .await
        .expect("roll back the last migration");
    app.get("/readyz", None)
        .await
        .assert_problem(503, "migrations_pending");
    nuancheng::db::migrate_up(app.db())
        .await
        .expect("apply it again");
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status.as_u16(), 200, "{}", ready.body);
    assert_eq!(ready.body["status"], "ready");
}

/// A server started with `--no-migrate` on an empty database serves, but
/// is not ready until someone runs the migrations.
#[actix_web::test]
async fn a_server_started_without_migrating_is_ready_once_migrated() {
    let (url, file) = fresh_database().await;
    let app = spawn_app_on(url, file, false, |s| s.server.run_worker = false).await;
    app.get("/readyz", None)
        .await
        .assert_problem(503, "migrations_pending");
    assert_eq!(app.get("/healthz", None).await.status.as_u16(), 200);
    nuancheng::db::migrate_up(app.db()).await.expect("migrate");
    assert_eq!(app.get("/readyz", None).await.status.as_u16(), 200);
}

/// Once SIGTERM or SIGINT has arrived the process drains: `/readyz` is 503
/// `shutting_down`, so a balancer sends new requests elsewhere. (The flag is
/// set by hand here; a real signal would stop every server in this binary.)
#[actix_web::test]
async fn readiness_says_shutting_down_while_draining() {
    let app = spawn_app().await;
    assert_eq!(app.get("/readyz", None).await.status.as_u16(), 200);
    app.state
        .shutting_down
        .store(true, std::sync::atomic::Ordering::Relaxed);
    app.get("/readyz", None)
        .await
        .assert_problem(503, "shutting_down");
    assert_eq!(app.get("/healthz", None).await.status.as_u16(), 200);
}

/// On PostgreSQL a check-in's event is checked through its registration
/// (migration `m20261127_190000`): a row naming another event than its
/// registration's is refused by the database itself.
#[actix_web::test]
async fn a_check_in_row_must_name_its_registrations_event_and_student() {
    use sea_orm::ConnectionTrait;
    use serde_json::json;
    let app = spawn_app().await;
    if !app.is_postgres() {
        return;
    }
    let organiser = app.organiser().await;
    let event = app.published_event(&organiser, json!({})).await;
    let other = app.published_event(&organiser, json!({})).await;
    let student = app.student("master", 2027).await;
    let someone_else = app.student("phd", 2026).await;
    let registered = app.register(&event, &student.token).await;
    let registration = registered.body["id"].as_str().unwrap();
    let insert = |event: &str, user: &str| {
        format!(
            "INSERT INTO checkins (id, event_id, registration_id, user_id, checked_in_by, source, \
             scanned_at, created_at) SELECT gen_random_uuid(), '{event}', r.id, \
             {user}, r.user_id, 'scan', now(), now() FROM registrations r \
             WHERE r.id = '{registration}'"
        )
    };
    let theirs = format!("'{}'", someone_else.id);
    for (event, user, what) in [
        (&other, "r.user_id", "another event than its registration's"),
        (
            &event,
            theirs.as_str(),
            "another student than its registration's",
        ),
    ] {
        let refused = app.db().execute_unprepared(&insert(event, user)).await;
        assert!(
            refused.is_err_and(|e| e
                .to_string()
                .contains("fk_checkins_registration_event_user")),
            "a check-in for {what}"
        );
    }
    app.db()
        .execute_unprepared(&insert(&event, "r.user_id"))
        .await
        .expect("the registration's own event and student");
}

/// On PostgreSQL the bodies of emails and webhook deliveries are stored
/// compressed with LZ4, not `pglz`: a registration's email is a few
/// kilobytes, compressed when it is written and decompressed when it is
/// sent, and `pglz` was among the database's busiest functions in a
/// profile of registrations.
#[actix_web::test]
async fn outbox_bodies_are_compressed_with_lz4() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let app = spawn_app().await;
    if !app.is_postgres() {
        return;
    }
    let columns = app
        .db()
        .query_all_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT attrelid::regclass::text || '.' || attname AS name, \
                    attcompression::text AS method \
             FROM pg_attribute \
             WHERE attrelid IN ('notifications'::regclass, 'webhook_deliveries'::regclass) \
               AND attname IN ('text_body', 'html_body', 'attachments', 'payload') \
             ORDER BY 1",
        ))
        .await
        .expect("the columns");
    let methods: Vec<(String, String)> = columns
        .iter()
        .map(|row| {
            let name: String = row.try_get("", "name").expect("name");
            let method: String = row.try_get("", "method").expect("method");
            (name, method)
        })
        .collect();
    let lz4 = |name: &str| (name.to_string(), "l".to_string());
    assert_eq!(
        methods,
        vec![
            lz4("notifications.attachments"),
            lz4("notifications.html_body"),
            lz4("notifications.text_body"),
            lz4("webhook_deliveries.payload"),
        ]
    );
}

/// Connections to PostgreSQL send each write at once (`TCP_NODELAY`). A
/// statement longer than one TLS record (registrations sent together, with
/// their emails) leaves in more than one write; with Nagle's algorithm on,
/// the last waited for the database's delayed acknowledgement, about 40 ms
/// a statement. Every TCP socket of this process whose peer is the
/// database's port is looked at; one that other tests are opening at that
/// moment may be connected and not yet set, so a socket found without the
/// option is looked at again a moment later, if it is still the same one.
#[actix_web::test]
async fn connections_to_postgres_do_not_wait_to_send() {
    let app = spawn_app().await;
    if !app.is_postgres() {
        return;
    }
    app.count("events").await;
    let url = &app.state.settings.database.url;
    let options: sea_orm::sqlx::postgres::PgConnectOptions = url.parse().expect("the database URL");
    let port = options.get_port();
    let sockets = database_sockets(port);
    assert!(!sockets.is_empty(), "no connection to port {port} found");
    let held_back: Vec<_> = sockets.into_iter().filter(|s| !s.nodelay).collect();
    if held_back.is_empty() {
        return;
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let again = database_sockets(port);
    for first in held_back {
        let still = again
            .iter()
            .find(|s| s.fd == first.fd && s.link == first.link);
        assert!(
            still.is_none_or(|s| s.nodelay),
            "the connection to port {port} ({}, descriptor {}) holds small writes back",
            first.link,
            first.fd
        );
    }
}

/// A connected TCP socket of this process.
struct DatabaseSocket {
    fd: i32,
    /// `socket:[inode]`: the same descriptor number may be another socket later.
    link: String,
    nodelay: bool,
}

/// The TCP sockets of this process connected to `port`.
fn database_sockets(port: u16) -> Vec<DatabaseSocket> {
    use std::{mem::ManuallyDrop, net::TcpStream, os::fd::FromRawFd};
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd") {
        let Some((fd, link)) = entry.ok().and_then(|e| {
            let fd = e.file_name().to_str()?.parse::<i32>().ok()?;
            let link = std::fs::read_link(e.path()).ok()?;
            Some((fd, link.to_string_lossy().into_owned()))
        }) else {
            continue;
        };
        if !link.starts_with("socket:") {
            continue;
        }
        // Borrowed, never closed here: ManuallyDrop keeps the descriptor.
        let socket = ManuallyDrop::new(unsafe { TcpStream::from_raw_fd(fd) });
        let Ok(peer) = socket.peer_addr() else {
            continue; // not a connected TCP socket
        };
        if peer.port() != port {
            continue;
        }
        let Ok(nodelay) = socket.nodelay() else {
            continue; // closed meanwhile
        };
        found.push(DatabaseSocket { fd, link, nodelay });
    }
    found
}
