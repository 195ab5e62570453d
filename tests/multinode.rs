//! Several nodes, one PostgreSQL: three API processes and two mail workers
//! of the real binary against one database, behind a round-robin proxy
//! written here (each new connection goes to the next node; one that refuses
//! is skipped). What one process holds in memory must not matter:
//!
//! - 1,000 students registering at once through all three nodes give exact
//!   counts;
//! - 40 scans of one ticket spread over the nodes give one 201;
//! - the login rate limit holds across nodes;
//! - a dashboard on node 1 sees a scan made on node 3 within a second;
//! - two workers and a slow mail server send no email twice, and a worker
//!   killed with -9 mid-batch loses none (at most the one it was handing
//!   over goes out again, with the same Message-ID);
//! - a node stopped with SIGTERM under load answers no 5xx and loses no 2xx.
//!
//! PostgreSQL only: it runs when `TEST_DATABASE_URL` names a server.

mod common;

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use awc::Client;
use common::{smtp::MailSink, *};
use futures_util::{StreamExt, future::join_all};
use nuancheng::tokens::JwtKeys;
use sea_orm::Database;
use serde_json::{Value, json};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};

/// A TCP proxy on loopback that hands each new connection to the next of
/// `backends`. A node that refuses the connection, or closes it before
/// answering a byte (it is shutting down), is skipped and the request sent to
/// the next, as nginx's `proxy_next_upstream error non_idempotent` does: the
/// requests here carry an Idempotency-Key, so sending one again is safe.
async fn round_robin(backends: Vec<u16>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the proxy");
    let port = listener.local_addr().unwrap().port();
    let next = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        loop {
            match listener.accept().await {
                Ok((client, _)) => {
                    let (backends, next) = (backends.clone(), next.clone());
                    tokio::spawn(relay(client, backends, next));
                }
                // Out of descriptors for a moment: keep serving.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            }
        }
    });
    port
}

async fn relay(mut client: TcpStream, backends: Vec<u16>, next: Arc<AtomicUsize>) {
    // The whole request: its head, then `Content-Length` bytes of body.
    let mut request = Vec::new();
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if request.len() >= end + 4 + length {
                break;
            }
        }
        match client.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => request.extend_from_slice(&chunk[..n]),
        }
    }
    for _ in 0..backends.len() * 2 {
        let i = next.fetch_add(1, Ordering::SeqCst) % backends.len();
        let Ok(mut server) = TcpStream::connect(("127.0.0.1", backends[i])).await else {
            continue;
        };
        if server.write_all(&request).await.is_err() {
            continue;
        }
        let first = match server.read(&mut chunk).await {
            Ok(n) if n > 0 => n,
            _ => continue,
        };
        if client.write_all(&chunk[..first]).await.is_err() {
            return;
        }
        // When the node is done answering, so is the client.
        let _ = tokio::io::copy(&mut server, &mut client).await;
        let _ = client.shutdown().await;
        return;
    }
}

fn node_env(
    database: &TestDatabase,
    mail_dir: &std::path::Path,
    port: u16,
    sink: u16,
) -> Vec<(String, String)> {
    let mut env = Server::env_for(database, mail_dir, port);
    env.extend(
        [
            ("NUANCHENG__SERVER__RUN_WORKER", "false".to_owned()),
            ("NUANCHENG__EMAIL__TRANSPORT", "smtp".to_owned()),
            (
                "NUANCHENG__EMAIL__SMTP_URL",
                format!("smtp://127.0.0.1:{sink}"),
            ),
            ("NUANCHENG__EMAIL__SMTP_TIMEOUT_SECS", "2".to_owned()),
            ("NUANCHENG__EMAIL__LEASE_SECS", "4".to_owned()),
            ("NUANCHENG__EMAIL__POLL_INTERVAL_MS", "50".to_owned()),
            ("NUANCHENG__RATE_LIMIT__AUTH_PER_MINUTE", "20".to_owned()),
            // A thousand requests at once wait their turn for a connection
            // rather than being told to come back (503 after 2 s).
            ("NUANCHENG__DATABASE__ACQUIRE_TIMEOUT_SECS", "30".to_owned()),
            // A recount only every 30 s: a dashboard that sees another node's
            // scan within a second was told, not polling.
            ("NUANCHENG__LIVE__POLL_MS", "30000".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v)),
    );
    env
}

