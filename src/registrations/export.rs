//! An event's registrations as a spreadsheet, read page by page.

use chrono::{DateTime, Utc};
use futures_util::stream;
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::contacts::contacts;
use crate::{
    entities::{registrations, users},
    events::{access::Access, seats::with_users},
    http::{ApiError, Caller, export::Cell, paged_export::PeoplePages},
};

/// Rows read per page.
const PAGE: u64 = 500;

pub const HEADERS: [&str; 13] = [
    "registration_id",
    "status",
    "waitlist_position",
    "full_name",
    "university",
    "major",
    "degree",
    "graduation_year",
    "email",
    "phone",
    "registered_at",
    "confirmed_at",
    "cancelled_at",
];

/// Every matching registration, in pages by id, with the contact details
/// the caller may see; each row names its student.
pub fn pages(
    conn: DatabaseConnection,
    caller: Caller,
    access: Access,
    filter: Condition,
) -> PeoplePages {
    let start = (Some(None::<Uuid>), conn, caller, filter);
    Box::pin(stream::try_unfold(
        start,
        move |(after, conn, caller, filter)| async move {
            let Some(after) = after else {
                return Ok(None);
            };
            let (rows, next) = page(&conn, &caller, access, &filter, after).await?;
            Ok(Some((rows, (next.map(Some), conn, caller, filter))))
        },
    ))
}

/// One page after `after`; the id to continue from, when there may be more.
async fn page(
    conn: &DatabaseConnection,
    caller: &Caller,
    access: Access,
    filter: &Condition,
    after: Option<Uuid>,
) -> Result<(Vec<(Uuid, Vec<Cell>)>, Option<Uuid>), ApiError> {
    use registrations::Column as R;
    let mut select = registrations::Entity::find()
        .filter(filter.clone())
        .order_by_asc(R::Id)
        .limit(PAGE);
    if let Some(after) = after {
        select = select.filter(R::Id.gt(after));
    }
    let rows = select.all(conn).await?;
    let next = (rows.len() as u64 == PAGE)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let ids: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
    let contacts = contacts(conn, caller, access, &ids).await?;
    let cells = with_users(conn, rows)
        .await?
        .into_iter()
        .map(|(r, u)| (u.id, row(&r, &u, contacts.contains(&u.id))))
        .collect();
    Ok((cells, next))
}

fn row(r: &registrations::Model, u: &users::Model, with_contact: bool) -> Vec<Cell> {
    let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
    let name = |v: Option<serde_json::Value>| {
        v.and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    let mut cells = vec![
        r.id.to_string(),
        name(serde_json::to_value(r.status).ok()),
        r.waitlist_position
            .map(|p| p.to_string())
            .unwrap_or_default(),
        u.full_name.clone(),
        u.university.clone().unwrap_or_default(),
        u.major.clone().unwrap_or_default(),
        name(u.degree.and_then(|d| serde_json::to_value(d).ok())),
        u.graduation_year.map(|y| y.to_string()).unwrap_or_default(),
    ];
    if with_contact {
        cells.push(u.email.clone());
        cells.push(u.phone.clone().unwrap_or_default());
    } else {
        cells.extend([String::new(), String::new()]);
    }
    cells.extend([
        time(Some(r.created_at)),
        time(r.confirmed_at),
        time(r.cancelled_at),
    ]);
    cells.into_iter().map(Cell::Text).collect()
}
