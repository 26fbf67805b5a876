//! `invoiced dev`: the zero-setup local service.
//!
//! Without DATABASE_URL it runs a private PostgreSQL from the installed
//! server binaries, with its data under `.invoiced/` in the working
//! directory; sets it up as a DBA would (setup_postgres.sql); migrates;
//! makes sure a `demo` account exists with a working API key; prints a
//! curl line; and serves as the app role. The next run reuses the data, the
//! passwords and the key. Ctrl-C stops the service, then the database.
//!
//! With DATABASE_URL set it skips the private server and does the rest
//! against that database.

use std::fs;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use diesel::PgConnection;

use crate::admin;
use crate::config::{Config, ConfigError, Environment, Source};
use crate::db::in_tenant_transaction;
use crate::db::{self, migrations};
use crate::domain::{AccountId, Name};
use crate::http::{self, ServeError};
use crate::local_postgres::{
    self, Binaries, ClusterOptions, Listen, LocalPostgres, LocalPostgresError, SUPERUSER,
};
use crate::models::api_key;

const STATE_DIR: &str = ".invoiced";
const DEMO_ACCOUNT: &str = "demo";

#[derive(Debug, thiserror::Error)]
pub enum DevError {
    #[error(transparent)]
    LocalPostgres(#[from] LocalPostgresError),
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
    #[error("setup_postgres.sql failed:\n{0}")]
    Setup(String),
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Migration(#[from] migrations::MigrationError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    #[error(transparent)]
    Serve(#[from] ServeError),
}

fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> DevError {
    let action = action.into();
    move |source| DevError::Io { action, source }
}

/// Secrets kept between runs in `.invoiced/`, readable by their owner only.
struct Secrets {
    dir: PathBuf,
}

impl Secrets {
    /// The stored value of `name`, or a new random one, stored.
    fn get_or_create(&self, name: &str) -> Result<String, DevError> {
        let path = self.dir.join(name);
        if let Ok(value) = fs::read_to_string(&path)
            && !value.trim().is_empty()
        {
            return Ok(value.trim().to_owned());
        }
        let mut bytes = [0u8; 18];
        getrandom::fill(&mut bytes).map_err(|e| DevError::Io {
            action: "could not draw a random password".into(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let value: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        self.store(name, &value)?;
        Ok(value)
    }

    fn read(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.dir.join(name))
            .ok()
            .map(|v| v.trim().to_owned())
    }

    fn store(&self, name: &str, value: &str) -> Result<(), DevError> {
        let path = self.dir.join(name);
        fs::write(&path, format!("{value}\n"))
            .map_err(io(format!("could not write {}", path.display())))?;
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600))
            .map_err(io(format!("could not restrict {}", path.display())))
    }
}

/// The private server's URLs.
struct Urls {
    owner: String,
    app: String,
}

pub fn run() -> Result<(), DevError> {
    let env = Environment;
    if env
        .get("DATABASE_URL")
        .is_some_and(|url| !url.trim().is_empty())
    {
        let config = Config::from_source(&|var: &str| match var {
            "AUTO_MIGRATE" => Some("true".to_owned()),
            // A developer's receiver runs on http://localhost.
            "WEBHOOK_ALLOW_INSECURE" => Environment.get(var).or(Some("true".to_owned())),
            other => Environment.get(other),
        })?;
        let owner = config.database.owner()?.to_owned();
        return serve(config, &owner, None);
    }

    let state_dir = std::env::current_dir()
        .map_err(io("could not read the working directory"))?
        .join(STATE_DIR);
    fs::create_dir_all(&state_dir)
        .map_err(io(format!("could not create {}", state_dir.display())))?;
    fs::set_permissions(&state_dir, fs::Permissions::from_mode(0o755))
        .map_err(io(format!("could not open up {}", state_dir.display())))?;
    fs::write(state_dir.join(".gitignore"), "*\n")
        .map_err(io("could not write .invoiced/.gitignore"))?;
    let secrets = Secrets {
        dir: state_dir.clone(),
    };
    let binaries = Binaries::locate()?;
    let data_dir = data_dir_for(&state_dir)?;
    let port = postgres_port(&secrets)?;
    let superuser_password = secrets.get_or_create("superuser-password")?;
    let server = LocalPostgres::start(
        &binaries,
        ClusterOptions {
            data_dir,
            log_file: state_dir.join("postgres.log"),
            listen: Listen::Tcp(port),
            durable: true,
            superuser_password: Some(superuser_password.clone()),
        },
    )?;
    let owner_password = secrets.get_or_create("owner-password")?;
    let app_password = secrets.get_or_create("app-password")?;
    run_setup_script(
        &binaries,
        &server.url(SUPERUSER, Some(&superuser_password), "postgres"),
        &owner_password,
        &app_password,
    )?;
    let urls = Urls {
        owner: server.url("invoiced_owner", Some(&owner_password), "invoiced"),
        app: server.url("invoiced_app", Some(&app_password), "invoiced"),
    };
    let config = Config::from_source(&|var: &str| match var {
        "DATABASE_URL" => Some(urls.app.clone()),
        "MIGRATION_DATABASE_URL" => Some(urls.owner.clone()),
        "AUTO_MIGRATE" => Some("true".to_owned()),
        "WEBHOOK_ALLOW_INSECURE" => Environment.get(var).or(Some("true".to_owned())),
        other => Environment.get(other),
    })?;
    let result = serve(config, &urls.owner, Some(&secrets));
    drop(server);
    result
}

/// Where the data lives: `.invoiced/pgdata`, unless we are root and the
/// `postgres` user cannot reach the working directory (a clone under
/// /root); then a directory under /var/tmp named after it.
fn data_dir_for(state_dir: &Path) -> Result<PathBuf, DevError> {
    if local_postgres::server_can_enter(state_dir)? {
        return Ok(state_dir.join("pgdata"));
    }
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in state_dir.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3);
    }
    let dir = PathBuf::from("/var/tmp").join(format!("invoiced-dev-{hash:016x}"));
    println!(
        "invoiced dev: the postgres OS user cannot reach {}, so the data lives in {}",
        state_dir.display(),
        dir.display()
    );
    Ok(dir.join("pgdata"))
}

/// The private server's port: chosen once (a free one) and kept with the
/// data, so the owner URL `dev` prints stays true from one run to the next.
fn postgres_port(secrets: &Secrets) -> Result<u16, DevError> {
    if let Some(port) = secrets.read("postgres-port").and_then(|p| p.parse().ok()) {
        return Ok(port);
    }
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map_err(io("could not find a free port for PostgreSQL"))?
        .port();
    secrets.store("postgres-port", &port.to_string())?;
    Ok(port)
}

fn run_setup_script(
    binaries: &Binaries,
    superuser_url: &str,
    owner: &str,
    app: &str,
) -> Result<(), DevError> {
    let script = std::env::temp_dir().join(format!("invoiced-setup-{}.sql", std::process::id()));
    fs::write(&script, include_str!("../setup_postgres.sql"))
        .map_err(io("could not write the setup script"))?;
    let output = Command::new(binaries.tool("psql"))
        .arg("-X")
        .arg("-q")
        .arg(format!("--dbname={superuser_url}"))
        .args([
            "-v",
            &format!("owner_password={owner}"),
            "-v",
            &format!("app_password={app}"),
        ])
        .arg("-f")
        .arg(&script)
        .output()
        .map_err(io("could not run psql"));
    let _ = fs::remove_file(&script);
    let output = output?;
    if output.status.success() {
        Ok(())
    } else {
        Err(DevError::Setup(
            String::from_utf8_lossy(&output.stderr).into_owned(),
        ))
    }
}

/// The demo account's key: the stored one while it still works, else a new
/// one (the account is created on the first run).
fn demo_key(conn: &mut PgConnection, secrets: Option<&Secrets>) -> Result<String, DevError> {
    let account = AccountId::parse(DEMO_ACCOUNT).expect("a valid account id");
    if let Some(stored) = secrets.and_then(|s| s.read("demo-api-key")) {
        let works =
            in_tenant_transaction(conn, &account, |conn| api_key::authenticate(conn, &stored))?;
        if works.is_some() {
            return Ok(stored);
        }
    }
    let name = Name::parse("Demo account").expect("a valid name");
    let key = match admin::create_account(conn, &account, &name)? {
        Some((_, key)) => key,
        None => {
            let key_name = Name::parse("invoiced dev").expect("a valid name");
            admin::create_key(conn, &account, &key_name)?.expect("the demo account exists")
        }
    };
    if let Some(secrets) = secrets {
        secrets.store("demo-api-key", &key.secret)?;
    }
    Ok(key.secret)
}

fn serve(config: Config, owner_url: &str, secrets: Option<&Secrets>) -> Result<(), DevError> {
    let mut owner = db::connect(owner_url)?;
    for name in migrations::run_pending(&mut owner)? {
        println!("invoiced dev: applied migration {name}");
    }
    let key = demo_key(&mut owner, secrets)?;
    drop(owner);
    let owner_url = owner_url.to_owned();
    http::serve_and_then(config, move |address| {
        print_banner(address, &key, &owner_url)
    })?;
    Ok(())
}

fn print_banner(address: SocketAddr, key: &str, owner_url: &str) {
    let host = if address.ip().is_unspecified() {
        SocketAddr::new([127, 0, 0, 1].into(), address.port())
    } else {
        address
    };
    println!(
        "\ninvoiced dev is serving on http://{host}\n\
         \n  account: {DEMO_ACCOUNT}\n  API key: {key}\n\
         \nTry it:\n\n  curl -s http://{host}/v1/customers -H 'X-Account-Id: {DEMO_ACCOUNT}' -H 'Authorization: Bearer {key}'\n\
         \nAPI docs: http://{host}/docs   Database (owner): {owner_url}\n\
         Ctrl-C stops the service and the database.\n"
    );
}
