//! The audit trail: who wrote what, and who read or exported whose personal
//! data, with the address and request id it came from. Rows are only ever
//! inserted (the database refuses UPDATE and DELETE on both tables); the
//! people whose data a row touched are listed in `audit_subjects`, which is
//! what a student's access log reads.

use sea_orm::{
    ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryTrait, Set, Statement,
    sea_query::OnConflict,
};
use uuid::Uuid;

use crate::{
    db,
    entities::{audit_log, audit_subjects},
};

/// What kind of access a row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A change through the API.
    Write,
    /// Someone else's personal data shown in an answer.
    Read,
    /// Someone else's personal data in a file (CSV, XLSX, the door's list).
    Export,
    /// Work the platform did by itself (retention).
    System,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Write => "write",
            Kind::Read => "read",
            Kind::Export => "export",
            Kind::System => "system",
        }
    }
}

/// One row to record.
#[derive(Debug, Clone)]
pub struct Entry {
    pub kind: Kind,
    pub actor_id: Option<Uuid>,
    pub actor_role: Option<String>,
    pub action: String,
    pub path: Option<String>,
    pub target_id: Option<Uuid>,
    pub status: Option<u16>,
    pub ip: Option<String>,
    pub request_id: Option<String>,
    pub detail: Option<serde_json::Value>,
}

impl Entry {
    /// Work of the platform itself, such as a retention run.
    pub fn system(action: &str, detail: serde_json::Value) -> Self {
        Self {
            kind: Kind::System,
            actor_id: None,
            actor_role: None,
            action: action.to_owned(),
            path: None,
            target_id: None,
            status: None,
            ip: None,
            request_id: None,
            detail: Some(detail),
        }
    }
}

/// Subjects inserted per statement.
const CHUNK: usize = 500;

/// Inserts the row and its subjects; the row's id. On PostgreSQL one
/// statement does both (one round trip and one commit for the audit of a
/// request); elsewhere, or for more people than a statement takes, the row
/// and then its subjects.
pub async fn record<C: ConnectionTrait>(
    conn: &C,
    entry: Entry,
    subjects: &[Uuid],
) -> Result<Uuid, DbErr> {
    let id = Uuid::now_v7();
    let row = row(id, entry);
    if conn.get_database_backend() == DbBackend::Postgres && subjects.len() <= CHUNK {
        return record_at_once(conn, id, row, subjects).await.map(|()| id);
    }
    audit_log::Entity::insert(row)
        .exec_without_returning(conn)
        .await?;
    add_subjects(conn, id, subjects).await?;
    Ok(id)
}

/// `entry` as the row `id`.
fn row(id: Uuid, entry: Entry) -> audit_log::ActiveModel {
    audit_log::ActiveModel {
        id: Set(id),
        at: Set(db::now()),
        actor_id: Set(entry.actor_id),
        actor_role: Set(entry.actor_role),
        kind: Set(entry.kind.as_str().to_owned()),
        action: Set(cut(entry.action, 160)),
        path: Set(entry.path.map(|p| cut(p, 512))),
        target_id: Set(entry.target_id),
        status: Set(entry.status.map(i32::from)),
        ip: Set(entry.ip),
        request_id: Set(entry.request_id),
        detail: Set(entry.detail.map(|d| d.to_string())),
    }
}

/// The fields of an entry that each row of a batched statement carries
/// (see [`crate::batch`]), as `json_to_recordset` declares them: every
/// column of the audit row but its id, prefixed `a_`.
pub const FIELDS: &str = "a_at timestamptz, a_actor_id uuid, a_actor_role text, a_kind text, \
    a_action text, a_path text, a_target_id uuid, a_status int, a_ip text, a_request_id text, \
    a_detail text";

/// `entry`'s values under the names of [`FIELDS`], added to `fields`.
pub fn fields(entry: Entry, fields: &mut serde_json::Map<String, serde_json::Value>) {
    let r = row(Uuid::nil(), entry);
    let values = [
        ("a_at", serde_json::json!(r.at.unwrap())),
        ("a_actor_id", serde_json::json!(r.actor_id.unwrap())),
        ("a_actor_role", serde_json::json!(r.actor_role.unwrap())),
        ("a_kind", serde_json::json!(r.kind.unwrap())),
        ("a_action", serde_json::json!(r.action.unwrap())),
        ("a_path", serde_json::json!(r.path.unwrap())),
        ("a_target_id", serde_json::json!(r.target_id.unwrap())),
        ("a_status", serde_json::json!(r.status.unwrap())),
        ("a_ip", serde_json::json!(r.ip.unwrap())),
        ("a_request_id", serde_json::json!(r.request_id.unwrap())),
        ("a_detail", serde_json::json!(r.detail.unwrap())),
    ];
    for (name, value) in values {
        fields.insert(name.into(), value);
    }
}

