//! oxeye's log store: per tenant, a WAL, an in-memory head of streams, and immutable columnar blocks.
//!
//! Entries arrive as [`oxeye_model::LogBatch`]es. [`TenantLogs::append`] validates them against the tenant's
//! [`LogLimits`] (answering with Loki's messages), writes the accepted ones to the WAL and the head, and returns
//! only then. A maintenance pass cuts the head into a block once it is large or old enough, deletes blocks past
//! retention and merges small blocks. Readers see the head, heads being cut, and blocks through
//! [`TenantLogsReader`], an implementation of [`oxeye_storage_api::LogsReader`]. Formats:
//! `docs/formats/logs-block.md` and `docs/formats/logs-wal.md`.

mod block;
mod compaction;
mod files;
mod head;
mod limits;
mod reader;
mod tenant;
mod tokens;
mod wal_records;

pub use limits::{LogLimits, LogRejectReason, LogRejection, selector};
pub use reader::TenantLogsReader;
pub use tenant::{AppendObserver, AppendOutcome, TenantLogs};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use oxeye_model::{TenantId, TenantMap, tenants_on_disk};
use oxeye_wal::SyncPolicy;

/// Why a logs store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LogsError {
    #[error("logs i/o on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("logs block {path} is corrupt: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error(transparent)]
    Wal(#[from] oxeye_wal::WalError),
}

impl LogsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        LogsError::Io { path: path.into(), source }
    }
}

/// How the logs store runs.
#[derive(Clone)]
pub struct LogsOptions {
    /// Root data directory; tenants live under `<data_dir>/tenants/<tenant>/logs`.
    pub data_dir: PathBuf,
    pub wal_sync: SyncPolicy,
    pub wal_segment_size: u64,
    /// The head is cut into a block once its lines and metadata reach this many bytes…
    pub head_max_bytes: u64,
    /// …or once its first entry arrived this long ago.
    pub head_max_age: Duration,
    pub default_limits: LogLimits,
    /// Per-tenant overrides, by tenant id.
    pub tenant_limits: HashMap<String, LogLimits>,
    /// Told about every accepted batch (used for live tailing).
    pub append_observer: Option<AppendObserver>,
}

impl std::fmt::Debug for LogsOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogsOptions")
            .field("data_dir", &self.data_dir)
            .field("head_max_bytes", &self.head_max_bytes)
            .field("head_max_age", &self.head_max_age)
            .field("default_limits", &self.default_limits)
            .finish_non_exhaustive()
    }
}

impl LogsOptions {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            data_dir: data_dir.into(),
            wal_sync: SyncPolicy::Interval(Duration::from_secs(1)),
            wal_segment_size: 128 << 20,
            head_max_bytes: 128 << 20,
            head_max_age: Duration::from_secs(30 * 60),
            default_limits: LogLimits::default(),
            tenant_limits: HashMap::new(),
            append_observer: None,
        }
    }

    pub fn limits_for(&self, tenant: &str) -> &LogLimits {
        self.tenant_limits.get(tenant).unwrap_or(&self.default_limits)
    }
}

/// Sizes of one tenant's logs, for self-metrics.
#[derive(Clone, Debug)]
pub struct TenantLogsSummary {
    pub tenant: TenantId,
    pub head_streams: usize,
    pub head_entries: u64,
    pub head_bytes: u64,
    pub blocks: usize,
    pub block_bytes: u64,
    /// Uncompressed bytes of the entries in blocks.
    pub block_raw_bytes: u64,
    pub wal_bytes: u64,
}

/// Every tenant's logs. Tenants are opened on first use, and all existing ones at start-up.
pub struct LogsStore {
    options: Arc<LogsOptions>,
    tenants: TenantMap<TenantLogs>,
}

impl LogsStore {
    /// Opens every tenant that has logs under the data directory (replaying their WALs).
    pub fn open(options: LogsOptions) -> Result<Self, LogsError> {
        let store = Self { options: Arc::new(options), tenants: TenantMap::default() };
        let tenants = tenants_on_disk(&store.options.data_dir, files::LOGS_DIR)
            .map_err(|e| LogsError::io(store.options.data_dir.join("tenants"), e))?;
        for tenant in tenants {
            store.tenant(&tenant)?;
        }
        Ok(store)
    }

    /// The logs of `tenant`, opened (and created) on first use.
    pub fn tenant(&self, tenant: &TenantId) -> Result<Arc<TenantLogs>, LogsError> {
        self.tenants.get_or_open(tenant, || {
            let tenant_dir = self.options.data_dir.join("tenants").join(tenant.as_str());
            TenantLogs::open(tenant.clone(), &tenant_dir, self.options.clone())
        })
    }

    /// The logs of `tenant` if it has any (reads of an unknown tenant must not create directories).
    pub fn existing_tenant(&self, tenant: &TenantId) -> Option<Arc<TenantLogs>> {
        self.tenants.get(tenant)
    }

    pub fn all_tenants(&self) -> Vec<Arc<TenantLogs>> {
        self.tenants.all()
    }

    /// Cuts, applies retention and compacts every tenant; errors are logged, not returned, so one tenant's
    /// trouble does not stop the others' maintenance.
    pub fn maintain(&self, now_ns: i64, force: bool) {
        for tenant in self.all_tenants() {
            if let Err(error) = tenant.maintain(now_ns, force) {
                tracing::error!(tenant = %tenant.tenant().as_str(), %error, "logs maintenance failed");
            }
        }
    }

    pub fn sync_wals(&self) -> Result<(), LogsError> {
        for tenant in self.all_tenants() {
            tenant.sync_wal()?;
        }
        Ok(())
    }

    pub fn summaries(&self) -> Vec<TenantLogsSummary> {
        self.all_tenants().iter().map(|tenant| tenant.summary()).collect()
    }
}

/// Wall-clock now in nanoseconds since the epoch.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

#[cfg(test)]
mod tests;
