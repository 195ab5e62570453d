//! Taking a place at an event: confirmed while seats are left, then
//! waitlisted up to the event's limit, then refused. The seat is taken by
//! the statement that locks the event row, and the lock is held for as few
//! statements as the rules allow (see [`register`]).

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, FromQueryResult, IdenStatic, JoinType, QueryFilter, QuerySelect, QueryTrait,
    RelationDef, SelectA, SelectB, SelectC,
    sea_query::{Expr, ExprTrait, IntoCondition},
};
use uuid::Uuid;

use super::{
    fast,
    place::{
        BeforeTheLock, Place, admissible, already_registered, email, event_full,
        registered_meanwhile, seat_taking,
    },
    types::*,
    waitlist,
};
use crate::{
    audit, db,
    entities::{
        events, mail_templates,
        registrations::{self, RegistrationStatus},
        users,
    },
    events::access::lock_event,
    http::{
        ApiError, Caller, error::is_unique_violation, idempotency::Recorder, metrics::Answered,
    },
    notify::{
        self,
        custom::{self, Wording},
        kinds::TemplateKind,
        webhooks::{self, WebhookEvent},
    },
    state::AppState,
};

async fn referrer(
    state: &AppState,
    caller: &Caller,
    code: Option<&str>,
) -> Result<Option<Uuid>, ApiError> {
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let referrer = users::Entity::find()
        .filter(users::Column::ReferralCode.eq(code.to_ascii_uppercase()))
        .one(&state.db)
        .await?
        .filter(|u| u.id != caller.id)
        .ok_or_else(|| {
            ApiError::field(
                "referral_code",
                "unknown",
                "no other user has this referral code",
            )
        })?;
    Ok(Some(referrer.id))
}

/// Registers the calling student for an event. The answer is recorded for
/// the request's `Idempotency-Key`, and `audit` in the audit trail, in the
/// registration's own transaction, so a retry after a crash gets the same
/// answer whenever the registration exists, and it is never unrecorded.
///
/// What does not need the event's lock is read first (see
/// [`before_the_lock`]). On PostgreSQL a first place at an event with
/// seats left then takes one statement, shared with the registrations
/// beside it (see [`super::fast`]), and a first place on a full event's
/// waitlist two in one transaction (see [`super::waitlist`]); otherwise
/// the lock is taken by the statement that takes the seat (see
/// [`take_seat`]), and held for the registration, its email and its
/// webhook rows only. Every rule is checked again on the locked row, since
/// an organiser may have changed the event in between.
pub async fn register(
    state: &AppState,
    caller: &Caller,
    event_id: Uuid,
    input: RegisterRequest,
    recorder: &Recorder,
    audit: audit::Entry,
) -> Result<RegistrationView, ApiError> {
    if state.settings.registration.require_verified_email && !caller.email_verified {
        return Err(ApiError::Denied {
            code: "email_not_verified",
            detail: "confirm your email address with the link we sent, then register".into(),
        });
    }
    let place = Place {
        state,
        caller,
        event_id,
        referrer_id: referrer(state, caller, input.referral_code.as_deref()).await?,
        now: db::now(),
    };
    // The reads come before the transaction: SQLite's `BEGIN IMMEDIATE`
    // takes the database's write lock at once, and on PostgreSQL a first
    // place with seats left needs no transaction of its own.
    let postgres = state.db.get_database_backend() == DbBackend::Postgres;
    let before = before_the_lock(&state.db, &place, !postgres).await?;
    let counted = |way| state.metrics.answered(Answered::Registration, way);
    if postgres && before.existing.is_none() {
        let mut written = None;
        if before.likely == TemplateKind::RegistrationConfirmed {
            written = fast::register(&place, &before, recorder, audit.clone()).await?;
            if written.is_some() {
                counted("seat_statement");
            }
        }
        if written.is_none() {
            // A full event, or the last seats went to the registrations
            // that arrived beside this one: a waitlist place, worded so.
            let kind = TemplateKind::RegistrationWaitlisted;
            let wording = match before.likely == kind {
                true => before.wording.clone(),
                false => Wording::load(&state.db, &state.settings, &before.seen, kind).await?,
            };
            let waiting = waitlist::register(&place, &before.seen, &wording, recorder, &audit);
            written = waiting.await?;
            if written.is_some() {
                counted("waitlist_statement");
            }
        }
        if let Some(view) = written {
            state.changed(event_id);
            return Ok(view);
        }
    }
    // Else, or the waitlist was full or an organiser changed the event
    // since it was read: the general way, which checks everything again.
    counted("general");
    let txn = db::begin_write(&state.db).await?;
    place.seat_and_write(txn, before, recorder, audit).await
}

