//! `invoiced serve`: checks the schema is current, then serves until
//! SIGTERM or SIGINT, after which it stops accepting, lets in-flight
//! requests finish, and exits 0.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;
use std::time::Duration;

use actix_web::{HttpServer, web};

use super::{AdminState, AppState, build_app};
use crate::config::{Config, ConfigError};
use crate::db::{self, Database, migrations};
use crate::maintenance;
use crate::webhooks::sender::{Sender, SystemClock};

/// How long in-flight requests may run on after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Migration(#[from] migrations::MigrationError),
    #[error(
        "{count} database migration(s) pending: {names}.\n\
         Apply them with `invoiced migrate run` (it connects as the owner role: \
         MIGRATION_DATABASE_URL, else DATABASE_URL), or start with AUTO_MIGRATE=true.",
        count = .0.len(),
        names = .0.join(", ")
    )]
    PendingMigrations(Vec<String>),
    #[error("could not listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the server failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Refuses to serve an outdated schema: applies pending migrations when
/// AUTO_MIGRATE is set, else names them and stops.
fn ensure_schema_is_current(config: &Config) -> Result<(), ServeError> {
    let mut conn = db::connect(config.database.app()?)?;
    let pending = migrations::pending(&mut conn)?;
    if pending.is_empty() {
        return Ok(());
    }
    if !config.auto_migrate {
        return Err(ServeError::PendingMigrations(pending));
    }
    let mut owner = db::connect(config.database.owner()?)?;
    for name in migrations::run_pending(&mut owner)? {
        log::info!("applied migration {name}");
    }
    Ok(())
}

/// The admin API spans accounts, which row-level security hides from the
/// app role: with ADMIN_TOKEN set, the owner's connection must bypass it.
fn ensure_admin_can_see_every_account(config: &Config) -> Result<(), ServeError> {
    if config.admin_token.is_none() {
        return Ok(());
    }
    let mut owner = db::connect(config.database.owner()?)?;
    let bypasses =
        db::sees_every_account(&mut owner).map_err(migrations::MigrationError::ReadApplied)?;
    if bypasses {
        Ok(())
    } else {
        Err(ServeError::Config(ConfigError::Invalid {
            var: "MIGRATION_DATABASE_URL",
            value: "(a role subject to row-level security)".into(),
            expected:
                "the owner role's connection (invoiced_owner), which ADMIN_TOKEN's admin API \
                       needs to reach every account"
                    .into(),
        }))
    }
}

pub fn app_state(config: &Config) -> Result<AppState, ServeError> {
    let admin = match &config.admin_token {
        Some(token) => Some(AdminState {
            token: token.clone(),
            db: Database::small(config.database.owner()?, &config.pool),
        }),
        None => None,
    };
    Ok(AppState {
        db: Database::new(config.database.app()?, &config.pool),
        admin,
        body_limit: config.request_body_limit,
        metrics: std::sync::Arc::new(crate::metrics::Metrics::new()),
        webhook_policy: crate::webhooks::destination::Policy::new(config.webhooks.allow_insecure),
        webhook_outcomes: Arc::default(),
    })
}

/// SIGTERM and SIGINT (Ctrl-C) alike: stop accepting, let the requests in
/// flight finish (up to SHUTDOWN_GRACE), then return.
fn stop_gracefully_on_signals(server: actix_web::dev::ServerHandle) -> std::io::Result<()> {
    use actix_web::rt::signal::unix::{SignalKind, signal};
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    actix_web::rt::spawn(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        log::info!("{name}: finishing the requests in flight, then stopping");
        server.stop(true).await;
    });
    Ok(())
}

/// Runs a maintenance pass at start and every `maintenance::INTERVAL`.
async fn maintain(db: Database, event_retention_days: u32) {
    let mut ticks = actix_web::rt::time::interval(maintenance::INTERVAL);
    loop {
        ticks.tick().await;
        let pass = db
            .run(move |conn, _| {
                maintenance::run_once(conn, event_retention_days)
                    .map_err(|e| super::ApiError::internal(e.to_string()))
            })
            .await;
        match pass {
            Ok(pruned) if pruned.idempotency_keys > 0 || pruned.events > 0 => log::info!(
                "maintenance: pruned {} expired idempotency key(s), {} event(s) older than {} days",
                pruned.idempotency_keys,
                pruned.events,
                event_retention_days
            ),
            Ok(_) => {}
            Err(error) => log::warn!("maintenance pass failed: {}", error.cause().unwrap_or("")),
        }
    }
}

