//! The `invoiced` command line: one clap enum, dispatched here to the module
//! that does the work. Exit status: 0 on success, 2 for bad configuration or
//! usage, 1 for every other failure.

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::config::{ConfigError, DatabaseUrls, Environment};
use crate::db::{self, migrations};

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
    /// Apply, revert or list the database migrations (as the owner role)
    Migrate(MigrateArgs),
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
}

impl CliError {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Self::Config(_) | Self::DotEnv(_) | Self::Serve(crate::http::ServeError::Config(_)) => {
                ExitCode::from(2)
            }
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
        Command::Migrate(args) => migrate(args)?,
    }
    Ok(())
}

fn migrate(args: MigrateArgs) -> Result<(), CliError> {
    let urls = DatabaseUrls::from_source(&Environment);
    let url = match &args.database_url {
        Some(url) => url.as_str(),
        None => urls.owner()?,
    };
    let mut conn = db::connect(url)?;
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
