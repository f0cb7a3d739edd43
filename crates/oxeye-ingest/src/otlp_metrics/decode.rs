//! Decoding an `ExportMetricsServiceRequest` from OTLP/protobuf and OTLP/JSON.
//!
//! OTLP/JSON is proto3's JSON mapping with two OTLP twists (hex trace and span ids, integer enums). The
//! `opentelemetry-proto` serde derives handle the hex ids and lowerCamelCase names, but proto3 JSON parsers must
//! also accept the original snake_case field names, 64-bit integers as strings or numbers, 32-bit integers and
//! doubles as strings, and enum values by name. The derives silently ignore snake_case keys (which would lose
//! data without an error), so the body is first parsed into a `serde_json::Value` and normalised: every object key
//! becomes lowerCamelCase, enum names become numbers, numeric strings in 32-bit and double fields become numbers.
//! Every object key in OTLP/JSON is a field name (attribute keys are values of a `key` field), so renaming all keys
//! is safe.

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::metrics::v1::AggregationTemporality;
use opentelemetry_proto::tonic::metrics::v1::metric::Data;
use prost::Message;
use serde_json::Value;

use crate::DecodeError;

/// Decodes an OTLP/protobuf body.
pub fn decode_metrics_protobuf(body: &[u8]) -> Result<ExportMetricsServiceRequest, DecodeError> {
    ExportMetricsServiceRequest::decode(body).map_err(|error| DecodeError::Protobuf { message: error.to_string() })
}

/// Decodes an OTLP/JSON body, accepting both lowerCamelCase and snake_case field names.
pub fn decode_metrics_json(body: &[u8]) -> Result<ExportMetricsServiceRequest, DecodeError> {
    let json_error = |error: serde_json::Error| DecodeError::Json { message: error.to_string() };
    let mut value: Value = serde_json::from_slice(body).map_err(json_error)?;
    normalize_json(&mut value).map_err(|message| DecodeError::Json { message })?;
    // The derives flatten the `data` oneof into an `Option`, and serde turns any error inside a flattened
    // `Option` into `None`: a malformed gauge would silently become a metric without data. So the oneof is taken
    // out of the tree, the rest decoded, and each oneof decoded on its own, with its errors.
    let metric_data = take_metric_data(&mut value).map_err(|message| DecodeError::Json { message })?;
    let mut request: ExportMetricsServiceRequest = serde_json::from_value(value).map_err(json_error)?;
    for taken in metric_data {
        let context = |error: serde_json::Error| DecodeError::Json {
            message: format!(
                "resourceMetrics[{}].scopeMetrics[{}].metrics[{}].{}: {error}",
                taken.resource, taken.scope, taken.metric, taken.field
            ),
        };
        let data = match taken.field {
            "gauge" => Data::Gauge(serde_json::from_value(taken.value).map_err(context)?),
            "sum" => Data::Sum(serde_json::from_value(taken.value).map_err(context)?),
            "histogram" => Data::Histogram(serde_json::from_value(taken.value).map_err(context)?),
            "exponentialHistogram" => Data::ExponentialHistogram(serde_json::from_value(taken.value).map_err(context)?),
            "summary" => Data::Summary(serde_json::from_value(taken.value).map_err(context)?),
            other => unreachable!("BUG: unexpected metric data field {other}"),
        };
        let metric = request
            .resource_metrics
            .get_mut(taken.resource)
            .and_then(|resource| resource.scope_metrics.get_mut(taken.scope))
            .and_then(|scope| scope.metrics.get_mut(taken.metric));
        match metric {
            Some(metric) => metric.data = Some(data),
            None => unreachable!("BUG: metric data taken from a metric that did not decode"),
        }
    }
    Ok(request)
}

/// The fields of the `Metric.data` oneof, in lowerCamelCase.
const METRIC_DATA_FIELDS: &[&str] = &["gauge", "sum", "histogram", "exponentialHistogram", "summary"];

/// A `Metric.data` value taken out of the JSON tree, with its position.
struct TakenMetricData {
    resource: usize,
    scope: usize,
    metric: usize,
    field: &'static str,
    value: Value,
}

