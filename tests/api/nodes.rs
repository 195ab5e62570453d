//! Several server processes on one PostgreSQL database, as behind a load
//! balancer: what one process knows, the others know too. Each test here
//! needs PostgreSQL and skips itself, saying so, on SQLite.

use serde_json::json;

use crate::helpers::*;

/// Two processes share one login budget: 20 tries through A and B in turn
/// are answered, the 21st is 429 whichever process takes it.
#[actix_web::test]
async fn processes_share_one_rate_limit_budget() {
    if postgres_or_skip("processes_share_one_rate_limit_budget").is_none() {
        return;
    }
    let a = spawn_app_with(|s| s.rate_limit.auth_per_minute = 20).await;
    let b = spawn_peer(&a, |s| s.rate_limit.auth_per_minute = 20).await;
    let wrong = json!({"email": "nobody@nuancheng.test", "password": "wrong-password-1"});
    for i in 0..20 {
        let node = if i % 2 == 0 { &a } else { &b };
        let reply = node.post("/api/v1/auth/login", None, &wrong).await;
        assert_eq!(reply.status.as_u16(), 401, "try {i}: {}", reply.body);
    }
    for (name, node) in [("A", &a), ("B", &b)] {
        let reply = node.post("/api/v1/auth/login", None, &wrong).await;
        reply.assert_problem(429, "rate_limited");
        let wait: u64 = reply
            .header("retry-after")
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: a Retry-After"));
        assert!((1..=3).contains(&wait), "{name}: Retry-After {wait}");
    }
    // The budget is per route: signup through B still has its own.
    let signup = b.signup(&signup_body("fresh@pku.edu.cn")).await;
    assert_eq!(signup.status.as_u16(), 201, "{}", signup.body);
    assert_eq!(
        a.count("rate_limits").await,
        2,
        "one bucket per route and client"
    );
}

/// A dashboard watching through process A sees a check-in made through
/// process B within a second, though neither recounts on its own for 30 s:
/// the change travels through PostgreSQL's NOTIFY, sent in the check-in's
/// own transaction, to A's listener.
#[actix_web::test]
async fn a_dashboard_on_one_process_sees_a_check_in_made_through_another() {
    use std::time::{Duration, Instant};

    use crate::checkins::{door, next_stats, scan, ticket};
    if postgres_or_skip("a_dashboard_on_one_process_sees_a_check_in_made_through_another").is_none()
    {
        return;
    }
    let a = spawn_app_with(|s| s.live.poll_ms = 30_000).await;
    let b = spawn_peer(&a, |s| s.live.poll_ms = 30_000).await;
    let d = door(&a, json!({"capacity": 5})).await;
    let student = a.student("master", 2027).await;
    let code = ticket(&a, &d.event, &student).await;
    let mut live = a
        .client
        .get(a.url(&format!("/api/v1/events/{}/live", d.event)))
        .bearer_auth(&d.recruiter)
        .send()
        .await
        .expect("open the stream on A");
    assert_eq!(live.status().as_u16(), 200);
    let first = next_stats(&mut live).await;
    assert_eq!(
        (&first["confirmed"], &first["checked_in"]),
        (&json!(1), &json!(0))
    );

    let started = Instant::now();
    let scanned = scan(&b, &d, &d.recruiter, json!({"ticket_code": code})).await;
    assert_eq!(scanned.status.as_u16(), 201, "{}", scanned.body);
    let update = next_stats(&mut live).await;
    assert_eq!(update["checked_in"], 1, "{update}");
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "seen after {:?}",
        started.elapsed()
    );

    // A registration through B reaches A's dashboard the same way.
    let late = b.student("master", 2027).await;
    let registered = b.register(&d.event, &late.token).await;
    assert_eq!(registered.status.as_u16(), 201, "{}", registered.body);
    let update = next_stats(&mut live).await;
    assert_eq!(update["confirmed"], 2, "{update}");

    // A's listener loses its connection (the database cut it off); it
    // listens again on its own and the next change still arrives.
    let cut = a
        .scalar(
            "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE datname = current_database() AND query LIKE 'LISTEN%'",
        )
        .await;
    assert_eq!(cut, 2, "one listener per process");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let third = b.student("master", 2027).await;
    let registered = b.register(&d.event, &third.token).await;
    assert_eq!(registered.status.as_u16(), 201, "{}", registered.body);
    let update = loop {
        let update = next_stats(&mut live).await;
        if update["confirmed"] == 3 {
            break update;
        }
    };
    assert_eq!(update["confirmed"], 3, "{update}");
}

