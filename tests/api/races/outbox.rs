//! Races between an admin's retries and the worker sending the same email.

use std::time::Duration;

use awc::http::StatusCode;
use futures_util::future::join_all;

use super::EMPTY;
use crate::helpers::spawn_app_with;

/// An admin's retries racing the worker that is handing the same email to a
/// mail server that holds it: every retry during the send is 409
/// `being_sent`, those after it 409 `already_sent`, and the email is
/// delivered exactly once.
/// Then a failed email retried twenty times at once while the worker polls:
/// each retry is 200 or one of those 409s, never a 500, and it goes out once.
#[actix_web::test]
async fn admin_retries_racing_the_worker_deliver_once() {
    use nuancheng::{
        entities::notifications::{self, NotificationStatus},
        notify::{self, templates},
    };
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait, sea_query::Expr};

    let app = spawn_app_with(|s| s.email.poll_interval_ms = 20).await;
    let admin = app.admin().await;
    let row = async |id| {
        notifications::Entity::find_by_id(id)
            .one(app.db())
            .await
            .unwrap()
            .unwrap()
    };
    let retry_all = async |id: uuid::Uuid| {
        let path = format!("/api/v1/notifications/{id}/retry");
        join_all((0..20).map(|_| app.post(&path, Some(&admin), &EMPTY))).await
    };
    app.sink.set_holding(true);
    let mail = templates::verify_email("慢邮件", "http://frontend.test/verify-email?token=x", 48);
    let id = notify::enqueue(app.db(), "slow@pku.edu.cn", mail, Vec::new())
        .await
        .unwrap();
    for _ in 0..100 {
        if row(id).await.locked_until.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        row(id).await.locked_until.is_some(),
        "the worker took the email"
    );
    // The mail server holds the message until every retry has its answer.
    for reply in retry_all(id).await {
        reply.assert_problem(409, "being_sent");
    }
    app.sink.set_holding(false);
    app.sink.wait_for("slow@pku.edu.cn", 1).await;
    for _ in 0..100 {
        if row(id).await.status == NotificationStatus::Sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for reply in retry_all(id).await {
        reply.assert_problem(409, "already_sent");
    }
    let sent = row(id).await;
    assert_eq!((sent.status, sent.attempts), (NotificationStatus::Sent, 1));
    assert_eq!(app.sink.to("slow@pku.edu.cn").len(), 1);

    // A failed email, retried twenty times at once while the worker polls.
    // Written as failed in one transaction, so the worker never sees it due.
    app.sink.set_delay(Duration::from_millis(300));
    let mail = templates::verify_email("重发", "http://frontend.test/verify-email?token=y", 48);
    let txn = app.db().begin().await.unwrap();
    let id = notify::enqueue(&txn, "failed@pku.edu.cn", mail, Vec::new())
        .await
        .unwrap();
    notifications::Entity::update_many()
        .col_expr(
            notifications::Column::Status,
            Expr::value(NotificationStatus::Failed),
        )
        .col_expr(notifications::Column::Attempts, Expr::value(8))
        .filter(notifications::Column::Id.eq(id))
        .exec(&txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();
    for reply in retry_all(id).await {
        match reply.status.as_u16() {
            200 => assert_eq!(reply.body["status"], "pending", "{}", reply.body),
            _ => {
                let code = reply.body["code"].as_str().unwrap_or_default();
                assert!(
                    ["being_sent", "already_sent"].contains(&code),
                    "{}",
                    reply.body
                );
                reply.assert_problem(409, code);
            }
        }
    }
    app.sink.wait_for("failed@pku.edu.cn", 1).await;
    for _ in 0..100 {
        if row(id).await.status == NotificationStatus::Sent {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(row(id).await.status, NotificationStatus::Sent);
    assert_eq!(app.sink.to("failed@pku.edu.cn").len(), 1);
}

/// Twenty admins' retries, each repeated while it is 409 `being_sent`,
/// racing a try the mail server refuses: a retry that found the lease live
/// can find the try already recorded when it looks why, and that was a 500.
/// Every loop ends with one 200 once the try is over; nothing else but
/// `being_sent` comes before it.
#[actix_web::test]
async fn retries_racing_a_failing_send_never_answer_500() {
    use nuancheng::{
        entities::notifications,
        notify::{self, templates},
    };
    use sea_orm::EntityTrait;

    let app = spawn_app_with(|s| s.email.poll_interval_ms = 20).await;
    let admin = app.admin().await;
    app.sink.set_delay(Duration::from_millis(400));
    app.sink.set_refusing_data(true);
    let mail = templates::verify_email("拒收", "http://frontend.test/verify-email?token=z", 48);
    let id = notify::enqueue(app.db(), "refused@pku.edu.cn", mail, Vec::new())
        .await
        .unwrap();
    let leased = async || {
        let row = notifications::Entity::find_by_id(id).one(app.db()).await;
        row.unwrap().unwrap().locked_until.is_some()
    };
    for _ in 0..100 {
        if leased().await {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(leased().await, "the worker took the email");
    let path = format!("/api/v1/notifications/{id}/retry");
    let loops = (0..20).map(|_| {
        let (app, admin, path) = (&app, &admin, &path);
        async move {
            let mut seen = Vec::new();
            loop {
                let reply = app.post(path, Some(admin), &EMPTY).await;
                let busy = reply.body["code"] == "being_sent";
                seen.push(reply);
                if !busy {
                    return seen;
                }
            }
        }
    });
    for seen in join_all(loops).await {
        let (last, before) = seen.split_last().unwrap();
        assert_eq!(last.status, StatusCode::OK, "{}", last.body);
        assert_eq!(last.body["status"], "pending");
        for reply in before {
            reply.assert_problem(409, "being_sent");
        }
    }
}
