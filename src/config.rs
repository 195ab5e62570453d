//! Settings: `config/default.toml` (also compiled in, so the binary runs from
//! anywhere), then `config/<environment>.toml`, then `NUANCHENG__SECTION__KEY`
//! environment variables, then `DATABASE_URL`.

use std::path::{Path, PathBuf};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml},
};
use serde::{Deserialize, Serialize};

/// The JWT secret shipped in `config/default.toml`; production refuses it.
pub const DEVELOPMENT_JWT_SECRET: &str = "development-only-secret-do-not-use-in-production";

const DEFAULT_TOML: &str = include_str!("../config/default.toml");

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Test,
    Production,
}

impl Environment {
    pub fn from_env() -> Result<Self, ConfigError> {
        match std::env::var("NUANCHENG_ENV").as_deref() {
            Err(_) | Ok("") | Ok("development") => Ok(Self::Development),
            Ok("test") => Ok(Self::Test),
            Ok("production") => Ok(Self::Production),
            Ok(other) => Err(ConfigError::Invalid(format!(
                "NUANCHENG_ENV must be development, test or production, not {other:?}"
            ))),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Development => "development",
            Self::Test => "test",
            Self::Production => "production",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Settings {
    pub environment: Environment,
    pub public_base_url: String,
    pub server: ServerSettings,
    pub database: DatabaseSettings,
    pub auth: AuthSettings,
    pub email: EmailSettings,
    pub http: HttpSettings,
    pub rate_limit: RateLimitSettings,
    pub live: LiveSettings,
    pub registration: RegistrationSettings,
    pub privacy: PrivacySettings,
    pub mailings: MailingSettings,
    pub webhooks: WebhookSettings,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub run_worker: bool,
    /// How long a client has to send a request's head (line and headers);
    /// a slower one is answered 408 and closed, so it cannot hold a worker.
    pub client_request_timeout_ms: u64,
    /// How long an idle keep-alive connection stays open.
    pub keep_alive_secs: u64,
    /// How long in-flight requests may run on after SIGTERM or SIGINT.
    pub shutdown_timeout_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: u32,
    pub sqlite_busy_timeout_secs: u64,
    /// How long a request waits for a connection (or for the database to
    /// answer a new one) before it is 503 `database_unavailable`.
    pub acquire_timeout_secs: u64,
    /// Ask an idle pooled connection whether the database still answers
    /// before handing it out: no failed request for each pooled connection
    /// after a database restart.
    #[serde(default = "yes")]
    pub ping_before_use: bool,
    /// With `ping_before_use`, only a connection idle at least this long is
    /// asked (0: every one). Each connection already answered a check when
    /// it came back to the pool, so one handed out again within this time
    /// saw the database a moment ago; a restart takes longer.
    #[serde(default = "quarter_second")]
    pub ping_after_idle_ms: u64,
    /// PostgreSQL: statements of scans at the door running at once (each on
    /// a pooled connection; never more than half the pool).
    #[serde(default = "four")]
    pub scan_statements: u32,
    /// PostgreSQL: the most scans one statement answers together.
    #[serde(default = "thirty_two")]
    pub scans_per_statement: u32,
    /// PostgreSQL: lanes of statements of first places at events, each
    /// running one statement at a time on a pooled connection, an event's
    /// registrations always in the same lane (never more than half the
    /// pool).
    #[serde(default = "four")]
    pub registration_statements: u32,
    /// PostgreSQL: the most registrations one statement writes together.
    #[serde(default = "thirty_two")]
    pub registrations_per_statement: u32,
}

fn four() -> u32 {
    4
}

fn thirty_two() -> u32 {
    32
}

fn quarter_second() -> u64 {
    250
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuthSettings {
    pub jwt_secret: String,
    pub jwt_issuer: String,
    pub access_token_ttl_secs: i64,
    pub refresh_token_ttl_days: i64,
    pub verify_email_ttl_hours: i64,
    pub password_reset_ttl_hours: i64,
    pub invitation_ttl_days: i64,
    /// Password hashes (argon2id) running at once in this process; 0 means
    /// one per core.
    pub max_concurrent_hashes: usize,
    /// How long a request waits for a hashing slot before 503 `busy`.
    pub hash_wait_ms: u64,
    /// How long a signed-in user read from the database serves later
    /// requests (changes are forgotten at once); 0 reads it every time.
    pub caller_cache_ms: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailTransportKind {
    File,
    Smtp,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailSettings {
    pub transport: EmailTransportKind,
    pub file_dir: PathBuf,
    pub smtp_url: String,
    pub from: String,
    pub max_attempts: i32,
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    pub poll_interval_ms: u64,
    /// How long the mail server may take to accept one email.
    pub smtp_timeout_secs: u64,
    /// How long a worker holds an email it is sending; must be longer than
    /// `smtp_timeout_secs`, so a send always ends inside its lease.
    pub lease_secs: u64,
}

/// Which header a trusted proxy writes the client's address into.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, …`, as nginx and haproxy write it.
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpSettings {
    pub cors_origins: Vec<String>,
    pub body_limit: usize,
    /// How many reverse proxies in front of the server append to the
    /// forwarding header; 0 means clients connect directly.
    pub trusted_proxies: usize,
    /// The header those proxies write: `x-forwarded-for` or `forwarded`.
    pub forwarded_header: ForwardedHeader,
    /// How long an `Idempotency-Key` claim without an answer holds the key:
    /// far longer than any request takes, so a claim this old belongs to a
    /// process that died.
    pub idempotency_lease_secs: u64,
}

/// Rules for students registering for events.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RegistrationSettings {
    /// A student must have confirmed their email address before registering.
    pub require_verified_email: bool,
}

/// What the platform asks of people and how long it keeps their data.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrivacySettings {
    /// The privacy notice in force; signups and walk-ins must accept it.
    pub notice_version: String,
    /// Where the notice can be read.
    pub notice_url: String,
    /// Students with no activity for this many days are anonymised.
    pub retention_days: i64,
    /// Bodies of sent emails are deleted after this many days.
    pub outbox_body_days: i64,
}

/// Scheduled mail: reminders before an event, follow-ups after it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MailingSettings {
    /// Hours before an event's start at which confirmed students get a
    /// reminder, e.g. `[24, 2]`.
    pub reminder_offsets_hours: Vec<u32>,
    /// Hours after an event's end at which the follow-ups are due.
    pub follow_up_delay_hours: u32,
    /// Hours a follow-up stays worth sending after it fell due; later (the
    /// worker was down) it is dropped rather than sent stale.
    pub follow_up_window_hours: u32,
    /// Seconds between the worker's looks for due scheduled mail.
    pub scan_interval_secs: u64,
}

/// Signed webhook deliveries.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookSettings {
    /// Allow endpoints on loopback, private and link-local addresses (tests
    /// and closed networks); off, such targets are refused when registered
    /// and again, after resolving the name, when sending.
    pub allow_private_targets: bool,
    pub max_attempts: i32,
    /// Backoff before retry n is backoff_base_secs * 2^(n-1), capped.
    pub backoff_base_secs: u64,
    pub backoff_max_secs: u64,
    /// Seconds a receiver has to answer one delivery.
    pub timeout_secs: u64,
}

/// Bounds on the live dashboards' streams.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LiveSettings {
    /// Streams one user may watch at once.
    pub max_streams_per_user: usize,
    /// Streams one process runs at once.
    pub max_streams: usize,
    /// How often an event's feed recounts, for changes it was not told of;
    /// 0 picks by database (see [`LiveSettings::poll_every`]).
    pub poll_ms: u64,
}

impl LiveSettings {
    /// The recount interval: `poll_ms`, or when it is 0, a second on SQLite
    /// (where only this process's own changes are pushed) and 15 s on
    /// PostgreSQL (where every process's committed changes are pushed, and
    /// the poll only catches what a dropped listener connection lost).
    pub fn poll_every(&self, backend: sea_orm::DbBackend) -> std::time::Duration {
        let ms = match (self.poll_ms, backend) {
            (0, sea_orm::DbBackend::Postgres) => 15_000,
            (0, _) => 1_000,
            (ms, _) => ms.max(10),
        };
        std::time::Duration::from_millis(ms)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimitSettings {
    pub auth_per_minute: u32,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration could not be read: {0}")]
    Load(#[from] Box<figment::Error>),
    #[error("configuration is invalid: {0}")]
    Invalid(String),
}

impl Settings {
    /// Loads the settings for the environment named by `NUANCHENG_ENV`, reading
    /// files from `NUANCHENG_CONFIG_DIR` (default `./config`).
    pub fn load() -> Result<Self, ConfigError> {
        let environment = Environment::from_env()?;
        let dir = std::env::var_os("NUANCHENG_CONFIG_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("config"));
        Self::load_from(environment, &dir)
    }

    pub fn load_from(environment: Environment, dir: &Path) -> Result<Self, ConfigError> {
        let mut figment = Figment::new()
            .merge(Toml::string(DEFAULT_TOML))
            .merge(Toml::file(dir.join("default.toml")))
            .merge(Toml::file(
                dir.join(format!("{}.toml", environment.as_str())),
            ))
            .merge(Env::prefixed("NUANCHENG__").split("__"))
            .merge(Serialized::default("environment", environment));
        if let Ok(url) = std::env::var("DATABASE_URL")
            && !url.is_empty()
        {
            figment = figment.merge(Serialized::default("database.url", url));
        }
        let settings: Settings = figment.extract().map_err(Box::new)?;
        settings.check()?;
        Ok(settings)
    }

    /// Rules a deployment must meet before the server starts.
    pub fn check(&self) -> Result<(), ConfigError> {
        let secret = self.auth.jwt_secret.trim();
        if secret.is_empty() {
            return Err(ConfigError::Invalid("auth.jwt_secret is empty".into()));
        }
        if self.environment == Environment::Production {
            if secret == DEVELOPMENT_JWT_SECRET {
                return Err(ConfigError::Invalid(
                    "production refuses the development JWT secret: set NUANCHENG__AUTH__JWT_SECRET"
                        .into(),
                ));
            }
            if secret.len() < 32 {
                return Err(ConfigError::Invalid(
                    "auth.jwt_secret must be at least 32 characters in production".into(),
                ));
            }
        }
        if self.email.max_attempts < 1 {
            return Err(ConfigError::Invalid(
                "email.max_attempts must be at least 1".into(),
            ));
        }
        if self.email.lease_secs <= self.email.smtp_timeout_secs {
            return Err(ConfigError::Invalid(
                "email.lease_secs must be longer than email.smtp_timeout_secs".into(),
            ));
        }
        if self.mailings.reminder_offsets_hours.contains(&0) {
            return Err(ConfigError::Invalid(
                "mailings.reminder_offsets_hours must be above 0".into(),
            ));
        }
        if self.webhooks.max_attempts < 1 {
            return Err(ConfigError::Invalid(
                "webhooks.max_attempts must be at least 1".into(),
            ));
        }
        if self.public_base_url.trim_end_matches('/').is_empty() {
            return Err(ConfigError::Invalid("public_base_url is empty".into()));
        }
        let version = self.privacy.notice_version.trim();
        if version.is_empty() || version.len() > 32 {
            return Err(ConfigError::Invalid(
                "privacy.notice_version must be 1 to 32 characters".into(),
            ));
        }
        if self.privacy.retention_days < 1 || self.privacy.outbox_body_days < 1 {
            return Err(ConfigError::Invalid(
                "privacy.retention_days and privacy.outbox_body_days must be at least 1".into(),
            ));
        }
        Ok(())
    }

    /// A link into the frontend, e.g. `link("/verify-email", token)`.
    pub fn link(&self, path: &str, token: &str) -> String {
        format!(
            "{}{}?token={}",
            self.public_base_url.trim_end_matches('/'),
            path,
            token
        )
    }

    /// A page of the frontend, e.g. `page("/events/<id>")`.
    pub fn page(&self, path: &str) -> String {
        format!("{}{}", self.public_base_url.trim_end_matches('/'), path)
    }

    pub fn is_sqlite(&self) -> bool {
        self.database.url.starts_with("sqlite:")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults(environment: Environment) -> Result<Settings, ConfigError> {
        Settings::load_from(environment, Path::new("/nonexistent"))
    }

    #[test]
    fn development_runs_with_embedded_defaults() {
        let settings = defaults(Environment::Development).expect("defaults load");
        assert_eq!(settings.server.port, 8080);
        assert!(settings.is_sqlite());
        assert_eq!(settings.email.transport, EmailTransportKind::File);
    }

    #[test]
    fn production_refuses_the_development_secret() {
        let mut settings = defaults(Environment::Development).unwrap();
        settings.environment = Environment::Production;
        assert!(settings.check().is_err());
        settings.auth.jwt_secret = "  ".into();
        assert!(settings.check().is_err());
        settings.auth.jwt_secret = "a-real-secret-of-more-than-32-characters".into();
        assert!(settings.check().is_ok());
    }
}
