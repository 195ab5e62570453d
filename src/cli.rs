//! The command line: `serve` (the default), `migrate`, `worker`,
//! `create-admin`, `seed-demo`, `retention`, `openapi`.

use clap::{Parser, Subcommand};

use crate::{
    accounts::service::{AdminOutcome, ensure_admin},
    app::Application,
    config::Settings,
    db,
    notify::worker::Worker,
};

#[derive(Debug, Parser)]
#[command(
    name = "nuancheng",
    version,
    about = "暖城之邀: the campus recruitment platform's API server"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP API (and the mail worker, unless server.run_worker = false).
    Serve {
        /// Leave the schema as it is, for deployments that run `nuancheng
        /// migrate` as a step of their own; /readyz answers 503
        /// `migrations_pending` until every migration is applied.
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply, roll back or list schema migrations.
    Migrate {
        #[command(subcommand)]
        action: Option<MigrateAction>,
    },
    /// Run only the mail worker, for deployments that run it apart from the API.
    Worker,
    /// Create an admin account. An address that exists already is reported, not an error.
    CreateAdmin {
        #[arg(long)]
        email: String,
        #[arg(long)]
        password: String,
    },
    /// Fill an empty database with a demo campaign: universities, employers,
    /// events, students, check-ins and intents in every state.
    SeedDemo,
    /// Erase the identity of students inactive for privacy.retention_days,
    /// delete the text of emails sent more than privacy.outbox_body_days ago,
    /// and expired idempotency keys, tokens and invitations; print the
    /// counts and record them in the audit log. The worker does this daily.
    Retention {
        /// Print what would be done; change nothing, record nothing.
        #[arg(long)]
        dry_run: bool,
    },
    /// Print the OpenAPI document (the one served at /api/v1/openapi.json)
    /// as JSON, without configuration, a database or a server.
    Openapi,
}

#[derive(Debug, Clone, Copy, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration (the default).
    Up,
    /// Roll back the last migration, or the last N.
    Down {
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List migrations and whether each is applied.
    Status,
}

/// The OpenAPI document as pretty JSON, for `nuancheng openapi`.
pub fn openapi_json() -> Result<String, String> {
    use utoipa::OpenApi;
    crate::openapi::ApiDoc::openapi()
        .to_pretty_json()
        .map_err(|e| e.to_string())
}

