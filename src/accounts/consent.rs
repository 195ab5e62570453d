//! Consents a person gives: the privacy notice (at signup or at the door,
//! required) and sharing their email and phone with the employers at the
//! events they attend (separate, optional, revocable at any time). The
//! current state lives on `users`; every grant and withdrawal is also kept
//! in `consents`, to show what was agreed to and when.

use chrono::{DateTime, Utc};
use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};
use uuid::Uuid;

use crate::{
    entities::{consents, users},
    http::FieldError,
};

pub const PRIVACY_NOTICE: &str = "privacy_notice";
pub const CONTACT_SHARING: &str = "contact_sharing";

/// What a person agreed to when the account was made.
#[derive(Debug, Clone)]
pub struct Given {
    pub notice_version: String,
    pub share_contacts: bool,
    pub ip: Option<String>,
}

/// The notice version a request says was accepted, which must be the one
/// in force.
pub fn accepted_notice(given: Option<&str>, current: &str) -> Result<String, FieldError> {
    match given.map(str::trim) {
        Some(version) if version == current => Ok(current.to_owned()),
        Some(_) => Err(FieldError::new(
            "privacy_notice_version",
            "outdated_privacy_notice",
            format!(
                "the privacy notice in force is version {current}; show it and send its version"
            ),
        )),
        None => Err(FieldError::new(
            "privacy_notice_version",
            "required",
            format!("the person must accept the privacy notice (version {current})"),
        )),
    }
}

/// Sets a new account's consent columns.
pub fn apply(user: &mut users::ActiveModel, given: &Given, now: DateTime<Utc>) {
    user.privacy_notice_version = Set(Some(given.notice_version.clone()));
    user.privacy_accepted_at = Set(Some(now));
    user.contact_sharing_at = Set(given.share_contacts.then_some(now));
}

/// Records a new account's consents in its transaction.
pub async fn record_given<C: ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    given: &Given,
    now: DateTime<Utc>,
) -> Result<(), DbErr> {
    let notice = entry(
        user_id,
        PRIVACY_NOTICE,
        true,
        Some(&given.notice_version),
        given,
        now,
    );
    let sharing = entry(
        user_id,
        CONTACT_SHARING,
        given.share_contacts,
        None,
        given,
        now,
    );
    consents::Entity::insert_many([notice, sharing])
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

fn entry(
    user_id: Uuid,
    kind: &str,
    granted: bool,
    version: Option<&str>,
    given: &Given,
    now: DateTime<Utc>,
) -> consents::ActiveModel {
    consents::ActiveModel {
        id: Set(Uuid::now_v7()),
        user_id: Set(user_id),
        kind: Set(kind.to_owned()),
        granted: Set(granted),
        version: Set(version.map(str::to_owned)),
        ip: Set(given.ip.clone()),
        created_at: Set(now),
    }
}

/// A change of mind after signup: accept a newer notice, grant or withdraw
/// contact sharing. Only what changes is recorded. Runs in the caller's
/// transaction, with the user's row already read.
pub async fn change<C: ConnectionTrait>(
    conn: &C,
    user: users::Model,
    notice_version: Option<String>,
    share_contacts: Option<bool>,
    ip: Option<String>,
    now: DateTime<Utc>,
) -> Result<users::Model, DbErr> {
    let given = Given {
        notice_version: notice_version.clone().unwrap_or_default(),
        share_contacts: share_contacts.unwrap_or(false),
        ip,
    };
    let mut rows = Vec::new();
    let mut changed: users::ActiveModel = user.clone().into();
    if let Some(version) = notice_version
        .as_deref()
        .filter(|v| user.privacy_notice_version.as_deref() != Some(*v))
    {
        rows.push(entry(
            user.id,
            PRIVACY_NOTICE,
            true,
            Some(version),
            &given,
            now,
        ));
        changed.privacy_notice_version = Set(Some(version.to_owned()));
        changed.privacy_accepted_at = Set(Some(now));
    }
    if let Some(share) = share_contacts.filter(|s| *s != user.contact_sharing_at.is_some()) {
        rows.push(entry(user.id, CONTACT_SHARING, share, None, &given, now));
        changed.contact_sharing_at = Set(share.then_some(now));
    }
    if rows.is_empty() {
        return Ok(user);
    }
    consents::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    changed.updated_at = Set(now);
    changed.update(conn).await
}
