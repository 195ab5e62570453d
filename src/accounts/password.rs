//! argon2id password hashing, always off the async runtime. A request
//! hashes only on one of the hashing gate's threads (`AppState::hashing`):
//! each hash takes a core and ~19 MiB, so an unbounded number at once would
//! starve every other request, and spread over many threads would keep
//! gigabytes.

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

use crate::{
    domain::Password,
    http::{error::ApiError, gate::Gate},
};

/// Hashes for a request, holding a permit of `gate` (503 `busy` if none
/// comes in time).
pub async fn hash(gate: &Gate, password: Password) -> Result<String, ApiError> {
    gate.run(move || hash_now(&password)).await?
}

fn hash_now(password: &Password) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| ApiError::internal(format!("argon2 hash: {e}")))
}

/// Hashes on the blocking pool, never on an actix worker thread, without a
/// permit: for the command line (create-admin, seed-demo), which hashes once
/// per run.
pub async fn hash_ungated(password: Password) -> Result<String, ApiError> {
    actix_web::web::block(move || hash_now(&password)).await?
}

/// Checks a password against a stored hash on the blocking pool, holding a
/// permit of `gate`. A missing hash (an account that never set a password)
/// never matches.
pub async fn verify(
    gate: &Gate,
    password: String,
    stored: Option<String>,
) -> Result<bool, ApiError> {
    gate.run(move || {
        let Some(stored) = stored else {
            // Spend comparable time so that timing does not tell which accounts exist.
            let _ = Argon2::default().hash_password(password.as_bytes());
            return false;
        };
        match PasswordHash::new(&stored) {
            Ok(parsed) => Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok(),
            Err(_) => false,
        }
    })
    .await
}
