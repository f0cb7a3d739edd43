//! prost message types of Loki's push protocol (`pkg/push/push.proto`, package `logproto`).
//!
//! Text fields are declared as `bytes` rather than `string`: prost refuses a whole message when one string field
//! is not UTF-8, while Loki (gogo protobuf) does not check; decoding them as bytes lets the converter refuse only
//! the stream with bad labels and replace invalid sequences in lines.

/// `logproto.PushRequest`. Field 2 (`format`) is internal to Loki and skipped.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PushRequest {
    #[prost(message, repeated, tag = "1")]
    pub streams: Vec<StreamAdapter>,
}

/// `logproto.StreamAdapter`: a stream selector string and its entries.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StreamAdapter {
    /// The stream's labels as a selector literal, `{a="b", c="d"}`.
    #[prost(bytes = "vec", tag = "1")]
    pub labels: Vec<u8>,
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<EntryAdapter>,
    /// Loki-internal hash of the labels; ignored.
    #[prost(uint64, tag = "3")]
    pub hash: u64,
}

/// `logproto.EntryAdapter`. Field 4 (`parsed`) only appears in query responses and is skipped.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EntryAdapter {
    /// A gogo `stdtime` field: on the wire an ordinary `google.protobuf.Timestamp` message; absent means the epoch.
    #[prost(message, optional, tag = "1")]
    pub timestamp: Option<Timestamp>,
    #[prost(bytes = "vec", tag = "2")]
    pub line: Vec<u8>,
    #[prost(message, repeated, tag = "3")]
    pub structured_metadata: Vec<LabelPairAdapter>,
}

/// `logproto.LabelPairAdapter`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LabelPairAdapter {
    #[prost(bytes = "vec", tag = "1")]
    pub name: Vec<u8>,
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

/// `google.protobuf.Timestamp`.
#[derive(Clone, Copy, PartialEq, Eq, prost::Message)]
pub struct Timestamp {
    #[prost(int64, tag = "1")]
    pub seconds: i64,
    #[prost(int32, tag = "2")]
    pub nanos: i32,
}
