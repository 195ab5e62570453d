//! argon2id password hashing, always off the async runtime.

use argon2::{
    Argon2,
    password_hash::{PasswordHasher, PasswordVerifier, phc::PasswordHash},
};

use crate::{domain::Password, http::error::ApiError};

/// Hashes on the blocking pool, never on an actix worker thread.
pub async fn hash(password: Password) -> Result<String, ApiError> {
    actix_web::web::block(move || {
        Argon2::default()
            .hash_password(password.expose().as_bytes())
            .map(|h| h.to_string())
            .map_err(|e| ApiError::internal(format!("argon2 hash: {e}")))
    })
    .await?
}

/// Checks a password against a stored hash on the blocking pool. A missing
/// hash (an account that never set a password) never matches.
pub async fn verify(password: String, stored: Option<String>) -> Result<bool, ApiError> {
    actix_web::web::block(move || {
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
    .map_err(ApiError::from)
}
