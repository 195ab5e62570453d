//! Load benchmark: starts the real server on a loopback port (SQLite file
//! and PostgreSQL), seeds students straight into the database, then fires
//! HTTP requests at a fixed concurrency and reports requests per second and
//! latency percentiles: registrations (one crowded event, and twenty
//! events), then check-ins (every ticket scanned once, then again).
//! `/healthz` runs first under the same load in the same run, so the ratio
//! to it means something on a noisy machine.
//!
//! ```text
//! cargo bench --bench load                       # both databases
//! cargo bench --bench load -- --db sqlite --requests 4000 --concurrency 64
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432 cargo bench --bench load -- --db postgres
//! ```

use std::{
    path::PathBuf,
    time::{Duration, Instant},
};

use awc::Client;
use futures_util::{StreamExt, stream};
use nuancheng::{
    accounts::service::new_referral_code,
    app::Application,
    config::{EmailTransportKind, Environment, Settings},
    db,
    entities::{
        events::{self, EventKind, EventStatus},
        registrations::{self, RegistrationStatus},
        users::{self, Degree, Role},
    },
};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, Database, EntityTrait, QueryFilter, Set,
    Statement,
};
use uuid::Uuid;

struct Options {
    databases: Vec<String>,
    requests: usize,
    concurrency: usize,
}

