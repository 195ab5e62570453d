//! An event's seats: who the event admits, its counters, and the waitlist's
//! order and promotion into freed seats. Registrations, cancellations,
//! walk-ins and capacity changes all go through here, under the event's row
//! lock (see [`super::access::lock_event`]), so confirmed never exceeds
//! capacity and waitlist positions stay 1, 2, 3, ….

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder, Set,
};
use uuid::Uuid;

use super::{
    calendar::{calendar, facts},
    types::graduation_years_of,
};
use crate::{
    config::Settings,
    db,
    entities::{
        events,
        registrations::{self, RegistrationStatus},
        users::{self, Degree},
    },
    http::ApiError,
    notify::{
        self,
        custom::{Student, Wording},
        kinds::{Extras, TemplateKind},
    },
};

/// Why a student may not attend, or `Ok` if it may.
pub fn eligibility(
    event: &events::Model,
    degree: Option<Degree>,
    graduation_year: Option<i32>,
) -> Result<(), String> {
    if let Some(min) = event.min_degree {
        match degree {
            Some(degree) if degree >= min => {}
            Some(_) => {
                return Err(format!(
                    "this event is for {} graduates and above",
                    degree_name(min)
                ));
            }
            None => {
                return Err(format!(
                    "this event is for {} graduates and above; add your degree to your profile",
                    degree_name(min)
                ));
            }
        }
    }
    let years = graduation_years_of(event);
    if !years.is_empty() {
        let list = years
            .iter()
            .map(i32::to_string)
            .collect::<Vec<_>>()
            .join(", ");
        match graduation_year {
            Some(year) if years.contains(&year) => {}
            Some(year) => {
                return Err(format!("this event is for graduates of {list}, not {year}"));
            }
            None => {
                return Err(format!(
                    "this event is for graduates of {list}; add your graduation year to your profile"
                ));
            }
        }
    }
    Ok(())
}

fn degree_name(degree: Degree) -> &'static str {
    match degree {
        Degree::Bachelor => "bachelor",
        Degree::Master => "master",
        Degree::Phd => "PhD",
        Degree::Postdoc => "postdoc",
    }
}

/// Confirmed and waitlisted registrations of an event with their students,
/// in waitlist order after the confirmed ones.
pub async fn active_registrants<C: ConnectionTrait>(
    conn: &C,
    event_id: Uuid,
) -> Result<Vec<(registrations::Model, users::Model)>, ApiError> {
    use registrations::Column as R;
    let rows = registrations::Entity::find()
        .filter(R::EventId.eq(event_id))
        .filter(R::Status.is_in([
            RegistrationStatus::Confirmed,
            RegistrationStatus::Waitlisted,
        ]))
        .order_by_asc(R::WaitlistPosition)
        .order_by_asc(R::Id)
        .all(conn)
        .await?;
    with_users(conn, rows).await
}

pub async fn with_users<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<registrations::Model>,
) -> Result<Vec<(registrations::Model, users::Model)>, ApiError> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let mut users = users::by_ids(conn, rows.iter().map(|r| r.user_id)).await?;
    Ok(rows
        .into_iter()
        .filter_map(|r| {
            let user = users.remove(&r.user_id)?;
            Some((r, user))
        })
        .collect())
}

/// Moves everyone behind `position` one place up.
pub async fn close_gap(
    txn: &DatabaseTransaction,
    event_id: Uuid,
    position: i32,
) -> Result<(), ApiError> {
    use registrations::Column as R;
    use sea_orm::sea_query::{Expr, ExprTrait};
    registrations::Entity::update_many()
        .col_expr(R::WaitlistPosition, Expr::col(R::WaitlistPosition).sub(1))
        .filter(R::EventId.eq(event_id))
        .filter(R::Status.eq(RegistrationStatus::Waitlisted))
        .filter(R::WaitlistPosition.gt(position))
        .exec(txn)
        .await?;
    Ok(())
}

/// Promotes waitlisted registrations, in order, while seats are left,
/// skipping anyone the event's rules no longer admit (they keep their
/// place). Updates the counters on `event`; the caller saves it. Runs under
/// the event lock.
pub async fn fill_seats(
    txn: &DatabaseTransaction,
    settings: &Settings,
    event: &mut events::Model,
) -> Result<(), ApiError> {
    use registrations::Column as R;
    let seats = event.capacity - event.confirmed_count;
    if seats <= 0 || event.waitlist_count == 0 {
        return Ok(());
    }
    let waiting = registrations::Entity::find()
        .filter(R::EventId.eq(event.id))
        .filter(R::Status.eq(RegistrationStatus::Waitlisted))
        .order_by_asc(R::WaitlistPosition)
        .all(txn)
        .await?;
    let promoted: Vec<(registrations::Model, users::Model)> = with_users(txn, waiting)
        .await?
        .into_iter()
        .filter(|(_, user)| eligibility(event, user.degree, user.graduation_year).is_ok())
        .take(seats as usize)
        .collect();
    let now = db::now();
    for (registration, _) in &promoted {
        registrations::ActiveModel {
            id: Set(registration.id),
            status: Set(RegistrationStatus::Confirmed),
            waitlist_position: Set(None),
            confirmed_at: Set(Some(now)),
            updated_at: Set(now),
            ..Default::default()
        }
        .update(txn)
        .await?;
    }
    // From the back, so each gap closes over positions not yet moved.
    for (registration, _) in promoted.iter().rev() {
        if let Some(position) = registration.waitlist_position {
            close_gap(txn, event.id, position).await?;
        }
    }
    let count = promoted.len() as i32;
    event.confirmed_count += count;
    event.waitlist_count -= count;
    if promoted.is_empty() {
        return Ok(());
    }
    let wording = Wording::load(txn, settings, event, TemplateKind::RegistrationPromoted).await?;
    let facts = facts(settings, event);
    for (registration, user) in &promoted {
        let extras = Extras {
            ticket_code: registration.ticket_code.clone(),
            ..Extras::default()
        };
        let mail = wording.render(Student::of(user), &facts, &[], &extras);
        notify::enqueue(txn, &user.email, mail, vec![calendar(settings, event)]).await?;
    }
    Ok(())
}

pub async fn save_counts(txn: &DatabaseTransaction, event: &events::Model) -> Result<(), ApiError> {
    events::ActiveModel {
        id: Set(event.id),
        confirmed_count: Set(event.confirmed_count),
        waitlist_count: Set(event.waitlist_count),
        ..Default::default()
    }
    .update(txn)
    .await?;
    Ok(())
}
