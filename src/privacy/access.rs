//! Reading the audit trail: the admins' whole log with filters, and a
//! student's own access log (who read or exported their data).

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    sea_query::Query,
};
use uuid::Uuid;

use super::types::*;
use crate::{
    entities::{audit_log, audit_subjects, employers, users},
    http::{ApiError, Page, pagination::PageRequest},
};

const KINDS: [&str; 4] = ["write", "read", "export", "system"];

/// Rows touching `user_id`'s data.
fn about(user_id: Uuid) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column(audit_subjects::Column::AuditId)
        .from(audit_subjects::Entity)
        .and_where(audit_subjects::Column::UserId.eq(user_id))
        .to_owned()
}

/// The log, newest first.
pub async fn list(
    conn: &DatabaseConnection,
    query: &AuditQuery,
    page: PageRequest,
) -> Result<Page<AuditEntry>, ApiError> {
    use audit_log::Column as A;
    let mut filter = Condition::all();
    if let Some(kind) = query.kind.as_deref() {
        if !KINDS.contains(&kind) {
            return Err(ApiError::bad_request(
                "invalid_query",
                "kind is one of write, read, export, system",
            ));
        }
        filter = filter.add(A::Kind.eq(kind));
    }
    if let Some(actor) = query.actor_id {
        filter = filter.add(A::ActorId.eq(actor));
    }
    if let Some(subject) = query.subject_id {
        filter = filter.add(A::Id.in_subquery(about(subject)));
    }
    if let Some(action) = query.action.as_deref() {
        filter = filter.add(A::Action.eq(action));
    }
    if let (Some(from), Some(to)) = (query.from, query.to)
        && from >= to
    {
        return Err(ApiError::bad_request(
            "invalid_query",
            "from must be before to",
        ));
    }
    if let Some(from) = query.from {
        filter = filter.add(A::At.gte(from));
    }
    if let Some(to) = query.to {
        filter = filter.add(A::At.lt(to));
    }
    if let Some(after) = page.after {
        filter = filter.add(A::Id.lt(after));
    }
    let rows = audit_log::Entity::find()
        .filter(filter)
        .order_by_desc(A::Id)
        .limit(page.limit + 1)
        .all(conn)
        .await?;
    let mut subjects = subjects_of(conn, rows.iter().map(|r| r.id)).await?;
    Ok(Page::from_rows(
        rows,
        page,
        |r| r.id,
        |r| {
            let people = subjects.remove(&r.id).unwrap_or_default();
            AuditEntry::new(r, people)
        },
    ))
}

async fn subjects_of(
    conn: &DatabaseConnection,
    ids: impl Iterator<Item = Uuid>,
) -> Result<HashMap<Uuid, Vec<Uuid>>, ApiError> {
    let ids: Vec<Uuid> = ids.collect();
    let mut by_row: HashMap<Uuid, Vec<Uuid>> = HashMap::new();
    if ids.is_empty() {
        return Ok(by_row);
    }
    for s in audit_subjects::Entity::find()
        .filter(audit_subjects::Column::AuditId.is_in(ids))
        .all(conn)
        .await?
    {
        by_row.entry(s.audit_id).or_default().push(s.user_id);
    }
    Ok(by_row)
}

/// Who else read or exported `user_id`'s data, newest first.
pub async fn access_log(
    conn: &DatabaseConnection,
    user_id: Uuid,
    page: PageRequest,
) -> Result<Page<AccessEntry>, ApiError> {
    use audit_log::Column as A;
    let mut select = audit_log::Entity::find()
        .filter(A::Id.in_subquery(about(user_id)))
        .filter(A::Kind.is_in(["read", "export"]))
        .filter(
            Condition::any()
                .add(A::ActorId.is_null())
                .add(A::ActorId.ne(user_id)),
        )
        .order_by_desc(A::Id)
        .limit(page.limit + 1);
    if let Some(after) = page.after {
        select = select.filter(A::Id.lt(after));
    }
    let rows = select.all(conn).await?;
    let actors = users::by_ids(conn, rows.iter().filter_map(|r| r.actor_id)).await?;
    let employer_ids: Vec<Uuid> = actors.values().filter_map(|u| u.employer_id).collect();
    let employers: HashMap<Uuid, String> = employers::Entity::find()
        .filter(employers::Column::Id.is_in(employer_ids))
        .all(conn)
        .await?
        .into_iter()
        .map(|e| (e.id, e.name))
        .collect();
    Ok(Page::from_rows(
        rows,
        page,
        |r| r.id,
        |r| AccessEntry {
            at: r.at,
            kind: r.kind,
            action: r.action,
            actor: r.actor_id.and_then(|id| actors.get(&id)).map(|u| Accessor {
                id: u.id,
                full_name: u.full_name.clone(),
                role: r.actor_role.clone().unwrap_or_default(),
                employer: u.employer_id.and_then(|e| employers.get(&e).cloned()),
            }),
        },
    ))
}
