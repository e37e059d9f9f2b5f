//! The `caseledger` executable: parses the command line, starts logging, runs the command and
//! turns its result into an exit code. Everything else lives in the library (`lib.rs`).

use std::process::ExitCode;

use anyhow::Context as _;
use caseledger::cli::{AuditCommand, Cli, Command};
use caseledger::{serve, telemetry, verify};
use clap::Parser as _;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let failure = cli.command.failure_exit_code();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            failure
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    telemetry::init(cli.log_format)?;
    match cli.command {
        Command::Serve(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(serve::run(&args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify(args)) => verify::run(&args),
    }
}
