//! The r2d2 pool, and the one way request handlers reach it: [`Database::run`]
//! checks a connection out on the blocking thread pool, never on an async
//! worker, and gives up after `DB_POOL_TIMEOUT_MS`.
//!
//! Requests wait for a connection in a first-come, first-served queue (a
//! semaphore with one permit per connection) before they take a blocking
//! thread: r2d2's own wait lets a newcomer take a returned connection ahead
//! of the threads already waiting, which under load starves some requests
//! for hundreds of milliseconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use actix_web::web;
use diesel::r2d2::{ConnectionManager, Pool, R2D2Connection};
use diesel::{Connection, PgConnection, QueryResult};
use tokio::sync::Semaphore;
use tokio::time::timeout;

use crate::config::PoolConfig;

pub type PgPool = Pool<ConnectionManager<PgConnection>>;

/// Failures of the database layer itself, as opposed to a query's.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// No connection within the pool timeout: the database is down,
    /// unreachable, or every connection is busy.
    #[error("no database connection available: {0}")]
    Unavailable(#[source] diesel::r2d2::PoolError),
    /// Every connection stayed busy for the whole pool timeout.
    #[error("every database connection stayed busy for {0:?}")]
    Busy(Duration),
    /// A connection that failed its check could not be replaced.
    #[error("could not reconnect to the database: {0}")]
    Reconnect(#[source] diesel::ConnectionError),
    /// The blocking task died (it panicked) before it answered.
    #[error("the database task was lost")]
    TaskLost,
}

#[derive(Clone)]
pub struct Database {
    pool: PgPool,
    /// One permit per connection; see the module's comment.
    turns: Arc<Semaphore>,
    timeout: Duration,
    url: Arc<str>,
    /// DB_POOL_TEST_ON_CHECKOUT: a checked-out connection's first statement
    /// doubles as its check (see [`Database::run_after`]).
    check_on_checkout: bool,
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
            // Checked by their first statement instead: no extra round trip.
            .test_on_check_out(false)
            .build_unchecked(ConnectionManager::new(url));
        Self {
            pool,
            turns: Arc::new(Semaphore::new(config.max_size as usize)),
            timeout: config.timeout,
            url: url.into(),
            check_on_checkout: config.test_on_checkout,
        }
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

    /// Runs `work` with a pooled connection on the blocking thread pool
    /// (checked first with `SELECT 1` when DB_POOL_TEST_ON_CHECKOUT is on).
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let check = self.check_on_checkout;
        self.run_after(move |conn| if check { conn.ping() } else { Ok(()) }, work)
            .await
    }

    /// Runs `first`, then `work`, with one pooled connection on the blocking
    /// thread pool.
    ///
    /// `first` is the connection's first statement and doubles as its check
    /// (DB_POOL_TEST_ON_CHECKOUT): when it fails, the connection (which may
    /// have sat in the pool while the server restarted) is replaced by a new
    /// one and `first` runs again, so no request fails on a stale
    /// connection, and a sound one costs no extra round trip.
    pub async fn run_after<T, E, S, F>(&self, first: S, work: F) -> Result<T, E>
    where
        S: Fn(&mut PgConnection) -> QueryResult<()> + Send + 'static,
        F: FnOnce(&mut PgConnection) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let queued = Instant::now();
        let turn = match timeout(self.timeout, Arc::clone(&self.turns).acquire_owned()).await {
            Ok(Ok(turn)) => turn,
            _ => return Err(DbError::Busy(self.timeout).into()),
        };
        let remaining = self.timeout.saturating_sub(queued.elapsed());
        let pool = self.pool.clone();
        let url = Arc::clone(&self.url);
        let check = self.check_on_checkout;
        let task = web::block(move || {
            let _turn = turn;
            let mut conn = pool.get_timeout(remaining).map_err(DbError::Unavailable)?;
            if let Err(error) = first(&mut conn) {
                if !check {
                    return Err(error.into());
                }
                log::debug!("replacing a pooled connection whose first statement failed: {error}");
                *conn = PgConnection::establish(&url).map_err(DbError::Reconnect)?;
                first(&mut conn)?;
            }
            work(&mut conn)
        });
        task.await.unwrap_or_else(|_| Err(DbError::TaskLost.into()))
    }

    pub fn state(&self) -> diesel::r2d2::State {
        self.pool.state()
    }
}
