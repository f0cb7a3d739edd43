//! `oxeye serve`: open the store, serve HTTP and gRPC, run maintenance, shut down cleanly.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use oxeye_api::loki::TailHub;
use oxeye_api::{ApiState, grpc_routes, router};
use oxeye_logs_store::{LogsOptions, LogsStore};
use oxeye_metrics_store::{MetricsStore, StoreOptions, WalSyncPolicy};
use oxeye_trace_pipeline::TracePipeline;
use oxeye_traces_store::{TracesOptions, TracesStore};
use tokio::sync::watch;

use crate::config::{LogFormat, ServeConfig};

pub fn init_logging(config: &ServeConfig) -> anyhow::Result<()> {
    let filter = tracing_subscriber::EnvFilter::try_new(&config.log_level).context("--log-level")?;
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    match config.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
    Ok(())
}

/// Raises the soft limit on open files to the hard limit, as Go's runtime does for Prometheus and
/// VictoriaMetrics: every tenant keeps WAL segments and head chunk files open, and every connection is a
/// descriptor, so the common default soft limit of 1,024 would cap the tenants a server can hold. Returns the
/// limits before and after (`None` if they could not be read or set).
pub fn raise_open_file_limit() -> Option<(u64, u64)> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: both calls get a valid pointer to a local `rlimit`; they touch no memory of ours otherwise.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return None;
    }
    let before = limit.rlim_cur;
    if limit.rlim_cur >= limit.rlim_max {
        return Some((before, before));
    }
    limit.rlim_cur = limit.rlim_max;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return None;
    }
    Some((before, limit.rlim_cur))
}

pub async fn run(config: ServeConfig) -> anyhow::Result<()> {
    tracing::info!(version = env!("CARGO_PKG_VERSION"), data_dir = %config.data_dir.display(), "starting oxeye serve");
    match raise_open_file_limit() {
        Some((before, after)) if after > before => tracing::info!(before, after, "raised the open file limit"),
        Some(_) => {}
        None => tracing::warn!("could not read or raise the open file limit (RLIMIT_NOFILE)"),
    }
    for (name, address) in [
        ("listen", config.listen),
        ("otlp-http-listen", config.otlp_http_listen),
        ("otlp-grpc-listen", config.otlp_grpc_listen),
    ] {
        if !address.ip().is_loopback() {
            tracing::warn!(
                flag = name,
                %address,
                "LISTENING BEYOND LOOPBACK WITHOUT AUTHENTICATION: anyone who can reach this address can read and write every tenant's data"
            );
        }
    }
    // Bind first so that a port conflict fails fast, before the WAL replay.
    let main_listener = bind(config.listen, "--listen").await?;
    let otlp_http_listener = bind(config.otlp_http_listen, "--otlp-http-listen").await?;
    let otlp_grpc_listener = bind(config.otlp_grpc_listen, "--otlp-grpc-listen").await?;

    let mut options = StoreOptions::new(&config.data_dir);
    options.wal_sync = config.wal_sync;
    options.default_limits = config.default_limits.clone();
    options.tenant_limits = config.tenant_limits.clone();
    let store = {
        let options = options.clone();
        tokio::task::spawn_blocking(move || MetricsStore::open(options)).await?.context("opening the metrics store")?
    };
    let store = Arc::new(store);
    let tail = TailHub::new();
    let mut log_options = LogsOptions::new(&config.data_dir);
    log_options.wal_sync = config.wal_sync;
    log_options.default_limits = config.log_limits.clone();
    log_options.tenant_limits = config.log_tenant_limits.clone();
    log_options.head_max_bytes = config.log_head_max_bytes;
    log_options.head_max_age = config.log_head_max_age;
    log_options.append_observer = Some(tail.observer());
    let logs =
        tokio::task::spawn_blocking(move || LogsStore::open(log_options)).await?.context("opening the logs store")?;
    let logs = Arc::new(logs);
    let mut trace_options = TracesOptions::new(&config.data_dir);
    trace_options.wal_sync = config.wal_sync;
    trace_options.default_limits = config.trace_limits.clone();
    trace_options.tenant_limits = config.trace_tenant_limits.clone();
    trace_options.head_max_bytes = config.trace_head_max_bytes;
    trace_options.head_max_age = config.trace_head_max_age;
    let traces = {
        let store = store.clone();
        let pipeline_config = config.trace_pipeline.clone();
        let data_dir = config.data_dir.clone();
        tokio::task::spawn_blocking(move || -> anyhow::Result<TracePipeline> {
            let traces = Arc::new(TracesStore::open(trace_options).context("opening the trace store")?);
            TracePipeline::open(traces, store, pipeline_config, data_dir, now_ms())
                .context("opening the trace pipeline")
        })
        .await??
    };
    let traces = Arc::new(traces);
    let state = ApiState::new(store.clone(), logs.clone(), traces.clone(), tail, config.api.clone());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);

    let http_app = router(state.clone());
    let grpc_app = grpc_routes(state.clone()).into_axum_router();
    let servers = [
        tokio::spawn(serve(main_listener, http_app.clone(), shutdown_rx.clone())),
        tokio::spawn(serve(otlp_http_listener, http_app, shutdown_rx.clone())),
        tokio::spawn(serve(otlp_grpc_listener, grpc_app, shutdown_rx.clone())),
    ];
    let maintenance = tokio::spawn(maintenance_loop(
        store.clone(),
        logs.clone(),
        traces.clone(),
        config.wal_sync,
        config.maintenance_interval,
        shutdown_rx.clone(),
    ));
    state.ready.store(true, Ordering::Release);
    tracing::info!(listen = %config.listen, otlp_http = %config.otlp_http_listen, otlp_grpc = %config.otlp_grpc_listen, "oxeye is ready");

    wait_for_signal().await?;
    tracing::info!("shutting down: no new connections, finishing requests in flight");
    state.ready.store(false, Ordering::Release);
    let _ = shutdown_tx.send(true);
    for server in servers {
        server.await??;
    }
    maintenance.await?;
    tokio::task::spawn_blocking(move || store.sync_wals()).await?.context("final WAL fsync")?;
    tokio::task::spawn_blocking(move || logs.sync_wals()).await?.context("final logs WAL fsync")?;
    tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
        // Pending sampler spans stay in the sampler's WAL and are decided after the restart.
        traces.collect_metrics(now_ms());
        traces.sync().context("final sampler WAL fsync")?;
        traces.store().sync_wals().context("final trace WAL fsync")
    })
    .await??;
    tracing::info!("WAL synced; bye");
    Ok(())
}

