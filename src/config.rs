//! Configuration, read once from the environment (and `.env`, loaded by
//! dotenvy before this runs). `.env.example` documents every variable.
//!
//! A missing or malformed value is a [`ConfigError`] naming the variable;
//! the command line turns it into exit status 2.

use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("{var} is not set: {hint}")]
    Missing {
        var: &'static str,
        hint: &'static str,
    },
    #[error("{var}={value:?} is not valid: expected {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        expected: String,
    },
}

/// Where the variables come from: the process environment in production, a
/// map in tests (changing the process environment is not thread-safe).
pub trait Source {
    fn get(&self, var: &str) -> Option<String>;
}

/// The process environment.
pub struct Environment;

impl Source for Environment {
    fn get(&self, var: &str) -> Option<String> {
        std::env::var_os(var).map(|value| value.to_string_lossy().into_owned())
    }
}

impl<F: Fn(&str) -> Option<String>> Source for F {
    fn get(&self, var: &str) -> Option<String> {
        self(var)
    }
}

/// Reads one variable; an empty value counts as unset, as in most `.env` files.
fn read(source: &dyn Source, var: &'static str) -> Option<String> {
    source.get(var).filter(|value| !value.trim().is_empty())
}

fn parse<T: FromStr>(
    source: &dyn Source,
    var: &'static str,
    expected: &str,
) -> Result<Option<T>, ConfigError> {
    read(source, var)
        .map(|value| {
            value.trim().parse().map_err(|_| ConfigError::Invalid {
                var,
                value: value.clone(),
                expected: expected.to_owned(),
            })
        })
        .transpose()
}

fn parse_bool(source: &dyn Source, var: &'static str) -> Result<Option<bool>, ConfigError> {
    read(source, var)
        .map(|value| match value.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(ConfigError::Invalid {
                var,
                value,
                expected: "true or false".into(),
            }),
        })
        .transpose()
}

fn positive<T: PartialOrd + Default>(
    var: &'static str,
    value: T,
    shown: String,
) -> Result<T, ConfigError> {
    if value > T::default() {
        Ok(value)
    } else {
        Err(ConfigError::Invalid {
            var,
            value: shown,
            expected: "a number greater than 0".into(),
        })
    }
}

/// Whether libpq can read `url` at all (a connection string or URI), so
/// that a typo is told apart from a server that does not answer.
pub fn libpq_can_parse(url: &str) -> bool {
    let Ok(text) = std::ffi::CString::new(url) else {
        return false;
    };
    let mut error: *mut std::os::raw::c_char = std::ptr::null_mut();
    // SAFETY: PQconninfoParse reads a NUL-terminated string and returns an
    // array to free with PQconninfoFree, or NULL with an error message to
    // free with PQfreemem.
    unsafe {
        let options = pq_sys::PQconninfoParse(text.as_ptr(), &mut error);
        if !error.is_null() {
            pq_sys::PQfreemem(error.cast());
        }
        if options.is_null() {
            return false;
        }
        pq_sys::PQconninfoFree(options);
        true
    }
}

/// The database connections: the service's role, and the owner's for
/// migrations, imports and administration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseUrls {
    /// DATABASE_URL: the app role's connection.
    pub app: Option<String>,
    /// MIGRATION_DATABASE_URL, else DATABASE_URL: the owner's connection.
    pub owner: Option<String>,
}

impl DatabaseUrls {
    pub fn from_source(source: &dyn Source) -> Self {
        let app = read(source, "DATABASE_URL");
        let owner = read(source, "MIGRATION_DATABASE_URL").or_else(|| app.clone());
        Self { app, owner }
    }

    /// Refuses a URL libpq cannot read, naming its variable.
    pub fn check(&self) -> Result<(), ConfigError> {
        for (var, url) in [
            ("DATABASE_URL", &self.app),
            ("MIGRATION_DATABASE_URL", &self.owner),
        ] {
            if let Some(url) = url
                && !libpq_can_parse(url)
            {
                return Err(ConfigError::Invalid {
                    var,
                    value: "(hidden: it may hold a password)".into(),
                    expected:
                        "a libpq connection URI (postgresql://user:password@host:port/database) \
                               or key=value string"
                            .into(),
                });
            }
        }
        Ok(())
    }

    pub fn app(&self) -> Result<&str, ConfigError> {
        self.app.as_deref().ok_or(ConfigError::Missing {
            var: "DATABASE_URL",
            hint: "set it to the app role's connection, e.g. \
                   postgresql://invoiced_app:PASSWORD@localhost/invoiced (or run `invoiced dev`)",
        })
    }