/// Removes the `Metric.data` oneof from every metric of a normalised request; more than one of its fields in one
/// metric is an error, as in proto3 JSON.
fn take_metric_data(request: &mut Value) -> Result<Vec<TakenMetricData>, String> {
    let mut taken = Vec::new();
    // Arrays are taken out and put back so that positions stay those of the decoded request; anything that is not
    // an array is left for the derives to complain about.
    let take_array = |value: &mut Value, key: &str| -> Option<Vec<Value>> {
        match value.get_mut(key) {
            Some(Value::Array(items)) => Some(std::mem::take(items)),
            _ => None,
        }
    };
    let put_back = |value: &mut Value, key: &str, items: Vec<Value>| {
        if let Some(slot) = value.get_mut(key) {
            *slot = Value::Array(items);
        }
    };
    let Some(mut resources) = take_array(request, "resourceMetrics") else {
        return Ok(taken);
    };
    for (resource_index, resource) in resources.iter_mut().enumerate() {
        let Some(mut scopes) = take_array(resource, "scopeMetrics") else {
            continue;
        };
        for (scope_index, scope) in scopes.iter_mut().enumerate() {
            let Some(mut metrics) = take_array(scope, "metrics") else {
                continue;
            };
            for (metric_index, metric) in metrics.iter_mut().enumerate() {
                let Value::Object(fields) = metric else {
                    continue;
                };
                let mut found: Option<&'static str> = None;
                for field in METRIC_DATA_FIELDS {
                    let Some(value) = fields.remove(*field) else {
                        continue;
                    };
                    if value.is_null() {
                        continue;
                    }
                    if let Some(first) = found {
                        return Err(format!(
                            "resourceMetrics[{resource_index}].scopeMetrics[{scope_index}].metrics[{metric_index}] \
                             sets both {first} and {field}"
                        ));
                    }
                    found = Some(field);
                    taken.push(TakenMetricData {
                        resource: resource_index,
                        scope: scope_index,
                        metric: metric_index,
                        field,
                        value,
                    });
                }
            }
            put_back(scope, "metrics", metrics);
        }
        put_back(resource, "scopeMetrics", scopes);
    }
    put_back(request, "resourceMetrics", resources);
    Ok(taken)
}

/// Fields of 32-bit integer type in the metrics schema, which proto3 JSON allows as strings.
const INT32_FIELDS: &[&str] = &["flags", "scale", "offset", "droppedAttributesCount", "aggregationTemporality"];

/// Fields of double type in the metrics schema (besides the `value`/`quantile` pair, which the derives already
/// accept as strings), which proto3 JSON allows as strings.
const DOUBLE_FIELDS: &[&str] = &["asDouble", "doubleValue", "sum", "min", "max", "zeroThreshold", "explicitBounds"];

/// Rewrites `value` in place into the spelling the serde derives understand (see the module documentation).
///
/// The number oneofs (`asDouble`/`asInt` of data points and exemplars) are flattened `Option`s in the derives too,
/// so a malformed value would silently become "no value"; they are checked here instead.
fn normalize_json(value: &mut Value) -> Result<(), String> {
    match value {
        Value::Object(object) => {
            let entries = std::mem::take(object);
            for (key, mut field) in entries {
                let key = lower_camel_case(&key);
                normalize_json(&mut field)?;
                if key == "aggregationTemporality"
                    && let Value::String(name) = &field
                    && let Some(temporality) = AggregationTemporality::from_str_name(name)
                {
                    field = Value::from(temporality as i32);
                }
                if INT32_FIELDS.contains(&key.as_str()) {
                    numeric_string_to_number(&mut field, |text| text.parse::<i64>().ok().map(Value::from));
                }
                if DOUBLE_FIELDS.contains(&key.as_str()) {
                    let parse_double =
                        |text: &str| text.parse::<f64>().ok().and_then(serde_json::Number::from_f64).map(Value::Number);
                    match &mut field {
                        Value::Array(items) => {
                            items.iter_mut().for_each(|item| numeric_string_to_number(item, parse_double))
                        }
                        other => numeric_string_to_number(other, parse_double),
                    }
                }
                if key == "asDouble" && !(field.is_number() || field.is_null()) {
                    return Err(format!("asDouble: expected a number, got {field}"));
                }
                if key == "asInt" {
                    numeric_string_to_number(&mut field, |text| text.parse::<i64>().ok().map(Value::from));
                    if !(field.is_i64() || field.is_null()) {
                        return Err(format!("asInt: expected a 64-bit integer, got {field}"));
                    }
                }
                object.insert(key, field);
            }
        }
        Value::Array(items) => {
            for item in items {
                normalize_json(item)?;
            }
        }
        _ => {}
    }
    Ok(())
}

fn numeric_string_to_number(field: &mut Value, parse: impl Fn(&str) -> Option<Value>) {
    if let Value::String(text) = field
        && let Some(number) = parse(text)
    {
        *field = number;
    }
}

/// `time_unix_nano` → `timeUnixNano`; names already in lowerCamelCase are returned unchanged.
pub(crate) fn lower_camel_case(key: &str) -> String {
    if !key.contains('_') {
        return key.to_string();
    }
    let mut converted = String::with_capacity(key.len());
    let mut capitalize_next = false;
    for c in key.chars() {
        if c == '_' {
            capitalize_next = true;
        } else if capitalize_next {
            converted.extend(c.to_uppercase());
            capitalize_next = false;
        } else {
            converted.push(c);
        }
    }
    converted
}

