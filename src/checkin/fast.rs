//! A scan at the door in one statement, on PostgreSQL, with the scans
//! that arrive beside it.
//!
//! The usual scan is a first arrival or a ticket shown again. Both are
//! answered here by one statement, which takes the scans waiting at that
//! moment together (`crate::batch`: one row each, alone when the server is
//! idle). For each scan it checks the event and the caller's place at its
//! door, finds the confirmed registration by its ticket code (holding it
//! `FOR SHARE` when it has no check-in yet, so a cancellation deciding at
//! that moment comes first or waits; a ticket shown again locks nothing),
//! inserts the check-in `ON CONFLICT DO NOTHING` with its thank-you email
//! still to write (`notify::thanks`), writes a webhook delivery for every
//! endpoint that wants `checkin.created`, writes the audit row of what it
//! answers (the check-in, or the ticket shown again), and returns the
//! student and any earlier check-in of the ticket. It commits on its own,
//! so the 201 is durable when it leaves, as on the general path; the live
//! dashboards hear of it after the commit. Registrations are locked and
//! check-ins inserted in the order of their ids, so two statements that
//! meet on the same tickets wait for each other in one order only.
//!
//! Anything else (an unknown ticket, a closed event, a caller who may not
//! scan here, a retried `client_checkin_id` sent with another ticket, a
//! check-in made by a twin scan after this statement's snapshot or in the
//! same statement, a statement that failed and so wrote nothing) finds no
//! answer here and goes the general way in `service::scan`, which has the
//! words for every refusal. The rules are the same on both ways: a scan
//! that this statement would admit, the general path admits too.

use chrono::{DateTime, Utc};
use sea_orm::{DbBackend, FromQueryResult};
use serde_json::json;
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