/// Prints the document; a reader that stops early (`| head`) is no error.
fn print_openapi() -> Result<(), String> {
    use std::io::{ErrorKind, Write};
    let json = openapi_json()?;
    match writeln!(std::io::stdout().lock(), "{json}") {
        Err(e) if e.kind() != ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

pub async fn run(cli: Cli) -> Result<(), String> {
    let command = cli.command.unwrap_or(Command::Serve { no_migrate: false });
    if let Command::Openapi = command {
        // Needs no settings: it works where config/ is missing or invalid.
        return print_openapi();
    }
    let settings = Settings::load().map_err(|e| e.to_string())?;
    match command {
        Command::Openapi => print_openapi(),
        Command::Serve { no_migrate } => {
            let app = Application::start(settings.clone(), !no_migrate).await?;
            tracing::info!(
                host = %settings.server.host,
                port = app.port(),
                environment = settings.environment.as_str(),
                "listening; API docs at /docs/"
            );
            println!(
                "nuancheng listening on http://{}:{} (API docs: /docs/)",
                settings.server.host,
                app.port()
            );
            app.run_until_stopped().await.map_err(|e| e.to_string())
        }
        Command::Migrate { action } => {
            use migration::{Migrator, MigratorTrait};
            let conn = db::connect(&settings.database)
                .await
                .map_err(|e| e.to_string())?;
            match action.unwrap_or(MigrateAction::Up) {
                MigrateAction::Up => {
                    db::migrate_up(&conn).await.map_err(|e| e.to_string())?;
                    println!("migrations applied");
                }
                MigrateAction::Down { steps } => {
                    db::migrate_down(&conn, Some(steps))
                        .await
                        .map_err(|e| e.to_string())?;
                    println!("rolled back {steps} migration(s)");
                }
                MigrateAction::Status => {
                    let applied = Migrator::get_applied_migrations(&conn)
                        .await
                        .map_err(|e| e.to_string())?;
                    let pending = Migrator::get_pending_migrations(&conn)
                        .await
                        .map_err(|e| e.to_string())?;
                    for m in &applied {
                        println!("applied  {}", m.name());
                    }
                    for m in &pending {
                        println!("pending  {}", m.name());
                    }
                }
            }
            Ok(())
        }
        Command::Worker => {
            let conn = db::connect(&settings.database)
                .await
                .map_err(|e| e.to_string())?;
            db::migrate_up(&conn).await.map_err(|e| e.to_string())?;
            println!(
                "mail worker running ({:?} transport)",
                settings.email.transport
            );
            tokio::spawn(crate::housekeeping::run(conn.clone()));
            tokio::spawn(crate::privacy::retention::run_daily(
                conn.clone(),
                settings.privacy.clone(),
            ));
            let (stop, stopped) = tokio::sync::watch::channel(false);
            tokio::spawn(async move {
                shutdown_signal().await;
                tracing::info!("stopping: the email being sent finishes, the rest go back");
                let _ = stop.send(true);
            });
            Worker::for_settings(conn, &settings)?
                .stopped_by(stopped)
                .run()
                .await;
            Ok(())
        }
        Command::SeedDemo => {
            let conn = db::connect(&settings.database)
                .await
                .map_err(|e| e.to_string())?;
            db::migrate_up(&conn).await.map_err(|e| e.to_string())?;
            let made = crate::demo::seed_demo(&conn, &settings.privacy.notice_version).await?;
            println!(
                "demo campaign ready: {} employers, {} events, {} students, {} registrations, {} check-ins, {} intents",
                made.employers,
                made.events,
                made.students,
                made.registrations,
                made.checkins,
                made.intents
            );
            println!("sign in with password {}:", crate::demo::DEMO_PASSWORD);
            println!("  organiser  {}", made.organiser);
            println!("  recruiter  {}", made.recruiter);
            println!("  student    {}", made.student);
            Ok(())
        }
        Command::Retention { dry_run } => {
            let conn = db::connect(&settings.database)
                .await
                .map_err(|e| e.to_string())?;
            // A dry run changes nothing, not even the schema.
            if db::migrations_pending(&conn)
                .await
                .map_err(|e| e.to_string())?
            {
                return Err("migrations are pending: run `nuancheng migrate` first".into());
            }
            let done = crate::privacy::retention::run(&conn, &settings.privacy, dry_run)
                .await
                .map_err(|e| format!("retention failed: {e}"))?;
            let verb = if dry_run { "would delete" } else { "deleted" };
            println!(
                "retention{}: students inactive for {} days {}: {}",
                if dry_run {
                    " (dry run, nothing changed)"
                } else {
                    ""
                },
                settings.privacy.retention_days,
                if dry_run {
                    "to anonymise"
                } else {
                    "anonymised"
                },
                done.students_anonymised
            );
            println!(
                "  email bodies older than {} days {verb}: {}",
                settings.privacy.outbox_body_days, done.email_bodies_deleted
            );
            println!(
                "  idempotency keys {verb}: {}",
                done.idempotency_keys_deleted
            );
            println!("  refresh tokens {verb}: {}", done.refresh_tokens_deleted);
            println!("  email links {verb}: {}", done.action_tokens_deleted);
            println!("  expired invitations {verb}: {}", done.invitations_deleted);
            Ok(())
        }
        Command::CreateAdmin { email, password } => {
            let conn = db::connect(&settings.database)
                .await
                .map_err(|e| e.to_string())?;
            db::migrate_up(&conn).await.map_err(|e| e.to_string())?;
            match ensure_admin(&conn, &email, &password).await? {
                AdminOutcome::Created(id) => println!("created admin {email} ({id})"),
                AdminOutcome::AlreadyExists { id, role } => {
                    println!("{email} exists already ({id}, role {role:?}); nothing changed")
                }
            }
            Ok(())
        }
    }
}

/// SIGTERM (a service manager stopping the process) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
