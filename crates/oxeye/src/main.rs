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

/// jemalloc instead of glibc's malloc. Measured on the metrics benchmark (104k series, 81 M samples, three runs
/// each): 0.985-1.040 CPU s per million samples against glibc's 1.062-1.182, about the same peak RSS (418-441 MiB
/// against 416-442 MiB), and PromQL latencies no worse (geometric mean 16.0 ms against 16.4-19.5 ms). glibc's
/// heaps, fragmented by ingest, had made small queries spend a third of their time in `malloc`.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's settings, read at its initialisation: a background thread returns freed memory to the system
/// (dirty pages after 1 s, no lazily-freed "muzzy" stage), which keeps the peak RSS of a head cut near glibc's
/// instead of 9 % above it with jemalloc's defaults. `_RJEM_MALLOC_CONF` in the environment overrides it.
#[repr(transparent)]
pub struct MallocConf(*const u8);

// SAFETY: the pointer is to a static, immutable, NUL-terminated string.
unsafe impl Sync for MallocConf {}

#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: MallocConf =
    MallocConf(c"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0".as_ptr().cast());

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
