//! A per-client token bucket for the endpoints that attackers hammer (login,
//! signup, password reset, and every route that consumes a token, where
//! guessing is the attack). In memory, per process.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use actix_web::HttpRequest;

use super::error::ApiError;

pub struct RateLimiter {
    per_minute: u32,
    buckets: Mutex<HashMap<(&'static str, IpAddr), Bucket>>,
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

impl RateLimiter {
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `(group, client)`, or says how long to wait.
    pub fn check(&self, group: &'static str, client: IpAddr) -> Result<(), ApiError> {
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Forget clients whose bucket has refilled; bounds memory under a flood.
            buckets.retain(|_, b| now.duration_since(b.refilled) < Duration::from_secs(60));
        }
        let bucket = buckets.entry((group, client)).or_insert(Bucket {
            tokens: capacity,
            refilled: now,
        });
        let elapsed = now.duration_since(bucket.refilled).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * per_sec).min(capacity);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - bucket.tokens) / per_sec).ceil().max(1.0);
            Err(ApiError::RateLimited {
                retry_after_secs: wait as u64,
            })
        }
    }
}

/// The client's address: the peer, or the first X-Forwarded-For hop when the
/// server is configured to trust its proxy.
pub fn client_ip(req: &HttpRequest, trust_forwarded_for: bool) -> IpAddr {
    let forwarded = trust_forwarded_for
        .then(|| {
            req.connection_info()
                .realip_remote_addr()
                .map(str::to_owned)
        })
        .flatten()
        .and_then(|addr| {
            addr.parse::<IpAddr>()
                .ok()
                .or_else(|| addr.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        });
    forwarded
        .or_else(|| req.peer_addr().map(|a| a.ip()))
        .unwrap_or(IpAddr::from([127, 0, 0, 1]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_past_the_budget_and_names_the_wait() {
        let limiter = RateLimiter::new(3);
        let ip = IpAddr::from([10, 0, 0, 1]);
        for _ in 0..3 {
            limiter.check("login", ip).unwrap();
        }
        match limiter.check("login", ip) {
            Err(ApiError::RateLimited { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("expected rate limited, got {other:?}"),
        }
        // Another group and another client have their own budgets.
        limiter.check("signup", ip).unwrap();
        limiter.check("login", IpAddr::from([10, 0, 0, 2])).unwrap();
    }
}
