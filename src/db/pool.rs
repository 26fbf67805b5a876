//! The r2d2 pool, and the one way request handlers reach it: [`Database::run`]
//! checks a connection out on the blocking thread pool, never on an async
//! worker, and answers within `DB_POOL_TIMEOUT_MS` + `DB_STATEMENT_TIMEOUT_MS`
//! whatever the database does.
//!
//! Requests wait for a connection in a first-come, first-served queue (a
//! semaphore with one permit per connection) before they take a blocking
//! thread: r2d2's own wait lets a newcomer take a returned connection ahead
//! of the threads already waiting, which under load starves some requests
//! for hundreds of milliseconds.
//!
//! Why a deadline of our own: `statement_timeout` and `lock_timeout` are
//! enforced by the server, so a server that is frozen (a stalled disk, a
//! stopped process, a network that swallows packets while the kernel still
//! acknowledges them) never enforces them, and TCP keepalives are answered
//! by the kernel all the same. So the waiting side gives up at the
//! deadline and answers 503, and marks the work abandoned: the blocking
//! thread, whenever its statement returns, rolls back instead of
//! committing (see [`Deadline`]), so a request that was answered 503 did
//! nothing, except in the moment between the last check and COMMIT.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use actix_web::web;
use diesel::r2d2::{ConnectionManager, Pool, R2D2Connection};
use diesel::{Connection, PgConnection, QueryResult};
use tokio::sync::Semaphore;
use tokio::time::timeout;

use super::connection_url;
use super::tenant::Timeouts;
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
    /// The database did not answer within the request's deadline.
    #[error("the database did not answer within {0:?}")]
    Deadline(Duration),
    /// A connection that failed its check could not be replaced.
    #[error("could not reconnect to the database: {0}")]
    Reconnect(#[source] diesel::ConnectionError),
    /// The blocking task died (it panicked) before it answered.
    #[error("the database task was lost")]
    TaskLost,
}

/// When the waiting side gives up on a piece of database work. The work
/// checks it before it commits: past the deadline (the client has been
/// answered 503) it must roll back instead.
#[derive(Debug, Clone)]
pub struct Deadline {
    at: Instant,
    abandoned: Arc<AtomicBool>,
}

