//! First places at events with seats left, in one statement, on
//! PostgreSQL, with the registrations that arrive beside them.
//!
//! Most registrations find a seat. Once the event and the student's
//! earlier place are read, the registration puts its row down for one
//! statement that takes the registrations waiting at that moment together
//! (`crate::batch`: alone when the server is idle). The registrations of
//! one event always go in the same lane of statements, one statement at a
//! time, so this process's statements never queue for each other's event
//! locks, and those that arrive while one runs all go in the next. Per
//! event, that statement locks the event row (`FOR NO KEY UPDATE`, as
//! every change to an event's registrations does; events in the order of
//! their ids, so two statements never wait for each other in both orders)
//! and takes the seats left, up to one for each of its registrations, for
//! the first of them to arrive; then it inserts each registration with a
//! seat, its email, a webhook delivery for every
//! endpoint that wants `registration.created`, the answer for its
//! `Idempotency-Key` and its audit row, and commits. So an event's row is
//! locked once, and its commit waited for once, for every registration
//! that arrived together: on a crowded event the lock, not the machine,
//! set the rate while each registration took it alone.
//!
//! The email and the webhook body are made from the event as it was read.
//! The seats are taken only while the event row is still the row read (its
//! `updated_at`: an organiser's change moves it, a seat taken does not) and
//! the event is published. Otherwise that event's registrations take
//! nothing, and those the seats left did not reach find no answer here
//! either: they try a waitlist place (`super::waitlist`), then go the
//! general way in `register`, which has the words for every other case. So
//! does a student's second request in the same statement, and every
//! registration of a statement that failed (and so wrote nothing), e.g.
//! because a twin request of another statement registered the student
//! first.

use serde_json::json;

use super::{
    place::{BeforeTheLock, Place, email},
    types::RegistrationView,
};
use crate::{
    audit,
    config::Settings,
    entities::{events, registrations},
    http::{
        ApiError, Caller,
        idempotency::{self, Recorder},
    },
    notify::{
        custom::Wording,
        outbox,
        webhooks::{self, WebhookEvent},
    },
};

/// A registration's row for the registrations' statements, under the
/// names they declare ([`declared`]).
pub(super) struct Row<'a> {
    pub settings: &'a Settings,
    pub caller: &'a Caller,
    pub wording: &'a Wording,
    /// The event as it was read.
    pub seen: &'a events::Model,
    pub now: chrono::DateTime<chrono::Utc>,
}

impl Row<'_> {
    /// `registration`'s row (its email, webhook body, answer and audit row
    /// with it), and the answer.
    pub fn of(
        &self,
        registration: registrations::Model,
        recorder: &Recorder,
        mut audit: audit::Entry,
    ) -> Result<(serde_json::Map<String, serde_json::Value>, RegistrationView), ApiError> {
        let (mail, attachments) = email(
            self.settings,
            self.caller,
            self.wording,
            self.seen,
            &registration,
        );
        let hook = webhooks::payload(
            WebhookEvent::RegistrationCreated,
            webhooks::registration_data(&registration),
            self.now,
        );
        let serde_json::Value::Object(mut row) = json!({
            "event_id": registration.event_id,
            "seen": self.seen.updated_at,
            "id": registration.id,
            "user_id": registration.user_id,
            "ticket_code": registration.ticket_code,
            "referrer_id": registration.referrer_id,
            "status": registration.status,
            "position": registration.waitlist_position,
            "confirmed_at": registration.confirmed_at,
            "now": self.now,
            "hook": hook,
            "a_id": uuid::Uuid::now_v7(),
        }) else {
            unreachable!("an object")
        };
        outbox::fields(&self.caller.email, mail, attachments, &mut row)?;
        audit.target_id = Some(registration.id);
        audit::fields(audit, &mut row);
        let view = RegistrationView::new(registration, true);
        recorder.fields(201, &view, &mut row)?;
        Ok((row, view))
    }
}

/// The columns of the rows of the registrations' statements, as
/// `json_to_recordset` declares them.
pub(super) fn declared() -> String {
    format!(
        "ord int, event_id uuid, seen timestamptz, id uuid, user_id uuid, ticket_code text, \
         referrer_id uuid, status text, position int, confirmed_at timestamptz, now timestamptz, \
         hook text, a_id uuid, {mail}, {answer}, {audit}",
        mail = outbox::FIELDS,
        answer = idempotency::FIELDS,
        audit = audit::FIELDS,
    )
}

/// The CTEs that write, for each row of `source` (a CTE named earlier,
/// with the columns of [`declared`]), its registration, email, webhook
/// deliveries, answer and audit row.
pub(super) fn writes(source: &str) -> String {
    let event = WebhookEvent::RegistrationCreated.as_str();
    let hooks = webhooks::deliveries_sql(
        source,
        &format!("'{event}'::text"),
        &format!("{source}.hook"),
        &format!("{source}.now"),
    );
    let mail = outbox::insert_each_sql(source, &format!("{source}.now"));
    let answer = idempotency::store_each_sql(source);
    let id = format!("{source}.a_id");
    let logged = audit::record_each_within("logged", source, &id, None, None);
    format!(
        "reg AS (
    INSERT INTO registrations (id, event_id, user_id, status, waitlist_position, ticket_code,
                               referrer_id, confirmed_at, created_at, updated_at)
    SELECT id, event_id, user_id, status, position, ticket_code, referrer_id, confirmed_at,
           now, now
    FROM {source}
), mail AS ({mail}), hooks AS ({hooks}), answer AS ({answer}), {logged}"
    )
}