/// Three processes starting at once on a fresh database all migrate it:
/// the advisory lock lets one apply each migration while the others wait,
/// so all succeed and every migration is recorded once.
#[actix_web::test]
async fn processes_migrating_at_once_apply_each_migration_once() {
    use migration::{Migrator, MigratorTrait};
    use sea_orm::{ConnectionTrait, Database, Statement};
    if postgres_or_skip("processes_migrating_at_once_apply_each_migration_once").is_none() {
        return;
    }
    let (url, _) = fresh_database().await;
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Database::connect(&url).await.expect("connect"));
    }
    let outcomes =
        futures_util::future::join_all(nodes.iter().map(nuancheng::db::migrate_up)).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        assert!(outcome.is_ok(), "process {i}: {outcome:?}");
    }
    let db = &nodes[0];
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n, COUNT(DISTINCT version) AS d FROM seaql_migrations",
        ))
        .await
        .expect("read the applied migrations")
        .expect("a row");
    let (n, d): (i64, i64) = (row.try_get("", "n").unwrap(), row.try_get("", "d").unwrap());
    assert_eq!((n, d), (Migrator::migrations().len() as i64, n));
    assert!(
        Migrator::get_pending_migrations(db)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Each process keeps the users it read for a while (`auth.caller_cache_ms`,
/// a minute here) instead of reading the caller on every request. A user
/// disabled by hand-written SQL, enabled again, then disabled through
/// process A is refused or served by process B from its next request on: a
/// trigger announces every change to a `users` row and B forgets the user.
#[actix_web::test]
async fn a_user_changed_through_one_process_is_seen_by_another_at_once() {
    use sea_orm::ConnectionTrait;
    if postgres_or_skip("a_user_changed_through_one_process_is_seen_by_another_at_once").is_none() {
        return;
    }
    let a = spawn_app_with(|s| s.auth.caller_cache_ms = 60_000).await;
    let b = spawn_peer(&a, |s| s.auth.caller_cache_ms = 60_000).await;
    let admin = a.admin().await;
    let student = a.student("master", 2027).await;
    let b_answers = |status: u16| {
        let (b, token) = (&b, student.token.clone());
        async move {
            let started = std::time::Instant::now();
            loop {
                let me = b.get("/api/v1/me", Some(&token)).await;
                if me.status.as_u16() == status {
                    return me;
                }
                assert!(
                    started.elapsed() < std::time::Duration::from_secs(2),
                    "B still answers {} after {:?}",
                    me.status,
                    started.elapsed()
                );
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
        }
    };
    b_answers(200).await;
    let sql = |disabled: &str| {
        format!(
            "UPDATE users SET disabled_at = {disabled} WHERE id = '{}'",
            student.id
        )
    };
    a.db().execute_unprepared(&sql("now()")).await.unwrap();
    b_answers(401).await.assert_problem(401, "account_disabled");
    a.db().execute_unprepared(&sql("NULL")).await.unwrap();
    b_answers(200).await;

    let disabled = a
        .patch(
            &format!("/api/v1/users/{}", student.id),
            Some(&admin),
            &serde_json::json!({"disabled": true}),
        )
        .await;
    assert_eq!(disabled.status.as_u16(), 200, "{}", disabled.body);
    b_answers(401).await.assert_problem(401, "account_disabled");
}
