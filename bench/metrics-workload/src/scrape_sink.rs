//! Where a target model puts one scrape's samples.
//!
//! A model emits its series in a fixed order on every scrape. On the first scrape the sink also records each
//! series' label set (the catalog); afterwards it only collects values, and the label closures are never called,
//! so the steady state allocates nothing per sample. The generator checks that every scrape yields exactly as
//! many values as the catalog has series.

use oxeye_ingest::remote_write::Label;

/// Collects the values of one scrape of every target, and on the recording scrape their label sets.
#[derive(Debug, Default)]
pub struct ScrapeSink {
    values: Vec<f64>,
    catalog: Option<Vec<Vec<Label>>>,
}

impl ScrapeSink {
    /// A sink that records label sets as well as values (used for the first scrape).
    pub fn recording() -> Self {
        Self { values: Vec::new(), catalog: Some(Vec::new()) }
    }

    /// Appends one sample; `describe` builds the series' labels and is only called while recording.
    pub fn push(&mut self, value: f64, describe: impl FnOnce() -> Vec<Label>) {
        self.values.push(value);
        if let Some(catalog) = &mut self.catalog {
            catalog.push(describe());
        }
    }

    /// Number of values pushed since the last [`Self::clear_values`].
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// The values pushed since the last [`Self::clear_values`], in push order.
    pub fn values(&self) -> &[f64] {
        &self.values
    }

    /// Forgets the values (keeping the allocation) before the next scrape.
    pub fn clear_values(&mut self) {
        self.values.clear();
    }

    /// Takes the recorded label sets and stops recording; empty if the sink was not recording.
    pub fn take_catalog(&mut self) -> Vec<Vec<Label>> {
        self.catalog.take().unwrap_or_default()
    }
}

/// The labels Prometheus attaches to every series of one scrape target: `job` and `instance` from service
/// discovery, plus a `cluster` external label as a remote-writing Prometheus adds.
#[derive(Clone, Debug)]
pub struct TargetLabels {
    pub job: String,
    pub instance: String,
    pub cluster: String,
}

impl TargetLabels {
    /// The label set of series `name` of this target with the extra labels, sorted by label name as remote_write
    /// requires.
    pub fn series(&self, name: &str, extra: &[(&str, &str)]) -> Vec<Label> {
        let mut labels = Vec::with_capacity(4 + extra.len());
        let mut add =
            |label_name: &str, value: &str| labels.push(Label { name: label_name.to_owned(), value: value.to_owned() });
        add("__name__", name);
        add("cluster", &self.cluster);
        add("instance", &self.instance);
        add("job", &self.job);
        for (label_name, value) in extra {
            add(label_name, value);
        }
        labels.sort_by(|left, right| left.name.cmp(&right.name));
        labels
    }
}

/// The five series Prometheus synthesises for every scrape (`up`, `scrape_duration_seconds`, …), appended after
/// a target's own series. `own_samples` is the number of samples the target exposed in this scrape.
pub fn push_scrape_series(
    sink: &mut ScrapeSink,
    labels: &TargetLabels,
    own_samples: usize,
    scrape_duration_seconds: f64,
    first_scrape: bool,
) {
    let scraped = own_samples as f64;
    let added = if first_scrape { scraped } else { 0.0 };
    sink.push(1.0, || labels.series("up", &[]));
    sink.push(scrape_duration_seconds, || labels.series("scrape_duration_seconds", &[]));
    sink.push(scraped, || labels.series("scrape_samples_scraped", &[]));
    sink.push(scraped, || labels.series("scrape_samples_post_metric_relabeling", &[]));
    sink.push(added, || labels.series("scrape_series_added", &[]));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_labels_are_sorted() {
        let target = TargetLabels { job: "node".into(), instance: "h:9100".into(), cluster: "c".into() };
        let labels = target.series("node_cpu_seconds_total", &[("mode", "idle"), ("cpu", "0")]);
        let names: Vec<&str> = labels.iter().map(|label| label.name.as_str()).collect();
        assert_eq!(names, ["__name__", "cluster", "cpu", "instance", "job", "mode"]);
    }

    #[test]
    fn recording_only_calls_describe_while_recording() {
        let mut sink = ScrapeSink::recording();
        sink.push(1.0, Vec::new);
        assert_eq!(sink.take_catalog().len(), 1);
        sink.clear_values();
        sink.push(2.0, || unreachable!("BUG: describe called after recording"));
        assert_eq!(sink.values(), [2.0]);
    }
}