/// What the statement found for one scan; a row when the ticket is a
/// confirmed registration of this open event and the caller may scan at
/// its door.
#[derive(FromQueryResult)]
struct Found {
    inserted: bool,
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

/// The scans' statement; `$1` is the JSON array of their rows (see
/// [`scan`] for each row's fields, [`crate::batch`] for `ord`).
fn statement() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        let event = WebhookEvent::CheckinCreated.as_str();
        let payload = "json_build_object('created_at', done.now_text, \
            'data', json_build_object('checkin_id', done.id, 'event_id', done.event_id, \
                'registration_id', done.registration_id, 'scanned_at', done.scanned_text, \
                'source', 'scan', 'user_id', done.user_id), \
            'id', done.hook_id, 'type', done.hook_type)::text";
        let deliveries = webhooks::deliveries_sql("done", "done.hook_type", payload, "done.now");
        let logged =
            audit::record_each_within("logged", "done", "done.a_id", Some("done.user_id"), None);
        let logged_again = audit::record_each_within(
            "logged_again",
            "again",
            "again.a_again_id",
            Some("again.user_id"),
            Some("again.status"),
        );
        format!(
            r#"
WITH b AS MATERIALIZED (
    SELECT * FROM json_to_recordset($1::json) AS b(
        ord int, event_id uuid, employer_id uuid, sent_at timestamptz, code text, id uuid,
        caller uuid, client_id uuid, gate text, scanned_at timestamptz, now timestamptz,
        now_text text, scanned_text text, hook_id uuid, a_id uuid, a_again_id uuid,
        {fields})
), seen AS MATERIALIZED (
    -- Each scan's ticket by its unique index (LIMIT keeps the look per
    -- scan: joined as a whole, the planner would read every event).
    SELECT b.ord, s.id, s.user_id FROM b, LATERAL (
        SELECT r.id, r.user_id FROM registrations r JOIN events e ON e.id = r.event_id
        WHERE r.ticket_code = b.code AND r.event_id = b.event_id AND r.status = 'confirmed'
          AND e.status = 'published'
          AND (b.employer_id IS NULL
               OR EXISTS (SELECT 1 FROM event_employers ee
                          WHERE ee.event_id = e.id AND ee.employer_id = b.employer_id))
          AND (b.sent_at IS NULL OR b.sent_at >= e.starts_at - interval '1 day')
        LIMIT 1
    ) s
), reg AS (
    SELECT seen.ord, r.id, r.user_id FROM seen JOIN registrations r ON r.id = seen.id
    WHERE r.status = 'confirmed'
      AND NOT EXISTS (SELECT 1 FROM checkins c WHERE c.registration_id = r.id)
    ORDER BY r.id
    FOR SHARE OF r
), ins AS (
    INSERT INTO checkins (id, event_id, registration_id, user_id, checked_in_by,
                          client_checkin_id, gate, source, scanned_at, created_at)
    SELECT b.id, b.event_id, reg.id, reg.user_id, b.caller, b.client_id, b.gate, 'scan',
           b.scanned_at, b.now
    FROM reg JOIN b ON b.ord = reg.ord
    ORDER BY reg.id
    ON CONFLICT DO NOTHING
    RETURNING id, registration_id, user_id
), done AS (
    SELECT b.*, ins.registration_id, ins.user_id, '{event}'::text AS hook_type
    FROM ins JOIN b ON b.id = ins.id
), thanks AS (
    INSERT INTO checkin_thanks (checkin_id, event_id, user_id)
    SELECT done.id, done.event_id, done.user_id FROM done
), hooks AS ({deliveries}), again AS (
    -- A ticket shown again: the student, when this statement made no
    -- check-in for the scan and the earlier one it found is the answer (so
    -- not when a `client_checkin_id` names another check-in: the general
    -- path says which). `status` is the answer's: 201 for the same scan
    -- sent again, else 200 `already_checked_in`.
    SELECT b.*, seen.user_id,
           CASE WHEN p.client_checkin_id = b.client_id THEN 201 ELSE 200 END AS status
    FROM seen JOIN b ON b.ord = seen.ord JOIN checkins p ON p.registration_id = seen.id
    WHERE NOT EXISTS (SELECT 1 FROM done WHERE done.ord = seen.ord)
      AND (b.client_id IS NULL OR p.client_checkin_id = b.client_id
           OR NOT EXISTS (SELECT 1 FROM checkins c WHERE c.client_checkin_id = b.client_id))
), {logged}, {logged_again}
SELECT seen.ord, EXISTS (SELECT 1 FROM done WHERE done.ord = seen.ord) AS inserted,
       seen.id AS registration_id, u.id AS student_id, u.full_name, u.university, u.major, u.degree,
       p.id AS prior_id, p.client_checkin_id AS prior_client_id, p.gate AS prior_gate,
       p.source AS prior_source, p.scanned_at AS prior_scanned_at,
       p.created_at AS prior_created_at, p.checked_in_by AS prior_by, pb.full_name AS prior_by_name,
       (b.client_id IS NOT NULL
        AND EXISTS (SELECT 1 FROM checkins c WHERE c.client_checkin_id = b.client_id))
           AS client_id_taken
FROM seen
JOIN b ON b.ord = seen.ord
JOIN users u ON u.id = seen.user_id
LEFT JOIN checkins p ON p.registration_id = seen.id
LEFT JOIN users pb ON pb.id = p.checked_in_by
"#,
            fields = audit::FIELDS,
        )
    })
}

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
    let employer = match (caller.role, caller.employer_id) {
        (Role::Organiser | Role::Admin, _) => None,
        (Role::Recruiter, Some(employer)) => Some(employer),
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
    let serde_json::Value::Object(mut row) = json!({
        "event_id": event_id,
        "employer_id": employer,
        "sent_at": sent_at,
        "code": code,
        "id": id,
        "caller": caller.id,
        "client_id": input.client_checkin_id,
        "gate": gate,
        "scanned_at": scanned_at,
        "now": now,
        // the webhook payload's times, as JSON writes them
        "now_text": now,
        "scanned_text": scanned_at,
        "hook_id": Uuid::now_v7(),
        "a_id": Uuid::now_v7(),
        "a_again_id": Uuid::now_v7(),
    }) else {
        unreachable!("an object")
    };
    audit::fields(audit, &mut row);
    let Some(result) = state.scans.run(&state.db, statement(), row).await else {
        return Ok(None);
    };
    let found = Found::from_query_result(&result, "")?;
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
    if found.inserted {
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
    /// gives pgbench as the scans' statement: it must stay the statement sent.
    #[test]
    fn bench_copy_is_the_statement() {
        let words = |sql: &str| -> String {
            let lines = sql
                .lines()
                .filter(|line| !line.trim_start().starts_with("--"));
            lines
                .flat_map(str::split_whitespace)
                .collect::<Vec<_>>()
                .join(" ")
        };
        let copy = include_str!("../../benches/wrk/scan_statement.sql");
        let sent = statement();
        assert!(
            words(copy) == words(sent),
            "benches/wrk/scan_statement.sql is not the statement sent; it is now:\n{sent}"
        );
    }
}