/// The CTEs that lock, in the order of their ids, the events of the rows
/// of `b` (a CTE named earlier, with `ord`, `event_id`, `user_id` and
/// `seen`, the event's `updated_at` as read): `one`, a row for each student
/// and event (a student's twin request in the same statement goes the
/// general way) with its place among the event's rows in the order they
/// arrived (`nth`, from 1); `want`, the rows of each event and whether they
/// all saw the same row (`seen = seen_too`); `locked`, the events locked,
/// with their counters as the lock found them.
pub(super) const LOCKING: &str = "one AS MATERIALIZED (
    SELECT d.*, row_number() OVER (PARTITION BY d.event_id ORDER BY d.ord) AS nth
    FROM (SELECT DISTINCT ON (event_id, user_id) * FROM b ORDER BY event_id, user_id, ord) d
), want AS MATERIALIZED (
    SELECT event_id, count(*)::int AS n, min(seen) AS seen, max(seen) AS seen_too
    FROM one GROUP BY event_id
), locked AS MATERIALIZED (
    -- An array, not a join: the planner, guessing a hundred rows from the
    -- JSON, would read every event to join them.
    SELECT e.id, e.confirmed_count, e.waitlist_count FROM events e
    WHERE e.id = ANY (ARRAY(SELECT event_id FROM want))
    ORDER BY e.id FOR NO KEY UPDATE OF e
)";

/// A CTE `{name}` that takes, per event of [`LOCKING`]'s rows, the places
/// left of `counter` (a counter of `events` with its bound `bound`), up to
/// one for each of the event's rows, while the event row is the row read,
/// published and `also` (a condition on `e`) holds; it returns the event's
/// `id`, the counter as the lock found it (`before`) and the places it
/// `given`, which go to the rows whose `nth` is at most that.
pub(super) fn taking(name: &str, counter: &str, bound: &str, also: &str) -> String {
    format!(
        "{name} AS (
    UPDATE events e SET {counter} = least(e.{bound}, e.{counter} + want.n)
    FROM want JOIN locked l ON l.id = want.event_id
    WHERE e.id = want.event_id
      AND want.seen = want.seen_too AND e.updated_at = want.seen AND e.status = 'published'
      AND e.{counter} < e.{bound} AND {also}
    RETURNING e.id, l.{counter} AS before, e.{counter} - l.{counter} AS given
)"
    )
}

/// The registrations' statement; `$1` is the JSON array of their rows
/// (see [`Row`], [`crate::batch`] for `ord`).
fn statement() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(|| {
        format!(
            r#"
WITH b AS MATERIALIZED (
    SELECT * FROM json_to_recordset($1::json) AS b({declared})
), {locking}, {seat}, ok AS MATERIALIZED (
    SELECT one.* FROM one JOIN seat ON seat.id = one.event_id WHERE one.nth <= seat.given
), {writes}
SELECT ord FROM ok
"#,
            declared = declared(),
            locking = LOCKING,
            seat = taking("seat", "confirmed_count", "capacity", "TRUE"),
            writes = writes("ok"),
        )
    })
}

/// The registration written and committed, or `None` (with nothing
/// written for it) for the general way.
pub(super) async fn register(
    place: &Place<'_>,
    before: &BeforeTheLock,
    recorder: &Recorder,
    audit: audit::Entry,
) -> Result<Option<RegistrationView>, ApiError> {
    let registration = registrations::Model::try_from(place.new_registration(None))?;
    let row = Row {
        settings: &place.state.settings,
        caller: place.caller,
        wording: &before.wording,
        seen: &before.seen,
        now: place.now,
    };
    let (row, view) = row.of(registration, recorder, audit)?;
    let state = place.state;
    let written = state
        .registrations
        .run(place.event_id, &state.db, statement(), row);
    // A row back names this registration: it was written and committed.
    Ok(written.await.map(|_| view))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column the statement declares is a field a row carries, and
    /// every field a row carries is declared (`json_to_recordset` would
    /// give a missing one as null, and ignore an extra one).
    #[test]
    fn rows_carry_what_the_statement_declares() {
        let sql = statement();
        let declared = sql
            .split_once("AS b(")
            .and_then(|(_, rest)| rest.split_once(')'))
            .map(|(list, _)| list)
            .expect("the rows' declaration");
        let mut declared: Vec<&str> = declared
            .split(',')
            .map(|column| column.split_whitespace().next().expect("a name"))
            .collect();
        declared.sort_unstable();
        let mut carried = vec![
            "ord",
            "event_id",
            "seen",
            "id",
            "user_id",
            "ticket_code",
            "referrer_id",
            "status",
            "position",
            "confirmed_at",
            "now",
            "hook",
            "a_id",
        ];
        let mut row = serde_json::Map::new();
        outbox::fields(
            "a@example.org",
            crate::notify::Rendered {
                kind: "registration_confirmed",
                subject: String::new(),
                text: String::new(),
                html: String::new(),
            },
            Vec::new(),
            &mut row,
        )
        .expect("fields");
        Recorder::default()
            .fields(201, &(), &mut row)
            .expect("fields");
        audit::fields(audit::Entry::system("test", json!({})), &mut row);
        carried.extend(row.keys().map(String::as_str));
        carried.sort_unstable();
        assert_eq!(declared, carried);
    }
}
