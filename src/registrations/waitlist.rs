//! Places on the waitlist of a full event, on PostgreSQL, for the
//! registrations that arrive together.
//!
//! Once an event's seats are taken, the students who keep coming want a
//! waitlist place, and each place's email and answer say its position,
//! which only the locked event row can give. So a waitlist place takes two
//! statements in one transaction (`crate::batch::Staged`), shared by the
//! registrations waiting at that moment in the event's lane: the first
//! locks their events (in the order of their ids, as every statement that
//! locks several does) and takes, per event, the waitlist places left, up
//! to one for each of its registrations, for the first of them to arrive,
//! giving each its position in that order; then each registration's email,
//! webhook body, answer and audit row are made with its position, and the
//! second statement writes them all with the registrations, and commits.
//! An event's row is locked for those two statements and the commit,
//! however many registrations they carry: on a crowded event the general
//! way held it for five round trips or more per registration.
//!
//! The places are taken only while the event row is still the row read,
//! published, with no seat left. Otherwise that event's registrations take
//! nothing and go the general way in `register`, which has the words for
//! every other case (a refusal among them); so do those the places left
//! did not reach, a
//! student's twin request and every registration of a transaction that
//! failed (and so wrote nothing).

use serde_json::json;

use super::{
    fast::{LOCKING, Row, declared, taking, writes},
    place::Place,
    types::RegistrationView,
};
use crate::{
    audit,
    batch::Staged,
    entities::{events, registrations},
    http::{ApiError, idempotency::Recorder},
    notify::custom::Wording,
};

/// The first statement: the waitlist places, while no seat is left (a
/// seat freed goes to the waitlist's head first). `$1` is the JSON array of
/// the rows' `ord`, `event_id`, `user_id` and `seen`; a row back for each
/// registration placed, with its `position`.
fn places() -> String {
    format!(
        "
WITH b AS MATERIALIZED (
    SELECT * FROM json_to_recordset($1::json) AS b(
        ord int, event_id uuid, user_id uuid, seen timestamptz)
), {LOCKING}, {placed}
SELECT one.ord, (placed.before + one.nth)::int AS position
FROM one JOIN placed ON placed.id = one.event_id
WHERE one.nth <= placed.given
",
        placed = taking(
            "placed",
            "waitlist_count",
            "waitlist_limit",
            "e.confirmed_count >= e.capacity"
        ),
    )
}

/// Both statements (see [`places`]; the second writes the rows, see
/// [`super::fast::Row`], and gives back each one's `ord` and `position`).
fn statements() -> (&'static str, &'static str) {
    static SQL: std::sync::OnceLock<(String, String)> = std::sync::OnceLock::new();
    let (places, writing) = SQL.get_or_init(|| {
        let places = places();
        let writing = format!(
            "WITH b AS MATERIALIZED (SELECT * FROM json_to_recordset($1::json) AS b({})), {}\n\
             SELECT ord, position FROM b",
            declared(),
            writes("b"),
        );
        (places, writing)
    });
    (places, writing)
}

/// The registration on the waitlist, written and committed, or `None`
/// (with nothing written for it) for the general way.
pub(super) async fn register(
    place: &Place<'_>,
    seen: &events::Model,
    wording: &Wording,
    recorder: &Recorder,
    audit: &audit::Entry,
) -> Result<Option<RegistrationView>, ApiError> {
    // Its position is the first statement's to give.
    let registration = registrations::Model::try_from(place.new_registration(Some(0)))?;
    let first = json!({
        "event_id": registration.event_id,
        "user_id": registration.user_id,
        "seen": seen.updated_at,
    });
    let serde_json::Value::Object(first) = first else {
        unreachable!("an object")
    };
    let (settings, caller) = (place.state.settings.clone(), place.caller.clone());
    let (wording, seen, now) = (wording.clone(), seen.clone(), place.now);
    let (recorder, audit, mine) = (recorder.clone(), audit.clone(), registration.clone());
    let then = move |placed: &sea_orm::QueryResult| {
        let position: i32 = placed.try_get("", "position")?;
        let registration = registrations::Model {
            waitlist_position: Some(position),
            ..mine
        };
        let row = Row {
            settings: &settings,
            caller: &caller,
            wording: &wording,
            seen: &seen,
            now,
        };
        let (row, _) = row
            .of(registration, &recorder, audit)
            .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
        Ok(row)
    };
    let staged = Staged {
        first,
        then: Box::new(then),
    };
    let state = place.state;
    let written = state
        .waitlists
        .run(place.event_id, &state.db, statements(), staged)
        .await;
    // A row back names this registration: it was written and committed.
    let Some(written) = written else {
        return Ok(None);
    };
    let position: i32 = written.try_get("", "position")?;
    let registration = registrations::Model {
        waitlist_position: Some(position),
        ..registration
    };
    Ok(Some(RegistrationView::new(registration, true)))
}
