//! `spawn_app()`: the real server on port 0, a fresh database, migrations
//! applied, mail sent over SMTP to an in-process sink. One helper per
//! endpoint the tests use often.

use std::{path::PathBuf, sync::Once};

use actix_web::web;
use awc::{Client, ClientResponse, http::StatusCode};
use nuancheng::{
    accounts::service::{ensure_admin, new_referral_code},
    app::Application,
    config::{EmailTransportKind, Environment, Settings},
    entities::users::{self, Role},
    state::AppState,
};
use sea_orm::{ConnectionTrait, Database, Statement};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::smtp::MailSink;

pub const PASSWORD: &str = "warmcity2026";

pub struct TestApp {
    pub address: String,
    pub sink: MailSink,
    pub state: web::Data<AppState>,
    pub client: Client,
    _sqlite_file: Option<TempFile>,
}

/// A SQLite file removed when the test ends.
pub struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut path = self.0.clone().into_os_string();
            path.push(suffix);
            let _ = std::fs::remove_file(path);
        }
    }
}

static TRACING: Once = Once::new();

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Like `spawn_app`, with a chance to change settings first.
pub async fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    let (url, sqlite_file) = fresh_database().await;
    spawn_app_on(url, sqlite_file, true, change).await
}

/// The PostgreSQL server of TEST_DATABASE_URL, or `None` with a note saying
/// why the calling test skips itself: what it checks needs several
/// processes on one shared database.
pub fn postgres_or_skip(test: &str) -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("{test}: skipped, it needs PostgreSQL (set TEST_DATABASE_URL)");
            None
        }
    }
}

/// A second server process on `first`'s database, as another node behind
/// the same proxy would be. It runs no mail worker, so every email reaches
/// `first`'s sink, where the helpers look for it.
pub async fn spawn_peer(first: &TestApp, change: impl FnOnce(&mut Settings)) -> TestApp {
    let url = first.state.settings.database.url.clone();
    spawn_app_on(url, None, true, |s| {
        s.server.run_worker = false;
        change(s)
    })
    .await
}

/// The server on the database at `url`; migrations are applied first when
/// `migrate` is set (as `nuancheng serve` does without `--no-migrate`).
pub async fn spawn_app_on(
    url: String,
    sqlite_file: Option<TempFile>,
    migrate: bool,
    change: impl FnOnce(&mut Settings),
) -> TestApp {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            nuancheng::telemetry::init();
        }
    });
    let sink = MailSink::start().await;
    let config_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let mut settings = Settings::load_from(Environment::Test, &config_dir).expect("test settings");
    settings.server.host = "127.0.0.1".into();
    settings.server.port = 0;
    settings.server.workers = 2;
    settings.email.transport = EmailTransportKind::Smtp;
    settings.email.smtp_url = format!("smtp://127.0.0.1:{}", sink.port);
    settings.rate_limit.auth_per_minute = 100_000;
    // Tests run side by side on few cores: a burst of signups may wait for a
    // hashing slot longer than production's 2 s without anything being wrong.
    settings.auth.hash_wait_ms = 30_000;
    settings.public_base_url = "http://frontend.test".into();
    settings.database.url = url;
    change(&mut settings);

    let app = Application::start(settings, migrate)
        .await
        .expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    let state = app.state.clone();
    actix_web::rt::spawn(app.run_until_stopped());
    TestApp {
        address,
        sink,
        state,
        // Idle connections are not reused past 2 s: the server closes them
        // after 5 (server.keep_alive_secs), and a request sent on one it is
        // closing fails before it is read.
        client: Client::builder()
            .connector(awc::Connector::new().conn_keep_alive(std::time::Duration::from_secs(2)))
            .timeout(std::time::Duration::from_secs(30))
            .finish(),
        _sqlite_file: sqlite_file,
    }
}

