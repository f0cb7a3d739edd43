//! Per-tenant objects (one tenant's database, log store, pipeline …) opened on first use and shared by `Arc`, and
//! the tenants found on disk at start-up. Every store keeps its tenants this way.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, RwLock};

use crate::TenantId;

/// Tenant → its object, opened at most once.
pub struct TenantMap<T> {
    tenants: RwLock<HashMap<TenantId, Arc<T>>>,
}

impl<T> Default for TenantMap<T> {
    fn default() -> Self {
        Self { tenants: RwLock::new(HashMap::new()) }
    }
}

impl<T> TenantMap<T> {
    /// The tenant's object if it was opened (reads of an unknown tenant must not create anything).
    pub fn get(&self, tenant: &TenantId) -> Option<Arc<T>> {
        self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(tenant).cloned()
    }

    /// The tenant's object, opened with `open` on first use (never twice, even when callers race).
    pub fn get_or_open<E>(&self, tenant: &TenantId, open: impl FnOnce() -> Result<T, E>) -> Result<Arc<T>, E> {
        if let Some(existing) = self.get(tenant) {
            return Ok(existing);
        }
        let mut tenants = self.tenants.write().unwrap_or_else(|p| p.into_inner());
        if let Some(existing) = tenants.get(tenant) {
            return Ok(existing.clone());
        }
        let opened = Arc::new(open()?);
        tenants.insert(tenant.clone(), opened.clone());
        Ok(opened)
    }

    /// Every opened tenant's object.
    pub fn all(&self) -> Vec<Arc<T>> {
        self.tenants.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect()
    }

    /// Every opened tenant with its object, sorted by tenant.
    pub fn entries(&self) -> Vec<(TenantId, Arc<T>)> {
        let mut entries: Vec<(TenantId, Arc<T>)> = self
            .tenants
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(tenant, object)| (tenant.clone(), object.clone()))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries
    }
}

/// The tenants that have a `<subdir>` under `<data_dir>/tenants/` (creating `tenants/` if missing); directories
/// whose names are not valid tenant ids are ignored.
pub fn tenants_on_disk(data_dir: &Path, subdir: &str) -> std::io::Result<Vec<TenantId>> {
    let tenants_dir = data_dir.join("tenants");
    std::fs::create_dir_all(&tenants_dir)?;
    let mut found = Vec::new();
    for entry in std::fs::read_dir(&tenants_dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().to_string();
        if let Ok(tenant) = TenantId::new(&name)
            && entry.path().join(subdir).is_dir()
        {
            found.push(tenant);
        }
    }
    found.sort();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_once_and_finds_tenants_on_disk() {
        let map: TenantMap<u32> = TenantMap::default();
        let tenant = TenantId::new("a").unwrap();
        assert!(map.get(&tenant).is_none());
        let mut opened = 0;
        for _ in 0..3 {
            let value = map
                .get_or_open(&tenant, || -> Result<u32, ()> {
                    opened += 1;
                    Ok(7)
                })
                .unwrap();
            assert_eq!(*value, 7);
        }
        assert_eq!(opened, 1);
        assert!(map.get_or_open(&TenantId::new("b").unwrap(), || Err("no")).is_err());
        assert_eq!(map.all().len(), 1);

        let dir = std::env::temp_dir().join(format!("oxeye-tenant-map-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("tenants/t1/logs")).unwrap();
        std::fs::create_dir_all(dir.join("tenants/t2/traces")).unwrap();
        std::fs::create_dir_all(dir.join("tenants/not a tenant/logs")).unwrap();
        let found = tenants_on_disk(&dir, "logs").unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(found, vec![TenantId::new("t1").unwrap()]);
    }
}