#[cfg(test)]
mod tests {
    use opentelemetry_proto::tonic::metrics::v1::number_data_point::Value as NumberValue;

    use super::*;

    #[test]
    fn camel_case_conversion() {
        let f = |key: &str, want: &str| assert_eq!(lower_camel_case(key), want);
        f("time_unix_nano", "timeUnixNano");
        f("timeUnixNano", "timeUnixNano");
        f("resource_metrics", "resourceMetrics");
        f("as_double", "asDouble");
        f("exponential_histogram", "exponentialHistogram");
        f("key", "key");
    }

    fn sum_request(body: &str) -> ExportMetricsServiceRequest {
        decode_metrics_json(body.as_bytes()).unwrap()
    }

    #[test]
    fn snake_case_and_camel_case_decode_alike() {
        let camel = r#"{"resourceMetrics":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"svc"}}]},
            "scopeMetrics":[{"scope":{"name":"lib"},"metrics":[{"name":"c","sum":{"aggregationTemporality":2,"isMonotonic":true,
            "dataPoints":[{"asInt":"7","startTimeUnixNano":"1","timeUnixNano":"2000000","flags":1,
            "exemplars":[{"asDouble":1.5,"timeUnixNano":3,"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174"}]}]}}]}]}]}"#;
        let snake = r#"{"resource_metrics":[{"resource":{"attributes":[{"key":"service.name","value":{"string_value":"svc"}}]},
            "scope_metrics":[{"scope":{"name":"lib"},"metrics":[{"name":"c","sum":{"aggregation_temporality":"AGGREGATION_TEMPORALITY_CUMULATIVE","is_monotonic":true,
            "data_points":[{"as_int":7,"start_time_unix_nano":1,"time_unix_nano":2000000,"flags":"1",
            "exemplars":[{"as_double":"1.5","time_unix_nano":"3","trace_id":"5b8efff798038103d269b633813fc60c","span_id":"eee19b7ec3c1b174"}]}]}}]}]}]}"#;
        let from_camel = sum_request(camel);
        let from_snake = sum_request(snake);
        assert_eq!(from_camel, from_snake);

        let metric = &from_camel.resource_metrics[0].scope_metrics[0].metrics[0];
        let Some(Data::Sum(sum)) = &metric.data else { panic!("not a sum: {metric:?}") };
        assert_eq!(sum.aggregation_temporality, AggregationTemporality::Cumulative as i32);
        assert!(sum.is_monotonic);
        let point = &sum.data_points[0];
        assert_eq!(point.value, Some(NumberValue::AsInt(7)));
        assert_eq!(point.start_time_unix_nano, 1);
        assert_eq!(point.time_unix_nano, 2_000_000);
        assert_eq!(point.flags, 1);
        assert_eq!(point.exemplars[0].trace_id.len(), 16);
        assert_eq!(point.exemplars[0].span_id, vec![0xee, 0xe1, 0x9b, 0x7e, 0xc3, 0xc1, 0xb1, 0x74]);
        assert_eq!(point.exemplars[0].time_unix_nano, 3);
    }

    #[test]
    fn bad_json_is_an_error() {
        let f = |body: &str| {
            let error = decode_metrics_json(body.as_bytes()).unwrap_err();
            assert!(matches!(error, DecodeError::Json { .. }), "{body}: {error:?}");
            assert!(error.to_string().starts_with("json: "), "{error}");
        };
        f("");
        f("{");
        f(r#"{"resourceMetrics": 3}"#);
        f(r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"timeUnixNano":"x"}]}}]}]}]}"#);
        f(
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"sum":{"dataPoints":[{"exemplars":[{"traceId":"zz"}]}]}}]}]}]}"#,
        );
        f(r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"asDouble":"x"}]}}]}]}]}"#);
        f(r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"asInt":1.5}]}}]}]}]}"#);
        f(r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{},"sum":{}}]}]}]}"#);
        let error = decode_metrics_json(
            br#"{"resourceMetrics":[{},{"scopeMetrics":[{"metrics":[{},{"histogram":{"dataPoints":[{"count":"-1"}]}}]}]}]}"#,
        )
        .unwrap_err();
        assert!(
            error.to_string().starts_with("json: resourceMetrics[1].scopeMetrics[0].metrics[1].histogram: "),
            "{error}"
        );
    }

    #[test]
    fn protobuf_round_trip_and_error() {
        let request = sum_request(
            r#"{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"name":"g","gauge":{"dataPoints":[{"asDouble":1}]}}]}]}]}"#,
        );
        let decoded = decode_metrics_protobuf(&request.encode_to_vec()).unwrap();
        assert_eq!(decoded, request);
        let error = decode_metrics_protobuf(&[0x0a, 0x05, 0x01]).unwrap_err();
        assert!(error.to_string().starts_with("protobuf: "), "{error}");
    }
}