async fn bind(address: SocketAddr, flag: &str) -> anyhow::Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(address).await.with_context(|| format!("{flag}: cannot listen on {address}"))
}

async fn serve(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    mut shutdown: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|stop| *stop).await;
        })
        .await
        .context("http server")
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// How often span metrics are written into the metrics store (Tempo's generator collection interval).
const SPAN_METRICS_INTERVAL: Duration = Duration::from_secs(15);

async fn maintenance_loop(
    store: Arc<MetricsStore>,
    logs: Arc<LogsStore>,
    traces: Arc<TracePipeline>,
    wal_sync: WalSyncPolicy,
    maintenance_interval: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let sync_every = match wal_sync {
        WalSyncPolicy::Interval(interval) => interval.max(Duration::from_millis(10)),
        _ => Duration::from_secs(3600),
    };
    let mut sync_timer = tokio::time::interval(sync_every);
    let mut maintenance_timer = tokio::time::interval(maintenance_interval);
    maintenance_timer.tick().await;
    let mut sampling_timer = tokio::time::interval(Duration::from_secs(1));
    let mut span_metrics_timer = tokio::time::interval(SPAN_METRICS_INTERVAL);
    span_metrics_timer.tick().await;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = sync_timer.tick() => {
                if matches!(wal_sync, WalSyncPolicy::Interval(_)) {
                    let store = store.clone();
                    let logs = logs.clone();
                    let traces = traces.clone();
                    let synced = move || -> Result<(), String> {
                        store.sync_wals().map_err(|e| e.to_string())?;
                        logs.sync_wals().map_err(|e| e.to_string())?;
                        traces.store().sync_wals().map_err(|e| e.to_string())
                    };
                    match tokio::task::spawn_blocking(synced).await {
                        Ok(Err(error)) => tracing::error!(%error, "WAL fsync failed"),
                        Err(error) => tracing::error!(%error, "WAL fsync task failed"),
                        Ok(Ok(())) => {}
                    }
                }
            }
            _ = sampling_timer.tick() => {
                let traces = traces.clone();
                match tokio::task::spawn_blocking(move || traces.tick(now_ms(), false)).await {
                    Ok(Err(error)) => tracing::error!(%error, "tail sampling decisions failed"),
                    Err(error) => tracing::error!(%error, "tail sampling task failed"),
                    Ok(Ok(())) => {}
                }
            }
            _ = span_metrics_timer.tick() => {
                let traces = traces.clone();
                if let Err(error) = tokio::task::spawn_blocking(move || traces.collect_metrics(now_ms())).await {
                    tracing::error!(%error, "span metrics task failed");
                }
            }
            _ = maintenance_timer.tick() => {
                let store = store.clone();
                let logs = logs.clone();
                let traces = traces.clone();
                let now_ms = now_ms();
                let work = move || {
                    store.maintain(now_ms);
                    logs.maintain(oxeye_logs_store::now_ns(), false);
                    traces.store().maintain(oxeye_traces_store::now_ns(), false);
                };
                if let Err(error) = tokio::task::spawn_blocking(work).await {
                    tracing::error!(%error, "maintenance task failed");
                }
            }
        }
    }
}

async fn wait_for_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_open_file_limit_is_raised_to_the_hard_limit() {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        // SAFETY: valid pointer to a local.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        let hard = limit.rlim_max;
        limit.rlim_cur = hard.min(256);
        // SAFETY: as above; lowering the soft limit is always allowed.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) }, 0);
        let (before, after) = super::raise_open_file_limit().expect("limits readable and settable");
        assert_eq!((before, after), (hard.min(256), hard));
        // SAFETY: as above.
        assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) }, 0);
        assert_eq!(limit.rlim_cur, hard);
    }
}
