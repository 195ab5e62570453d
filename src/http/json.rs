//! The JSON body extractor every route uses. It checks the content type,
//! enforces the body limit while reading, and turns serde errors into
//! problem+json that names the field: 400 when the text is not JSON at all,
//! 422 when a field is missing or of the wrong type.

use std::{future::Future, pin::Pin};

use actix_web::{FromRequest, HttpRequest, dev::Payload, http::header, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;

use super::error::{ApiError, FieldError};
use crate::state::AppState;

/// A JSON request body of type `T`, or why it is not one.
///
/// Extraction itself never fails: the body's error comes out of
/// [`Json::into_inner`] in the handler, that is after every other
/// extractor has succeeded. So who may call a route is decided before what
/// they sent is judged (403 before 422), whatever order actix finishes the
/// extractors in.
pub struct Json<T>(Result<T, ApiError>);

impl<T> Json<T> {
    pub fn into_inner(self) -> Result<T, ApiError> {
        self.0
    }
}

/// A request body read whole within the body limit, with whether it was
/// declared as JSON.
struct Body {
    is_json: bool,
    bytes: web::BytesMut,
}

fn read_body(
    req: &HttpRequest,
    payload: &mut Payload,
) -> impl Future<Output = Result<Body, ApiError>> + 'static {
    let limit = req
        .app_data::<web::Data<AppState>>()
        .map(|state| state.settings.http.body_limit)
        .unwrap_or(256 * 1024);
    let is_json = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            let essence = v
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase();
            essence == "application/json" || essence.ends_with("+json")
        })
        .unwrap_or(false);
    let declared_len = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    let mut payload = payload.take();
    async move {
        if declared_len.is_some_and(|len| len > limit) {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        let mut bytes = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|e| ApiError::bad_request("malformed_body", e.to_string()))?;
            if bytes.len() + chunk.len() > limit {
                return Err(ApiError::PayloadTooLarge { limit });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Body { is_json, bytes })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let parsed = async {
                let body = body.await?;
                if !body.is_json {
                    return Err(ApiError::UnsupportedMediaType);
                }
                parse(&body.bytes)
            };
            Ok(Json(parsed.await))
        })
    }
}

/// A JSON body that may be left out entirely (no body at all); one that is
/// sent is checked like [`Json`], and its error also waits for the handler.
pub struct OptionalJson<T>(Result<Option<T>, ApiError>);

impl<T> OptionalJson<T> {
    pub fn into_inner(self) -> Result<Option<T>, ApiError> {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for OptionalJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = read_body(req, payload);
        Box::pin(async move {
            let parsed = async {
                let body = body.await?;
                if body.bytes.is_empty() {
                    return Ok(None);
                }
                if !body.is_json {
                    return Err(ApiError::UnsupportedMediaType);
                }
                parse(&body.bytes).map(Some)
            };
            Ok(OptionalJson(parsed.await))
        })
    }
}

/// Parses a JSON document, naming the field of any error.
pub fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    super::text::check_json(body)?;
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|err| {
        // A document that is not JSON at all is a 400 even when serde
        // noticed a missing field before it reached the broken part.
        if let Err(syntax) = serde_json::from_slice::<serde::de::IgnoredAny>(body) {
            return ApiError::bad_request(
                "malformed_json",
                format!("the body is not valid JSON: {syntax}"),
            );
        }
        let path = err.path().to_string();
        let inner = err.into_inner();
        describe(&path, &inner)
    })?;
    de.end()
        .map_err(|e| ApiError::bad_request("malformed_json", e.to_string()))?;
    Ok(value)
}

fn describe(path: &str, err: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match err.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
            "malformed_json",
            format!("the body is not valid JSON: {err}"),
        ),
        Category::Data => {
            let message = err.to_string();
            // serde reports a missing field at its parent, naming it in the message.
            if let Some(name) = message
                .strip_prefix("missing field `")
                .and_then(|rest| rest.split('`').next())
            {
                let field = if path == "." || path.is_empty() {
                    name.to_owned()
                } else {
                    format!("{path}.{name}")
                };
                return ApiError::Validation(vec![FieldError::new(
                    field,
                    "required",
                    "this field is required",
                )]);
            }
            let field = if path == "." {
                String::new()
            } else {
                path.to_owned()
            };
            let code = if message.starts_with("unknown variant") {
                "invalid"
            } else {
                "invalid_type"
            };
            let message = message
                .split(" at line ")
                .next()
                .unwrap_or(&message)
                .to_owned();
            ApiError::Validation(vec![FieldError::new(field, code, message)])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Body {
        email: String,
        capacity: u32,
        inner: Option<Inner>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        gate: String,
    }

    fn fields(err: ApiError) -> Vec<(String, String)> {
        match err {
            ApiError::Validation(errors) => errors.into_iter().map(|e| (e.field, e.code)).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn names_the_field_of_each_error() {
        let cases: [(&str, &str, &str); 4] = [
            (r#"{"capacity": 1}"#, "email", "required"),
            (
                r#"{"email": "a", "capacity": "ten"}"#,
                "capacity",
                "invalid_type",
            ),
            (
                r#"{"email": "a", "capacity": -1}"#,
                "capacity",
                "invalid_type",
            ),
            (
                r#"{"email": "a", "capacity": 1, "inner": {}}"#,
                "inner.gate",
                "required",
            ),
        ];
        for (body, field, code) in cases {
            let err = parse::<Body>(body.as_bytes()).expect_err(body);
            assert_eq!(
                fields(err),
                vec![(field.to_owned(), code.to_owned())],
                "case {body}"
            );
        }
    }

    #[test]
    fn text_that_is_not_json_is_a_bad_request() {
        for body in ["{", "not json", "{\"email\": \"\u{0}", "{} trailing"] {
            let err = parse::<serde_json::Value>(body.as_bytes()).expect_err(body);
            assert_eq!(err.code(), "malformed_json", "case {body:?}");
        }
        let invalid_utf8 = b"{\"email\": \"\xff\xfe\"}";
        assert_eq!(
            parse::<serde_json::Value>(invalid_utf8).unwrap_err().code(),
            "malformed_json"
        );
    }
}
