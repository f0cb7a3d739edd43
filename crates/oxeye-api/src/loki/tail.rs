//! Live tailing: a hub that fans accepted log entries out to `/loki/api/v1/tail` WebSocket clients.
//!
//! The logs store calls the hub's observer after every durable append; the hub forwards the batch on a bounded
//! broadcast channel only when someone is tailing (so ingest pays nothing otherwise). A client that falls behind
//! by more than the channel's capacity is told how many entries it missed (`dropped_entries`), as Loki does.

use std::sync::Arc;

use oxeye_logs_store::AppendObserver;
use oxeye_model::{LogStream, TenantId};
use tokio::sync::broadcast;

/// Batches buffered per tail client before it counts as lagging.
const TAIL_CHANNEL_CAPACITY: usize = 1024;

/// One accepted batch of one tenant.
#[derive(Debug)]
pub struct TailBatch {
    pub tenant: TenantId,
    pub streams: Vec<LogStream>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct TailHub {
    sender: broadcast::Sender<Arc<TailBatch>>,
}

impl TailHub {
    pub fn new() -> Arc<Self> {
        let (sender, _) = broadcast::channel(TAIL_CHANNEL_CAPACITY);
        Arc::new(Self { sender })
    }

    /// The observer to install in the logs store's options.
    pub fn observer(self: &Arc<Self>) -> AppendObserver {
        let hub = self.clone();
        Arc::new(move |tenant: &TenantId, streams: &[LogStream]| {
            if hub.sender.receiver_count() > 0 {
                let batch = TailBatch { tenant: tenant.clone(), streams: streams.to_vec() };
                let _ = hub.sender.send(Arc::new(batch));
            }
        })
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Arc<TailBatch>> {
        self.sender.subscribe()
    }
}
