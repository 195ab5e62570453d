//! A per-client token bucket for the endpoints that attackers hammer (login,
//! signup, password reset, and every route that consumes a token, where
//! guessing is the attack). In memory, per process. Clients are told apart
//! by an address they cannot choose: see [`client_ip`].

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use actix_web::HttpRequest;

use super::error::ApiError;
use crate::config::{ForwardedHeader, HttpSettings};

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
        let bucket = buckets.entry((group, bucket_of(client))).or_insert(Bucket {
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

    #[test]
    fn ipv6_clients_share_their_64() {
        let limiter = RateLimiter::new(2);
        limiter
            .check("login", "2001:db8:1:2::1".parse().unwrap())
            .unwrap();
        limiter
            .check("login", "2001:db8:1:2::ffff".parse().unwrap())
            .unwrap();
        assert!(
            limiter
                .check("login", "2001:db8:1:2:abcd::9".parse().unwrap())
                .is_err()
        );
        limiter
            .check("login", "2001:db8:1:3::1".parse().unwrap())
            .unwrap();
    }
}