/// The `Message-ID` header of a raw message: the notification's own id.
fn message_id(raw: &str) -> String {
    raw.lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("message-id")
                .then(|| value.trim().to_owned())
        })
        .unwrap_or_default()
}

/// One request through the proxy on a connection of its own (so the proxy
/// spreads requests over the nodes), as plain HTTP/1.1 over TCP: status and
/// JSON body. `None` when the connection broke before an answer.
async fn through(
    proxy: u16,
    path: &str,
    token: Option<&str>,
    idempotency_key: Option<&str>,
    body: &Value,
) -> Option<(u16, Value)> {
    let body = body.to_string();
    let mut head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    if let Some(key) = idempotency_key {
        head.push_str(&format!("Idempotency-Key: {key}\r\n"));
    }
    let mut stream = TcpStream::connect(("127.0.0.1", proxy)).await.ok()?;
    stream
        .write_all(format!("{head}\r\n{body}").as_bytes())
        .await
        .ok()?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(120), stream.read_to_end(&mut answer))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let (_, json) = text.split_once("\r\n\r\n")?;
    Some((status, serde_json::from_str(json).unwrap_or(Value::Null)))
}

#[actix_web::test]
async fn three_nodes_and_two_workers_share_one_truth() {
    if std::env::var("TEST_DATABASE_URL").map_or(true, |v| v.is_empty()) {
        eprintln!("skipped: set TEST_DATABASE_URL to a PostgreSQL server");
        return;
    }
    let database = fresh_database().await;
    let mail_dir = database.dir.0.join("mail");
    let sink = MailSink::start().await;
    let ports: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut nodes = Vec::new();
    for &port in &ports {
        nodes.push(Server::start(node_env(&database, &mail_dir, port, sink.port), port).await);
    }
    let proxy = round_robin(ports.clone()).await;
    let client = Client::builder().timeout(Duration::from_secs(30)).finish();
    let db = Database::connect(&database.url)
        .await
        .expect("the database");
    let admin = admin_token(&nodes[0], &client).await;
    let jwt = JwtKeys::new(&settings().auth);

    // 1,000 students at once through all three nodes: 600 seats, 100 places
    // on the waitlist, 300 refused.
    let event = published_event(&nodes[0], &client, &admin, 600).await;
    let patched = client
        .patch(nodes[1].url(&format!("/api/v1/events/{event}")))
        .bearer_auth(&admin)
        .send_json(&json!({"waitlist_limit": 100}))
        .await
        .expect("set the waitlist");
    assert_eq!(patched.status().as_u16(), 200);
    let crowd = students(&db, &jwt, 1000).await;
    let started = Instant::now();
    let path = format!("/api/v1/events/{event}/registrations");
    let empty = json!({});
    let answers = join_all(
        crowd
            .iter()
            .map(|(_, _, token)| through(proxy, &path, Some(token), None, &empty)),
    )
    .await;
    eprintln!(
        "1,000 registrations through three nodes in {:?}",
        started.elapsed()
    );
    let mut by_status: HashMap<u16, usize> = HashMap::new();
    for answer in answers {
        let (status, body) = answer.expect("an answer");
        if status == 201 {
            *by_status
                .entry(if body["status"] == "confirmed" {
                    2010
                } else {
                    2011
                })
                .or_default() += 1;
        } else {
            assert_eq!(
                (status, body["code"].as_str()),
                (422, Some("event_full")),
                "{body}"
            );
            *by_status.entry(status).or_default() += 1;
        }
    }
    assert_eq!(
        (
            by_status.get(&2010),
            by_status.get(&2011),
            by_status.get(&422)
        ),
        (Some(&600), Some(&100), Some(&300)),
        "confirmed, waitlisted, refused"
    );
    assert_eq!(scalar(&db, "SELECT confirmed_count FROM events").await, 600);
    assert_eq!(scalar(&db, "SELECT waitlist_count FROM events").await, 100);
    assert_eq!(
        scalar(&db, "SELECT COUNT(DISTINCT waitlist_position) FROM registrations WHERE status = 'waitlisted' AND waitlist_position BETWEEN 1 AND 100").await,
        100,
        "waitlist positions are 1 to 100"
    );

    // 40 scans of one ticket, spread over the nodes: one admission.
    let first = &crowd[0];
    let ticket: String = {
        let res = client
            .get(nodes[0].url("/api/v1/me/registrations"))
            .bearer_auth(&first.2)
            .send()
            .await
            .expect("my registrations");
        let (_, body, _) = read(res).await;
        let id = body["items"][0]["id"].as_str().unwrap().to_owned();
        let res = client
            .get(nodes[0].url(&format!("/api/v1/registrations/{id}/ticket")))
            .bearer_auth(&first.2)
            .send()
            .await
            .expect("the ticket");
        read(res).await.1["ticket_code"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    // The dashboard on node 1 watches before the scans on node 3.
    let mut live = client
        .get(nodes[0].url(&format!("/api/v1/events/{event}/live")))
        .bearer_auth(&admin)
        .send()
        .await
        .expect("a live stream");
    assert_eq!(live.status().as_u16(), 200);
    let first_stats = tokio::time::timeout(Duration::from_secs(5), live.next())
        .await
        .expect("the first figures")
        .expect("a chunk")
        .expect("bytes");
    assert!(first_stats.starts_with(b"event: stats"));
    let scanned_at = Instant::now();
    let path = format!("/api/v1/events/{event}/checkins");
    let scan = json!({"ticket_code": ticket});
    let scans = join_all((0..40).map(|_| through(proxy, &path, Some(&admin), None, &scan))).await;
    let mut admitted = 0;
    for scan in scans {
        let (status, body) = scan.expect("an answer");
        match status {
            201 => admitted += 1,
            200 => assert_eq!(body["result"], "already_checked_in"),
            other => panic!("a scan answered {other}: {body}"),
        }
    }
    assert_eq!(admitted, 1, "one ticket, one admission");
    let update = tokio::time::timeout(Duration::from_secs(1), async {
        while let Some(Ok(chunk)) = live.next().await {
            let text = String::from_utf8_lossy(&chunk).into_owned();
            if text.contains("\"checked_in\":1") {
                return;
            }
        }
    })
    .await;
    assert!(
        update.is_ok(),
        "node 1's dashboard did not see the scan within a second ({:?})",
        scanned_at.elapsed()
    );
    drop(live);

    // The login budget is one, whichever node answers.
    let mut statuses = Vec::new();
    for _ in 0..21 {
        let login = json!({"email": "nobody@faults.test", "password": "wrong-password-1"});
        let (status, _) = through(proxy, "/api/v1/auth/login", None, None, &login)
            .await
            .expect("login");
        statuses.push(status);
    }
    // One login (the admin's) came from this address already. With a budget
    // per process the 21 would spread over three budgets and none be refused.
    let refused_at = statuses.iter().position(|s| *s == 429);
    assert!(
        refused_at.is_some_and(|i| i <= 20)
            && statuses[..refused_at.unwrap()].iter().all(|s| *s == 401),
        "the login budget is shared by the nodes: {statuses:?}"
    );

    // Two workers drain the 700 confirmation and waitlist emails, each once.
    let mut workers: Vec<Server> = Vec::new();
    for _ in 0..2 {
        let port = free_port();
        let mut worker = Server::new(node_env(&database, &mail_dir, port, sink.port), port);
        worker.child = Some(worker.command(&["worker"]).spawn().expect("a worker"));
        workers.push(worker);
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while scalar(
        &db,
        "SELECT COUNT(*) FROM notifications WHERE status <> 'sent'",
    )
    .await
        > 0
    {
        assert!(
            Instant::now() < deadline,
            "the workers did not drain the outbox in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut per_email: HashMap<String, usize> = HashMap::new();
    for mail in sink.messages() {
        *per_email.entry(message_id(&mail.raw)).or_default() += 1;
    }
    let sent = scalar(&db, "SELECT COUNT(*) FROM notifications").await as usize;
    assert_eq!(per_email.len(), sent, "every email went out");
    assert!(
        per_email.values().all(|n| *n == 1),
        "no email went out twice"
    );

    // A slow mail server, and one worker killed with -9 mid-batch.
    sink.set_delay(Duration::from_millis(150));
    let before = sink.messages().len();
    let late = students(&db, &jwt, 30).await;
    let event_two = published_event(&nodes[0], &client, &admin, 100).await;
    for (_, _, token) in &late {
        let path = format!("/api/v1/events/{event_two}/registrations");
        let (status, body) = through(proxy, &path, Some(token), None, &json!({}))
            .await
            .expect("register");
        assert_eq!(status, 201, "{body}");
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while sink.messages().len() < before + 5 {
        assert!(Instant::now() < deadline, "no mail went out");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    workers[0].kill_9();
    let deadline = Instant::now() + Duration::from_secs(40);
    while scalar(
        &db,
        "SELECT COUNT(*) FROM notifications WHERE status <> 'sent'",
    )
    .await
        > 0
    {
        assert!(
            Instant::now() < deadline,
            "the killed worker's emails were lost"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut copies: HashMap<String, Vec<String>> = HashMap::new();
    for mail in &sink.messages()[before..] {
        let message_id = mail
            .raw
            .lines()
            .find_map(|l| l.strip_prefix("Message-ID: ").map(str::to_owned))
            .unwrap_or_default();
        copies
            .entry(mail.to.join(","))
            .or_default()
            .push(message_id);
    }
    assert_eq!(copies.len(), 30, "every late student got the confirmation");
    let twice: Vec<_> = copies.values().filter(|ids| ids.len() > 1).collect();
    assert!(
        twice.len() <= 8,
        "only the emails being handed over (8 at most) may go out again: {twice:?}"
    );
    for ids in twice {
        assert!(
            ids.iter().all(|id| id == &ids[0]),
            "a second copy keeps its Message-ID"
        );
    }

    // Node 2 stops with SIGTERM while registrations go through the proxy.
    let last = students(&db, &jwt, 60).await;
    let event_three = published_event(&nodes[0], &client, &admin, 100).await;
    let path = format!("/api/v1/events/{event_three}/registrations");
    let load = join_all(last.iter().enumerate().map(|(i, (_, _, token))| {
        let path = &path;
        async move {
            tokio::time::sleep(Duration::from_millis(20 * i as u64)).await;
            let key = format!("rolling-{i}");
            through(proxy, path, Some(token), Some(&key), &json!({}))
                .await
                .expect("an answer through the proxy")
        }
    }));
    let stop = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let pid = nodes[1].child.as_ref().expect("node 2 runs").id();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
    };
    let (answers, ()) = tokio::join!(load, stop);
    let created = answers.iter().filter(|(s, _)| *s == 201).count() as i64;
    for (status, body) in &answers {
        assert_eq!(*status, 201, "during the restart: {body}");
    }
    let exited = nodes[1]
        .child
        .as_mut()
        .unwrap()
        .wait()
        .expect("node 2 exits after SIGTERM");
    assert!(exited.success(), "node 2 exits cleanly: {exited:?}");
    nodes[1].child = None;
    assert_eq!(
        scalar(
            &db,
            &format!("SELECT COUNT(*) FROM registrations WHERE event_id = '{event_three}'")
        )
        .await,
        created
    );

    drop(workers);
    drop(nodes);
    let _ = db.close().await;
    drop_database(&database).await;
}
