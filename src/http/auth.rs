//! Who is calling. Each role is an extractor, so a handler's signature says
//! who may call it: `Caller` (anyone signed in), `Organiser` (organisers and
//! admins), `Admin`. The user comes from the database, or from
//! [`super::callers`] for a few seconds after it was read there; every
//! change to a user is forgotten there at once (in every process, on
//! PostgreSQL), so a disabled account or a changed role takes effect on the
//! next request, not when a token expires.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpMessage, HttpRequest, dev::Payload, http::header, web};

pub use super::callers::Caller;
use super::error::ApiError;
use crate::{entities::users::Role, state::AppState};

/// The token of an `Authorization: Bearer …` header.
pub fn bearer(req: &HttpRequest) -> Option<String> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

/// Checks an access token and loads its user, who must be enabled.
pub async fn authenticate(
    state: web::Data<AppState>,
    token: Option<String>,
) -> Result<Caller, ApiError> {
    let token = token.ok_or_else(|| {
        ApiError::unauthorized("missing_token", "send Authorization: Bearer <access token>")
    })?;
    let claims = state.jwt.verify(&token).ok_or_else(|| {
        ApiError::unauthorized("invalid_token", "the access token is invalid or expired")
    })?;
    let user = state
        .callers
        .user(&state.db, claims.sub)
        .await?
        .ok_or_else(|| ApiError::unauthorized("invalid_token", "the account no longer exists"))?;
    if user.disabled {
        return Err(ApiError::unauthorized(
            "account_disabled",
            "this account is disabled",
        ));
    }
    // Signed out everywhere (a password reset, disabling) after this token
    // was issued. Both are whole seconds: a token of the same second is good.
    if user
        .tokens_valid_after
        .is_some_and(|after| claims.iat < after)
    {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "the access token was revoked; sign in again",
        ));
    }
    Ok(user.caller.clone())
}

type CallerFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = CallerFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer(req);
        let req = req.clone();
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state is missing"))?;
            let caller = authenticate(state, token).await?;
            // The audit trail names whoever the request ran as.
            req.extensions_mut().insert(caller.clone());
            Ok(caller)
        })
    }
}

/// The caller on routes that anyone may use: `None` without an
/// `Authorization` header; a header with a bad token is still a 401, so a
/// client with an expired token learns it instead of seeing less.
#[derive(Debug, Clone)]
pub struct MaybeCaller(pub Option<Caller>);

impl FromRequest for MaybeCaller {
    type Error = ApiError;
    type Future = CallerFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if req.headers().get(header::AUTHORIZATION).is_none() {
            return Box::pin(async { Ok(MaybeCaller(None)) });
        }
        let caller = Caller::from_request(req, payload);
        Box::pin(async move { Ok(MaybeCaller(Some(caller.await?))) })
    }
}

macro_rules! role_extractor {
    ($(#[$doc:meta])* $name:ident, [$($role:path),+], $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        pub struct $name(pub Caller);

        impl FromRequest for $name {
            type Error = ApiError;
            type Future = CallerFuture<Self>;

            fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
                let caller = Caller::from_request(req, payload);
                Box::pin(async move {
                    let caller = caller.await?;
                    if matches!(caller.role, $($role)|+) {
                        Ok($name(caller))
                    } else {
                        Err(ApiError::Forbidden(concat!("only ", $what, " may do this").into()))
                    }
                })
            }
        }
    };
}

role_extractor!(
    /// The talent bureau's staff: organisers and admins.
    Organiser, [Role::Organiser, Role::Admin], "organisers"
);
role_extractor!(
    /// Administrators only.
    Admin, [Role::Admin], "admins"
);
role_extractor!(
    /// Students.
    Candidate, [Role::Candidate], "candidates"
);
