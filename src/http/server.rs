//! `invoiced serve`: checks the schema is current, then serves.

use actix_web::{App, HttpResponse, HttpServer, web};

use crate::config::Config;
use crate::db::{self, migrations};

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
        addr: std::net::SocketAddr,
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

pub fn serve(config: Config) -> Result<(), ServeError> {
    ensure_schema_is_current(&config)?;
    actix_web::rt::System::new().block_on(async move {
        let server = HttpServer::new(|| {
            App::new().route(
                "/health",
                web::get().to(|| async { HttpResponse::Ok().finish() }),
            )
        })
        .bind(config.bind_addr)
        .map_err(|source| ServeError::Bind {
            addr: config.bind_addr,
            source,
        })?;
        log::info!("listening on http://{}", config.bind_addr);
        server.run().await?;
        Ok(())
    })
}
