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
