//! Builds the application: shared state, middleware, routes; runs the HTTP
//! server and, unless configured apart, the mail worker beside it.

use std::{net::TcpListener, time::Duration};

use actix_cors::Cors;
use actix_web::{
    App, HttpRequest, HttpResponse, HttpServer,
    body::BoxBody,
    dev::{Server, ServiceResponse},
    error::{PathError, QueryPayloadError},
    http::{KeepAlive, StatusCode, header},
    middleware::{ErrorHandlerResponse, ErrorHandlers, from_fn},
    web,
};
use sea_orm::{DatabaseConnection, DbBackend};
use utoipa::OpenApi;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::{
    accounts, checkin,
    config::Settings,
    db, events, housekeeping,
    http::{ApiError, audit, observe, request_id, text},
    intents,
    notify::{self, worker::Worker},
    openapi::ApiDoc,
    ops, outreach, privacy, registrations, reports,
    state::AppState,
    webhooks,
};

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    pub state: web::Data<AppState>,
    /// The in-process mail worker: how to stop it, its task, and how long
    /// to wait for it.
    worker: Option<(
        tokio::sync::watch::Sender<bool>,
        actix_web::rt::task::JoinHandle<()>,
        Duration,
    )>,
}

impl Application {
    /// Connects, migrates, binds and, if configured, starts the mail worker.
    pub async fn build(settings: Settings) -> Result<Self, String> {
        Self::start(settings, true).await
    }

    /// Like [`Application::build`]; without `migrate` the schema is left as
    /// it is, for deployments that run `nuancheng migrate` as a step of
    /// their own (`/readyz` answers 503 `migrations_pending` until then).
    pub async fn start(settings: Settings, migrate: bool) -> Result<Self, String> {
        let conn = db::connect(&settings.database)
            .await
            .map_err(|e| format!("cannot open the database: {e}"))?;
        if migrate {
            db::migrate_up(&conn)
                .await
                .map_err(|e| format!("migrations failed: {e}"))?;
        }
        Self::build_with(conn, settings).await
    }

    pub async fn build_with(conn: DatabaseConnection, settings: Settings) -> Result<Self, String> {
        let worker = if settings.server.run_worker {
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let worker = Worker::for_settings(conn.clone(), &settings)?.stopped_by(stopped);
            actix_web::rt::spawn(housekeeping::run(conn.clone()));
            actix_web::rt::spawn(privacy::retention::run_daily(
                conn.clone(),
                settings.privacy.clone(),
            ));
            let drain = Duration::from_secs(settings.email.smtp_timeout_secs + 5);
            Some((stop, actix_web::rt::spawn(worker.run()), drain))
        } else {
            None
        };
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener =
            TcpListener::bind(&address).map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        let workers = settings.server.workers;
        let server_settings = settings.server.clone();
        let (announcer, announcements) = db::Announcer::for_backend(conn.get_database_backend());
        let state = web::Data::new(AppState::new(conn, settings, announcer));
        if let Some(announcements) = announcements {
            actix_web::rt::spawn(db::send_announcements(state.db.clone(), announcements));
        }
        actix_web::rt::spawn(mark_shutdown(state.clone()));
        if state.db.get_database_backend() == DbBackend::Postgres {
            // One listener per process hears every process's committed changes.
            let callers = state.callers.clone();
            actix_web::rt::spawn(db::relay_changes(
                state.settings.database.url.trim().to_owned(),
                state.live.clone(),
                move |user| match user {
                    Some(id) => callers.forget(id),
                    None => callers.forget_all(),
                },
            ));
        }
        let shared = state.clone();
        // Serialized once and shared by every worker: the document's own
        // maps take megabytes, and a copy per worker would keep them twice.
        let openapi =
            web::Bytes::from(serde_json::to_vec(&ApiDoc::openapi()).map_err(|e| e.to_string())?);
        let mut server = HttpServer::new(move || {
            App::new()
                .app_data(shared.clone())
                .app_data(
                    web::PathConfig::default().error_handler(|err: PathError, _| {
                        tracing::debug!(error = %err, "unparsable path parameter");
                        ApiError::NotFound("resource").into()
                    }),
                )
                .app_data(
                    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _| {
                        ApiError::bad_request("invalid_query", err.to_string()).into()
                    }),
                )
                .wrap(from_fn(text::refuse_controls_in_query))
                .wrap(ErrorHandlers::new().default_handler(problem_for_bare_errors))
                .wrap(cors(&shared.settings))
                .wrap(from_fn(audit::record_writes))
                .wrap(from_fn(observe::observe))
                .configure(ops::configure)
                // Before the /api/v1 scope, which would otherwise claim /api/v1/openapi.json.
                .route("/api/v1/openapi.json", {
                    let openapi = openapi.clone();
                    web::get().to(move || {
                        let body = openapi.clone();
                        async move {
                            HttpResponse::Ok()
                                .content_type("application/json")
                                .body(body)
                        }
                    })
                })
                .service(
                    SwaggerUi::new("/docs/{_:.*}").config(Config::from("/api/v1/openapi.json")),
                )
                .service(
                    web::scope("/api/v1")
                        .configure(accounts::routes::configure)
                        .configure(events::routes::configure)
                        .configure(registrations::routes::configure)
                        .configure(checkin::routes::configure)
                        .configure(intents::routes::configure)
                        .configure(reports::routes::configure)
                        .configure(notify::routes::configure)
                        .configure(privacy::routes::configure)
                        .configure(outreach::routes::configure)
                        .configure(webhooks::routes::configure),
                )
                .route("/docs", web::get().to(docs_redirect))
                .default_service(web::to(not_found))
        })
        .client_request_timeout(Duration::from_millis(
            server_settings.client_request_timeout_ms,
        ))
        .keep_alive(KeepAlive::Timeout(Duration::from_secs(
            server_settings.keep_alive_secs.max(1),
        )))
        .shutdown_timeout(server_settings.shutdown_timeout_secs)
        .listen(listener)
        .map_err(|e| e.to_string())?;
        if workers > 0 {
            server = server.workers(workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            state,
            worker,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server, e.g. when a benchmark moves on.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGTERM or SIGINT: the server stops accepting and lets
    /// in-flight requests finish (`server.shutdown_timeout_secs`), then the
    /// mail worker finishes the email it is sending and gives the rest back.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some((stop, worker, drain)) = self.worker {
            let _ = stop.send(true);
            if tokio::time::timeout(drain, worker).await.is_err() {
                tracing::warn!("the mail worker did not stop in time");
            }
        }
        served
    }
}

