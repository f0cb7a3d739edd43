//! The store's error type.

use std::path::PathBuf;

/// Why a store operation failed. Rejections of individual series or samples are not errors: they are reported in
/// [`crate::AppendOutcome`].
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("i/o on {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Wal(#[from] oxeye_wal::WalError),
    #[error("corrupt block {path}: {reason}")]
    CorruptBlock { path: PathBuf, reason: String },
    #[error("invalid configuration: {0}")]
    Config(String),
}

impl StoreError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        StoreError::Io { path: path.into(), source }
    }

    pub(crate) fn corrupt(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        StoreError::CorruptBlock { path: path.into(), reason: reason.into() }
    }
}

impl From<StoreError> for oxeye_storage_api::ReadError {
    fn from(error: StoreError) -> Self {
        oxeye_storage_api::ReadError::Storage(error.to_string())
    }
}