impl Place<'_> {
    /// Locks the event by taking a seat or a waitlist place, then writes
    /// the registration, its email, its webhook rows, the answer and the
    /// audit row, and commits.
    async fn seat_and_write(
        &self,
        txn: DatabaseTransaction,
        before: BeforeTheLock,
        recorder: &Recorder,
        mut audit: audit::Entry,
    ) -> Result<RegistrationView, ApiError> {
        let (state, caller, event_id) = (self.state, self.caller, self.event_id);
        let BeforeTheLock {
            existing,
            likely,
            mut wording,
            hooks,
            ..
        } = before;
        let hooks = match hooks {
            Some(hooks) => hooks,
            None => webhooks::subscribers(&txn, WebhookEvent::RegistrationCreated).await?,
        };
        let Some((event, position)) = take_seat(&txn, event_id).await? else {
            let event = lock_event(&txn, event_id).await?;
            admissible(&event, caller, self.now)?;
            return Err(event_full());
        };
        admissible(&event, caller, self.now)?;
        let kind = match position {
            None => TemplateKind::RegistrationConfirmed,
            Some(_) => TemplateKind::RegistrationWaitlisted,
        };
        let written = match existing {
            // Still cancelled: a twin request may have re-registered meanwhile.
            Some(cancelled) => registrations::Entity::update_many()
                .set(self.registration(position))
                .filter(registrations::Column::Id.eq(cancelled.id))
                .filter(registrations::Column::Status.eq(RegistrationStatus::Cancelled))
                .exec_with_returning(&txn)
                .await
                .map(|rows| rows.into_iter().next()),
            None => self.new_registration(position).insert(&txn).await.map(Some),
        };
        let registration = match written {
            Ok(Some(registration)) => registration,
            Ok(None) => return Err(registered_meanwhile(state, txn, caller, event_id).await),
            Err(e) if is_unique_violation(&e) => {
                return Err(registered_meanwhile(state, txn, caller, event_id).await);
            }
            Err(e) => return Err(e.into()),
        };
        if kind != likely {
            wording = Wording::load(&txn, &state.settings, &event, kind).await?;
        }
        let (mail, attachments) = email(&state.settings, caller, &wording, &event, &registration);
        notify::enqueue(&txn, &caller.email, mail, attachments).await?;
        webhooks::emit_to(
            &txn,
            &hooks,
            WebhookEvent::RegistrationCreated,
            webhooks::registration_data(&registration),
        )
        .await?;
        audit.target_id = Some(registration.id);
        let view = RegistrationView::new(registration, true);
        recorder.record(&txn, 201, &view).await?;
        audit::record(&txn, audit, &[]).await?;
        txn.commit().await?;
        state.changed(event_id);
        Ok(view)
    }
}