/// Sets `shutting_down` when SIGTERM or SIGINT arrives, so `/readyz` answers
/// 503 while the server (which hears the same signal) drains its requests.
async fn mark_shutdown(state: web::Data<AppState>) {
    use actix_web::rt::signal;
    #[cfg(unix)]
    let terminate = async {
        match signal::unix::signal(signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = signal::ctrl_c() => {}
        _ = terminate => {}
    }
    state
        .shutting_down
        .store(true, std::sync::atomic::Ordering::Relaxed);
    tracing::info!("shutting down: /readyz answers 503 while requests drain");
}

fn cors(settings: &Settings) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "PUT", "DELETE", "OPTIONS"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("idempotency-key"),
        ])
        .expose_headers([
            header::HeaderName::from_static(request_id::HEADER),
            header::RETRY_AFTER,
        ])
        .max_age(3600);
    for origin in &settings.http.cors_origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}

/// Unknown paths are 404. A known path asked with another method also lands
/// here (resources inherit the app's default service): that is a 405.
async fn not_found(req: HttpRequest) -> HttpResponse {
    let error = if observe::route(&req).is_some() {
        ApiError::MethodNotAllowed(req.method().to_string())
    } else {
        tracing::debug!(path = req.path(), "no such route");
        ApiError::NotFound("route")
    };
    actix_web::ResponseError::error_response(&error)
}

async fn docs_redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/docs/"))
        .finish()
}

/// Gives a problem+json body to error responses that actix makes on its own
/// (405 for a known path with another method, and the like).
fn problem_for_bare_errors<B>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/problem+json"));
    let status = res.status();
    if is_problem || !(status.is_client_error() || status.is_server_error()) {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let error = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            ApiError::MethodNotAllowed(res.request().method().to_string())
        }
        StatusCode::NOT_FOUND => ApiError::NotFound("route"),
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: 0 },
        s if s.is_server_error() => ApiError::internal(format!("{s} without a body")),
        s => ApiError::bad_request("bad_request", s.canonical_reason().unwrap_or("bad request")),
    };
    let mut problem = error.to_problem();
    problem.status = status.as_u16();
    let (req, _) = res.into_parts();
    let response: HttpResponse<BoxBody> = HttpResponse::build(status)
        .content_type("application/problem+json")
        .json(problem);
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
