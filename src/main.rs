//! The `trm` command: parse flags, run one mode, report errors with their
//! causes and a non-zero exit code.

use std::process::ExitCode;

use clap::Parser;
use trm::cli::{Cli, Command, SimCommand};

mod inspect;
mod progress;
mod publish;
mod run;

fn main() -> ExitCode {
    let cli = Cli::parse();
    trm::tls::install();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if cli.json {
        logs.json().init();
    } else {
        logs.init();
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Extract(args) => run::extract(args).await,
            Command::Audit(args) => inspect::audit(args, cli.json).await,
            Command::Lineage(args) => inspect::lineage(args, cli.json).await,
            Command::Report(args) => publish::report(args).await,
            Command::ReportUsage(args) => publish::report_usage(args).await,
            Command::Run(args) => publish::pipeline(args).await,
            Command::Demo(args) => run::demo(args).await,
            Command::Sim(SimCommand::Serve(args)) => run::sim_serve(args).await,
            Command::Sim(SimCommand::Manifest(args)) => run::sim_manifest(args).await,
            Command::Sim(SimCommand::Bench(args)) => run::sim_bench(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.downcast_ref::<publish::FindingsFound>().is_some() => {
            eprintln!("{err}");
            ExitCode::from(1)
        }
        Err(err) => {
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  Caused by: {cause}");
            }
            ExitCode::from(2)
        }
    }
}
