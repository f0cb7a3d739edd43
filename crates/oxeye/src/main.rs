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

/// Optionally limits glibc's malloc arenas (`OXEYE_MALLOC_ARENA_MAX`; glibc's default is eight per core). Fewer
/// arenas lower the peak resident size of ingest (104k series, 81 M samples: 399 MiB with 2 arenas against 418 MiB
/// with the default) but make queries slower (10-35 % on the query benchmark's instant queries at 260 hosts),
/// because query threads then allocate from heaps fragmented by ingest; so the default is glibc's. Must run before
/// any thread starts.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        const M_ARENA_MAX: i32 = -8;
        unsafe extern "C" {
            fn mallopt(param: i32, value: i32) -> i32;
        }
        let arenas = std::env::var("OXEYE_MALLOC_ARENA_MAX").ok().and_then(|v| v.parse::<i32>().ok()).unwrap_or(0);
        if arenas > 0 {
            // SAFETY: mallopt only changes allocator tuning; it is called before any other thread exists.
            unsafe {
                mallopt(M_ARENA_MAX, arenas);
            }
        }
    }
}

fn main() -> anyhow::Result<()> {
    limit_malloc_arenas();
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