/// The event as it is (refusing early what its rules refuse, and a full
/// event), with the student's earlier registration (refusing a second) and
/// the organisers' template for the likely email in the same read; then,
/// only if there is such a template, the employers it may list, and, if
/// `hooks`, the webhook endpoints. A refusal for a full event needs no
/// lock: it was full when it was read.
async fn before_the_lock<C: ConnectionTrait>(
    conn: &C,
    place: &Place<'_>,
    hooks: bool,
) -> Result<BeforeTheLock, ApiError> {
    use events::Column as E;
    use registrations::Column as R;
    let student = place.caller.id;
    let theirs = registrations::Entity::belongs_to(events::Entity)
        .from(R::EventId)
        .to(E::Id)
        .into();
    let theirs = RelationDef::rev(theirs).on_condition(move |_, registration| {
        Expr::col((registration, R::UserId))
            .eq(student)
            .into_condition()
    });
    let mut read = events::Entity::find_by_id(place.event_id)
        .join(JoinType::LeftJoin, theirs)
        .select_also(registrations::Entity)
        .into_query();
    custom::join_template(&mut read, likely_kind(), SelectC);
    read.limit(1);
    let row = conn
        .query_one(&read)
        .await?
        .ok_or(ApiError::NotFound("event"))?;
    let seen = events::Model::from_query_result(&row, SelectA.as_str())?;
    let existing = registrations::Model::from_query_result_optional(&row, SelectB.as_str())?;
    let template = mail_templates::Model::from_query_result_optional(&row, SelectC.as_str())?;
    admissible(&seen, place.caller, place.now)?;
    if let Some(existing) = existing
        .as_ref()
        .filter(|r| r.status != RegistrationStatus::Cancelled)
    {
        return Err(already_registered(existing.clone()));
    }
    let seated = seen.confirmed_count < seen.capacity;
    if !seated && seen.waitlist_count >= seen.waitlist_limit {
        return Err(event_full());
    }
    let likely = if seated {
        TemplateKind::RegistrationConfirmed
    } else {
        TemplateKind::RegistrationWaitlisted
    };
    let settings = &place.state.settings;
    Ok(BeforeTheLock {
        wording: Wording::with(conn, settings, &seen, likely, template).await?,
        hooks: match hooks {
            true => Some(webhooks::subscribers(conn, WebhookEvent::RegistrationCreated).await?),
            false => None,
        },
        seen,
        existing,
        likely,
    })
}

/// The kind of email the student will likely get, as the read decides it
/// from the event's row: a confirmation while seats are left, else a
/// waitlist place (as [`before_the_lock`] decides `likely` from the same
/// row).
fn likely_kind() -> Expr {
    use events::Column as E;
    Expr::case(
        Expr::col((events::Entity, E::ConfirmedCount)).lt(Expr::col((events::Entity, E::Capacity))),
        TemplateKind::RegistrationConfirmed.as_str(),
    )
    .finally(TemplateKind::RegistrationWaitlisted.as_str())
    .into()
}

/// Takes a seat, or else a place on the waitlist, in the statement that
/// locks the event row until the transaction ends: `UPDATE … SET
/// confirmed_count = confirmed_count + 1 WHERE confirmed_count < capacity
/// RETURNING *` (PostgreSQL's row lock; SQLite's write lock is held since
/// `BEGIN IMMEDIATE`). Gives the event as it now is and the waitlist
/// position, `None` for a seat; `None` overall when both are full or the
/// event is gone.
async fn take_seat(
    txn: &DatabaseTransaction,
    event_id: Uuid,
) -> Result<Option<(events::Model, Option<i32>)>, DbErr> {
    use events::Column as E;
    let seated = seat_taking(event_id).exec_with_returning(txn).await?;
    if let Some(event) = seated.into_iter().next() {
        return Ok(Some((event, None)));
    }
    let waiting = events::Entity::update_many()
        .col_expr(E::WaitlistCount, Expr::col(E::WaitlistCount).add(1))
        .filter(E::Id.eq(event_id))
        .filter(Expr::col(E::WaitlistCount).lt(Expr::col(E::WaitlistLimit)))
        .exec_with_returning(txn)
        .await?;
    Ok(waiting.into_iter().next().map(|event| {
        let position = event.waitlist_count;
        (event, Some(position))
    }))
}
