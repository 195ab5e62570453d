//! One-click unsubscribe links for optional mail (follow-ups). A link carries
//! the student's id and an HMAC of it under a key derived from the server's
//! secret, so it needs no table, works from any mail client without signing
//! in, and cannot be made for somebody else.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::{config::Settings, entities::mail_preferences};

const TAG_BYTES: usize = 16;

fn mac(secret: &str) -> Hmac<Sha256> {
    // A key of its own, so an unsubscribe tag is never a valid JWT signature.
    let key = Sha256::new()
        .chain_update(b"nuancheng unsubscribe\0")
        .chain_update(secret.as_bytes())
        .finalize();
    Hmac::<Sha256>::new_from_slice(&key).expect("HMAC takes any key length")
}

/// The token naming `user_id` in an unsubscribe link.
pub fn token(secret: &str, user_id: Uuid) -> String {
    let tag = mac(secret)
        .chain_update(user_id.as_bytes())
        .finalize()
        .into_bytes();
    let mut raw = user_id.as_bytes().to_vec();
    raw.extend_from_slice(&tag[..TAG_BYTES]);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The student a token names, if the token is genuine.
pub fn verify(secret: &str, token: &str) -> Option<Uuid> {
    let raw = URL_SAFE_NO_PAD.decode(token.trim()).ok()?;
    if raw.len() != 16 + TAG_BYTES {
        return None;
    }
    let (id, tag) = raw.split_at(16);
    mac(secret)
        .chain_update(id)
        .verify_truncated_left(tag)
        .ok()?;
    Uuid::from_slice(id).ok()
}

/// The link in an optional email's `List-Unsubscribe` header and footer: a
/// POST to it (RFC 8058 one-click) turns the student's follow-ups off.
pub fn link(settings: &Settings, user_id: Uuid) -> String {
    settings.link(
        "/api/v1/unsubscribe",
        &token(&settings.auth.jwt_secret, user_id),
    )
}

/// Records a student's choice about follow-up emails.
pub async fn set_follow_ups<C: sea_orm::ConnectionTrait>(
    conn: &C,
    user_id: Uuid,
    follow_ups: bool,
) -> Result<(), sea_orm::DbErr> {
    use sea_orm::{EntityTrait, Set, sea_query::OnConflict};
    mail_preferences::Entity::insert(mail_preferences::ActiveModel {
        user_id: Set(user_id),
        follow_ups: Set(follow_ups),
        updated_at: Set(crate::db::now()),
    })
    .on_conflict(
        OnConflict::column(mail_preferences::Column::UserId)
            .update_columns([
                mail_preferences::Column::FollowUps,
                mail_preferences::Column::UpdatedAt,
            ])
            .to_owned(),
    )
    .exec(conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_names_its_student_and_nobody_else() {
        let id = Uuid::now_v7();
        let t = token("secret", id);
        assert_eq!(verify("secret", &t), Some(id));
        assert_eq!(verify("another secret", &t), None);
        let mut forged = URL_SAFE_NO_PAD.decode(&t).unwrap();
        forged[0] ^= 1;
        assert_eq!(verify("secret", &URL_SAFE_NO_PAD.encode(forged)), None);
        assert_eq!(verify("secret", "short"), None);
        assert_eq!(verify("secret", "!!not base64!!"), None);
    }
}
