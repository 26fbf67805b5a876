use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    invoiced::cli::run(invoiced::cli::Cli::parse())
}
