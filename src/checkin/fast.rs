//! A scan at the door in one statement, on PostgreSQL.
//!
//! The usual scan is a first arrival or a ticket shown again. Both are
//! answered here by one statement: it checks the event and the caller's
//! place at its door, finds the confirmed registration by its ticket code
//! (holding it `FOR SHARE` when it has no check-in yet, so a cancellation
//! deciding at that moment comes first or waits; a ticket shown again
//! locks nothing), inserts the check-in `ON CONFLICT DO NOTHING` with its
//! thank-you email still to write (`notify::thanks`), writes a webhook
//! delivery for every endpoint that wants `checkin.created`, writes the
//! audit row of what it answers (the check-in, or the ticket shown
//! again), and returns the student and any earlier check-in of the ticket.
//! It commits on its own, so the 201 is durable when it leaves, as on the
//! general path; the live dashboards hear of it after the commit.
//!
//! Anything else (an unknown ticket, a closed event, a caller who may not
//! scan here, a retried `client_checkin_id` sent with another ticket, a
//! check-in made by a twin scan after this statement's snapshot) finds no
//! answer here and goes the general way in `service::scan`, which has the
//! words for every refusal. The rules are the same on both ways: a scan
//! that this statement would admit, the general path admits too.

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, FromQueryResult, Statement};
use uuid::Uuid;

use super::{
    service::{CLOCK_SKEW, Scanned, normal_code, parse_gate},
    types::*,
};
use crate::{
    audit, db,
    entities::{
        checkins::CheckinSource,
        registrations::RegistrationStatus,
        users::{Degree, Role},
    },
    http::{ApiError, Caller, FieldErrors},
    notify::webhooks::{self, WebhookEvent},
    state::AppState,
};

/// What the statement found; one row when the ticket is a confirmed
/// registration of this open event and the caller may scan at its door.
#[derive(FromQueryResult)]
struct Found {
    inserted: i64,
    registration_id: Uuid,
    student_id: Uuid,
    full_name: String,
    university: Option<String>,
    major: Option<String>,
    degree: Option<Degree>,
    prior_id: Option<Uuid>,
    prior_client_id: Option<Uuid>,
    prior_gate: Option<String>,
    prior_source: Option<CheckinSource>,
    prior_scanned_at: Option<DateTime<Utc>>,
    prior_created_at: Option<DateTime<Utc>>,
    prior_by: Option<Uuid>,
    prior_by_name: Option<String>,
    client_id_taken: bool,
}

/// Which clauses a scan's statement carries: a recruiter's door (an
/// organiser may scan at any), a `scanned_at` sent by the app (not too
/// early), a `client_checkin_id` (the same scan sent again). Each shape is
/// a statement text of its own rather than a clause a parameter switches
/// off (`$n IS NULL OR ...`): PostgreSQL plans a prepared statement's
/// first executions for their values, and a plan made for given values
/// can drop such a clause where a plan kept for all values cannot, so it
/// kept planning every scan afresh, which cost more of the database's CPU
/// than running it. With nothing to drop it keeps one plan per connection.
#[derive(Clone, Copy)]
struct Shape {
    recruiter: bool,
    sent_at: bool,
    client_id: bool,
}

