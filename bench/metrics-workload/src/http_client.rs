//! A minimal HTTP/1.1 client: `POST` over one keep-alive `TcpStream`, plain `http://` only.
//!
//! The replay needs nothing more than sending a body and reading the status, and a small blocking client keeps its
//! own CPU cost visible and low (no runtime, no connection pool). Responses are read according to RFC 9112 §6.3:
//! no body for 1xx/204/304, `Transfer-Encoding: chunked`, `Content-Length`, or until the server closes. A request
//! that fails on a reused connection before any response byte arrives (the server closed an idle connection) is
//! sent once more on a fresh connection, as browsers and Go's client do.

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, bail};

/// Largest response body kept (error messages); anything longer is cut.
const MAX_RESPONSE_BODY: usize = 1 << 20;

/// Where requests go: `http://host:port/path`.
#[derive(Clone, Debug)]
pub struct HttpEndpoint {
    address: SocketAddr,
    host_header: String,
    path: String,
}

impl HttpEndpoint {
    /// Parses an `http://host:port/path` URL and resolves the host.
    pub fn parse(url: &str) -> Result<Self> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("only http:// URLs are supported, got {url:?}");
        };
        let (authority, path) = match rest.find('/') {
            Some(slash) => (&rest[..slash], &rest[slash..]),
            None => (rest, "/"),
        };
        let with_port = if authority.rsplit_once(':').is_some_and(|(_, port)| port.parse::<u16>().is_ok()) {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        let address = with_port
            .to_socket_addrs()
            .with_context(|| format!("resolving {authority:?}"))?
            .next()
            .with_context(|| format!("{authority:?} resolves to no address"))?;
        Ok(Self { address, host_header: authority.to_owned(), path: path.to_owned() })
    }
}

/// A response: status code and (possibly truncated) body.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

/// One keep-alive connection to an endpoint, reconnecting when the server closes it.
pub struct HttpConnection {
    endpoint: HttpEndpoint,
    timeout: Duration,
    stream: Option<BufReader<TcpStream>>,
    request: Vec<u8>,
}

/// How a request attempt failed: before the response started (safe to retry on a fresh connection) or after.
enum AttemptError {
    BeforeResponse(anyhow::Error),
    DuringResponse(anyhow::Error),
}

impl HttpConnection {
    /// A connection that opens lazily; `timeout` bounds connecting and each read and write.
    pub fn new(endpoint: HttpEndpoint, timeout: Duration) -> Self {
        Self { endpoint, timeout, stream: None, request: Vec::new() }
    }

    /// Sends `POST <path>` with `body` and the given extra headers; returns the response whatever its status.
    pub fn post(&mut self, headers: &[(&str, &str)], body: &[u8]) -> Result<HttpResponse> {
        self.request.clear();
        write!(
            self.request,
            "POST {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: oxeye-bench-metrics-workload\r\nContent-Length: {}\r\n",
            self.endpoint.path,
            self.endpoint.host_header,
            body.len()
        )?;
        for (name, value) in headers {
            write!(self.request, "{name}: {value}\r\n")?;
        }
        self.request.extend_from_slice(b"\r\n");
        self.request.extend_from_slice(body);

        let reused = self.stream.is_some();
        match self.attempt() {
            Ok(response) => Ok(response),
            Err(AttemptError::BeforeResponse(_)) if reused => {
                self.stream = None;
                self.attempt().map_err(|error| match error {
                    AttemptError::BeforeResponse(error) | AttemptError::DuringResponse(error) => error,
                })
            }
            Err(AttemptError::BeforeResponse(error) | AttemptError::DuringResponse(error)) => {
                self.stream = None;
                Err(error)
            }
        }
    }

    fn attempt(&mut self) -> std::result::Result<HttpResponse, AttemptError> {
        if self.stream.is_none() {
            let stream = TcpStream::connect_timeout(&self.endpoint.address, self.timeout)
                .with_context(|| format!("connecting to {}", self.endpoint.address))
                .map_err(AttemptError::DuringResponse)?;
            let configure = || -> std::io::Result<()> {
                stream.set_nodelay(true)?;
                stream.set_read_timeout(Some(self.timeout))?;
                stream.set_write_timeout(Some(self.timeout))
            };
            configure().context("configuring the socket").map_err(AttemptError::DuringResponse)?;
            self.stream = Some(BufReader::with_capacity(64 << 10, stream));
        }
        let Some(reader) = self.stream.as_mut() else {
            unreachable!("BUG: connection opened above");
        };
        reader
            .get_mut()
            .write_all(&self.request)
            .context("sending the request")
            .map_err(AttemptError::BeforeResponse)?;
        let mut status_line = String::new();
        match reader.read_line(&mut status_line) {
            Ok(0) => {
                return Err(AttemptError::BeforeResponse(anyhow::anyhow!("server closed the connection")));
            }
            Ok(_) => {}
            Err(error) if is_connection_reset(&error) => {
                return Err(AttemptError::BeforeResponse(anyhow::Error::new(error).context("reading the status")));
            }
            Err(error) => {
                return Err(AttemptError::DuringResponse(anyhow::Error::new(error).context("reading the status")));
            }
        }
        let (response, keep_alive) = read_response(reader, status_line).map_err(AttemptError::DuringResponse)?;
        if !keep_alive {
            self.stream = None;
        }
        Ok(response)
    }
}

