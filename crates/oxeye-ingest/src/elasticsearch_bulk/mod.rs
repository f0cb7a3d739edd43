//! Elasticsearch bulk API as VictoriaLogs accepts it (in progress).