    pub fn owner(&self) -> Result<&str, ConfigError> {
        self.owner.as_deref().ok_or(ConfigError::Missing {
            var: "DATABASE_URL",
            hint: "set MIGRATION_DATABASE_URL (or DATABASE_URL) to the owner role's connection, \
                   e.g. postgresql://invoiced_owner:PASSWORD@localhost/invoiced",
        })
    }
}

/// The r2d2 pool's knobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolConfig {
    /// DB_POOL_MAX_SIZE: most connections open at once.
    pub max_size: u32,
    /// DB_POOL_MIN_IDLE: idle connections kept open (default: max_size).
    pub min_idle: u32,
    /// DB_POOL_TIMEOUT_MS: how long a request waits for a connection before
    /// it is answered 503.
    pub timeout: Duration,
    /// DB_POOL_MAX_LIFETIME_S: connections are recycled after this long.
    pub max_lifetime: Duration,
    /// DB_POOL_IDLE_TIMEOUT_S: idle connections beyond min_idle close after this long.
    pub idle_timeout: Duration,
    /// DB_POOL_TEST_ON_CHECKOUT: check a connection is alive before use.
    pub test_on_checkout: bool,
    /// DB_STATEMENT_TIMEOUT_MS: no statement runs or waits for a lock
    /// longer, and no request waits for the database longer than this plus
    /// DB_POOL_TIMEOUT_MS.
    pub statement_timeout: Duration,
    /// DB_PREPARED_STATEMENTS: Diesel's prepared-statement cache; off for
    /// PgBouncer in transaction mode.
    pub prepared_statements: bool,
}

impl PoolConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let max_size: u32 =
            parse(source, "DB_POOL_MAX_SIZE", "a whole number of connections")?.unwrap_or(10);
        let max_size = positive("DB_POOL_MAX_SIZE", max_size, max_size.to_string())?;
        let min_idle: u32 =
            parse(source, "DB_POOL_MIN_IDLE", "a whole number of connections")?.unwrap_or(max_size);
        if min_idle > max_size {
            return Err(ConfigError::Invalid {
                var: "DB_POOL_MIN_IDLE",
                value: min_idle.to_string(),
                expected: format!("at most DB_POOL_MAX_SIZE ({max_size})"),
            });
        }
        let timeout_ms: u64 = parse(source, "DB_POOL_TIMEOUT_MS", "milliseconds")?.unwrap_or(5000);
        let timeout_ms = positive("DB_POOL_TIMEOUT_MS", timeout_ms, timeout_ms.to_string())?;
        let max_lifetime_s: u64 =
            parse(source, "DB_POOL_MAX_LIFETIME_S", "seconds")?.unwrap_or(3600);
        let max_lifetime_s = positive(
            "DB_POOL_MAX_LIFETIME_S",
            max_lifetime_s,
            max_lifetime_s.to_string(),
        )?;
        let idle_timeout_s: u64 =
            parse(source, "DB_POOL_IDLE_TIMEOUT_S", "seconds")?.unwrap_or(600);
        let idle_timeout_s = positive(
            "DB_POOL_IDLE_TIMEOUT_S",
            idle_timeout_s,
            idle_timeout_s.to_string(),
        )?;
        let statement_ms: u64 =
            parse(source, "DB_STATEMENT_TIMEOUT_MS", "milliseconds")?.unwrap_or(10_000);
        let statement_ms = positive(
            "DB_STATEMENT_TIMEOUT_MS",
            statement_ms,
            statement_ms.to_string(),
        )?;
        Ok(Self {
            max_size,
            min_idle,
            statement_timeout: Duration::from_millis(statement_ms),
            prepared_statements: parse_bool(source, "DB_PREPARED_STATEMENTS")?.unwrap_or(true),
            timeout: Duration::from_millis(timeout_ms),
            max_lifetime: Duration::from_secs(max_lifetime_s),
            idle_timeout: Duration::from_secs(idle_timeout_s),
            test_on_checkout: parse_bool(source, "DB_POOL_TEST_ON_CHECKOUT")?.unwrap_or(true),
        })
    }
}

/// An admin token shorter than this is refused: it guards every account.
pub const ADMIN_TOKEN_MIN_LEN: usize = 16;