/// The webhook sender's own pool: one connection per worker, so sending
/// never waits for a connection a request holds, nor a request for one the
/// sender holds.
fn sender_pool(config: &Config) -> Result<Database, ServeError> {
    let pool = crate::config::PoolConfig {
        max_size: u32::try_from(config.webhooks.workers).unwrap_or(64),
        min_idle: 0,
        ..config.pool.clone()
    };
    Ok(Database::new(config.database.app()?, &pool))
}

/// The running sender: its shared state and its worker tasks.
struct RunningSender {
    sender: Arc<Sender>,
    workers: Vec<actix_web::rt::task::JoinHandle<()>>,
}

/// Starts WEBHOOK_WORKERS sender tasks on this runtime (none without a pool).
fn start_webhook_sender(
    workers: usize,
    db: Option<Database>,
    state: &web::Data<AppState>,
) -> Option<RunningSender> {
    let sender = Arc::new(Sender::new(
        db?,
        state.webhook_policy.clone(),
        Arc::new(SystemClock),
        state.webhook_outcomes.clone(),
    ));
    log::info!("webhook sender: {workers} worker(s)");
    let workers = (0..workers)
        .map(|_| actix_web::rt::spawn(sender.clone().work()))
        .collect();
    Some(RunningSender { sender, workers })
}

/// Lets each worker finish the delivery it is sending (at most a lease),
/// then returns. A delivery claimed and not sent is sent again once its
/// lease is over, by this or another instance.
async fn stop_webhook_sender(running: RunningSender) {
    running.sender.stop();
    let all = async {
        for worker in running.workers {
            let _ = worker.await;
        }
    };
    if actix_web::rt::time::timeout(crate::webhooks::sender::LEASE, all)
        .await
        .is_err()
    {
        log::warn!("webhook sender: stopped with a delivery in flight; it will be sent again");
    }
}

pub fn serve(config: Config) -> Result<(), ServeError> {
    serve_and_then(config, |_| {})
}

/// Serves, calling `on_listening` with the bound address before the first
/// request is taken.
pub fn serve_and_then(
    config: Config,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    ensure_schema_is_current(&config)?;
    ensure_admin_can_see_every_account(&config)?;
    let state = web::Data::new(app_state(&config)?);
    let maintenance_db = state.db.clone();
    let retention_days = config.webhooks.event_retention_days;
    let webhook_workers = config.webhooks.workers;
    let sender_db = (webhook_workers > 0)
        .then(|| sender_pool(&config))
        .transpose()?;
    let sender_state = state.clone();
    let listener = TcpListener::bind(config.bind_addr).map_err(|source| ServeError::Bind {
        addr: config.bind_addr,
        source,
    })?;
    let address = listener.local_addr()?;
    let metrics_listener = match config.metrics_bind_addr {
        Some(addr) => {
            Some(TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?)
        }
        None => None,
    };
    actix_web::rt::System::new().block_on(async move {
        let metrics_server = match metrics_listener {
            Some(listener) => {
                let metrics_address = listener.local_addr()?;
                let state = state.clone();
                let server = HttpServer::new(move || super::metrics::app(state.clone()))
                    .workers(1)
                    .disable_signals()
                    .listen(listener)?
                    .run();
                log::info!("metrics on http://{metrics_address}/metrics");
                let handle = server.handle();
                actix_web::rt::spawn(server);
                Some(handle)
            }
            None => None,
        };
        let server = HttpServer::new(move || build_app(state.clone()))
            .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
            // actix stops gracefully on SIGTERM but drops requests in
            // flight on SIGINT; both are ours to handle, the same way.
            .disable_signals()
            .listen(listener)?
            .run();
        stop_gracefully_on_signals(server.handle())?;
        actix_web::rt::spawn(maintain(maintenance_db, retention_days));
        let sender = start_webhook_sender(webhook_workers, sender_db, &sender_state);
        log::info!("listening on http://{address}");
        on_listening(address);
        server.await?;
        if let Some(sender) = sender {
            stop_webhook_sender(sender).await;
        }
        if let Some(metrics) = metrics_server {
            metrics.stop(true).await;
        }
        log::info!("stopped");
        Ok(())
    })
}