fn is_connection_reset(error: &std::io::Error) -> bool {
    matches!(error.kind(), ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted | ErrorKind::BrokenPipe)
}

/// Reads the rest of a response after its status line; returns it and whether the connection stays usable.
fn read_response(reader: &mut impl BufRead, mut status_line: String) -> Result<(HttpResponse, bool)> {
    loop {
        let trimmed = status_line.trim_end();
        let mut parts = trimmed.splitn(3, ' ');
        let version = parts.next().unwrap_or_default();
        let status: u16 = parts
            .next()
            .and_then(|code| code.parse().ok())
            .with_context(|| format!("malformed status line {trimmed:?}"))?;
        if !version.starts_with("HTTP/1.") {
            bail!("unsupported response version in {trimmed:?}");
        }
        let headers = read_headers(reader)?;
        let header = |name: &str| {
            headers
                .iter()
                .find(|(header_name, _)| header_name.eq_ignore_ascii_case(name))
                .map(|(_, value)| value.as_str())
        };
        if (100..200).contains(&status) {
            // An interim response (e.g. 100 Continue); the final one follows.
            status_line.clear();
            reader.read_line(&mut status_line).context("reading the status after an interim response")?;
            continue;
        }
        let connection_close = header("connection").is_some_and(|value| value.eq_ignore_ascii_case("close"));
        let mut keep_alive = version == "HTTP/1.1" && !connection_close;
        let body = if status == 204 || status == 304 {
            Vec::new()
        } else if header("transfer-encoding").is_some_and(|value| value.to_ascii_lowercase().contains("chunked")) {
            read_chunked_body(reader)?
        } else if let Some(length) = header("content-length") {
            let length: usize = length.trim().parse().with_context(|| format!("bad Content-Length {length:?}"))?;
            let mut body = vec![0u8; length];
            reader.read_exact(&mut body).context("reading the response body")?;
            body.truncate(MAX_RESPONSE_BODY);
            body
        } else {
            keep_alive = false;
            let mut body = Vec::new();
            reader.take(MAX_RESPONSE_BODY as u64).read_to_end(&mut body).context("reading the response body")?;
            body
        };
        return Ok((HttpResponse { status, body }, keep_alive));
    }
}

fn read_headers(reader: &mut impl BufRead) -> Result<Vec<(String, String)>> {
    let mut headers = Vec::new();
    for _ in 0..256 {
        let mut line = String::new();
        if reader.read_line(&mut line).context("reading response headers")? == 0 {
            bail!("connection closed inside the response headers");
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line.is_empty() {
            return Ok(headers);
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_owned(), value.trim().to_owned()));
        }
    }
    bail!("more than 256 response headers")
}

fn read_chunked_body(reader: &mut impl BufRead) -> Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).context("reading a chunk size")?;
        let size_text = size_line.trim_end().split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).with_context(|| format!("bad chunk size {size_text:?}"))?;
        if size == 0 {
            // Trailer fields, then the final empty line.
            read_headers(reader)?;
            body.truncate(MAX_RESPONSE_BODY);
            return Ok(body);
        }
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).context("reading a chunk")?;
        let mut line_end = [0u8; 2];
        reader.read_exact(&mut line_end).context("reading a chunk's line end")?;
        if body.len() > MAX_RESPONSE_BODY * 4 {
            bail!("chunked response body larger than {} bytes", MAX_RESPONSE_BODY * 4);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn parse(raw: &str) -> (HttpResponse, bool) {
        let mut reader = Cursor::new(raw.as_bytes().to_vec());
        let mut status_line = String::new();
        reader.read_line(&mut status_line).unwrap();
        read_response(&mut reader, status_line).unwrap()
    }

    #[test]
    fn reads_the_three_body_framings() {
        let f = |raw: &str, status: u16, body: &str, keep_alive: bool| {
            let (response, reusable) = parse(raw);
            assert_eq!((response.status, response.body.as_slice(), reusable), (status, body.as_bytes(), keep_alive));
        };
        f("HTTP/1.1 204 No Content\r\nDate: x\r\n\r\n", 204, "", true);
        f("HTTP/1.1 400 Bad Request\r\nContent-Length: 5\r\n\r\nerror", 400, "error", true);
        f(
            "HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n3;x=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            500,
            "abcde",
            true,
        );
        f("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest", 200, "rest", false);
        f("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, "", false);
        f("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n", 204, "", true);
    }

    #[test]
    fn parses_urls() {
        let endpoint = HttpEndpoint::parse("http://127.0.0.1:9090/api/v1/write").unwrap();
        assert_eq!(endpoint.address.port(), 9090);
        assert_eq!(endpoint.path, "/api/v1/write");
        assert!(HttpEndpoint::parse("https://127.0.0.1/").is_err());
    }
}
