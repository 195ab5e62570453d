//! argon2id password hashing, always off the async runtime. A request
//! hashes only on one of the hashing gate's threads (`AppState::hashing`):
//! each hash takes a core and ~19 MiB, so an unbounded number at once would
//! starve every other request, and spread over many threads would keep
//! gigabytes.

use std::cell::RefCell;

use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::phc::{Output, ParamsString, PasswordHash, Salt},
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

thread_local! {
    /// Argon2's working memory (19 MiB with the default parameters), kept
    /// by each thread that hashes and reused for every hash it runs, instead
    /// of a fresh allocation per hash that the allocator would keep anyway.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// `argon2` run with this thread's reused working memory.
fn hash_into(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    let count = argon2.params().block_count();
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        argon2
            .hash_password_into_with_memory(password, salt, out, &mut blocks[..count])
            .is_ok()
    })
}

/// An argon2id hash in the PHC string format, with a fresh 16-byte salt.
fn hash_now(password: &Password) -> Result<String, ApiError> {
    let failed = |what: &str| ApiError::internal(format!("argon2 hash: {what}"));
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    getrandom::fill(&mut salt).map_err(|e| failed(&e.to_string()))?;
    let argon2 = Argon2::default();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    if !hash_into(&argon2, password.expose().as_bytes(), &salt, &mut out) {
        return Err(failed("hashing refused its input"));
    }
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(argon2.params()).map_err(|e| failed(&e.to_string()))?,
        salt: Some(Salt::new(&salt).map_err(|e| failed(&e.to_string()))?),
        hash: Some(Output::new(&out).map_err(|e| failed(&e.to_string()))?),
    };
    Ok(hash.to_string())
}

/// Whether `password` matches a stored PHC string; the comparison takes
/// the same time wherever the first difference is.
fn matches(password: &str, stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let (Ok(algorithm), Ok(params)) = (
        Algorithm::new(parsed.algorithm.as_str()),
        Params::try_from(&parsed),
    ) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from) {
        None => Version::default(),
        Some(Ok(version)) => version,
        Some(Err(_)) => return false,
    };
    let argon2 = Argon2::new(algorithm, version, params);
    let mut out = vec![0u8; expected.as_bytes().len()];
    hash_into(&argon2, password.as_bytes(), salt.as_ref(), &mut out)
        && out
            .iter()
            .zip(expected.as_bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
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
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            let _ = hash_into(
                &Argon2::default(),
                password.as_bytes(),
                &[0u8; 16],
                &mut out,
            );
            return false;
        };
        matches(&password, &stored)
    })
    .await
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn hashes_are_standard_argon2id_and_verify_both_ways() {
        let password = Password::parse("password", "warmcity-2026").unwrap();
        let ours = hash_now(&password).unwrap();
        assert!(
            ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{ours}"
        );
        // The crate's own verifier accepts ours, and ours accepts the crate's.
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"warmcity-2026", &parsed)
                .is_ok()
        );
        let theirs = Argon2::default()
            .hash_password(b"warmcity-2026")
            .unwrap()
            .to_string();
        assert!(matches("warmcity-2026", &theirs));
        assert!(matches("warmcity-2026", &ours));
        assert!(!matches("warmcity-2027", &ours));
        assert!(!matches("warmcity-2026", "not a hash"));
        assert_ne!(ours, hash_now(&password).unwrap(), "a fresh salt each time");
    }
}
