//! Request parameters of the Prometheus read and query endpoints, parsed and refused in Prometheus's words.
//!
//! Parameters come from the query string and, for a form-encoded POST, from the body, as Go's `r.FormValue` reads
//! them: body values first, so they win over the URL's.

use axum::http::HeaderMap;
use oxeye_storage_api::Matcher;

use crate::ApiError;
use crate::selector::parse_selector;
use crate::time::{parse_duration_ns, parse_time};

/// Query and form parameters, in order, names repeated for `match[]`.
pub struct Params(Vec<(String, String)>);

impl Params {
    pub fn parse(query: Option<String>, headers: &HeaderMap, body: &[u8]) -> Result<Self, ApiError> {
        let mut pairs = Vec::new();
        if crate::body::content_type(headers) == "application/x-www-form-urlencoded" {
            pairs.extend(form_pairs(body)?);
        }
        if let Some(query) = query {
            pairs.extend(form_pairs(query.as_bytes())?);
        }
        Ok(Self(pairs))
    }

    /// The first value of `name` (Go's `FormValue`), `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, the empty string when absent (an absent and an empty parameter are the same to
    /// Prometheus).
    pub fn value(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    pub fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.0.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// An optional time parameter (Prometheus's `parseTimeParam`): `default` when absent or empty.
    pub fn time_or(&self, name: &str, default: i64) -> Result<i64, ApiError> {
        match self.value(name) {
            "" => Ok(default),
            text => parse_time(text).map_err(|e| invalid_param(name, &format!("invalid time value for '{name}': {e}"))),
        }
    }

    /// A required time parameter (Prometheus's `parseTime`, used for `query_range`'s `start` and `end`).
    pub fn time_required(&self, name: &str) -> Result<i64, ApiError> {
        parse_time(self.value(name)).map_err(|e| invalid_param(name, &e))
    }

    /// A duration parameter in nanoseconds (Prometheus's `parseDuration`): `None` when absent or empty.
    pub fn duration_ns(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.value(name) {
            "" => Ok(None),
            text => parse_duration_ns(text).map(Some).map_err(|e| invalid_param(name, &e)),
        }
    }

    /// `limit`: a non-negative integer, 0 (or absent) meaning none (Prometheus's `parseLimitParam`).
    pub fn limit(&self) -> Result<usize, ApiError> {
        let text = self.value("limit");
        if text.is_empty() {
            return Ok(0);
        }
        let limit = parse_go_int(text).map_err(|e| invalid_param("limit", &e))?;
        usize::try_from(limit).map_err(|_| invalid_param("limit", "limit must be non-negative"))
    }

    pub fn selectors(&self) -> Result<Vec<Vec<Matcher>>, ApiError> {
        self.all("match[]").map(|text| parse_selector(text).map_err(ApiError::BadData)).collect()
    }
}

/// Prometheus's `invalidParamError`: `invalid parameter "<name>": <reason>`, a `bad_data` error.
pub fn invalid_param(name: &str, reason: &str) -> ApiError {
    ApiError::BadData(format!("invalid parameter {name:?}: {reason}"))
}

/// Go's `strconv.Atoi`, with its error messages.
fn parse_go_int(text: &str) -> Result<i64, String> {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("strconv.Atoi: parsing {text:?}: invalid syntax"));
    }
    text.parse::<i64>().map_err(|_| format!("strconv.Atoi: parsing {text:?}: value out of range"))
}

fn form_pairs(input: &[u8]) -> Result<Vec<(String, String)>, ApiError> {
    let decode = |part: &[u8]| -> Result<String, ApiError> {
        let mut out = Vec::with_capacity(part.len());
        let mut index = 0;
        while index < part.len() {
            match part[index] {
                b'+' => out.push(b' '),
                b'%' if index + 2 < part.len() => {
                    let hex = std::str::from_utf8(&part[index + 1..index + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok());
                    out.push(hex.ok_or_else(|| ApiError::BadData("invalid percent-encoding in parameters".into()))?);
                    index += 2;
                }
                b'%' => return Err(ApiError::BadData("invalid percent-encoding in parameters".into())),
                byte => out.push(byte),
            }
            index += 1;
        }
        String::from_utf8(out).map_err(|_| ApiError::BadData("parameters are not valid UTF-8".into()))
    };
    input
        .split(|b| *b == b'&')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut split = part.splitn(2, |b| *b == b'=');
            let key = decode(split.next().unwrap_or_default())?;
            let value = decode(split.next().unwrap_or_default())?;
            Ok((key, value))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_parameters_decode() {
        let pairs = form_pairs(b"match%5B%5D=up%7Bjob%3D%22a%22%7D&start=1&x=a+b").unwrap();
        assert_eq!(pairs[0], ("match[]".to_string(), "up{job=\"a\"}".to_string()));
        assert_eq!(pairs[2].1, "a b");
        assert!(form_pairs(b"a=%zz").is_err());
        assert!(form_pairs(b"a=%2").is_err());
    }

    #[test]
    fn body_values_win_over_the_url() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/x-www-form-urlencoded".parse().unwrap());
        let params = Params::parse(Some("query=url&time=1".into()), &headers, b"query=body").unwrap();
        assert_eq!(params.value("query"), "body");
        assert_eq!(params.value("time"), "1");
        assert_eq!(params.value("absent"), "");
    }

    #[test]
    fn limits_are_refused_in_go_words() {
        let f = |text: &str| {
            let params = Params(vec![("limit".into(), text.into())]);
            params.limit().map_err(|e| e.to_string())
        };
        assert_eq!(f("5"), Ok(5));
        assert_eq!(f("0"), Ok(0));
        assert_eq!(f("abc"), Err("invalid parameter \"limit\": strconv.Atoi: parsing \"abc\": invalid syntax".into()));
        assert_eq!(f("-1"), Err("invalid parameter \"limit\": limit must be non-negative".into()));
        assert_eq!(
            f("99999999999999999999"),
            Err("invalid parameter \"limit\": strconv.Atoi: parsing \"99999999999999999999\": value out of range"
                .into())
        );
    }
}
