//! `nuancheng seed-demo`: a living campaign in an empty database.

use std::collections::BTreeSet;

use awc::http::StatusCode;
use sea_orm::EntityTrait;

use crate::helpers::spawn_app;
use nuancheng::{
    demo::{DEMO_PASSWORD, seed_demo},
    entities::{events, intents, registrations::RegistrationStatus},
};

#[actix_web::test]
async fn the_demo_is_consistent_and_only_fills_an_empty_database() {
    let app = spawn_app().await;
    let made = seed_demo(app.db(), "2026-11")
        .await
        .expect("the demo seeds");
    assert_eq!((made.employers, made.events), (8, 12));
    assert!(made.students >= 300, "{made:?}");
    assert!(made.checkins > 200 && made.intents > 50, "{made:?}");

    // Every state of the pipeline is there to look at.
    let states: BTreeSet<&str> = intents::Entity::find()
        .all(app.db())
        .await
        .unwrap()
        .iter()
        .map(|i| i.status.as_str())
        .collect();
    assert_eq!(states.len(), 7, "{states:?}");

    // The counters agree with the rows, as the API keeps them.
    for event in events::Entity::find().all(app.db()).await.unwrap() {
        let rows = nuancheng::entities::registrations::Entity::find()
            .all(app.db())
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.event_id == event.id)
            .collect::<Vec<_>>();
        let confirmed = rows
            .iter()
            .filter(|r| r.status == RegistrationStatus::Confirmed)
            .count() as i32;
        let mut positions: Vec<i32> = rows.iter().filter_map(|r| r.waitlist_position).collect();
        positions.sort_unstable();
        assert_eq!(event.confirmed_count, confirmed, "{}", event.title);
        assert_eq!(positions, (1..=event.waitlist_count).collect::<Vec<_>>());
        assert!(confirmed <= event.capacity);
    }

    // The organiser signs in and sees the city's figures.
    let login = app.login(&made.organiser, DEMO_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let token = login.body["access_token"].as_str().unwrap();
    let report = app
        .get(
            "/api/v1/reports/intents?group_by=university&status=signed",
            Some(token),
        )
        .await;
    let total = report.body["total"].as_i64().unwrap();
    let sum: i64 = report.body["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["count"].as_i64().unwrap())
        .sum();
    assert!(total > 0);
    assert_eq!(total, sum);
    let upcoming = app.get("/api/v1/events", None).await;
    assert_eq!(upcoming.body["items"].as_array().unwrap().len(), 4);
    assert_eq!(
        app.login(&made.student, DEMO_PASSWORD).await.status,
        StatusCode::OK
    );

    let again = seed_demo(app.db(), "2026-11").await;
    assert!(again.is_err());
}