/// A new empty database: a uuid-named PostgreSQL database on the server of
/// TEST_DATABASE_URL, or else a temporary SQLite file.
pub async fn fresh_database() -> (String, Option<TempFile>) {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(server) if !server.is_empty() => {
            let server = server.trim_end_matches('/');
            let name = format!("nuancheng_test_{}", Uuid::new_v4().simple());
            let admin = Database::connect(format!("{server}/postgres"))
                .await
                .expect("connect to TEST_DATABASE_URL");
            admin
                .execute_raw(Statement::from_string(
                    admin.get_database_backend(),
                    format!("CREATE DATABASE \"{name}\""),
                ))
                .await
                .expect("create the test database");
            let _ = admin.close().await;
            (format!("{server}/{name}"), None)
        }
        _ => {
            let path = std::env::temp_dir().join(format!("nuancheng-test-{}.db", Uuid::new_v4()));
            (
                format!("sqlite://{}?mode=rwc", path.display()),
                Some(TempFile(path)),
            )
        }
    }
}

/// A response read whole: status, headers and JSON body (Null when empty).
pub struct Reply {
    pub status: StatusCode,
    pub headers: awc::http::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn read<S>(mut res: ClientResponse<S>) -> Self
    where
        S: futures_util::Stream<Item = Result<web::Bytes, awc::error::PayloadError>> + Unpin,
    {
        let bytes = res.body().limit(10 * 1024 * 1024).await.expect("read body");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        Self {
            status: res.status(),
            headers: res.headers().clone(),
            body,
        }
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status.as_u16(), status, "status; body: {}", self.body);
        assert_eq!(self.body["code"], code, "code; body: {}", self.body);
        assert_eq!(self.body["status"], status, "status in body: {}", self.body);
        assert!(
            self.header("content-type")
                .is_some_and(|c| c.starts_with("application/problem+json")),
            "content type {:?}",
            self.header("content-type")
        );
    }

    /// The `field` of every entry of `errors`.
    pub fn error_fields(&self) -> Vec<String> {
        self.body["errors"]
            .as_array()
            .map(|errors| {
                errors
                    .iter()
                    .map(|e| e["field"].as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        let mut req = self.client.get(self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        Reply::read(req.send().await.expect("GET")).await
    }

    pub async fn send(&self, method: &str, path: &str, token: Option<&str>, body: &Value) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, self.url(path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        Reply::read(req.send_json(body).await.expect("send")).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send("POST", path, token, body).await
    }

    pub async fn patch(&self, path: &str, token: Option<&str>, body: &Value) -> Reply {
        self.send("PATCH", path, token, body).await
    }

    /// `post` with owned arguments, for many requests at once.
    pub async fn post_owned(&self, path: &str, body: Value) -> Reply {
        self.post(path, None, &body).await
    }

    pub async fn signup_owned(&self, body: Value) -> Reply {
        self.signup(&body).await
    }

    pub async fn signup(&self, body: &Value) -> Reply {
        self.post("/api/v1/auth/signup", None, body).await
    }

    /// Signs up a candidate and gives its access token and the whole reply.
    pub async fn candidate(&self, email: &str) -> (String, Value) {
        let reply = self.signup(&signup_body(email)).await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "signup {email}: {}",
            reply.body
        );
        (
            reply.body["access_token"].as_str().unwrap().to_owned(),
            reply.body,
        )
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/api/v1/auth/login",
            None,
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Creates an admin as `create-admin` does and logs in.
    pub async fn admin(&self) -> String {
        let email = format!("admin-{}@nuancheng.test", Uuid::new_v4().simple());
        ensure_admin(&self.state.db, &email, PASSWORD)
            .await
            .expect("create admin");
        self.token_of(&email).await
    }

    pub async fn token_of(&self, email: &str) -> String {
        let reply = self.login(email, PASSWORD).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "login {email}: {}",
            reply.body
        );
        reply.body["access_token"].as_str().unwrap().to_owned()
    }

    /// Invites a user by email and accepts the invitation from the mail.
    pub async fn invited(
        &self,
        inviter: &str,
        role: &str,
        employer_id: Option<&str>,
    ) -> (String, Value) {
        let email = format!("{role}-{}@nuancheng.test", Uuid::new_v4().simple());
        let invite = self
            .post(
                "/api/v1/users/invitations",
                Some(inviter),
                &json!({"email": email, "role": role, "employer_id": employer_id}),
            )
            .await;
        assert_eq!(
            invite.status,
            StatusCode::CREATED,
            "invite: {}",
            invite.body
        );
        let mail = self.sink.wait_for(&email, 1).await;
        let token = mail.token_for("/accept-invitation");
        let accepted = self
            .post(
                "/api/v1/auth/accept-invitation",
                None,
                &json!({"token": token, "password": PASSWORD, "full_name": "王芳"}),
            )
            .await;
        assert_eq!(
            accepted.status,
            StatusCode::CREATED,
            "accept: {}",
            accepted.body
        );
        (
            accepted.body["access_token"].as_str().unwrap().to_owned(),
            accepted.body,
        )
    }

    pub async fn organiser(&self) -> String {
        let admin = self.admin().await;
        self.invited(&admin, "organiser", None).await.0
    }

    pub async fn employer(&self, organiser: &str, credit_code: &str) -> String {
        let reply = self
            .post(
                "/api/v1/employers",
                Some(organiser),
                &json!({"name": "鄂尔多斯市能源集团", "credit_code": credit_code, "industry": "能源", "district": "康巴什区", "description": "煤制油与新能源"}),
            )
            .await;
        assert_eq!(
            reply.status,
            StatusCode::CREATED,
            "employer: {}",
            reply.body
        );
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// Rows in a table, read straight from the database.
    pub async fn count(&self, table: &str) -> i64 {
        self.scalar(&format!("SELECT COUNT(*) FROM {table}")).await
    }

    /// The one number a query gives, read straight from the database.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let conn = &self.state.db;
        let row = conn
            .query_one_raw(Statement::from_string(
                conn.get_database_backend(),
                format!("SELECT CAST(({sql}) AS BIGINT) AS n"),
            ))
            .await
            .expect(sql)
            .expect("a row");
        row.try_get::<i64>("", "n").expect("n")
    }

    pub fn db(&self) -> &sea_orm::DatabaseConnection {
        &self.state.db
    }

    pub fn is_postgres(&self) -> bool {
        self.db().get_database_backend() == sea_orm::DbBackend::Postgres
    }

    /// A student written straight to the database with a fresh access
    /// token, for tests that need many of them (no password, no mail).
    pub async fn student(&self, degree: &str, graduation_year: i32) -> Student {
        self.student_at("北京大学", degree, graduation_year).await
    }

    /// `n` students of [`TestApp::student`]: masters graduating in 2027.
    pub async fn students(&self, n: usize) -> Vec<Student> {
        let mut students = Vec::with_capacity(n);
        for _ in 0..n {
            students.push(self.student("master", 2027).await);
        }
        students
    }

    /// The value of one series in `/metrics` (its name with any labels, as
    /// the text shows it), or `None` while it has none.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let metrics = self.get("/metrics", None).await;
        let metrics = metrics.body.as_str().unwrap_or_default();
        let line = metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '));
        line.and_then(|value| value.parse().ok())
    }

    /// Like [`TestApp::student`], at another university.
    pub async fn student_at(
        &self,
        university: &str,
        degree: &str,
        graduation_year: i32,
    ) -> Student {
        use sea_orm::{ActiveModelTrait, Set};
        let id = Uuid::now_v7();
        let email = format!("student-{}@pku.edu.cn", id.simple());
        let now = nuancheng::db::now();
        users::ActiveModel {
            id: Set(id),
            email: Set(email.clone()),
            password_hash: Set(None),
            full_name: Set(format!("学生{}", &id.simple().to_string()[24..])),
            phone: Set(Some("13900000000".into())),
            university: Set(Some(university.into())),
            major: Set(Some("材料科学".into())),
            degree: Set(Some(
                serde_json::from_value(json!(degree)).expect("a degree"),
            )),
            graduation_year: Set(Some(graduation_year)),
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
        .insert(self.db())
        .await
        .expect("insert a student");
        Student {
            token: self.state.jwt.issue(id, Role::Candidate),
            id: id.to_string(),
            email,
        }
    }

    /// Creates an event from `event_body(changes)` and publishes it.
    pub async fn published_event(&self, organiser: &str, changes: Value) -> String {
        let created = self
            .post("/api/v1/events", Some(organiser), &event_body(changes))
            .await;
        assert_eq!(
            created.status,
            StatusCode::CREATED,
            "event: {}",
            created.body
        );
        let id = created.body["id"].as_str().unwrap().to_owned();
        let published = self
            .post(
                &format!("/api/v1/events/{id}/publish"),
                Some(organiser),
                &json!({}),
            )
            .await;
        assert_eq!(
            published.status,
            StatusCode::OK,
            "publish: {}",
            published.body
        );
        id
    }

    /// A registration's ticket code, read from the database (waitlisted
    /// students are not shown one).
    pub async fn ticket_of(&self, registration_id: &str) -> String {
        use sea_orm::EntityTrait;
        let id: Uuid = registration_id.parse().expect("a registration id");
        nuancheng::entities::registrations::Entity::find_by_id(id)
            .one(self.db())
            .await
            .expect("read the registration")
            .expect("the registration exists")
            .ticket_code
    }

    /// Creates a campaign; gives its id.
    pub async fn campaign(&self, organiser: &str) -> String {
        let reply = self
            .post(
                "/api/v1/campaigns",
                Some(organiser),
                &json!({"name": "名校引才专项行动", "year": 2026, "starts_on": "2026-09-01",
                        "ends_on": "2027-01-31", "description": "人才入校园"}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().unwrap().to_owned()
    }

    /// Registers a student; gives the reply.
    pub async fn register(&self, event_id: &str, token: &str) -> Reply {
        self.post(
            &format!("/api/v1/events/{event_id}/registrations"),
            Some(token),
            &json!({}),
        )
        .await
    }
}

/// A student made by [`TestApp::student`].
pub struct Student {
    pub id: String,
    pub email: String,
    pub token: String,
}

/// An info session a week from now; `changes` replace or add fields.
pub fn event_body(changes: Value) -> Value {
    let starts = chrono::Utc::now() + chrono::TimeDelta::days(7);
    let mut body = json!({
        "title": "鄂尔多斯市名校引才专项行动·北京大学专场宣讲会",
        "kind": "info_session",
        "university": "北京大学",
        "venue": "北京大学百周年纪念讲堂",
        "city": "北京",
        "starts_at": starts.to_rfc3339(),
        "ends_at": (starts + chrono::TimeDelta::hours(2)).to_rfc3339(),
        "capacity": 50,
        "waitlist_limit": 10,
        "description": "能源化工、现代煤化工、新材料等领域岗位",
        "employer_ids": []
    });
    if let (Some(body), Some(changes)) = (body.as_object_mut(), changes.as_object()) {
        for (k, v) in changes {
            body.insert(k.clone(), v.clone());
        }
    }
    body
}

pub fn signup_body(email: &str) -> Value {
    json!({
        "email": email,
        "password": PASSWORD,
        "full_name": "李雷",
        "phone": "13800138000",
        "university": "北京大学",
        "major": "化学工程",
        "degree": "master",
        "graduation_year": 2027,
        "privacy_notice_version": "2026-11"
    })
}

/// Valid 统一社会信用代码 for tests.
pub const CREDIT_CODES: [&str; 3] = [
    "91350100M000100Y43",
    "91110000802100433B",
    "91150609JT3A4MXCY3",
];