/// `$1` event, `$2` the recruiter's employer, `$3` scanned_at as sent, `$4`
/// ticket code, `$5` check-in id, `$6` caller, `$7` client_checkin_id, `$8`
/// gate, `$9` scanned_at, `$10` now, `$11`-`$13` the webhook payload's id,
/// created_at and scanned_at as JSON shows them, `$14` the webhook event's
/// name; then the audit rows' values, inserted by `audits`, the audit
/// rows' CTEs.
fn scan_sql(shape: Shape, audits: &str) -> String {
    let door = if shape.recruiter {
        "AND EXISTS (SELECT 1 FROM event_employers ee
                     WHERE ee.event_id = e.id AND ee.employer_id = $2)"
    } else {
        ""
    };
    let early = if shape.sent_at {
        "AND $3::timestamptz >= e.starts_at - interval '1 day'"
    } else {
        ""
    };
    let payload = "json_build_object('created_at', $12::text, \
        'data', json_build_object('checkin_id', $5, 'event_id', $1, \
            'registration_id', ins.registration_id, 'scanned_at', $13::text, \
            'source', 'scan', 'user_id', ins.user_id), \
        'id', $11, 'type', $14::text)::text";
    let deliveries = webhooks::deliveries_sql("ins", "$14::text", payload, "$10");
    // A ticket shown again: the student, once, when this statement made no
    // check-in and the earlier one it found is the answer (so not when a
    // `client_checkin_id` names another check-in: the general path says
    // which). `status` is the answer's: 201 for the same scan sent again,
    // else 200 `already_checked_in`. Its audit row is written from here.
    let (again_status, again_only, id_taken) = if shape.client_id {
        (
            "CASE WHEN p.client_checkin_id = $7 THEN 201 ELSE 200 END",
            "AND (p.client_checkin_id = $7
                  OR NOT EXISTS (SELECT 1 FROM checkins c WHERE c.client_checkin_id = $7))",
            "EXISTS (SELECT 1 FROM checkins c WHERE c.client_checkin_id = $7)",
        )
    } else {
        ("200", "", "false")
    };
    format!(
        r#"
WITH ev AS (
    SELECT e.id FROM events e
    WHERE e.id = $1 AND e.status = 'published' {door} {early}
), seen AS (
    SELECT r.id, r.user_id FROM registrations r
    WHERE r.ticket_code = $4 AND r.event_id = $1 AND r.status = 'confirmed'
      AND EXISTS (SELECT 1 FROM ev)
), reg AS (
    SELECT r.id, r.user_id FROM registrations r
    WHERE r.id = (SELECT id FROM seen) AND r.status = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.registration_id = r.id)
    FOR SHARE OF r
), ins AS (
    INSERT INTO checkins (id, event_id, registration_id, user_id, checked_in_by,
                          client_checkin_id, gate, source, scanned_at, created_at)
    SELECT $5, $1, reg.id, reg.user_id, $6, $7, $8, 'scan', $9, $10 FROM reg
    ON CONFLICT DO NOTHING
    RETURNING registration_id, user_id
), thanks AS (
    INSERT INTO checkin_thanks (checkin_id, event_id, user_id)
    SELECT $5, $1, ins.user_id FROM ins
), hooks AS ({deliveries}), again AS (
    SELECT seen.user_id, {again_status} AS status
    FROM seen JOIN checkins p ON p.registration_id = seen.id
    WHERE NOT EXISTS (SELECT 1 FROM ins) {again_only}
), {audits}{ANSWER_HEAD}{id_taken}{ANSWER_FROM}"#
    )
}

/// The whole statement of a scan of `shape`: [`scan_sql`] with the audit
/// rows' CTEs, whose values are pushed after the fourteen of `scan_sql`.
fn statement(shape: Shape, audit: audit::Entry, values: &mut Vec<sea_orm::Value>) -> String {
    let logged = audit::record_within(audit.clone(), "logged", "ins", "ins.user_id", None, values);
    let logged_again = audit::record_within(
        audit,
        "logged_again",
        "again",
        "again.user_id",
        Some("again.status"),
        values,
    );
    scan_sql(shape, &format!("{logged}, {logged_again}"))
}

/// What the statement answers, after the CTEs of [`scan_sql`] and the
/// audit's.
const ANSWER_HEAD: &str = r#"
SELECT (SELECT count(*) FROM ins) AS inserted,
       seen.id AS registration_id, u.id AS student_id, u.full_name, u.university, u.major, u.degree,
       p.id AS prior_id, p.client_checkin_id AS prior_client_id, p.gate AS prior_gate,
       p.source AS prior_source, p.scanned_at AS prior_scanned_at,
       p.created_at AS prior_created_at, p.checked_in_by AS prior_by, pb.full_name AS prior_by_name,
       "#;
const ANSWER_FROM: &str = r#" AS client_id_taken
FROM seen
JOIN users u ON u.id = seen.user_id
LEFT JOIN checkins p ON p.registration_id = seen.id
LEFT JOIN users pb ON pb.id = p.checked_in_by
"#;

