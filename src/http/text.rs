//! Control characters are refused where text enters: in JSON bodies and in
//! query strings. PostgreSQL cannot store NUL in text at all, and no field
//! of this API has a use for the other control characters, except line
//! breaks and tabs in free text. The error names the field.

use actix_web::{
    Error,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    middleware::Next,
    web,
};
use serde_json::Value;

use super::error::{ApiError, FieldError};

/// A character no text of this API may carry: C0 and C1 controls and DEL,
/// but for tab, line feed and carriage return.
pub fn is_forbidden(c: char) -> bool {
    c.is_control() && !matches!(c, '\t' | '\n' | '\r')
}

fn refusal(field: String) -> FieldError {
    FieldError::new(
        field,
        "control_character",
        "must not contain control characters",
    )
}

/// Whether a JSON text may hold a forbidden character: an escape (`\u0000`),
/// DEL, or a C1 control in UTF-8. Cheap, so only such bodies are walked.
fn may_hold_controls(body: &[u8]) -> bool {
    body.windows(2)
        .any(|w| w == b"\\u" || w[0] == 0x7f || (w[0] == 0xc2 && (0x80..=0x9f).contains(&w[1])))
        || body.last() == Some(&0x7f)
}

/// Every string (and object key) in `value` with a forbidden character, by path.
fn collect(value: &Value, path: &str, out: &mut Vec<FieldError>) {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if s.chars().any(is_forbidden) => out.push(refusal(if path.is_empty() {
            "body".into()
        } else {
            path.to_owned()
        })),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                collect(item, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                if key.chars().any(is_forbidden) {
                    out.push(refusal(join(&key.escape_default().to_string())));
                } else {
                    collect(item, &join(key), out);
                }
            }
        }
        _ => {}
    }
}

/// 422 naming every field of a JSON body that carries a control character.
pub fn check_json(body: &[u8]) -> Result<(), ApiError> {
    if !may_hold_controls(body) {
        return Ok(());
    }
    let Ok(value) = serde_json::from_slice::<Value>(body) else {
        // Not JSON: the parser that follows says so.
        return Ok(());
    };
    let mut found = Vec::new();
    collect(&value, "", &mut found);
    if found.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(found))
    }
}

/// 422 naming the query parameters whose decoded name or value carries a
/// control character (`?q=%00`).
pub fn check_query(query: &str) -> Result<(), ApiError> {
    if !query.contains('%') && !query.chars().any(is_forbidden) {
        return Ok(());
    }
    let Ok(pairs) = web::Query::<Vec<(String, String)>>::from_query(query) else {
        // Not decodable: the route's own query extractor answers.
        return Ok(());
    };
    let found: Vec<FieldError> = pairs
        .iter()
        .filter(|(k, v)| k.chars().chain(v.chars()).any(is_forbidden))
        .map(|(k, _)| refusal(k.escape_default().to_string()))
        .collect();
    if found.is_empty() {
        Ok(())
    } else {
        Err(ApiError::Validation(found))
    }
}

/// Middleware: refuses a request whose query string carries a control
/// character before any route reads it.
pub async fn refuse_controls_in_query(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    check_query(req.query_string())?;
    next.call(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(err: ApiError) -> Vec<String> {
        match err {
            ApiError::Validation(errors) => errors.into_iter().map(|e| e.field).collect(),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn json_names_each_field_with_a_control_character() {
        let body = r#"{"ticket_code": "AB\u0000", "ok": "第一行\n第二行\t",
            "checkins": [{"gate": "东门"}, {"gate": "\u007f"}], "c1": "x"}"#
            .replace("\"x\"", "\"\u{85}\"");
        let err = check_json(body.as_bytes()).unwrap_err();
        let mut found = fields(err);
        found.sort();
        assert_eq!(found, ["c1", "checkins[1].gate", "ticket_code"]);
        assert!(check_json("{\"title\": \"名校引才\\u0041\"}".as_bytes()).is_ok());
        assert!(check_json(b"{\"n\": 1}").is_ok());
    }

    #[test]
    fn query_names_each_parameter_with_a_control_character() {
        assert_eq!(fields(check_query("q=%00&city=ok").unwrap_err()), ["q"]);
        assert_eq!(fields(check_query("to=a%7Fb").unwrap_err()), ["to"]);
        assert!(check_query("q=%E9%84%82%E5%B0%94%E5%A4%9A%E6%96%AF&limit=5").is_ok());
        assert!(check_query("").is_ok());
    }
}
