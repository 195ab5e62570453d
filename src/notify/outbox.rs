//! Writing emails to the outbox. Callers pass their transaction, so an email
//! exists exactly when the change that causes it is committed.

use sea_orm::{ActiveModelTrait, ConnectionTrait, DbErr, EntityTrait, Set};
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

/// The longest subject the outbox keeps (`notifications.subject`).
pub const MAX_SUBJECT_CHARS: usize = 300;

/// `text` cut to at most `max` characters (not bytes), ending in `…` when
/// it was cut, so a long employer name never overflows a bounded column.
pub fn fit(text: String, max: usize) -> String {
    if text.chars().count() <= max {
        return text;
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// Queues an email in the caller's transaction. The span names the email's
/// kind and id, never its recipient.
pub async fn enqueue<C: ConnectionTrait>(
    conn: &C,
    to: &str,
    mail: Rendered,
    attachments: Vec<Attachment>,
) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    enqueue_with(conn, id, to, mail, attachments, None).await?;
    Ok(id)
}

/// Like [`enqueue`], under an id the caller chose, and with the one-click
/// unsubscribe link an optional email carries in its headers.
#[tracing::instrument(skip_all, fields(kind = mail.kind, id = %id))]
pub async fn enqueue_with<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    to: &str,
    mail: Rendered,
    attachments: Vec<Attachment>,
    list_unsubscribe: Option<String>,
) -> Result<(), DbErr> {
    row(id, to, mail, attachments, list_unsubscribe)?
        .insert(conn)
        .await?;
    Ok(())
}

/// The fields of an email that each row of a batched statement carries
/// (see [`crate::batch`]), as `json_to_recordset` declares them.
pub const FIELDS: &str = "m_id uuid, m_kind text, m_to text, m_subject text, m_text text, \
    m_html text, m_attachments json";

/// The email to `to` under the names of [`FIELDS`], added to `fields`.
pub fn fields(
    to: &str,
    mail: Rendered,
    attachments: Vec<Attachment>,
    fields: &mut serde_json::Map<String, serde_json::Value>,
) -> Result<(), DbErr> {
    let r = row(Uuid::now_v7(), to, mail, attachments, None)?;
    let values = [
        ("m_id", serde_json::json!(r.id.unwrap())),
        ("m_kind", serde_json::json!(r.kind.unwrap())),
        ("m_to", serde_json::json!(r.to_email.unwrap())),
        ("m_subject", serde_json::json!(r.subject.unwrap())),
        ("m_text", serde_json::json!(r.text_body.unwrap())),
        ("m_html", serde_json::json!(r.html_body.unwrap())),
        ("m_attachments", serde_json::json!(r.attachments.unwrap())),
    ];
    for (name, value) in values {
        fields.insert(name.into(), value);
    }
    Ok(())
}

/// An `INSERT` for a PostgreSQL statement that queues, for each row of
/// `source` (a CTE named earlier, whose rows carry an email's [`FIELDS`]),
/// its email, pending from `now` (an SQL expression).
pub fn insert_each_sql(source: &str, now: &str) -> String {
    format!(
        "INSERT INTO notifications (id, kind, to_email, subject, text_body, html_body, \
                                    attachments, status, attempts, next_attempt_at, created_at) \
         SELECT m_id, m_kind, m_to, m_subject, m_text, m_html, m_attachments, 'pending', 0, \
                {now}, {now} \
         FROM {source}"
    )
}

/// Emails inserted per statement by [`enqueue_all`].
const ROWS_PER_INSERT: usize = 50;

/// Queues many emails (no attachments) in the caller's transaction, a few
/// dozen rows per statement.
pub async fn enqueue_all<C: ConnectionTrait>(
    conn: &C,
    mails: Vec<(String, Rendered)>,
) -> Result<(), DbErr> {
    let mut rows = Vec::with_capacity(mails.len());
    for (to, mail) in mails {
        rows.push(row(Uuid::now_v7(), &to, mail, Vec::new(), None)?);
    }
    while !rows.is_empty() {
        let rest = rows.split_off(rows.len().min(ROWS_PER_INSERT));
        notifications::Entity::insert_many(std::mem::replace(&mut rows, rest))
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

fn row(
    id: Uuid,
    to: &str,
    mail: Rendered,
    attachments: Vec<Attachment>,
    list_unsubscribe: Option<String>,
) -> Result<notifications::ActiveModel, DbErr> {
    let now = db::now();
    let attachments = if attachments.is_empty() {
        None
    } else {
        Some(serde_json::to_value(attachments).map_err(|e| DbErr::Custom(e.to_string()))?)
    };
    Ok(notifications::ActiveModel {
        id: Set(id),
        kind: Set(mail.kind.to_owned()),
        to_email: Set(to.to_owned()),
        subject: Set(fit(mail.subject, MAX_SUBJECT_CHARS)),
        text_body: Set(mail.text),
        html_body: Set(mail.html),
        attachments: Set(attachments),
        status: Set(NotificationStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        locked_until: Set(None),
        lease_token: Set(None),
        last_error: Set(None),
        sent_at: Set(None),
        created_at: Set(now),
        list_unsubscribe: Set(list_unsubscribe),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_cuts_on_a_character_boundary() {
        assert_eq!(fit("签约".into(), 2), "签约");
        assert_eq!(fit("能源化工".into(), 3), "能源…");
        let long = "鄂".repeat(400);
        let cut = fit(long, MAX_SUBJECT_CHARS);
        assert_eq!(cut.chars().count(), MAX_SUBJECT_CHARS);
        assert!(cut.ends_with('…'));
    }
}
