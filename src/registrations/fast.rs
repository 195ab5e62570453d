//! A first place at an event with seats left, in one statement, on
//! PostgreSQL.
//!
//! Most registrations find a seat. Once the event and the student's
//! earlier place are read (in the transaction, before any lock), one
//! statement inserts the registration, its email, a webhook delivery for
//! every endpoint that wants `registration.created`, the answer for the
//! `Idempotency-Key` and the audit row, then takes the seat (`UPDATE events
//! … WHERE confirmed_count < capacity`, which locks the event row), and
//! returns the event as it now is. So the event row stays locked for the
//! seat's `UPDATE` and the commit only, whatever else registering writes:
//! concurrent registrations at one crowded event wait for each other that
//! long and no longer.
//!
//! The email and the webhook body are made from the event as it was read.
//! If the seat is gone, or the locked row shows that an organiser changed
//! the event since (its `updated_at`), everything is undone and the
//! general way in `register` takes over, which has the words for every
//! other case.

use sea_orm::{
    DatabaseTransaction, EntityTrait, FromQueryResult, QueryFilter, QueryTrait, sea_query::Expr,
};

use super::{
    place::{BeforeTheLock, Place, admissible, registered_meanwhile, seat_taking},
    types::RegistrationView,
};
use crate::{
    audit, db,
    entities::{audit_log, events, idempotency_keys, notifications, registrations},
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

    // Everything but the seat first: the `UPDATE` that takes it waits for
    // (and then locks) the event row, so it comes last, once the rows
    // above are written, and the row stays locked for that `UPDATE`, the
    // key checks and the commit only. Its condition counts the rows each
    // CTE before it returned, which makes PostgreSQL run them to the end
    // first (an unreferenced CTE would run after the main query, while
    // the row is locked).
    let mut reg = registrations::Entity::insert(row).into_query();
    reg.returning_col(registrations::Column::Id);
    let mut mail = outbox::insert_statement(&place.caller.email, mail, attachments)?;
    mail.returning_col(notifications::Column::Id);
    let mut logged = audit::insert_statement(audit);
    logged.returning_col(audit_log::Column::Id);
    let mut chain = db::Chain::default();
    let mut first = vec!["reg", "mail", "hooks", "logged"];
    chain.query("reg", &reg).query("mail", &mail).sql(
        "hooks",
        &format!(
            "{} RETURNING id",
            webhooks::deliveries_sql("reg", "$1::text", "$2::text", "$3")
        ),
        vec![
            WebhookEvent::RegistrationCreated.as_str().into(),
            hook.into(),
            place.now.into(),
        ],
    );
    if let Some(mut answer) = recorder.statement(201, &view)? {
        answer.returning_col(idempotency_keys::Column::Id);
        chain.query("answer", &answer);
        first.push("answer");
    }
    chain.query("logged", &logged);
    let written = first
        .iter()
        .map(|cte| format!("(SELECT count(*) FROM {cte})"))
        .collect::<Vec<_>>()
        .join(" + ");
    let mut seat = seat_taking(place.event_id)
        .filter(Expr::cust(format!("{written} >= 0")))
        .into_query();
    seat.returning_all();
    chain.query("seat", &seat);
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
