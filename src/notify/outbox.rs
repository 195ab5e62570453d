//! Writing emails to the outbox. Callers pass their transaction, so an email
//! exists exactly when the change that causes it is committed.

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Rendered;
use crate::{
    db,
    entities::notifications::{self, NotificationStatus},
};

/// A file attached to an email, e.g. an .ics calendar entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Attachment {
    pub filename: String,
    pub content_type: String,
    pub content: String,
}

#[tracing::instrument(skip(conn, mail, attachments), fields(kind = mail.kind))]
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    to: &str,
    mail: Rendered,
    attachments: Vec<Attachment>,
) -> Result<Uuid, DbErr> {
    let now = db::now();
    let id = Uuid::now_v7();
    let attachments = if attachments.is_empty() {
        None
    } else {
        Some(serde_json::to_value(attachments).map_err(|e| DbErr::Custom(e.to_string()))?)
    };
    notifications::ActiveModel {
        id: Set(id),
        kind: Set(mail.kind.to_owned()),
        to_email: Set(to.to_owned()),
        subject: Set(mail.subject),
        text_body: Set(mail.text),
        html_body: Set(mail.html),
        attachments: Set(attachments),
        status: Set(NotificationStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        last_error: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
    }
    .insert(conn)
    .await?;
    Ok(id)
}