fn options() -> Options {
    let mut opts = Options {
        databases: vec!["sqlite".into(), "postgres".into()],
        requests: 2000,
        concurrency: 32,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().expect("a value after the flag");
        match arg.as_str() {
            "--db" => opts.databases = vec![value()],
            "--requests" => opts.requests = value().parse().expect("a number"),
            "--concurrency" => opts.concurrency = value().parse().expect("a number"),
            // cargo bench passes --bench to every bench target.
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    opts
}

/// What one phase measured.
struct Measured {
    name: String,
    seconds: f64,
    latencies: Vec<Duration>,
    statuses: std::collections::BTreeMap<u16, usize>,
}

impl Measured {
    fn rate(&self) -> f64 {
        self.latencies.len() as f64 / self.seconds
    }

    fn percentile(&self, p: f64) -> f64 {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        let index = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
        sorted[index].as_secs_f64() * 1000.0
    }

    fn row(&self, reference: f64) -> String {
        format!(
            "| {} | {} | {:.0} | {:.2} | {:.1} | {:.1} | {:.1} | {:?} |",
            self.name,
            self.latencies.len(),
            self.rate(),
            self.rate() / reference,
            self.percentile(0.50),
            self.percentile(0.95),
            self.percentile(0.99),
            self.statuses
        )
    }
}

/// One request: a GET without a body, else a POST of the JSON body.
struct Req {
    url: String,
    token: Option<String>,
    body: Option<String>,
}

/// Sends every request with at most `concurrency` in flight.
async fn drive(name: &str, client: &Client, concurrency: usize, requests: Vec<Req>) -> Measured {
    let started = Instant::now();
    let results: Vec<(Duration, u16)> = stream::iter(requests)
        .map(|req| async move {
            let begun = Instant::now();
            let mut request = match &req.body {
                Some(_) => client
                    .post(&req.url)
                    .insert_header(("Content-Type", "application/json")),
                None => client.get(&req.url),
            };
            if let Some(token) = &req.token {
                request = request.bearer_auth(token);
            }
            let status = match request.send_body(req.body.unwrap_or_default()).await {
                Ok(mut response) => {
                    let _ = response.body().await;
                    response.status().as_u16()
                }
                Err(_) => 0,
            };
            (begun.elapsed(), status)
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    let seconds = started.elapsed().as_secs_f64();
    let mut statuses = std::collections::BTreeMap::new();
    for (_, status) in &results {
        *statuses.entry(*status).or_default() += 1;
    }
    Measured {
        name: name.into(),
        seconds,
        latencies: results.into_iter().map(|(d, _)| d).collect(),
        statuses,
    }
}

async fn database_url(kind: &str) -> (String, Option<PathBuf>, Option<String>) {
    if kind == "sqlite" {
        let path = std::env::temp_dir().join(format!("nuancheng-bench-{}.db", Uuid::new_v4()));
        return (
            format!("sqlite://{}?mode=rwc", path.display()),
            Some(path),
            None,
        );
    }
    let server = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    let server = server.trim_end_matches('/').to_owned();
    let name = format!("nuancheng_bench_{}", Uuid::new_v4().simple());
    let admin = Database::connect(format!("{server}/postgres"))
        .await
        .expect("connect to PostgreSQL (set BENCH_DATABASE_URL)");
    admin
        .execute_raw(Statement::from_string(
            admin.get_database_backend(),
            format!("CREATE DATABASE \"{name}\""),
        ))
        .await
        .expect("create the bench database");
    (format!("{server}/{name}"), None, Some(name))
}

async fn drop_database(name: &str) {
    let server = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into());
    if let Ok(admin) = Database::connect(format!("{}/postgres", server.trim_end_matches('/'))).await
    {
        let _ = admin
            .execute_raw(Statement::from_string(
                admin.get_database_backend(),
                format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
            ))
            .await;
    }
}

async fn seed_event<C: ConnectionTrait>(conn: &C, organiser: Uuid, capacity: i32) -> Uuid {
    let now = db::now();
    let starts = now + chrono::TimeDelta::days(7);
    events::ActiveModel {
        id: Set(Uuid::now_v7()),
        campaign_id: Set(None),
        title: Set("名校引才专项行动·压力测试专场".into()),
        kind: Set(EventKind::JobFair),
        university: Set("北京大学".into()),
        venue: Set("百周年纪念讲堂".into()),
        city: Set("北京".into()),
        starts_at: Set(starts),
        ends_at: Set(starts + chrono::TimeDelta::hours(3)),
        capacity: Set(capacity),
        waitlist_limit: Set(capacity / 2),
        registration_opens_at: Set(None),
        registration_closes_at: Set(None),
        description: Set(String::new()),
        min_degree: Set(None),
        graduation_years: Set(None),
        status: Set(EventStatus::Published),
        cancel_reason: Set(None),
        confirmed_count: Set(0),
        waitlist_count: Set(0),
        created_by: Set(organiser),
        published_at: Set(Some(now)),
        cancelled_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .expect("seed an event")
    .id
}

async fn seed_user<C: ConnectionTrait>(conn: &C, role: Role) -> Uuid {
    let now = db::now();
    let id = Uuid::now_v7();
    users::ActiveModel {
        id: Set(id),
        email: Set(format!("bench-{}@pku.edu.cn", id.simple())),
        password_hash: Set(None),
        full_name: Set("压力测试".into()),
        phone: Set(None),
        university: Set(Some("北京大学".into())),
        major: Set(Some("化学工程".into())),
        degree: Set(Some(Degree::Master)),
        graduation_year: Set(Some(2027)),
        role: Set(role),
        employer_id: Set(None),
        referral_code: Set(new_referral_code()),
        referred_by: Set(None),
        email_verified_at: Set(Some(now)),
        disabled_at: Set(None),
        tokens_valid_after: Set(None),
        privacy_notice_version: Set(None),
        privacy_accepted_at: Set(None),
        contact_sharing_at: Set(None),
        anonymised_at: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(conn)
    .await
    .expect("seed a user");
    id
}

async fn run(kind: &str, opts: &Options) {
    let (url, sqlite_file, pg_name) = database_url(kind).await;
    let mail_dir = std::env::temp_dir().join(format!("nuancheng-bench-mail-{}", Uuid::new_v4()));
    let mut settings = Settings::load_from(
        Environment::Development,
        &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config"),
    )
    .expect("settings");
    settings.server.port = 0;
    settings.server.workers = 2;
    settings.database.url = url;
    settings.database.max_connections = 10;
    settings.email.transport = EmailTransportKind::File;
    settings.email.file_dir = mail_dir.clone();
    let app = Application::build(settings)
        .await
        .expect("the server starts");
    let base = format!("http://127.0.0.1:{}", app.port());
    let state = app.state.clone();
    let server = app.handle();
    actix_web::rt::spawn(app.run_until_stopped());

    let n = opts.requests;
    let organiser = seed_user(&state.db, Role::Organiser).await;
    let mut tokens = Vec::with_capacity(n * 2);
    for _ in 0..n * 2 {
        let id = seed_user(&state.db, Role::Candidate).await;
        tokens.push(state.jwt.issue(id, Role::Candidate));
    }
    // One crowded event: half get a seat, a quarter wait, the rest are refused.
    let hot = seed_event(&state.db, organiser, (n / 2) as i32).await;
    // Twenty events with room for everyone: the same work without one row
    // that every request must lock in turn.
    let mut spread = Vec::new();
    for _ in 0..20 {
        spread.push(seed_event(&state.db, organiser, n as i32).await);
    }

    let client = Client::builder().timeout(Duration::from_secs(60)).finish();
    let health = |count: usize| {
        (0..count)
            .map(|_| Req {
                url: format!("{base}/healthz"),
                token: None,
                body: None,
            })
            .collect::<Vec<_>>()
    };
    drive("warm-up", &client, opts.concurrency, health(200)).await;
    let reference = drive("GET /healthz", &client, opts.concurrency, health(n)).await;
    let one = drive(
        "register, one event",
        &client,
        opts.concurrency,
        tokens[..n]
            .iter()
            .map(|t| Req {
                url: format!("{base}/api/v1/events/{hot}/registrations"),
                token: Some(t.clone()),
                body: Some("{}".into()),
            })
            .collect(),
    )
    .await;
    let many = drive(
        "register, 20 events",
        &client,
        opts.concurrency,
        tokens[n..]
            .iter()
            .enumerate()
            .map(|(i, t)| Req {
                url: format!(
                    "{base}/api/v1/events/{}/registrations",
                    spread[i % spread.len()]
                ),
                token: Some(t.clone()),
                body: Some("{}".into()),
            })
            .collect(),
    )
    .await;

    // The door: the tickets of the crowded event's confirmed students, each
    // scanned once, then each scanned again.
    let codes: Vec<String> = registrations::Entity::find()
        .filter(registrations::Column::EventId.eq(hot))
        .filter(registrations::Column::Status.eq(RegistrationStatus::Confirmed))
        .all(&state.db)
        .await
        .expect("read the tickets")
        .into_iter()
        .map(|r| r.ticket_code)
        .collect();
    let staff = state.jwt.issue(organiser, Role::Organiser);
    let scans = |codes: &[String]| {
        codes
            .iter()
            .enumerate()
            .map(|(i, code)| Req {
                url: format!("{base}/api/v1/events/{hot}/checkins"),
                token: Some(staff.clone()),
                body: Some(format!(
                    r#"{{"ticket_code": "{code}", "gate": "门{}"}}"#,
                    i % 4
                )),
            })
            .collect::<Vec<_>>()
    };
    let first_scans = drive(
        "check-in, first scan",
        &client,
        opts.concurrency,
        scans(&codes),
    )
    .await;
    let repeat_scans = drive(
        "check-in, repeat scan",
        &client,
        opts.concurrency,
        scans(&codes),
    )
    .await;

    let rps = reference.rate();
    println!(
        "\n### {kind}: {n} requests per phase, concurrency {}\n",
        opts.concurrency
    );
    println!("| phase | requests | req/s | × healthz | p50 ms | p95 ms | p99 ms | statuses |");
    println!("|---|---|---|---|---|---|---|---|");
    for measured in [&reference, &one, &many, &first_scans, &repeat_scans] {
        println!("{}", measured.row(rps));
    }

    server.stop(true).await;
    let _ = state.db.clone().close().await;
    if let Some(name) = pg_name {
        drop_database(&name).await;
    }
    if let Some(path) = sqlite_file {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = path.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
    let _ = std::fs::remove_dir_all(mail_dir);
}

fn main() {
    let opts = options();
    actix_web::rt::System::new().block_on(async {
        for kind in opts.databases.clone() {
            run(&kind, &opts).await;
        }
    });
}