/// The scan answered in one statement, or `None` for the general path.
/// What it answers is recorded in the audit trail as `audit` (with the
/// answer's status) by the same statement: a check-in with the check-in,
/// a ticket shown again on its own.
pub async fn scan(
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
    input: &CheckinRequest,
    audit: audit::Entry,
) -> Result<Option<Scanned>, ApiError> {
    if state.db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let (staff, employer) = match (caller.role, caller.employer_id) {
        (Role::Organiser | Role::Admin, _) => (true, None),
        (Role::Recruiter, Some(employer)) => (false, Some(employer)),
        _ => return Ok(None),
    };
    let code = normal_code(&input.ticket_code);
    let now = db::now();
    let sent_at = input.scanned_at.map(db::truncate);
    let mut errors = FieldErrors::new();
    let gate = parse_gate(&mut errors, "", input.gate.as_deref());
    if errors.finish().is_err()
        || code.is_empty()
        || sent_at.is_some_and(|at| at > now + CLOCK_SKEW)
    {
        return Ok(None);
    }
    let id = Uuid::now_v7();
    let scanned_at = sent_at.unwrap_or(now);
    let as_json = |t: DateTime<Utc>| serde_json::to_value(t).map_err(ApiError::internal);
    let mut values: Vec<sea_orm::Value> = vec![
        event_id.into(),
        employer.into(),
        sent_at.into(),
        code.into(),
        id.into(),
        caller.id.into(),
        input.client_checkin_id.into(),
        gate.clone().into(),
        scanned_at.into(),
        now.into(),
        Uuid::now_v7().into(),
        as_json(now)?.as_str().map(str::to_owned).into(),
        as_json(scanned_at)?.as_str().map(str::to_owned).into(),
        WebhookEvent::CheckinCreated.as_str().into(),
    ];
    let shape = Shape {
        recruiter: !staff,
        sent_at: sent_at.is_some(),
        client_id: input.client_checkin_id.is_some(),
    };
    let sql = statement(shape, audit, &mut values);
    let Some(found) = Found::find_by_statement(Statement::from_sql_and_values(
        DbBackend::Postgres,
        sql,
        values,
    ))
    .one(&state.db)
    .await?
    else {
        return Ok(None);
    };
    let me = Admitter::of(caller);
    let registration = RegistrationBrief {
        id: found.registration_id,
        status: RegistrationStatus::Confirmed,
    };
    let candidate = Arrival {
        id: found.student_id,
        full_name: found.full_name,
        university: found.university,
        major: found.major,
        degree: found.degree,
    };
    let answer = |result: &str, view: CheckinView| CheckinAnswer {
        result: result.into(),
        checkin: view,
        registration: registration.clone(),
        candidate: candidate.clone(),
        account_created: None,
    };
    if found.inserted > 0 {
        state.changed(event_id);
        let admitted = Scanned::CheckedIn(answer(
            "checked_in",
            CheckinView {
                id,
                event_id,
                registration_id: found.registration_id,
                gate,
                source: CheckinSource::Scan,
                scanned_at,
                checked_in_at: now,
                checked_in_by: me,
            },
        ));
        return Ok(Some(admitted));
    }
    let (Some(prior), Some(source), Some(scanned_at), Some(created_at), Some(by)) = (
        found.prior_id,
        found.prior_source,
        found.prior_scanned_at,
        found.prior_created_at,
        found.prior_by,
    ) else {
        // Admitted by a twin scan since this statement's snapshot.
        return Ok(None);
    };
    let sent_again = input.client_checkin_id.is_some();
    let same_scan = sent_again && found.prior_client_id == input.client_checkin_id;
    if sent_again && !same_scan && found.client_id_taken {
        // The id names another check-in: the general path says which
        // (`AGAIN` recorded nothing).
        return Ok(None);
    }
    let view = CheckinView {
        id: prior,
        event_id,
        registration_id: found.registration_id,
        gate: found.prior_gate,
        source,
        scanned_at,
        checked_in_at: created_at,
        checked_in_by: Admitter {
            id: by,
            full_name: found.prior_by_name.unwrap_or_default(),
        },
    };
    let scanned = if same_scan {
        Scanned::CheckedIn(answer("checked_in", view))
    } else {
        Scanned::Already(answer("already_checked_in", view))
    };
    Ok(Some(scanned))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `benches/wrk/scan_statement.sql` is what `benches/statement_rate.sh`
    /// gives pgbench as the scan: it must stay the statement sent.
    #[test]
    fn bench_copy_is_the_statement() {
        let words = |sql: &str| -> String {
            let lines = sql.lines().filter(|line| !line.starts_with("--"));
            lines
                .flat_map(str::split_whitespace)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let organiser = Shape {
            recruiter: false,
            sent_at: false,
            client_id: false,
        };
        let mut values = vec![sea_orm::Value::Int(None); 14];
        let audit = audit::Entry::system("checkin.scan", serde_json::Value::Null);
        let sent = statement(organiser, audit, &mut values);
        assert_eq!(values.len(), 37, "the bench's copy numbers 37 values");
        let copy = include_str!("../../benches/wrk/scan_statement.sql");
        assert!(
            words(copy) == words(&sent),
            "benches/wrk/scan_statement.sql is not the statement sent; it is now:\n{sent}"
        );
    }
}
