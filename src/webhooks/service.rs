//! Registering webhook endpoints: a URL that may be sent to, a secret, the
//! changes it wants.

use sea_orm::{ActiveModelTrait, DatabaseConnection, EntityTrait, Set};
use uuid::Uuid;

use super::types::*;
use crate::{
    config::WebhookSettings,
    db,
    entities::webhook_endpoints,
    http::{ApiError, FieldError, FieldErrors},
    notify::webhooks,
    tokens,
};

/// Registers an endpoint. A URL on a private, loopback or link-local
/// address (or a name resolving to one) is 422 `private_target` unless
/// `webhooks.allow_private_targets` is set.
pub async fn create(
    db_conn: &DatabaseConnection,
    settings: &WebhookSettings,
    caller: Uuid,
    input: CreateWebhookRequest,
) -> Result<WebhookView, ApiError> {
    let mut errors = FieldErrors::new();
    let url = errors.take(parse_url(&input.url));
    let secret = match input.secret.as_deref().map(str::trim) {
        None => Some(tokens::random_token(32)),
        Some(s) if (16..=200).contains(&s.chars().count()) => Some(s.to_owned()),
        Some(_) => {
            errors.take::<()>(Err(FieldError::new(
                "secret",
                "invalid_length",
                "must be 16 to 200 characters",
            )));
            None
        }
    };
    if input.event_types.is_empty() {
        errors.take::<()>(Err(FieldError::new(
            "event_types",
            "required",
            "name at least one event type",
        )));
    }
    errors.finish()?;
    let (Some(url), Some(secret)) = (url, secret) else {
        return Err(ApiError::internal("validated fields are missing"));
    };
    if let Err(why) = webhooks::resolve(&url, settings.allow_private_targets).await
        && why.contains("private")
    {
        return Err(ApiError::field("url", "private_target", why));
    }
    let mut types = input.event_types;
    types.dedup();
    let now = db::now();
    let endpoint = webhook_endpoints::ActiveModel {
        id: Set(Uuid::now_v7()),
        url: Set(url.to_string()),
        secret: Set(secret),
        event_types: Set(serde_json::to_value(types).map_err(ApiError::internal)?),
        active: Set(true),
        created_by: Set(caller),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(db_conn)
    .await?;
    Ok(WebhookView::new(endpoint, true))
}

fn parse_url(raw: &str) -> Result<url::Url, FieldError> {
    let invalid = |m: &str| FieldError::new("url", "invalid", m);
    if raw.len() > 2000 {
        return Err(FieldError::new(
            "url",
            "too_long",
            "at most 2000 characters",
        ));
    }
    let url = url::Url::parse(raw.trim()).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() {
        return Err(invalid("must be an http or https URL with a host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("must not carry a user name or password"));
    }
    Ok(url)
}

pub async fn find(
    db_conn: &DatabaseConnection,
    id: Uuid,
) -> Result<webhook_endpoints::Model, ApiError> {
    webhook_endpoints::Entity::find_by_id(id)
        .one(db_conn)
        .await?
        .ok_or(ApiError::NotFound("webhook"))
}
