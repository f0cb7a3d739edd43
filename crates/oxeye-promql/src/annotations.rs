//! Warnings and infos attached to a result (Prometheus's `annotations`), deduplicated in insertion order.

/// Annotations collected during evaluation. Messages carry Prometheus's prefixes (`PromQL warning: `,
/// `PromQL info: `) exactly as Prometheus renders them in the API's `warnings` and `infos` arrays.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Annotations {
    pub warnings: Vec<String>,
    pub infos: Vec<String>,
}

impl Annotations {
    pub fn warn(&mut self, message: impl Into<String>) {
        let message = format!("PromQL warning: {}", message.into());
        if !self.warnings.contains(&message) {
            self.warnings.push(message);
        }
    }

    pub fn info(&mut self, message: impl Into<String>) {
        let message = format!("PromQL info: {}", message.into());
        if !self.infos.contains(&message) {
            self.infos.push(message);
        }
    }

    pub fn merge(&mut self, other: Annotations) {
        for w in other.warnings {
            if !self.warnings.contains(&w) {
                self.warnings.push(w);
            }
        }
        for i in other.infos {
            if !self.infos.contains(&i) {
                self.infos.push(i);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.warnings.is_empty() && self.infos.is_empty()
    }
}
