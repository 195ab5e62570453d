//! Where emails go: an SMTP server (production), or .eml files in a folder
//! (the embedded default, so a laptop needs no mail server).

use lettre::{
    AsyncFileTransport, AsyncTransport, Message, Tokio1Executor,
    message::{
        Attachment as MailAttachment, Mailbox, MultiPart,
        header::{ContentType, HeaderName, HeaderValue},
    },
};

use super::{outbox::Attachment, smtp::Smtp};
use crate::{
    config::{EmailSettings, EmailTransportKind},
    entities::notifications,
};

pub enum Transport {
    Smtp(Smtp),
    File(AsyncFileTransport<Tokio1Executor>),
}

impl Transport {
    pub fn from_settings(settings: &EmailSettings) -> Result<Self, String> {
        match settings.transport {
            EmailTransportKind::Smtp => {
                let timeout = std::time::Duration::from_secs(settings.smtp_timeout_secs);
                Smtp::new(&settings.smtp_url, timeout)
                    .map(Self::Smtp)
                    .map_err(|e| format!("email.smtp_url {:?}: {e}", settings.smtp_url))
            }
            EmailTransportKind::File => {
                std::fs::create_dir_all(&settings.file_dir)
                    .map_err(|e| format!("cannot create {}: {e}", settings.file_dir.display()))?;
                Ok(Self::File(AsyncFileTransport::new(&settings.file_dir)))
            }
        }
    }

    pub async fn send(&self, from: &str, row: &notifications::Model) -> Result<(), String> {
        let message = build_message(from, row)?;
        match self {
            Self::Smtp(t) => t.send(&message).await,
            Self::File(t) => t.send(message).await.map(|_| ()).map_err(|e| e.to_string()),
        }
    }
}

pub(super) fn build_message(from: &str, row: &notifications::Model) -> Result<Message, String> {
    let from: Mailbox = from.parse().map_err(|e| format!("email.from: {e}"))?;
    let to: Mailbox = row
        .to_email
        .parse()
        .map_err(|e| format!("recipient {:?}: {e}", row.to_email))?;
    let body = MultiPart::alternative_plain_html(row.text_body.clone(), row.html_body.clone());
    let attachments: Vec<Attachment> = match &row.attachments {
        Some(value) => serde_json::from_value(value.clone()).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let builder = Message::builder()
        .from(from)
        .to(to)
        .subject(row.subject.clone())
        .message_id(Some(format!("<{}@nuancheng>", row.id)));
    // RFC 8058: a mail client offers its own unsubscribe button and POSTs
    // `List-Unsubscribe=One-Click` to the link, with no page to open.
    let builder = match &row.list_unsubscribe {
        Some(link) => builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{link}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            )),
        None => builder,
    };
    let message = if attachments.is_empty() {
        builder.multipart(body)
    } else {
        let mut mixed = MultiPart::mixed().multipart(body);
        for a in attachments {
            let content_type = ContentType::parse(&a.content_type)
                .map_err(|e| format!("attachment {}: {e}", a.filename))?;
            mixed = mixed.singlepart(MailAttachment::new(a.filename).body(a.content, content_type));
        }
        builder.multipart(mixed)
    };
    message.map_err(|e| e.to_string())
}
