//! A first place at an event with seats left, in one statement, on
//! PostgreSQL.
//!
//! Most registrations find a seat. Once the event and the student's
//! earlier place are read (in the transaction, before any lock), one
//! statement takes the seat (`UPDATE events … WHERE confirmed_count <
//! capacity`, which locks the event row), inserts the registration, its
//! email, a webhook delivery for every endpoint that wants
//! `registration.created`, the answer for the `Idempotency-Key` and the
//! audit row, and returns the event as it now is. So the event row stays
//! locked for that statement and the commit only, whatever else
//! registering writes.
//!
//! The email and the webhook body are made from the event as it was read.
//! If the seat is gone, or the locked row shows that an organiser changed
//! the event since (its `updated_at`), everything is undone and the
//! general way in `register` takes over, which has the words for every
//! other case.

use sea_orm::{DatabaseTransaction, EntityTrait, FromQueryResult, QueryTrait};

use super::{
    place::{BeforeTheLock, Place, admissible, registered_meanwhile, seat_taking},
    types::RegistrationView,
};
use crate::{
    audit, db,
    entities::{events, registrations},
    http::{ApiError, error::is_unique_violation, idempotency::Recorder},
    notify::{
        outbox,
        webhooks::{self, WebhookEvent},
    },
};

/// The registration written and committed, or `None` (with nothing
/// written) for the general way.
pub(super) async fn register(
    place: &Place<'_>,
    txn: DatabaseTransaction,
    before: &BeforeTheLock,
    recorder: &Recorder,
    mut audit: audit::Entry,
) -> Result<Option<RegistrationView>, ApiError> {
    let seen = &before.seen;
    let row = place.new_registration(None);
    let registration = registrations::Model::try_from(row.clone())?;
    let (mail, attachments) = place.email(&before.wording, seen, &registration);
    let hook = webhooks::payload(
        WebhookEvent::RegistrationCreated,
        webhooks::registration_data(&registration),
        place.now,
    );
    audit.target_id = Some(registration.id);
    let view = RegistrationView::new(registration, true);

    let mut seat = seat_taking(place.event_id).into_query();
    seat.returning_all();
    let mut chain = db::Chain::default();
    chain
        .query("seat", &seat)
        .query("reg", &registrations::Entity::insert(row).into_query())
        .query(
            "mail",
            &outbox::insert_statement(&place.caller.email, mail, attachments)?,
        )
        .sql(
            "hooks",
            &webhooks::deliveries_sql("seat", "$1::text", "$2::text", "$3"),
            vec![
                WebhookEvent::RegistrationCreated.as_str().into(),
                hook.into(),
                place.now.into(),
            ],
        );
    if let Some(answer) = recorder.statement(201, &view)? {
        chain.query("answer", &answer);
    }
    chain.query("logged", &audit::insert_statement(audit));
    let locked = events::Model::find_by_statement(chain.then("SELECT * FROM seat"))
        .one(&txn)
        .await;
    let locked = match locked {
        Ok(locked) => locked,
        Err(e) if is_unique_violation(&e) => {
            return Err(registered_meanwhile(place.state, txn, place.caller, place.event_id).await);
        }
        Err(e) => return Err(e.into()),
    };
    // Dropping the transaction undoes it.
    let Some(locked) = locked.filter(|e| e.updated_at == seen.updated_at) else {
        return Ok(None);
    };
    admissible(&locked, place.caller, place.now)?;
    txn.commit().await?;
    Ok(Some(view))
}