impl Deadline {
    fn new(at: Instant) -> Self {
        Self {
            at,
            abandoned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// A deadline that never passes, for work nobody waits on with a timer.
    pub fn none() -> Self {
        Self::new(Instant::now() + Duration::from_secs(100 * 365 * 24 * 3600))
    }

    /// Whether the work's answer is no longer awaited.
    pub fn passed(&self) -> bool {
        self.abandoned.load(Ordering::SeqCst) || Instant::now() >= self.at
    }

    fn abandon(&self) {
        self.abandoned.store(true, Ordering::SeqCst);
    }
}

/// One request counted as waiting for as long as it lives (also when the
/// request is dropped while it waits: its client went away).
struct Waiting<'a>(&'a AtomicU64);

impl<'a> Waiting<'a> {
    fn count(waiting: &'a AtomicU64) -> Self {
        waiting.fetch_add(1, Ordering::Relaxed);
        Self(waiting)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

#[derive(Clone)]
pub struct Database {
    pool: PgPool,
    /// One permit per connection; see the module's comment.
    turns: Arc<Semaphore>,
    /// Requests waiting for a permit now (for /metrics).
    waiting: Arc<AtomicU64>,
    max_size: u32,
    timeout: Duration,
    timeouts: Timeouts,
    url: Arc<str>,
    /// DB_POOL_TEST_ON_CHECKOUT: a checked-out connection's first statement
    /// doubles as its check (see [`Database::run_after`]).
    check_on_checkout: bool,
    /// DB_PREPARED_STATEMENTS=false: no statement cache on any connection
    /// (PgBouncer in transaction mode).
    prepared_statements: bool,
}

/// Sets up every connection the pool opens.
#[derive(Debug, Clone, Copy)]
struct Customizer {
    prepared_statements: bool,
}

impl diesel::r2d2::CustomizeConnection<PgConnection, diesel::r2d2::Error> for Customizer {
    fn on_acquire(&self, conn: &mut PgConnection) -> Result<(), diesel::r2d2::Error> {
        if !self.prepared_statements {
            disable_statement_cache(conn);
        }
        Ok(())
    }
}

/// Turns Diesel's prepared-statement cache off on `conn`: every statement
/// is then sent as an unnamed one, which PgBouncer in transaction mode
/// cannot confuse with another client's.
pub fn disable_statement_cache(conn: &mut PgConnection) {
    conn.set_prepared_statement_cache_size(diesel::connection::CacheSize::Disabled);
}

impl Database {
    /// Builds the pool without waiting for connections: the service starts,
    /// and answers 503, while the database is unreachable.
    pub fn new(url: &str, config: &PoolConfig) -> Self {
        let url = connection_url(url, config.timeout, config.statement_timeout);
        let customizer = Customizer {
            prepared_statements: config.prepared_statements,
        };
        let pool = Pool::builder()
            .max_size(config.max_size)
            .min_idle(Some(config.min_idle))
            .connection_timeout(config.timeout)
            .max_lifetime(Some(config.max_lifetime))
            .idle_timeout(Some(config.idle_timeout))
            // Checked by their first statement instead: no extra round trip.
            .test_on_check_out(false)
            .connection_customizer(Box::new(customizer))
            .build_unchecked(ConnectionManager::new(url.clone()));
        let statement_ms = u64::try_from(config.statement_timeout.as_millis()).unwrap_or(u64::MAX);
        Self {
            pool,
            turns: Arc::new(Semaphore::new(config.max_size as usize)),
            waiting: Arc::new(AtomicU64::new(0)),
            max_size: config.max_size,
            timeout: config.timeout,
            timeouts: Timeouts::for_requests(statement_ms),
            url: url.into(),
            check_on_checkout: config.test_on_checkout,
            prepared_statements: config.prepared_statements,
        }
    }

    /// A small pool for occasional work (administration).
    pub fn small(url: &str, template: &PoolConfig) -> Self {
        let config = PoolConfig {
            max_size: 2,
            min_idle: 0,
            idle_timeout: Duration::from_secs(60),
            ..template.clone()
        };
        Self::new(url, &config)
    }

    /// The server-side limits of a request's transaction.
    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Runs `work` with a pooled connection on the blocking thread pool
    /// (checked first with `SELECT 1` when DB_POOL_TEST_ON_CHECKOUT is on).
    pub async fn run<T, E, F>(&self, work: F) -> Result<T, E>
    where
        F: FnOnce(&mut PgConnection, &Deadline) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let check = self.check_on_checkout;
        self.run_after(move |conn| if check { conn.ping() } else { Ok(()) }, work)
            .await
    }

    /// Runs `first`, then `work`, with one pooled connection on the blocking
    /// thread pool, and answers [`DbError::Deadline`] if both have not
    /// finished within DB_POOL_TIMEOUT_MS + DB_STATEMENT_TIMEOUT_MS.
    ///
    /// `first` is the connection's first statement and doubles as its check
    /// (DB_POOL_TEST_ON_CHECKOUT): when it fails, the connection (which may
    /// have sat in the pool while the server restarted) is replaced by a new
    /// one and `first` runs again, so no request fails on a stale
    /// connection, and a sound one costs no extra round trip.
    pub async fn run_after<T, E, S, F>(&self, first: S, work: F) -> Result<T, E>
    where
        S: Fn(&mut PgConnection) -> QueryResult<()> + Send + 'static,
        F: FnOnce(&mut PgConnection, &Deadline) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let queued = Instant::now();
        let budget = self.timeout + Duration::from_millis(self.timeouts.statement_ms);
        let deadline = Deadline::new(queued + budget);
        let waiting = Waiting::count(&self.waiting);
        let turn = timeout(self.timeout, Arc::clone(&self.turns).acquire_owned()).await;
        drop(waiting);
        let turn = match turn {
            Ok(Ok(turn)) => turn,
            _ => return Err(DbError::Busy(self.timeout).into()),
        };
        let remaining = self.timeout.saturating_sub(queued.elapsed());
        let pool = self.pool.clone();
        let url = Arc::clone(&self.url);
        let check = self.check_on_checkout;
        let prepared_statements = self.prepared_statements;
        let work_deadline = deadline.clone();
        let task = web::block(move || {
            let _turn = turn;
            let mut conn = pool.get_timeout(remaining).map_err(DbError::Unavailable)?;
            if let Err(error) = first(&mut conn) {
                if !check || work_deadline.passed() {
                    return Err(error.into());
                }
                log::debug!("replacing a pooled connection whose first statement failed: {error}");
                *conn = PgConnection::establish(&url).map_err(DbError::Reconnect)?;
                if !prepared_statements {
                    disable_statement_cache(&mut conn);
                }
                first(&mut conn)?;
            }
            work(&mut conn, &work_deadline)
        });
        let left = budget.saturating_sub(queued.elapsed());
        match timeout(left, task).await {
            Ok(joined) => joined.unwrap_or_else(|_| Err(DbError::TaskLost.into())),
            Err(_) => {
                deadline.abandon();
                Err(DbError::Deadline(budget).into())
            }
        }
    }

    pub fn state(&self) -> diesel::r2d2::State {
        self.pool.state()
    }

    /// DB_POOL_MAX_SIZE.
    pub fn max_size(&self) -> u32 {
        self.max_size
    }

    /// Requests waiting for a connection now.
    pub fn waiting(&self) -> u64 {
        self.waiting.load(Ordering::Relaxed)
    }
}
