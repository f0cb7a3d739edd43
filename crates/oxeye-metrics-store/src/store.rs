//! The multi-tenant store: one [`TenantDb`] per tenant under `<data_dir>/tenants/<tenant>/metrics`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use oxeye_model::TenantId;

use crate::{StoreError, StoreOptions, TenantDb};

/// What the self-metrics endpoint reports per tenant.
#[derive(Debug, Clone)]
pub struct TenantSummary {
    pub tenant: TenantId,
    pub head_series: usize,
    pub blocks: usize,
    pub block_bytes: u64,
    pub wal_bytes: u64,
    /// Bytes of compressed samples held in the head.
    pub head_chunk_bytes: usize,
}

/// Every tenant's metrics database. Tenants are opened lazily on first write or read, and all existing ones at
/// start-up (so their WAL is replayed before the server reports ready).
pub struct MetricsStore {
    options: StoreOptions,
    tenants: RwLock<HashMap<TenantId, Arc<TenantDb>>>,
}

impl MetricsStore {
    /// Opens the store and every tenant found under the data directory.
    pub fn open(options: StoreOptions) -> Result<Self, StoreError> {
        let store = Self { options, tenants: RwLock::new(HashMap::new()) };
        let tenants_dir = store.tenants_dir();
        std::fs::create_dir_all(&tenants_dir).map_err(|e| StoreError::io(&tenants_dir, e))?;
        for entry in std::fs::read_dir(&tenants_dir).map_err(|e| StoreError::io(&tenants_dir, e))? {
            let entry = entry.map_err(|e| StoreError::io(&tenants_dir, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            match TenantId::new(&name) {
                Ok(tenant) if entry.path().join("metrics").is_dir() => {
                    store.tenant(&tenant)?;
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(directory = %name, %error, "ignoring directory that is not a tenant")
                }
            }
        }
        Ok(store)
    }

    pub fn options(&self) -> &StoreOptions {
        &self.options
    }

    fn tenants_dir(&self) -> PathBuf {
        self.options.data_dir.join("tenants")
    }

    /// The database of `tenant`, opened (and created) on first use.
    pub fn tenant(&self, tenant: &TenantId) -> Result<Arc<TenantDb>, StoreError> {
        if let Some(db) = self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(tenant) {
            return Ok(db.clone());
        }
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        if let Some(db) = tenants.get(tenant) {
            return Ok(db.clone());
        }
        let dir = self.tenants_dir().join(tenant.as_str()).join("metrics");
        let db = Arc::new(TenantDb::open(tenant.clone(), &dir, &self.options)?);
        tenants.insert(tenant.clone(), db.clone());
        Ok(db)
    }

    /// The database of `tenant` if it exists (reads of an unknown tenant see nothing rather than creating it).
    pub fn existing_tenant(&self, tenant: &TenantId) -> Option<Arc<TenantDb>> {
        self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(tenant).cloned()
    }

    pub fn all_tenants(&self) -> Vec<Arc<TenantDb>> {
        let mut all: Vec<_> = self.tenants.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        all.sort_by(|a, b| a.tenant().cmp(b.tenant()));
        all
    }

    /// Runs maintenance (block cutting, compaction, retention) for every tenant; errors are logged per tenant.
    pub fn maintain(&self, now_ms: i64) {
        for db in self.all_tenants() {
            if let Err(error) = db.maintain(now_ms) {
                tracing::error!(tenant = %db.tenant(), %error, "metrics maintenance failed");
            }
        }
    }

    /// Fsyncs every tenant's WAL.
    pub fn sync_wals(&self) -> Result<(), StoreError> {
        for db in self.all_tenants() {
            db.sync_wal()?;
        }
        Ok(())
    }

    pub fn summaries(&self) -> Vec<TenantSummary> {
        self.all_tenants()
            .iter()
            .map(|db| {
                let (blocks, block_bytes) = db.block_summary();
                TenantSummary {
                    tenant: db.tenant().clone(),
                    head_series: db.head_series(),
                    blocks,
                    block_bytes,
                    wal_bytes: db.wal().disk_bytes(),
                    head_chunk_bytes: db.lock_head().chunk_bytes(),
                }
            })
            .collect()
    }
}
