//! The `invoiced` command line: one clap enum, dispatched here to the module
//! that does the work. Exit status: 0 on success, 2 for bad configuration or
//! usage, 1 for every other failure.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::admin;
use crate::config::{ConfigError, DatabaseUrls, Environment};
use crate::db::{self, migrations};
use crate::domain::{AccountId, ApiKeyId, Name, RowId};
use crate::models::PageRequest;
use crate::models::api_key::ApiKey;

#[derive(Debug, Parser)]
#[command(
    name = "invoiced",
    version,
    about = "A multi-tenant invoicing backend on PostgreSQL",
    after_help = "Configuration comes from the environment and from .env; see .env.example."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the HTTP API (needs DATABASE_URL)
    Serve,
    /// Run locally with zero setup: a private PostgreSQL under .invoiced/, a demo account, the API
    Dev,
    /// Apply, revert or list the database migrations (as the owner role)
    Migrate(MigrateArgs),
    /// Create and list accounts (as the owner role)
    Accounts(AccountsArgs),
    /// Create, list and revoke an account's API keys (as the owner role)
    #[command(name = "api-keys")]
    ApiKeys(ApiKeysArgs),
    /// Import a legacy SQLite database (as the owner role)
    #[command(name = "import-sqlite")]
    ImportSqlite(ImportArgs),
    /// On a Citus coordinator: make accounts a reference table and shard
    /// every tenant table by account_id (what `migrate run` does there);
    /// for a database migrated before Citus was installed
    Distribute {
        /// The owner's connection [default: MIGRATION_DATABASE_URL, else DATABASE_URL]
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
    /// Check a live database against every invariant; exit 1 on any violation
    Verify {
        /// The owner's connection [default: MIGRATION_DATABASE_URL, else DATABASE_URL]
        #[arg(long, value_name = "URL")]
        database_url: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The legacy SQLite file (opened read-only, never modified)
    pub file: PathBuf,
    /// The owner's connection [default: MIGRATION_DATABASE_URL, else DATABASE_URL]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
    /// Import the valid rows; write the rejected ones (and those that depend on them) to --rejects
    #[arg(long)]
    pub skip_invalid: bool,
    /// Where --skip-invalid writes rejected rows [default: FILE.rejects.csv]
    #[arg(long, value_name = "CSV")]
    pub rejects: Option<PathBuf>,
    /// Check everything and write nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Replace the data of accounts that already hold some (in the same transaction)
    #[arg(long)]
    pub replace: bool,
    /// The currency of invoices that have none, e.g. EUR
    #[arg(long, value_name = "XXX")]
    pub default_currency: Option<String>,
    /// Load with per-row triggers (foreign keys checked row by row) even where bulk loading is allowed
    #[arg(long)]
    pub row_triggers: bool,
    /// Set the imported accounts' invoice number format (e.g. 'INV-{SEQ:5}') and continue each
    /// account's series after its highest legacy number of that format
    #[arg(long, value_name = "FMT")]
    pub invoice_number_format: Option<String>,
}

#[derive(Debug, Args)]
pub struct AccountsArgs {
    /// The owner's connection [default: MIGRATION_DATABASE_URL, else DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub action: AccountsAction,
}

#[derive(Debug, Subcommand)]
pub enum AccountsAction {
    /// Create an account and print its first API key
    Create {
        /// The account id: letters, digits, '.', '_', '-' (1-100, starting with a letter or digit)
        id: String,
        /// A name for people
        #[arg(long)]
        name: String,
    },
    /// List every account
    List,
}

#[derive(Debug, Args)]
pub struct ApiKeysArgs {
    /// The owner's connection [default: MIGRATION_DATABASE_URL, else DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub action: ApiKeysAction,
}

#[derive(Debug, Subcommand)]
pub enum ApiKeysAction {
    /// Create a key and print it (it is shown this once)
    Create {
        #[arg(long)]
        account: String,
        /// What the key is for
        #[arg(long)]
        name: String,
    },
    /// List an account's keys (never the keys themselves)
    List {
        #[arg(long)]
        account: String,
    },
    /// Revoke a key: it stops working at once
    Revoke {
        #[arg(long)]
        account: String,
        /// The key's id (from `api-keys list`)
        key_id: i64,
    },
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The owner's connection [default: MIGRATION_DATABASE_URL, else DATABASE_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub action: MigrateAction,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration
    Run,
    /// Revert the last applied migration
    Revert {
        /// Revert every applied migration
        #[arg(long)]
        all: bool,
    },
    /// Revert and re-apply the last migration
    Redo {
        /// Revert and re-apply every migration
        #[arg(long)]
        all: bool,
    },
    /// List the applied and the pending migrations
    Status,
}

/// Why a command failed, and so with which exit status.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("bad .env file: {0}")]
    DotEnv(#[from] dotenvy::Error),
    #[error("could not connect to the database: {0}")]
    Connect(#[from] diesel::ConnectionError),
    #[error(transparent)]
    Migration(#[from] migrations::MigrationError),
    #[error(transparent)]
    Serve(#[from] crate::http::ServeError),
    #[error(transparent)]
    Dev(#[from] crate::dev::DevError),
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    #[error(transparent)]
    Verify(#[from] crate::verify::VerifyError),
    #[error("database error: {0}")]
    Query(#[from] diesel::result::Error),
    /// Bad arguments found after parsing (exit status 2, like clap's).
    #[error("{0}")]
    Usage(String),
    /// The command could not do what was asked (exit status 1).
    #[error("{0}")]
    Refused(String),
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Config(_)
            | Self::DotEnv(_)
            | Self::Usage(_)
            | Self::Verify(crate::verify::VerifyError::NotOwner)
            | Self::Serve(crate::http::ServeError::Config(_))
            | Self::Dev(crate::dev::DevError::Config(_)) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

pub fn run(cli: Cli) -> ExitCode {
    let loaded = load_dotenv();
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    match loaded.and_then(|()| execute(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("invoiced: {error}");
            error.exit_code()
        }
    }
}

/// `.env` is optional; a present but malformed one is an error.
fn load_dotenv() -> Result<(), CliError> {
    match dotenvy::dotenv() {
        Ok(_) => Ok(()),
        Err(error) if error.not_found() => Ok(()),
        Err(error) => Err(error.into()),
    }
}

fn execute(cli: Cli) -> Result<(), CliError> {
    match cli.command {
        Command::Serve => crate::http::serve(crate::config::Config::from_env()?)?,
        Command::Dev => crate::dev::run()?,
        Command::Migrate(args) => migrate(args)?,
        Command::Accounts(args) => accounts(args)?,
        Command::ApiKeys(args) => api_keys(args)?,
        Command::ImportSqlite(args) => import_sqlite(args)?,
        Command::Distribute { database_url } => distribute(database_url.as_deref())?,
        Command::Verify { database_url } => {
            let url = owner_url(database_url.as_deref())?;
            crate::verify::run(&url, &mut std::io::stdout().lock())?;
        }
    }
    Ok(())
}

fn import_sqlite(args: ImportArgs) -> Result<(), CliError> {
    let database_url = owner_url(args.database_url.as_deref())?;
    drop(owner_connection(Some(&database_url))?);
    let default_currency = args
        .default_currency
        .map(|code| {
            crate::domain::Currency::parse(&code.to_uppercase())
                .map(crate::domain::Currency::into_inner)
                .map_err(|rule| CliError::Usage(format!("--default-currency {rule}")))
        })
        .transpose()?;
    let rejects = args.rejects.unwrap_or_else(|| {
        let mut name = args.file.clone().into_os_string();
        name.push(".rejects.csv");
        PathBuf::from(name)
    });
    let options = crate::import::Options {
        file: args.file,
        database_url,
        skip_invalid: args.skip_invalid,
        rejects,
        dry_run: args.dry_run,
        replace: args.replace,
        default_currency,
        row_triggers: args.row_triggers,
        invoice_number_format: args
            .invoice_number_format
            .map(|format| {
                crate::domain::NumberFormat::parse(&format)
                    .map_err(|rule| CliError::Usage(format!("--invoice-number-format {rule}")))
            })
            .transpose()?,
    };
    crate::import::run(&options, &mut std::io::stdout().lock())?;
    Ok(())
}

/// The owner's URL: `--database-url`, else MIGRATION_DATABASE_URL, else
/// DATABASE_URL; one libpq cannot read is a usage error (exit status 2).
fn owner_url(database_url: Option<&str>) -> Result<String, CliError> {
    let url = match database_url {
        Some(url) => {
            if !crate::config::libpq_can_parse(url) {
                return Err(CliError::Usage(
                    "--database-url is not a libpq connection URI or key=value string".into(),
                ));
            }
            url.to_owned()
        }
        None => {
            let urls = DatabaseUrls::from_source(&Environment);
            urls.check()?;
            urls.owner()?.to_owned()
        }
    };
    Ok(url)
}

/// A connection as the owner, for the commands that span accounts. A role
/// that row-level security confines (the service's) would see no account
/// and change none: refused with exit status 2, saying what to use instead.
fn distribute(database_url: Option<&str>) -> Result<(), CliError> {
    let mut conn = owner_connection(database_url)?;
    if !db::citus::is_citus(&mut conn)? {
        return Err(CliError::Refused(
            "this database has no citus extension: CREATE EXTENSION citus on every node first \
             (README: Deployment at scale)"
                .into(),
        ));
    }
    let pending = migrations::pending(&mut conn)?;
    if !pending.is_empty() {
        return Err(CliError::Refused(format!(
            "{} migration(s) pending: run `invoiced migrate run`, which also distributes",
            pending.len()
        )));
    }
    let done = migrations::distribute(&mut conn)?;
    if done.is_empty() {
        println!("already distributed: nothing to do");
    }
    for table in &done.reference {
        println!("reference table: {table}");
    }
    for table in &done.distributed {
        println!("distributed by account_id: {table}");
    }
    if !done.functions.is_empty() {
        println!("functions kept on every node: {}", done.functions.len());
    }
    Ok(())
}

fn owner_connection(database_url: Option<&str>) -> Result<diesel::PgConnection, CliError> {
    let mut conn = db::connect(&owner_url(database_url)?)?;
    if !db::sees_every_account(&mut conn)? {
        return Err(CliError::Usage(NOT_OWNER.into()));
    }
    Ok(conn)
}

const NOT_OWNER: &str = "this command needs the owner role (invoiced_owner), but the connection's role \
     is confined by row-level security (it is the service's role): set MIGRATION_DATABASE_URL \
     to the owner's URL, or pass --database-url";

fn account_id(value: &str) -> Result<AccountId, CliError> {
    AccountId::parse(value)
        .map_err(|rule| CliError::Usage(format!("the account id {value:?} {rule}")))
}

fn print_key(key: &ApiKey, secret: Option<&str>) {
    let state = match &key.revoked_at {
        Some(at) => format!("revoked {}", at.to_rfc3339()),
        None => "active".to_owned(),
    };
    let used = key
        .last_used_at
        .map_or_else(|| "never".to_owned(), |at| at.to_rfc3339());
    println!(
        "{:>6}  {:<14} {:<24} created {}  last used {}  {}",
        key.id,
        key.prefix,
        key.name,
        key.created_at.to_rfc3339(),
        used,
        state
    );
    if let Some(secret) = secret {
        println!("\nAPI key (shown this once; store it now):\n{secret}");
    }
}

fn accounts(args: AccountsArgs) -> Result<(), CliError> {
    let mut conn = owner_connection(args.database_url.as_deref())?;
    match args.action {
        AccountsAction::Create { id, name } => {
            let id = account_id(&id)?;
            let name =
                Name::parse(&name).map_err(|rule| CliError::Usage(format!("--name {rule}")))?;
            let (account, key) =
                admin::create_account(&mut conn, &id, &name)?.ok_or_else(|| {
                    CliError::Refused(format!("an account with id {id} already exists"))
                })?;
            println!("created account {} ({})", account.id, account.name);
            print_key(&key.record, Some(&key.secret));
        }
        AccountsAction::List => {
            let mut after = None;
            loop {
                let page = admin::list_accounts(&mut conn, &PageRequest { limit: 200, after })?;
                for account in &page.rows {
                    println!(
                        "{:<40} {:<40} created {}",
                        account.id,
                        account.name,
                        account.created_at.to_rfc3339()
                    );
                }
                match page.rows.last() {
                    Some(last) if page.has_more => after = Some(account_id(&last.id)?),
                    _ => break,
                }
            }
        }
    }
    Ok(())
}

fn api_keys(args: ApiKeysArgs) -> Result<(), CliError> {
    let mut conn = owner_connection(args.database_url.as_deref())?;
    let no_account =
        |account: &AccountId| CliError::Refused(format!("there is no account {account}"));
    match args.action {
        ApiKeysAction::Create { account, name } => {
            let account = account_id(&account)?;
            let name =
                Name::parse(&name).map_err(|rule| CliError::Usage(format!("--name {rule}")))?;
            let key = admin::create_key(&mut conn, &account, &name)?
                .ok_or_else(|| no_account(&account))?;
            print_key(&key.record, Some(&key.secret));
        }
        ApiKeysAction::List { account } => {
            let account = account_id(&account)?;
            let mut after = None;
            loop {
                let page =
                    admin::list_keys(&mut conn, &account, &PageRequest { limit: 200, after })?
                        .ok_or_else(|| no_account(&account))?;
                for key in &page.rows {
                    print_key(key, None);
                }
                match page.rows.last() {
                    Some(last) if page.has_more => after = Some(last.id),
                    _ => break,
                }
            }
        }
        ApiKeysAction::Revoke { account, key_id } => {
            let account = account_id(&account)?;
            let key = ApiKeyId::from_i64(key_id)
                .ok_or_else(|| CliError::Usage("the key id is a positive integer".into()))?;
            let revoked = admin::revoke_key(&mut conn, &account, key)?.ok_or_else(|| {
                CliError::Refused(format!("account {account} has no API key {key_id}"))
            })?;
            print_key(&revoked, None);
        }
    }
    Ok(())
}

fn migrate(args: MigrateArgs) -> Result<(), CliError> {
    let mut conn = owner_connection(args.database_url.as_deref())?;
    let report = |verb: &str, names: &[String]| {
        if names.is_empty() {
            println!("Nothing to {verb}.");
        }
        for name in names {
            println!("{verb}: {name}");
        }
    };
    match args.action {
        MigrateAction::Run => report("applied", &migrations::run_pending(&mut conn)?),
        MigrateAction::Revert { all } => {
            report("reverted", &migrations::revert(&mut conn, scope(all))?)
        }
        MigrateAction::Redo { all } => report("redone", &migrations::redo(&mut conn, scope(all))?),
        MigrateAction::Status => {
            let status = migrations::status(&mut conn)?;
            for name in &status.applied {
                println!("[X] {name}");
            }
            for name in &status.pending {
                println!("[ ] {name}");
            }
            for version in &status.unknown {
                println!(
                    "[?] {version} (applied, but unknown to this binary: a newer release migrated this database)"
                );
            }
            println!(
                "{} applied, {} pending",
                status.applied.len(),
                status.pending.len()
            );
        }
    }
    Ok(())
}

fn scope(all: bool) -> migrations::Scope {
    if all {
        migrations::Scope::All
    } else {
        migrations::Scope::Last
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }
}
