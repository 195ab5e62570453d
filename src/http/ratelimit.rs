//! A per-client token bucket for the endpoints that attackers hammer (login,
//! signup, password reset, and every route that consumes a token, where
//! guessing is the attack). On PostgreSQL the buckets live in the
//! `rate_limits` table, so every server process on the database draws on
//! one budget; on SQLite (one process) they live in memory. Clients are told
//! apart by an address they cannot choose: see [`client_ip`].

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use actix_web::HttpRequest;
use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement};

use super::error::ApiError;
use crate::config::{ForwardedHeader, HttpSettings};

/// Buckets idle this long are full again and carry no information.
const IDLE: Duration = Duration::from_secs(3600);

pub struct RateLimiter {
    per_minute: u32,
    store: Store,
}

enum Store {
    Memory(Mutex<HashMap<(&'static str, IpAddr), Bucket>>),
    Database(DatabaseConnection),
}

struct Bucket {
    tokens: f64,
    refilled: Instant,
}

/// Refills a bucket for the time since it was last touched and takes a
/// token if there is one, in one statement, so concurrent requests through
/// any process never take the same token. `allowed` says whether this take
/// succeeded; `tokens` is what is left.
const TAKE: &str = "INSERT INTO rate_limits AS b (key, tokens, refilled_at, allowed) \
     VALUES ($1, $2 - 1, statement_timestamp(), true) \
     ON CONFLICT (key) DO UPDATE SET \
       tokens = CASE WHEN {level} >= 1 THEN {level} - 1 ELSE {level} END, \
       allowed = {level} >= 1, \
       refilled_at = GREATEST(b.refilled_at, statement_timestamp()) \
     RETURNING allowed, tokens";

/// The bucket's level before the take: what it held, plus what flowed in
/// since, up to the capacity (`$2`, at `$3` tokens a second).
const LEVEL: &str = "LEAST($2, b.tokens + GREATEST(0, \
     EXTRACT(EPOCH FROM statement_timestamp() - b.refilled_at)::float8) * $3)";

impl RateLimiter {
    /// Buckets in memory, for one process.
    pub fn new(per_minute: u32) -> Self {
        Self {
            per_minute: per_minute.max(1),
            store: Store::Memory(Mutex::new(HashMap::new())),
        }
    }

    /// Buckets shared by every process on `db` when it is PostgreSQL, else
    /// in memory.
    pub fn shared(per_minute: u32, db: &DatabaseConnection) -> Self {
        match db.get_database_backend() {
            DbBackend::Postgres => Self {
                per_minute: per_minute.max(1),
                store: Store::Database(db.clone()),
            },
            _ => Self::new(per_minute),
        }
    }

    /// Takes one token for `(group, client)`, or says how long to wait.
    pub async fn check(&self, group: &'static str, client: IpAddr) -> Result<(), ApiError> {
        let capacity = f64::from(self.per_minute);
        let per_sec = capacity / 60.0;
        let client = bucket_of(client);
        let (allowed, tokens) = match &self.store {
            Store::Memory(buckets) => take_in_memory(buckets, group, client, capacity, per_sec),
            Store::Database(db) => take_in_database(db, group, client, capacity, per_sec).await?,
        };
        if allowed {
            Ok(())
        } else {
            let wait = ((1.0 - tokens) / per_sec).ceil().max(1.0);
            Err(ApiError::RateLimited {
                retry_after_secs: wait as u64,
            })
        }
    }
}

fn take_in_memory(
    buckets: &Mutex<HashMap<(&'static str, IpAddr), Bucket>>,
    group: &'static str,
    client: IpAddr,
    capacity: f64,
    per_sec: f64,
) -> (bool, f64) {
    let now = Instant::now();
    let mut buckets = buckets.lock().unwrap_or_else(|e| e.into_inner());
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
    let allowed = bucket.tokens >= 1.0;
    if allowed {
        bucket.tokens -= 1.0;
    }
    (allowed, bucket.tokens)
}

async fn take_in_database(
    db: &DatabaseConnection,
    group: &'static str,
    client: IpAddr,
    capacity: f64,
    per_sec: f64,
) -> Result<(bool, f64), DbErr> {
    let sql = TAKE.replace("{level}", LEVEL);
    let row = db
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            sql,
            [
                format!("{group}:{client}").into(),
                capacity.into(),
                per_sec.into(),
            ],
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("the rate limit statement returned no row".into()))?;
    Ok((row.try_get("", "allowed")?, row.try_get("", "tokens")?))
}

/// Deletes the buckets nobody touched for an hour: they are full again, so
/// forgetting them changes no answer. Gives how many went.
pub async fn purge_idle(db: &DatabaseConnection) -> Result<u64, DbErr> {
    let cutoff = crate::db::now() - chrono::TimeDelta::seconds(IDLE.as_secs() as i64);
    let sql = match db.get_database_backend() {
        DbBackend::Postgres => "DELETE FROM rate_limits WHERE refilled_at < $1",
        _ => "DELETE FROM rate_limits WHERE refilled_at < ?",
    };
    let done = db
        .execute_raw(Statement::from_sql_and_values(
            db.get_database_backend(),
            sql,
            [cutoff.into()],
        ))
        .await?;
    Ok(done.rows_affected())
}

/// The addresses a forwarding header lists, leftmost first; an entry that
/// is not an address (`unknown`, an obfuscated name) is `None`.
fn hops(req: &HttpRequest, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    let name = match header {
        ForwardedHeader::XForwardedFor => "x-forwarded-for",
        ForwardedHeader::Forwarded => "forwarded",
    };
    req.headers()
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|entry| {
            let value = match header {
                ForwardedHeader::XForwardedFor => Some(entry.trim()),
                ForwardedHeader::Forwarded => entry.split(';').find_map(|pair| {
                    let (key, value) = pair.split_once('=')?;
                    key.trim()
                        .eq_ignore_ascii_case("for")
                        .then_some(value.trim())
                }),
            };
            value.and_then(parse_address)
        })
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`, `[2001:db8::1]:4711`, quoted or not.
fn parse_address(text: &str) -> Option<IpAddr> {
    let text = text.trim_matches('"');
    text.parse::<IpAddr>()
        .ok()
        .or_else(|| text.parse::<std::net::SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            text.strip_prefix('[')
                .and_then(|rest| rest.split(']').next())
                .and_then(|inner| inner.parse().ok())
        })
}

/// The client's address. With no trusted proxy it is the peer. Behind
/// `trusted_proxies` proxies, each of which appends the address it received
/// the request from, it is the entry that many places from the right: what
/// the client itself wrote to the left of it is ignored, so it cannot choose
/// its own bucket. A request that did not pass through every proxy is
/// counted by its peer.
pub fn client_ip(req: &HttpRequest, settings: &HttpSettings) -> IpAddr {
    let peer = req
        .peer_addr()
        .map(|a| a.ip())
        .unwrap_or(IpAddr::from([127, 0, 0, 1]));
    let n = settings.trusted_proxies;
    if n == 0 {
        return peer;
    }
    let hops = hops(req, settings.forwarded_header);
    if hops.len() < n {
        return peer;
    }
    hops[hops.len() - n].unwrap_or(peer)
}

/// The key a client is counted under: its address, or for IPv6 its /64,
/// since one subscriber usually holds a whole /64.
pub fn bucket_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => IpAddr::V6(std::net::Ipv6Addr::from(
                u128::from(v6) & !((1u128 << 64) - 1),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn refuses_past_the_budget_and_names_the_wait() {
        let limiter = RateLimiter::new(3);
        let ip = IpAddr::from([10, 0, 0, 1]);
        for _ in 0..3 {
            limiter.check("login", ip).await.unwrap();
        }
        match limiter.check("login", ip).await {
            Err(ApiError::RateLimited { retry_after_secs }) => assert!(retry_after_secs >= 1),
            other => panic!("expected rate limited, got {other:?}"),
        }
        // Another group and another client have their own budgets.
        limiter.check("signup", ip).await.unwrap();
        limiter
            .check("login", IpAddr::from([10, 0, 0, 2]))
            .await
            .unwrap();
    }

    fn request(headers: &[(&str, &str)]) -> HttpRequest {
        let mut req =
            actix_web::test::TestRequest::default().peer_addr("192.0.2.9:5000".parse().unwrap());
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        req.to_http_request()
    }

    fn settings(trusted_proxies: usize, forwarded_header: ForwardedHeader) -> HttpSettings {
        HttpSettings {
            cors_origins: Vec::new(),
            body_limit: 1024,
            trusted_proxies,
            forwarded_header,
            idempotency_lease_secs: 60,
        }
    }

    #[test]
    fn the_client_cannot_choose_its_address() {
        let xff = ForwardedHeader::XForwardedFor;
        let forged = request(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7")]);
        assert_eq!(
            client_ip(&forged, &settings(0, xff)),
            IpAddr::from([192, 0, 2, 9])
        );
        assert_eq!(
            client_ip(&forged, &settings(1, xff)),
            IpAddr::from([203, 0, 113, 7])
        );
        assert_eq!(
            client_ip(&forged, &settings(2, xff)),
            IpAddr::from([1, 1, 1, 1])
        );
        // Fewer hops than proxies: it did not come through them all.
        assert_eq!(
            client_ip(&forged, &settings(3, xff)),
            IpAddr::from([192, 0, 2, 9])
        );
        // `Forwarded` counts only when configured.
        let both = request(&[
            ("forwarded", "for=8.8.8.8, for=\"[2001:db8::1]:4711\""),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(
            client_ip(&both, &settings(1, xff)),
            IpAddr::from([203, 0, 113, 7])
        );
        assert_eq!(
            client_ip(&both, &settings(1, ForwardedHeader::Forwarded)),
            "2001:db8::1".parse::<IpAddr>().unwrap()
        );
    }

    #[tokio::test]
    async fn ipv6_clients_share_their_64() {
        let limiter = RateLimiter::new(2);
        limiter
            .check("login", "2001:db8:1:2::1".parse().unwrap())
            .await
            .unwrap();
        limiter
            .check("login", "2001:db8:1:2::ffff".parse().unwrap())
            .await
            .unwrap();
        assert!(
            limiter
                .check("login", "2001:db8:1:2:abcd::9".parse().unwrap())
                .await
                .is_err()
        );
        limiter
            .check("login", "2001:db8:1:3::1".parse().unwrap())
            .await
            .unwrap();
    }
}
