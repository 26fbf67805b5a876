//! The r2d2 pool, and the one way request handlers reach it: [`Database::run`]
//! checks a connection out on the blocking thread pool, never on an async
//! worker, and gives up after `DB_POOL_TIMEOUT_MS`.

use std::time::Duration;

use actix_web::web;
use diesel::PgConnection;
use diesel::r2d2::{ConnectionManager, Pool};

use crate::config::PoolConfig;

pub type PgPool = Pool<ConnectionManager<PgConnection>>;

/// Failures of the database layer itself, as opposed to a query's.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection within the pool timeout: the database is down,
    /// unreachable, or every connection is busy.
    #[error("no database connection available: {0}")]
    Unavailable(#[source] diesel::r2d2::PoolError),
    /// The blocking task died (it panicked) before it answered.
    #[error("the database task was lost")]
    TaskLost,
}

#[derive(Clone)]
pub struct Database {
    pool: PgPool,
}

impl Database {
    /// Builds the pool without waiting for connections: the service starts,
    /// and answers 503, while the database is unreachable.
    pub fn new(url: &str, config: &PoolConfig) -> Self {
        let pool = Pool::builder()
            .max_size(config.max_size)
            .min_idle(Some(config.min_idle))
            .connection_timeout(config.timeout)
            .max_lifetime(Some(config.max_lifetime))
            .idle_timeout(Some(config.idle_timeout))
            .test_on_check_out(config.test_on_checkout)
            .build_unchecked(ConnectionManager::new(url));
        Self { pool }
    }

    /// A small pool for occasional work (administration).
    pub fn small(url: &str, timeout: Duration) -> Self {
        let config = PoolConfig {
            max_size: 2,
            min_idle: 0,
            timeout,
            max_lifetime: Duration::from_secs(3600),
            idle_timeout: Duration::from_secs(60),
            test_on_checkout: true,
        };
        Self::new(url, &config)
    }

    /// Runs `work` with a pooled connection on the blocking thread pool.
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        let task = web::block(move || {
            let mut conn = pool.get().map_err(DbError::Unavailable)?;
            work(&mut conn)
        });
        task.await.unwrap_or_else(|_| Err(DbError::TaskLost.into()))
    }

    pub fn state(&self) -> diesel::r2d2::State {
        self.pool.state()
    }
}
