//! The reader of a tenant that has never written: every read is empty. Queries of such a tenant still evaluate
//! (`1+1` needs no data) without creating the tenant.

use oxeye_model::{Labels, MetricMetadata};
use oxeye_storage_api::{MetricsReader, ReadError, SelectRequest, SeriesExemplars, SeriesSamples};

/// A [`MetricsReader`] without any series.
pub struct EmptyReader;

impl MetricsReader for EmptyReader {
    fn select_series(&self, _request: &SelectRequest) -> Result<Vec<SeriesSamples>, ReadError> {
        Ok(Vec::new())
    }

    fn series_labels(&self, _request: &SelectRequest) -> Result<Vec<Labels>, ReadError> {
        Ok(Vec::new())
    }

    fn label_names(&self, _request: &SelectRequest) -> Result<Vec<String>, ReadError> {
        Ok(Vec::new())
    }

    fn label_values(&self, _name: &str, _request: &SelectRequest) -> Result<Vec<String>, ReadError> {
        Ok(Vec::new())
    }

    fn select_exemplars(&self, _request: &SelectRequest) -> Result<Vec<SeriesExemplars>, ReadError> {
        Ok(Vec::new())
    }

    fn metadata(&self, _metric: Option<&str>, _limit: usize) -> Result<Vec<MetricMetadata>, ReadError> {
        Ok(Vec::new())
    }
}
