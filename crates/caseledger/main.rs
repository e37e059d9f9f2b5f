//! The `caseledger` executable: parses the command line, starts logging, runs the command and
//! turns its result into an exit code. Everything else lives in the library (`lib.rs`).

use std::process::ExitCode;

use anyhow::Context as _;
use caseledger::audit::{export, proofs, replay, verify};
use caseledger::cli::{AuditCommand, Cli, Command, ProjectionsCommand, StoreCommand};
use caseledger::store::{backup, copy, restore};
use caseledger::{demo, projections, serve, telemetry, witness};
use clap::Parser as _;

/// mimalloc rather than the system allocator: the service allocates and frees many small and
/// mid-sized buffers per request on several threads (sled's nodes, JSON, envelopes), and
/// glibc's malloc spent about a quarter of the service's CPU on them under load (see
/// docs/benchmarks.md, "HTTP load (sled)"). Built without transparent huge pages
/// (`no_thp`): with them, a heap of small objects held whole 2 MiB pages and the resident
/// memory was about twice what the heap used (docs/reliability.md, "Soak").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Command::Demo(args) => {
            offline_runtime()?.block_on(demo::run(&args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Audit(AuditCommand::Verify(args)) => verify::run(&args),
        Command::Audit(AuditCommand::Replay(args)) => replay::run(&args),
        Command::Audit(AuditCommand::VerifyInclusion(args)) => proofs::run_inclusion(&args),
        Command::Audit(AuditCommand::VerifyConsistency(args)) => proofs::run_consistency(&args),
        Command::Witness(args) => offline_runtime()?.block_on(witness::run(&args)),
        Command::Audit(AuditCommand::Export(args)) => {
            offline_runtime()?.block_on(export::run(&args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Projections(ProjectionsCommand::Rebuild(args)) => {
            offline_runtime()?.block_on(projections::run_rebuild(&args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Store(StoreCommand::Copy(args)) => {
            offline_runtime()?.block_on(copy::run(&args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Backup(args) => {
            offline_runtime()?.block_on(backup::run(&args))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Restore(args) => {
            offline_runtime()?.block_on(restore::run(&args))?;
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// A small runtime for the offline commands: they do one thing at a time, and the store's
/// blocking calls run on the runtime's blocking pool.
fn offline_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