/// Everything `invoiced serve` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    pub database: DatabaseUrls,
    /// BIND_ADDR: where the HTTP service listens.
    pub bind_addr: SocketAddr,
    pub pool: PoolConfig,
    /// AUTO_MIGRATE: apply pending migrations at start instead of refusing to start.
    pub auto_migrate: bool,
    /// ADMIN_TOKEN: enables /admin; unset, /admin answers 404.
    pub admin_token: Option<String>,
    /// REQUEST_BODY_LIMIT: bytes; larger bodies are answered 413.
    pub request_body_limit: usize,
    /// METRICS_BIND_ADDR: where /metrics is served; unset, it is not.
    pub metrics_bind_addr: Option<SocketAddr>,
    pub webhooks: WebhookConfig,
}

/// Events and their delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookConfig {
    /// WEBHOOK_WORKERS: concurrent senders in this instance (0: none, an
    /// API-only instance).
    pub workers: usize,
    /// WEBHOOK_ALLOW_INSECURE: allow http and non-public destinations (dev
    /// and tests only).
    pub allow_insecure: bool,
    /// EVENT_RETENTION_DAYS: events older than this are pruned.
    pub event_retention_days: u32,
}

impl WebhookConfig {
    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let workers: usize = parse(
            source,
            "WEBHOOK_WORKERS",
            "a whole number of workers (0 for none)",
        )?
        .unwrap_or(2);
        if workers > 64 {
            return Err(ConfigError::Invalid {
                var: "WEBHOOK_WORKERS",
                value: workers.to_string(),
                expected: "at most 64".into(),
            });
        }
        let days: u32 = parse(source, "EVENT_RETENTION_DAYS", "a whole number of days")?
            .unwrap_or(crate::events::DEFAULT_RETENTION_DAYS);
        Ok(Self {
            workers,
            allow_insecure: parse_bool(source, "WEBHOOK_ALLOW_INSECURE")?.unwrap_or(false),
            event_retention_days: positive("EVENT_RETENTION_DAYS", days, days.to_string())?,
        })
    }
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_source(&Environment)
    }

    pub fn from_source(source: &dyn Source) -> Result<Self, ConfigError> {
        let database = DatabaseUrls::from_source(source);
        database.app()?;
        database.check()?;
        let admin_token = read(source, "ADMIN_TOKEN");
        if let Some(token) = &admin_token
            && token.len() < ADMIN_TOKEN_MIN_LEN
        {
            return Err(ConfigError::Invalid {
                var: "ADMIN_TOKEN",
                value: "(hidden)".into(),
                expected: format!("at least {ADMIN_TOKEN_MIN_LEN} characters"),
            });
        }
        let request_body_limit: usize =
            parse(source, "REQUEST_BODY_LIMIT", "a number of bytes")?.unwrap_or(262_144);
        Ok(Self {
            database,
            bind_addr: parse(source, "BIND_ADDR", "an address like 127.0.0.1:8080")?
                .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 8080))),
            pool: PoolConfig::from_source(source)?,
            auto_migrate: parse_bool(source, "AUTO_MIGRATE")?.unwrap_or(false),
            admin_token,
            request_body_limit: positive(
                "REQUEST_BODY_LIMIT",
                request_body_limit,
                request_body_limit.to_string(),
            )?,
            metrics_bind_addr: parse(
                source,
                "METRICS_BIND_ADDR",
                "an address like 127.0.0.1:9090",
            )?,
            webhooks: WebhookConfig::from_source(source)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let vars: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_source(&move |var: &str| vars.get(var).cloned())
    }

    #[test]
    fn defaults_follow_the_documented_table() {
        let config = config(&[("DATABASE_URL", "postgresql://app@db/invoiced")]).unwrap();
        assert_eq!(config.bind_addr.to_string(), "127.0.0.1:8080");
        assert_eq!(
            config.database.owner.as_deref(),
            Some("postgresql://app@db/invoiced")
        );
        assert_eq!(config.pool.max_size, 10);
        assert_eq!(config.pool.min_idle, 10);
        assert_eq!(config.pool.timeout, Duration::from_millis(5000));
        assert_eq!(config.pool.max_lifetime, Duration::from_secs(3600));
        assert_eq!(config.pool.idle_timeout, Duration::from_secs(600));
        assert!(config.pool.test_on_checkout);
        assert_eq!(config.pool.statement_timeout, Duration::from_millis(10_000));
        assert!(config.pool.prepared_statements);
        assert!(!config.auto_migrate);
        assert_eq!(config.admin_token, None);
        assert_eq!(config.request_body_limit, 262_144);
        assert_eq!(config.webhooks.workers, 2);
        assert!(!config.webhooks.allow_insecure);
        assert_eq!(config.webhooks.event_retention_days, 90);
    }

    #[test]
    fn webhook_settings_are_checked() {
        let url = ("DATABASE_URL", "postgresql://app@db/invoiced");
        let set = config(&[
            url,
            ("WEBHOOK_WORKERS", "0"),
            ("WEBHOOK_ALLOW_INSECURE", "true"),
            ("EVENT_RETENTION_DAYS", "7"),
        ])
        .unwrap();
        assert_eq!(set.webhooks.workers, 0);
        assert!(set.webhooks.allow_insecure);
        assert_eq!(set.webhooks.event_retention_days, 7);
        for (var, bad) in [
            ("WEBHOOK_WORKERS", "-1"),
            ("WEBHOOK_WORKERS", "65"),
            ("WEBHOOK_ALLOW_INSECURE", "maybe"),
            ("EVENT_RETENTION_DAYS", "0"),
        ] {
            match config(&[url, (var, bad)]) {
                Err(ConfigError::Invalid { var: named, .. }) => assert_eq!(named, var),
                other => panic!("{var}={bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn migration_url_overrides_database_url_for_the_owner() {
        let config = config(&[
            ("DATABASE_URL", "postgresql://app@db/invoiced"),
            ("MIGRATION_DATABASE_URL", "postgresql://owner@db/invoiced"),
        ])
        .unwrap();
        assert_eq!(
            config.database.app.as_deref(),
            Some("postgresql://app@db/invoiced")
        );
        assert_eq!(
            config.database.owner.as_deref(),
            Some("postgresql://owner@db/invoiced")
        );
    }

    #[test]
    fn min_idle_defaults_to_the_pool_size() {
        let config = config(&[
            ("DATABASE_URL", "postgresql://app@db/invoiced"),
            ("DB_POOL_MAX_SIZE", "4"),
        ])
        .unwrap();
        assert_eq!(config.pool.min_idle, 4);
    }

    #[test]
    fn every_bad_value_names_its_variable() {
        let cases = [
            ("BIND_ADDR", "localhost"),
            ("DB_POOL_MAX_SIZE", "0"),
            ("DB_POOL_MAX_SIZE", "ten"),
            ("DB_POOL_MIN_IDLE", "11"),
            ("DB_POOL_TIMEOUT_MS", "-5"),
            ("DB_POOL_MAX_LIFETIME_S", "1h"),
            ("DB_POOL_IDLE_TIMEOUT_S", "0"),
            ("DB_POOL_TEST_ON_CHECKOUT", "maybe"),
            ("DB_STATEMENT_TIMEOUT_MS", "0"),
            ("DB_PREPARED_STATEMENTS", "perhaps"),
            ("AUTO_MIGRATE", "sure"),
            ("ADMIN_TOKEN", "short"),
            ("REQUEST_BODY_LIMIT", "lots"),
        ];
        for (var, value) in cases {
            let error = config(&[
                ("DATABASE_URL", "postgresql://app@db/invoiced"),
                (var, value),
            ])
            .unwrap_err();
            assert!(
                matches!(&error, ConfigError::Invalid { var: named, .. } if *named == var),
                "{var}={value} gave {error:?}"
            );
            assert!(error.to_string().starts_with(var), "{error}");
        }
    }

    #[test]
    fn a_url_libpq_cannot_read_is_named_without_showing_it() {
        let error = config(&[("DATABASE_URL", "postgresql://a:secret@db/x?bogus")]).unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    var: "DATABASE_URL",
                    ..
                }
            ),
            "{error:?}"
        );
        assert!(!error.to_string().contains("secret"));
        assert!(config(&[("DATABASE_URL", "host=db dbname=invoiced user=app")]).is_ok());
        assert!(config(&[("DATABASE_URL", "not a url")]).is_err());
    }

    #[test]
    fn a_missing_database_url_is_named() {
        let error = config(&[]).unwrap_err();
        assert!(matches!(
            error,
            ConfigError::Missing {
                var: "DATABASE_URL",
                ..
            }
        ));
    }

    #[test]
    fn empty_values_count_as_unset() {
        let config = config(&[
            ("DATABASE_URL", "postgresql://app@db/invoiced"),
            ("ADMIN_TOKEN", ""),
            ("BIND_ADDR", " "),
        ])
        .unwrap();
        assert_eq!(config.admin_token, None);
        assert_eq!(config.bind_addr.port(), 8080);
    }
}
