//! Values parsed once at the edge. Each type's field is private: the only
//! way to get one is `parse`, so code that holds one knows it is valid.

use serde::Serialize;
use utoipa::ToSchema;

/// One invalid field of a request.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
pub struct FieldError {
    /// The field's name, with a path for nested fields (`checkins[2].ticket_code`).
    pub field: String,
    /// Stable reason: `required`, `invalid`, `too_long`, `too_short`, `invalid_type`, ...
    pub code: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// A trimmed string of 1..=max characters (Chinese characters count as one).
pub fn text(field: &str, value: &str, max: usize) -> Result<String, FieldError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(FieldError::new(field, "required", "must not be empty"));
    }
    if value.chars().count() > max {
        return Err(FieldError::new(
            field,
            "too_long",
            format!("must be at most {max} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return Err(FieldError::new(
            field,
            "invalid",
            "must not contain control characters",
        ));
    }
    Ok(value.to_owned())
}

/// Like [`text`], for an optional field: absent or blank is `None`.
pub fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(v) => text(field, v, max).map(Some),
    }
}

/// An email address, lower-cased. Deliberately simple: one `@`, a dotted
/// domain, no spaces; the verification email proves the rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let value = value.trim().to_lowercase();
        let invalid = || FieldError::new(field, "invalid", "is not an email address");
        if value.is_empty() {
            return Err(FieldError::new(field, "required", "must not be empty"));
        }
        if value.len() > 254 {
            return Err(FieldError::new(
                field,
                "too_long",
                "must be at most 254 characters",
            ));
        }
        let (local, domain) = value.split_once('@').ok_or_else(invalid)?;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let local_ok = !local.is_empty()
            && local.len() <= 64
            && !local
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>()[],;:\\\"@".contains(c));
        if domain_ok && local_ok {
            Ok(Self(value))
        } else {
            Err(invalid())
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A password that meets the minimum policy: 8 to 128 characters, with at
/// least one letter and one digit. Never logged, never stored as given.
pub struct Password(String);

impl Password {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let count = value.chars().count();
        if count < 8 {
            return Err(FieldError::new(
                field,
                "too_short",
                "must be at least 8 characters",
            ));
        }
        if count > 128 {
            return Err(FieldError::new(
                field,
                "too_long",
                "must be at most 128 characters",
            ));
        }
        if !value.chars().any(char::is_alphabetic) || !value.chars().any(|c| c.is_ascii_digit()) {
            return Err(FieldError::new(
                field,
                "too_weak",
                "must contain at least one letter and one digit",
            ));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

/// A mainland Chinese mobile number: 11 digits starting with 1[3-9], with an
/// optional +86 / 86 prefix and spaces or dashes, stored as the 11 digits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let digits: String = value.chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let digits = digits
            .strip_prefix("+86")
            .or_else(|| digits.strip_prefix("0086"))
            .or_else(|| {
                (digits.len() == 13)
                    .then(|| digits.strip_prefix("86"))
                    .flatten()
            })
            .unwrap_or(&digits);
        let bytes = digits.as_bytes();
        let ok = bytes.len() == 11
            && bytes.iter().all(u8::is_ascii_digit)
            && bytes[0] == b'1'
            && (b'3'..=b'9').contains(&bytes[1]);
        if ok {
            Ok(Self(digits.to_owned()))
        } else {
            Err(FieldError::new(
                field,
                "invalid",
                "is not a mainland China mobile number",
            ))
        }
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A whole number within `range` (capacity, headcount, year, ...).
pub fn in_range(
    field: &str,
    value: i32,
    range: std::ops::RangeInclusive<i32>,
) -> Result<i32, FieldError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(FieldError::new(
            field,
            "out_of_range",
            format!("must be between {} and {}", range.start(), range.end()),
        ))
    }
}

/// A time the platform can plausibly mean: years 2000 to 2100. Outside
/// them PostgreSQL may refuse the value, and no event happens there.
pub fn plausible_time(
    field: &str,
    t: chrono::DateTime<chrono::Utc>,
) -> Result<chrono::DateTime<chrono::Utc>, FieldError> {
    use chrono::Datelike;
    in_range(field, t.year(), 2000..=2100)
        .map(|_| t)
        .map_err(|_| FieldError::new(field, "out_of_range", "must be in the years 2000 to 2100"))
}

/// Like [`plausible_time`], for a date.
pub fn plausible_date(field: &str, d: chrono::NaiveDate) -> Result<chrono::NaiveDate, FieldError> {
    use chrono::Datelike;
    in_range(field, d.year(), 2000..=2100)
        .map(|_| d)
        .map_err(|_| FieldError::new(field, "out_of_range", "must be in the years 2000 to 2100"))
}

/// A graduation year the platform can plausibly serve.
pub fn graduation_year(field: &str, value: i32) -> Result<i32, FieldError> {
    in_range(field, value, 1950..=2100)
}

/// A list of short texts (majors, benefits): each trimmed and checked like
/// [`text`], duplicates dropped, at most `max_items` of them.
pub fn text_list(
    field: &str,
    values: &[String],
    max_items: usize,
    max_len: usize,
) -> Result<Vec<String>, FieldError> {
    if values.len() > max_items {
        return Err(FieldError::new(
            field,
            "too_many",
            format!("must have at most {max_items} items"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(values.len());
    for (i, value) in values.iter().enumerate() {
        let value = text(&format!("{field}[{i}]"), value, max_len)?;
        if !out.contains(&value) {
            out.push(value);
        }
    }
    Ok(out)
}

/// Deserializes a field that a PATCH may set to `null`: absent is `None`,
/// `null` is `Some(None)`, a value is `Some(Some(v))`. Use with
/// `#[serde(default, deserialize_with = "domain::nullable")]`.
pub fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    <Option<T> as serde::Deserialize>::deserialize(deserializer).map(Some)
}

/// 统一社会信用代码 (unified social credit code, GB 32100-2015): 18
/// characters from a 31-character alphabet, the last a check character.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreditCode(String);

const CREDIT_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";
const CREDIT_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

impl CreditCode {
    pub fn parse(field: &str, value: &str) -> Result<Self, FieldError> {
        let value = value.trim().to_ascii_uppercase();
        if value.chars().count() != 18 {
            return Err(FieldError::new(field, "invalid", "must be 18 characters"));
        }
        let mut digits = Vec::with_capacity(18);
        for c in value.chars() {
            match CREDIT_ALPHABET.find(c) {
                Some(i) => digits.push(i as u32),
                None => {
                    return Err(FieldError::new(
                        field,
                        "invalid",
                        format!("contains {c:?}, which a credit code never has"),
                    ));
                }
            }
        }
        let sum: u32 = digits[..17]
            .iter()
            .zip(CREDIT_WEIGHTS)
            .map(|(d, w)| d * w)
            .sum();
        let check = (31 - sum % 31) % 31;
        if digits[17] != check {
            return Err(FieldError::new(
                field,
                "checksum",
                "the check character does not match",
            ));
        }
        Ok(Self(value))
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.cn", " Li.Lei@PKU.edu.cn ", "x+tag@mail.zju.edu.cn"] {
            assert!(Email::parse("email", ok).is_ok(), "should accept {ok:?}");
        }
        assert_eq!(Email::parse("email", "A@B.CN").unwrap().as_str(), "a@b.cn");
        for bad in [
            "", "plain", "a@b", "a@.cn", "a b@c.cn", "@c.cn", "a@b..cn", "a@b.cn.",
        ] {
            assert!(Email::parse("email", bad).is_err(), "should refuse {bad:?}");
        }
    }

    #[test]
    fn passwords() {
        assert!(Password::parse("password", "abcd1234").is_ok());
        assert!(Password::parse("password", "暖城之邀2026ab").is_ok());
        for (bad, code) in [
            ("abc123", "too_short"),
            ("abcdefgh", "too_weak"),
            ("12345678", "too_weak"),
        ] {
            assert_eq!(
                Password::parse("password", bad).unwrap_err().code,
                code,
                "{bad}"
            );
        }
        assert_eq!(
            format!("{:?}", Password::parse("p", "abcd1234").unwrap()),
            "Password(***)"
        );
    }

    #[test]
    fn phones() {
        for (ok, digits) in [
            ("13800138000", "13800138000"),
            ("+86 138-0013-8000", "13800138000"),
            ("8619912345678", "19912345678"),
        ] {
            assert_eq!(
                Phone::parse("phone", ok).unwrap().into_inner(),
                digits,
                "{ok}"
            );
        }
        for bad in [
            "12800138000",
            "1380013800",
            "138001380001",
            "abc",
            "010-12345678",
        ] {
            assert!(Phone::parse("phone", bad).is_err(), "should refuse {bad}");
        }
    }

    #[test]
    fn texts() {
        assert_eq!(text("name", "  鄂尔多斯  ", 4).unwrap(), "鄂尔多斯");
        assert_eq!(text("name", "鄂尔多斯市", 4).unwrap_err().code, "too_long");
        assert_eq!(text("name", "   ", 4).unwrap_err().code, "required");
        assert_eq!(text("name", "a\u{0}b", 4).unwrap_err().code, "invalid");
        assert_eq!(optional_text("phone", Some("  "), 4).unwrap(), None);
    }

    #[test]
    fn credit_codes() {
        for ok in [
            "91350100M000100Y43",
            "91110000802100433B",
            " 91350100m000100y43 ",
        ] {
            assert!(
                CreditCode::parse("credit_code", ok).is_ok(),
                "should accept {ok:?}"
            );
        }
        for (bad, code) in [
            ("91350100M000100Y44", "checksum"),
            ("91350100M000100Y4", "invalid"),
            ("91350100M000100I43", "invalid"),
        ] {
            assert_eq!(
                CreditCode::parse("credit_code", bad).unwrap_err().code,
                code,
                "{bad}"
            );
        }
    }
}
