//! oxeye's time series database, in the Prometheus TSDB lineage.
//!
//! One [`TenantDb`] per tenant, each in its own directory, held by a [`MetricsStore`]:
//!
//! ```text
//! append ──> WAL (checksummed records, group-commit fsync) ──> head (in memory: series, inverted index,
//!            Gorilla chunks, out-of-order buffers, exemplars, metadata)
//!                                      │ cut when it spans 1.5 block ranges
//!                                      v
//!            blocks/<id>/ {meta.json, index, chunks}  (immutable, time-partitioned)
//!                                      │ compaction merges neighbours into larger ranges
//!                                      v
//!            retention deletes whole blocks older than the tenant's retention
//! ```
//!
//! Reads go through [`oxeye_storage_api::MetricsReader`], which [`TenantDb`] implements by merging the blocks that
//! overlap the range with the head. On-disk formats are documented in `docs/formats/`.

mod appender;
mod block;
mod compaction;
mod error;
mod hash;
mod head;
mod options;
mod postings;
mod store;
mod tenant_db;
mod tenant_reader;
mod wal_records;

pub use appender::{AppendOutcome, SeriesInput};
pub use error::StoreError;
pub use head::HeadStats;
pub use options::{Limits, StoreOptions, parse_duration};
pub use oxeye_wal::SyncPolicy as WalSyncPolicy;
pub use store::{MetricsStore, TenantSummary};
pub use tenant_db::{TenantDb, TenantStats};
