//! What the tests that start the real `nuancheng` binary share: a fresh
//! database (a SQLite file, or a PostgreSQL database when `TEST_DATABASE_URL`
//! names a server), a free loopback port, the server process with its
//! environment, and a few requests and reads.

#![allow(dead_code)]

#[path = "../api/smtp.rs"]
pub mod smtp;

use std::{
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use awc::Client;
use nuancheng::{
    accounts::service::new_referral_code,
    config::{Environment, Settings},
    entities::users::{self, Degree, Role},
    tokens::JwtKeys,
};
use sea_orm::{ActiveModelTrait, ConnectionTrait, Database, DatabaseConnection, Set, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

pub const ADMIN_PASSWORD: &str = "fault-test-password-1";

/// A database of its own for one test, and how to reach it.
pub struct TestDatabase {
    pub url: String,
    pub postgres: Option<(String, String)>,
    pub dir: TempDir,
}

pub struct TempDir(pub PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub async fn fresh_database() -> TestDatabase {
    let dir = std::env::temp_dir().join(format!("nuancheng-fault-{}", Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            let server = server.trim_end_matches('/').to_owned();
            let name = format!("nuancheng_test_{}", Uuid::new_v4().simple());
            let admin = Database::connect(format!("{server}/postgres"))
                .await
                .expect("PostgreSQL answers");
            admin
                .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                .await
                .expect("create the test database");
            let _ = admin.close().await;
            TestDatabase {
                url: format!("{server}/{name}"),
                postgres: Some((server, name)),
                dir: TempDir(dir),
            }
        }
        _ => TestDatabase {
            url: format!("sqlite://{}?mode=rwc", dir.join("fault.db").display()),
            postgres: None,
            dir: TempDir(dir),
        },
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The real binary, serving on loopback. What it writes to stderr (warnings,
/// a panic) is kept in a file of its own, so a failing test can show it.
pub struct Server {
    pub child: Option<Child>,
    pub port: u16,
    pub env: Vec<(String, String)>,
    log: PathBuf,
}

impl Server {
    /// Not started yet: see [`Server::start`] and [`Server::command`].
    pub fn new(env: Vec<(String, String)>, port: u16) -> Self {
        let log = std::env::temp_dir().join(format!(
            "nuancheng-server-{port}-{}.log",
            Uuid::new_v4().simple()
        ));
        Self {
            child: None,
            port,
            env,
            log,
        }
    }

    /// For a failure message: whether the process still runs, and what it
    /// last wrote to stderr.
    pub fn report(&mut self) -> String {
        format!("the server is {}; {}", self.alive(), self.log_tail())
    }

    /// The last lines the process (every start of it) wrote to stderr.
    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let from = lines.len().saturating_sub(40);
        format!(
            "server stderr, last {} lines:\n{}",
            lines.len() - from,
            lines[from..].join("\n")
        )
    }

    /// Whether the process is still running, or how it ended.
    fn alive(&mut self) -> String {
        match self.child.as_mut().map(|c| c.try_wait()) {
            Some(Ok(None)) => "running".into(),
            Some(Ok(Some(status))) => format!("exited: {status}"),
            Some(Err(e)) => format!("unknown: {e}"),
            None => "not started".into(),
        }
    }

    pub fn env_for(
        database: &TestDatabase,
        mail_dir: &std::path::Path,
        port: u16,
    ) -> Vec<(String, String)> {
        [
            ("NUANCHENG_ENV", "test".to_owned()),
            ("NUANCHENG__SERVER__HOST", "127.0.0.1".to_owned()),
            ("NUANCHENG__SERVER__PORT", port.to_string()),
            ("NUANCHENG__SERVER__WORKERS", "2".to_owned()),
            ("NUANCHENG__DATABASE__URL", database.url.clone()),
            ("NUANCHENG__DATABASE__ACQUIRE_TIMEOUT_SECS", "2".to_owned()),
            ("NUANCHENG__EMAIL__TRANSPORT", "file".to_owned()),
            ("NUANCHENG__EMAIL__FILE_DIR", mail_dir.display().to_string()),
            ("NUANCHENG__HTTP__IDEMPOTENCY_LEASE_SECS", "2".to_owned()),
            (
                "NUANCHENG__RATE_LIMIT__AUTH_PER_MINUTE",
                "100000".to_owned(),
            ),
            ("RUST_LOG", "warn".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_nuancheng"));
        command
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if let Ok(log) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
        {
            command.stderr(log);
        }
        command
    }

    pub async fn start(env: Vec<(String, String)>, port: u16) -> Self {
        let mut server = Self::new(env, port);
        server.restart().await;
        server
    }

    pub async fn restart(&mut self) {
        let child = self.command(&["serve"]).spawn().expect("the binary starts");
        self.child = Some(child);
        let client = Client::default();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(res) = client.get(self.url("/healthz")).send().await
                && res.status().is_success()
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not come up in 30 s; {}",
                self.report()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// SIGKILL: no shutdown, no flushing, nothing the process could finish.
    pub fn kill_9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("reaped");
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill_9();
        let _ = std::fs::remove_file(&self.log);
    }
}

pub async fn read(
    res: awc::ClientResponse<
        impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>,
    >,
) -> (u16, Value, bool) {
    let mut res = res;
    let status = res.status().as_u16();
    let replayed = res.headers().contains_key("idempotency-replayed");
    let body = res.body().limit(1 << 20).await.unwrap_or_default();
    (
        status,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
        replayed,
    )
}

/// An admin's access token, through `create-admin` and a login.
pub async fn admin_token(server: &Server, client: &Client) -> String {
    let status = server
        .command(&[
            "create-admin",
            "--email",
            "admin@faults.test",
            "--password",
            ADMIN_PASSWORD,
        ])
        .status()
        .expect("create-admin runs");
    assert!(status.success());
    let res = client
        .post(server.url("/api/v1/auth/login"))
        .send_json(&json!({"email": "admin@faults.test", "password": ADMIN_PASSWORD}))
        .await
        .expect("login");
    let (status, body, _) = read(res).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

pub async fn published_event(
    server: &Server,
    client: &Client,
    admin: &str,
    capacity: i32,
) -> String {
    let starts = chrono::Utc::now() + chrono::TimeDelta::days(7);
    let res = client
        .post(server.url("/api/v1/events"))
        .bearer_auth(admin)
        .send_json(&json!({
            "title": "名校引才专项行动·北京大学专场", "kind": "info_session",
            "university": "北京大学", "venue": "百周年纪念讲堂", "city": "北京",
            "starts_at": starts, "ends_at": starts + chrono::TimeDelta::hours(2),
            "capacity": capacity,
        }))
        .await
        .expect("create an event");
    let (status, body, _) = read(res).await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_owned();
    let res = client
        .post(server.url(&format!("/api/v1/events/{id}/publish")))
        .bearer_auth(admin)
        .send_json(&json!({}))
        .await
        .expect("publish");
    assert_eq!(read(res).await.0, 200);
    id
}

/// Students written straight to the database, each with an access token.
pub async fn students(
    db: &DatabaseConnection,
    jwt: &JwtKeys,
    n: usize,
) -> Vec<(Uuid, String, String)> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let id = Uuid::now_v7();
        let email = format!("s{i}-{}@pku.edu.cn", id.simple());
        let now = nuancheng::db::now();
        users::ActiveModel {
            id: Set(id),
            email: Set(email.clone()),
            password_hash: Set(None),
            full_name: Set(format!("学生{i}")),
            phone: Set(None),
            university: Set(Some("北京大学".into())),
            major: Set(Some("化学工程".into())),
            degree: Set(Some(Degree::Master)),
            graduation_year: Set(Some(2027)),
            role: Set(Role::Candidate),
            employer_id: Set(None),
            referral_code: Set(new_referral_code()),
            referred_by: Set(None),
            email_verified_at: Set(Some(now)),
            disabled_at: Set(None),
            tokens_valid_after: Set(None),
            privacy_notice_version: Set(Some("2026-11".into())),
            privacy_accepted_at: Set(Some(now)),
            contact_sharing_at: Set(Some(now)),
            anonymised_at: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(db)
        .await
        .expect("a student");
        out.push((id, email, jwt.issue(id, Role::Candidate)));
    }
    out
}

pub async fn scalar(db: &DatabaseConnection, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(
        db.get_database_backend(),
        format!("SELECT CAST(({sql}) AS BIGINT) AS n"),
    ))
    .await
    .expect(sql)
    .expect("a row")
    .try_get::<i64>("", "n")
    .expect("n")
}

pub fn settings() -> Settings {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    Settings::load_from(Environment::Test, &dir).expect("test settings")
}

pub async fn drop_database(database: &TestDatabase) {
    if let Some((server, name)) = &database.postgres
        && let Ok(admin) = Database::connect(format!("{server}/postgres")).await
    {
        let _ = admin
            .execute_unprepared(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
            .await;
        let _ = admin.close().await;
    }
}

/// Runs `pg_ctlcluster action` on a blocking thread. A stop waits for the
/// shutdown checkpoint, seconds after a busy suite; run on the test's own
/// thread it would freeze the test's clients as long, and their requests
/// would look slow, or find their kept-alive connections closed meanwhile.
async fn postgres_cluster(action: &'static [&'static str]) {
    let done = actix_web::rt::task::spawn_blocking(move || pg_ctlcluster(action)).await;
    assert!(done.unwrap_or(false), "pg_ctlcluster {action:?}");
}

fn pg_ctlcluster(action: &[&str]) -> bool {
    let Some(version) = std::fs::read_dir("/etc/postgresql")
        .ok()
        .and_then(|dir| dir.filter_map(|e| e.ok()).next())
        .map(|e| e.file_name().to_string_lossy().into_owned())
    else {
        return false;
    };
    Command::new("pg_ctlcluster")
        .args(["--skip-systemctl-redirect", &version, "main"])
        .args(action)
        .status()
        .is_ok_and(|s| s.success())
}

/// The machine's PostgreSQL, stopped. It is started again by
/// [`PostgresStopped::start`] or, if the test fails first, when this is
/// dropped: a failure must not leave it down for the tests after.
pub struct PostgresStopped {
    started: bool,
}

impl PostgresStopped {
    pub async fn stop() -> Self {
        let stopped = Self { started: false };
        postgres_cluster(&["stop"]).await;
        stopped
    }

    /// A crash: every backend quits at once, with no shutdown checkpoint
    /// and no flush of what the log buffers still hold; the next start
    /// recovers from the log as it reached the disk.
    pub async fn crash() -> Self {
        let stopped = Self { started: false };
        postgres_cluster(&["stop", "-m", "immediate"]).await;
        stopped
    }

    pub async fn start(mut self) {
        self.started = true;
        postgres_cluster(&["start"]).await;
    }
}

impl Drop for PostgresStopped {
    fn drop(&mut self) {
        if !self.started {
            pg_ctlcluster(&["start"]);
        }
    }
}
