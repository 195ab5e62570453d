//! argon2id password hashing, always off the async runtime. A request
//! hashes only on one of the hashing gate's threads (`AppState::hashing`):
//! each hash takes a core and 7 MiB, so an unbounded number at once would
//! starve every other request, and spread over many threads would keep
//! gigabytes.
//!
//! The parameters are argon2id with 7 MiB, 5 passes and one lane: one of
//! the configurations OWASP's password storage guidance lists as equal in
//! strength to its 19 MiB, 2-pass minimum, chosen for the smaller block
//! each hashing thread keeps. A hash stored with other parameters (the
//! crate's 19 MiB default, which earlier versions wrote) is checked with
//! its own, which its PHC string carries, and replaced at the account's
//! next sign-in ([`check`]).

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

/// Memory in KiB, passes and lanes of every new hash.
const MEMORY_KIB: u32 = 7 * 1024;
const PASSES: u32 = 5;
const LANES: u32 = 1;

/// The hasher every new hash is made with.
fn hasher() -> Argon2<'static> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .expect("argon2 parameters within the algorithm's bounds");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

thread_local! {
    /// Argon2's working memory for our parameters (7 MiB), kept by each
    /// thread that hashes and reused for every hash it runs, instead of a
    /// fresh allocation per hash that the allocator would keep anyway.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// `argon2` run with this thread's reused working memory, or, for a stored
/// hash that needs more than our parameters, with a block of its own that
/// is returned afterwards, so one old hash does not grow every thread's.
fn hash_into(argon2: &Argon2<'_>, password: &[u8], salt: &[u8], out: &mut [u8]) -> bool {
    let count = argon2.params().block_count();
    let mut run = |blocks: &mut [Block]| {
        argon2
            .hash_password_into_with_memory(password, salt, out, blocks)
            .is_ok()
    };
    if count > hasher().params().block_count() {
        return run(&mut vec![Block::default(); count]);
    }
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        if blocks.len() < count {
            blocks.resize(count, Block::default());
        }
        run(&mut blocks[..count])
    })
}

/// An argon2id hash in the PHC string format, with a fresh 16-byte salt.
fn hash_now(password: &Password) -> Result<String, ApiError> {
    hash_bytes(password.expose().as_bytes())
}

fn hash_bytes(password: &[u8]) -> Result<String, ApiError> {
    let failed = |what: &str| ApiError::internal(format!("argon2 hash: {what}"));
    let mut salt = [0u8; Salt::RECOMMENDED_LENGTH];
    getrandom::fill(&mut salt).map_err(|e| failed(&e.to_string()))?;
    let argon2 = hasher();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    if !hash_into(&argon2, password, &salt, &mut out) {
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
    Ok(check(gate, password, stored, false).await?.matches)
}

/// What [`check`] found.
pub struct Checked {
    pub matches: bool,
    /// The password hashed again with today's parameters, when it matched
    /// a hash stored with others and an upgrade was asked for: the caller
    /// stores it in place of the old one.
    pub rehashed: Option<String>,
}

/// [`verify`], and with `upgrade`, a new hash when the stored one has
/// other parameters than today's (such as the 19 MiB of earlier versions),
/// made in the same permit, so a sign-in moves the account to them.
pub async fn check(
    gate: &Gate,
    password: String,
    stored: Option<String>,
    upgrade: bool,
) -> Result<Checked, ApiError> {
    gate.run(move || {
        let Some(stored) = stored else {
            // Spend comparable time so that timing does not tell which accounts exist.
            let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
            let _ = hash_into(&hasher(), password.as_bytes(), &[0u8; 16], &mut out);
            return Ok(Checked {
                matches: false,
                rehashed: None,
            });
        };
        let matches = matches(&password, &stored);
        let rehashed = match matches && upgrade && outdated(&stored) {
            true => Some(hash_bytes(password.as_bytes())?),
            false => None,
        };
        Ok(Checked { matches, rehashed })
    })
    .await?
}

/// Whether a stored hash was made otherwise than new hashes are.
fn outdated(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return false;
    };
    let today = hasher();
    parsed.algorithm != Algorithm::Argon2id.ident()
        || Params::try_from(&parsed).map_or(true, |params| params != *today.params())
}

#[cfg(test)]
mod tests {
    use argon2::{PasswordHasher, PasswordVerifier};

    use super::*;

    #[test]
    fn hashes_are_standard_argon2id_and_verify_both_ways() {
        let password = Password::parse("password", "warmcity-2026").unwrap();
        let ours = hash_now(&password).unwrap();
        assert!(ours.starts_with("$argon2id$v=19$m=7168,t=5,p=1$"), "{ours}");
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
        // The crate's default needs 19 MiB: checked with a block of its
        // own, so this thread still keeps only the 7 MiB of ours.
        let kept = BLOCKS.with(|blocks| blocks.borrow().len());
        assert_eq!(kept, hasher().params().block_count());
        assert_eq!(kept * std::mem::size_of::<Block>(), 7 << 20);
        assert!(matches("warmcity-2026", &ours));
        assert!(!matches("warmcity-2027", &ours));
        assert!(!matches("warmcity-2026", "not a hash"));
        assert_ne!(ours, hash_now(&password).unwrap(), "a fresh salt each time");
    }
}
