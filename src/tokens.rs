//! Secrets handed to clients: access tokens (JWT, HS256), and opaque random
//! tokens (refresh, email links) that are stored only as their SHA-256.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{config::AuthSettings, entities::users::Role};

/// A URL-safe random token of `bytes` bytes of entropy from the OS.
pub fn random_token(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    URL_SAFE_NO_PAD.encode(buf)
}

/// The stored form of an opaque token: hex SHA-256.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    pub iss: String,
}

/// Signs and checks access tokens.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    issuer: String,
    ttl_secs: i64,
}

impl JwtKeys {
    pub fn new(settings: &AuthSettings) -> Self {
        Self {
            encoding: EncodingKey::from_secret(settings.jwt_secret.as_bytes()),
            decoding: DecodingKey::from_secret(settings.jwt_secret.as_bytes()),
            issuer: settings.jwt_issuer.clone(),
            ttl_secs: settings.access_token_ttl_secs,
        }
    }

    pub fn ttl_secs(&self) -> i64 {
        self.ttl_secs
    }

    pub fn issue(&self, user_id: Uuid, role: Role) -> String {
        let iat = chrono::Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            role,
            iat,
            exp: iat + self.ttl_secs,
            iss: self.issuer.clone(),
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .expect("HS256 signing with a byte secret cannot fail")
    }

    /// Checks signature, algorithm (HS256 only, so never `none`), expiry and issuer.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&self.issuer]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss"]);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .ok()
            .map(|data| data.claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(secret: &str, ttl: i64) -> AuthSettings {
        AuthSettings {
            jwt_secret: secret.into(),
            jwt_issuer: "nuancheng".into(),
            access_token_ttl_secs: ttl,
            refresh_token_ttl_days: 30,
            verify_email_ttl_hours: 48,
            password_reset_ttl_hours: 2,
            invitation_ttl_days: 7,
            max_concurrent_hashes: 0,
            hash_wait_ms: 2000,
            caller_cache_ms: 5000,
        }
    }

    #[test]
    fn round_trip_and_rejections() {
        let keys = JwtKeys::new(&settings("s1", 900));
        let id = Uuid::now_v7();
        let token = keys.issue(id, Role::Organiser);
        let claims = keys.verify(&token).expect("valid");
        assert_eq!((claims.sub, claims.role), (id, Role::Organiser));

        let other = JwtKeys::new(&settings("s2", 900));
        assert!(other.verify(&token).is_none(), "other secret");

        let expired = JwtKeys::new(&settings("s1", -60)).issue(id, Role::Admin);
        assert!(keys.verify(&expired).is_none(), "expired");

        let mut parts: Vec<&str> = token.split('.').collect();
        let none_header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        parts[0] = &none_header;
        assert!(
            keys.verify(&format!("{}.{}.", parts[0], parts[1]))
                .is_none(),
            "alg none"
        );
    }

    #[test]
    fn random_tokens_are_long_and_distinct() {
        let a = random_token(32);
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token(32));
        assert_eq!(hash_token("x").len(), 64);
    }
}