/// A CTE `{name}`, and `{name}_people` when there is a `subject`, for a
/// PostgreSQL statement whose own work decides what there is to record:
/// for each row of `source` (a CTE named earlier, whose rows carry an
/// entry's [`FIELDS`]), they insert its audit row with the id `id` and its
/// person `subject` (expressions over `source`), so each change and its
/// audit row commit together or not at all. `status`, an expression over
/// `source`, replaces the entry's status when the statement decides that
/// too.
pub fn record_each_within(
    name: &str,
    source: &str,
    id: &str,
    subject: Option<&str>,
    status: Option<&str>,
) -> String {
    use sea_orm::{IdenStatic, Iterable};
    let (mut columns, mut values) = (Vec::new(), Vec::new());
    for column in audit_log::Column::iter() {
        columns.push(column.as_str());
        values.push(match (column, status) {
            (audit_log::Column::Id, _) => id.to_owned(),
            (audit_log::Column::Status, Some(status)) => status.to_owned(),
            _ => format!("{source}.a_{}", column.as_str()),
        });
    }
    let logged = format!(
        "{name} AS (INSERT INTO audit_log ({}) SELECT {} FROM {source} RETURNING id)",
        columns.join(", "),
        values.join(", "),
    );
    match subject {
        None => logged,
        Some(subject) => format!(
            "{logged}, {name}_people AS (INSERT INTO audit_subjects (audit_id, user_id) \
             SELECT {name}.id, {subject} FROM {name} JOIN {source} ON {id} = {name}.id)"
        ),
    }
}

/// The row and its people in one PostgreSQL statement: the row's insert is
/// built by sea-query, and its people follow as a comma-separated list.
async fn record_at_once<C: ConnectionTrait>(
    conn: &C,
    id: Uuid,
    row: audit_log::ActiveModel,
    subjects: &[Uuid],
) -> Result<(), DbErr> {
    let (insert, mut values) = audit_log::Entity::insert(row)
        .into_query()
        .build(sea_orm::sea_query::PostgresQueryBuilder);
    let people = subjects
        .iter()
        .map(Uuid::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let (n, m) = (values.0.len() + 1, values.0.len() + 2);
    values.0.push(id.into());
    values.0.push(people.into());
    let sql = format!(
        "WITH logged AS ({insert}) INSERT INTO audit_subjects (audit_id, user_id) \
         SELECT DISTINCT ${n}::uuid, s::uuid FROM unnest(string_to_array(${m}::text, ',')) AS s \
         ON CONFLICT DO NOTHING"
    );
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .await?;
    Ok(())
}

/// Adds people to a row, e.g. page by page as an export is written. A
/// person already listed is not listed twice.
pub async fn add_subjects<C: ConnectionTrait>(
    conn: &C,
    audit_id: Uuid,
    subjects: &[Uuid],
) -> Result<(), DbErr> {
    let mut subjects = subjects.to_vec();
    subjects.sort_unstable();
    subjects.dedup();
    for chunk in subjects.chunks(CHUNK) {
        audit_subjects::Entity::insert_many(chunk.iter().map(|user_id| {
            audit_subjects::ActiveModel {
                audit_id: Set(audit_id),
                user_id: Set(*user_id),
            }
        }))
        .on_conflict(
            OnConflict::columns([
                audit_subjects::Column::AuditId,
                audit_subjects::Column::UserId,
            ])
            .do_nothing()
            .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

fn cut(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use sea_orm::{IdenStatic, Iterable};

    use super::*;

    /// A batched row carries every column of the audit row but its id, and
    /// [`fields`] fills each one.
    #[test]
    fn batch_fields_are_the_columns() {
        let declared: Vec<&str> = FIELDS
            .split(',')
            .map(|field| field.split_whitespace().next().unwrap_or_default())
            .collect();
        let columns: Vec<String> = audit_log::Column::iter()
            .filter(|c| !matches!(c, audit_log::Column::Id))
            .map(|c| format!("a_{}", c.as_str()))
            .collect();
        assert_eq!(declared, columns);
        let mut filled = serde_json::Map::new();
        fields(
            Entry::system("retention.run", serde_json::json!({})),
            &mut filled,
        );
        let mut names: Vec<&String> = filled.keys().collect();
        names.sort();
        let mut expected: Vec<&String> = columns.iter().collect();
        expected.sort();
        assert_eq!(names, expected);
    }
}
