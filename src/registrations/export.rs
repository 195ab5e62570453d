//! An event's registrations as a spreadsheet.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::contacts::contacts;
use crate::{
    entities::registrations,
    events::{access::Access, seats::with_users},
    http::{
        ApiError, Caller,
        export::{Cell, Table},
    },
};

const CSV_BATCH: u64 = 500;

/// Every matching registration as a table for CSV or XLSX, read in
/// batches by id.
pub async fn export_table(
    conn: &DatabaseConnection,
    caller: &Caller,
    access: Access,
    filter: Condition,
) -> Result<Table, ApiError> {
    use registrations::Column as R;
    let mut table = Table::new(&[
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
    ]);
    let mut after: Option<Uuid> = None;
    loop {
        let mut select = registrations::Entity::find()
            .filter(filter.clone())
            .order_by_asc(R::Id)
            .limit(CSV_BATCH);
        if let Some(after) = after {
            select = select.filter(R::Id.gt(after));
        }
        let rows = select.all(conn).await?;
        let done = (rows.len() as u64) < CSV_BATCH;
        after = rows.last().map(|r| r.id);
        let ids: Vec<Uuid> = rows.iter().map(|r| r.user_id).collect();
        let contacts = contacts(conn, caller, access, &ids).await?;
        for (r, u) in with_users(conn, rows).await? {
            let time = |t: Option<DateTime<Utc>>| t.map(|t| t.to_rfc3339()).unwrap_or_default();
            let status = serde_json::to_value(r.status)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let degree = u
                .degree
                .and_then(|d| serde_json::to_value(d).ok())
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default();
            let mut cells = vec![
                r.id.to_string(),
                status,
                r.waitlist_position
                    .map(|p| p.to_string())
                    .unwrap_or_default(),
                u.full_name.clone(),
                u.university.clone().unwrap_or_default(),
                u.major.clone().unwrap_or_default(),
                degree,
                u.graduation_year.map(|y| y.to_string()).unwrap_or_default(),
            ];
            if contacts.contains(&u.id) {
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
            table.push(cells.into_iter().map(Cell::Text).collect());
        }
        if done {
            break;
        }
    }
    Ok(table)
}
