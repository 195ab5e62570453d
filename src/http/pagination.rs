//! Cursor pagination shared by every list: `?limit=` (default 50, max 200)
//! and an opaque `?cursor=`; answers are `{"items": [...], "next_cursor": ...}`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::error::ApiError;

pub const DEFAULT_LIMIT: u64 = 50;
pub const MAX_LIMIT: u64 = 200;

#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
pub struct PageQuery {
    /// Items per page: 1 to 200, default 50.
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A validated page request: the id to continue after, and how many to take.
#[derive(Debug, Clone, Copy)]
pub struct PageRequest {
    pub after: Option<Uuid>,
    pub limit: u64,
}

impl PageQuery {
    pub fn parse(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n,
            Some(_) => {
                return Err(ApiError::field(
                    "limit",
                    "out_of_range",
                    format!("limit must be between 1 and {MAX_LIMIT}"),
                ));
            }
        };
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(decode_cursor(cursor).ok_or_else(|| {
                ApiError::field(
                    "cursor",
                    "invalid",
                    "the cursor is not one this server gave",
                )
            })?),
        };
        Ok(PageRequest { after, limit })
    }
}

impl PageQuery {
    /// For lists ordered by a time and then the id (events by start time):
    /// the cursor carries both.
    pub fn parse_timed(&self) -> Result<TimedPageRequest, ApiError> {
        let plain = PageQuery {
            limit: self.limit,
            cursor: None,
        }
        .parse()?;
        let after = match self.cursor.as_deref() {
            None | Some("") => None,
            Some(cursor) => Some(decode_timed(cursor).ok_or_else(|| {
                ApiError::field(
                    "cursor",
                    "invalid",
                    "the cursor is not one this server gave",
                )
            })?),
        };
        Ok(TimedPageRequest {
            after,
            limit: plain.limit,
        })
    }
}

/// A page of a list ordered by (time, id).
#[derive(Debug, Clone, Copy)]
pub struct TimedPageRequest {
    pub after: Option<(DateTime<Utc>, Uuid)>,
    pub limit: u64,
}

pub fn encode_timed(at: DateTime<Utc>, id: Uuid) -> String {
    let mut bytes = at.timestamp_micros().to_be_bytes().to_vec();
    bytes.extend_from_slice(id.as_bytes());
    URL_SAFE_NO_PAD.encode(bytes)
}

fn decode_timed(cursor: &str) -> Option<(DateTime<Utc>, Uuid)> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    if bytes.len() != 24 {
        return None;
    }
    let micros = i64::from_be_bytes(bytes[..8].try_into().ok()?);
    let at = DateTime::from_timestamp_micros(micros)?;
    crate::domain::plausible_time("cursor", at).ok()?;
    Some((at, Uuid::from_slice(&bytes[8..]).ok()?))
}

impl<T> Page<T> {
    /// Like [`Page::from_rows`] for a list ordered by (time, id).
    pub fn from_timed_rows<R>(
        rows: Vec<R>,
        limit: u64,
        key_of: impl Fn(&R) -> (DateTime<Utc>, Uuid),
        map: impl FnMut(R) -> T,
    ) -> Self {
        Self::build(
            rows,
            limit,
            |row| {
                let (at, id) = key_of(row);
                encode_timed(at, id)
            },
            map,
        )
    }

    /// Builds a page from rows fetched with `limit + 1`: the extra row only
    /// says that there is more.
    fn build<R>(
        mut rows: Vec<R>,
        limit: u64,
        cursor_of: impl Fn(&R) -> String,
        map: impl FnMut(R) -> T,
    ) -> Self {
        let more = rows.len() as u64 > limit;
        rows.truncate(limit as usize);
        let next_cursor = if more {
            rows.last().map(cursor_of)
        } else {
            None
        };
        Self {
            items: rows.into_iter().map(map).collect(),
            next_cursor,
        }
    }
}

pub fn encode_cursor(id: Uuid) -> String {
    URL_SAFE_NO_PAD.encode(id.as_bytes())
}

fn decode_cursor(cursor: &str) -> Option<Uuid> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    Uuid::from_slice(&bytes).ok()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    /// Builds a page of a list ordered by id.
    pub fn from_rows<R>(
        rows: Vec<R>,
        page: PageRequest,
        id_of: impl Fn(&R) -> Uuid,
        map: impl FnMut(R) -> T,
    ) -> Self {
        Self::build(rows, page.limit, |row| encode_cursor(id_of(row)), map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_cursors() {
        let id = Uuid::now_v7();
        let q = PageQuery {
            limit: None,
            cursor: Some(encode_cursor(id)),
        };
        let page = q.parse().unwrap();
        assert_eq!((page.after, page.limit), (Some(id), DEFAULT_LIMIT));
        for bad in [Some(0), Some(201)] {
            assert!(
                PageQuery {
                    limit: bad,
                    cursor: None
                }
                .parse()
                .is_err(),
                "{bad:?}"
            );
        }
        let at = DateTime::from_timestamp_micros(1_796_000_000_123_456).unwrap();
        let timed = PageQuery {
            limit: Some(10),
            cursor: Some(encode_timed(at, id)),
        }
        .parse_timed()
        .unwrap();
        assert_eq!((timed.after, timed.limit), (Some((at, id)), 10));
        assert!(
            PageQuery {
                limit: None,
                cursor: Some(encode_cursor(id)),
            }
            .parse_timed()
            .is_err()
        );
        assert!(
            PageQuery {
                limit: None,
                cursor: Some("!!".into())
            }
            .parse()
            .is_err()
        );
    }
}
