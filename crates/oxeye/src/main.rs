//! The `oxeye` binary: the only place where the layers are wired together.

mod config;
mod serve;

use clap::{Parser, Subcommand};

#[derive(Parser, Debug)]
#[command(name = "oxeye", version, about = "One binary for metrics, logs, traces and profiles")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the backend: receive, store and serve every signal.
    Serve(Box<config::ServeArgs>),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let config = config::ServeConfig::resolve(*args)?;
            serve::init_logging(&config)?;
            let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
            runtime.block_on(serve::run(config))
        }
    }
}
