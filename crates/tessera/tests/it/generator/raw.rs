//! A raw HTTP/1.1 client over one TCP connection per request, so the generator controls every
//! byte the server sees: targets that are not valid URLs (invalid UTF-8, raw control bytes,
//! `..` segments an URL library would normalise away), header values with non-ASCII bytes, and
//! `Content-Length` values that do not match the body. Every request says
//! `Connection: close`, so the answer ends where the connection does.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How the body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// `Content-Length` equal to the body (none for an empty body without a content type).
    Exact,
    /// `Transfer-Encoding: chunked`, correctly chunked.
    Chunked,
    /// `Content-Length` smaller than the body: the body is cut, the rest trails the request.
    ShortLength,
    /// `Content-Length` larger than the body, then the client stops sending (half-close).
    LongLengthThenEof,
    /// A `Content-Length` that is not a number (or is out of range).
    InvalidLength(&'static str),
    /// Two different `Content-Length` headers.
    ConflictingLengths,
    /// Both `Content-Length` and `Transfer-Encoding: chunked` (RFC 9112 §6.3: a smuggling
    /// shape the server must refuse or resolve).
    LengthAndChunked,
}

impl Framing {
    /// Whether the request is valid HTTP/1.1 framing (the router must answer it).
    pub fn is_well_formed(self) -> bool {
        matches!(self, Self::Exact | Self::Chunked | Self::ShortLength)
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Exact => "framing:exact",
            Self::Chunked => "framing:chunked",
            Self::ShortLength => "framing:short-length",
            Self::LongLengthThenEof => "framing:long-length-eof",
            Self::InvalidLength(_) => "framing:invalid-length",
            Self::ConflictingLengths => "framing:conflicting-lengths",
            Self::LengthAndChunked => "framing:length-and-chunked",
        }
    }
}

/// One request as bytes.
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: Vec<u8>,
    pub target: Vec<u8>,
    pub headers: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
    pub framing: Framing,
}

/// What came back.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    /// Header names in lowercase.
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&[u8]> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_slice())
    }
}

/// How a request ended.
#[derive(Debug)]
pub enum Outcome {
    Answered(RawResponse),
    /// The server closed the connection without an answer.
    Closed,
    /// No complete answer within the deadline.
    TimedOut,
    /// Connecting failed, or the bytes that came back are not an HTTP answer.
    Broken(String),
}

impl RawRequest {
    /// The bytes on the wire.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len() + 256);
        out.extend_from_slice(&self.method);
        out.push(b' ');
        out.extend_from_slice(&self.target);
        out.extend_from_slice(b" HTTP/1.1\r\nhost: tessera.test\r\nconnection: close\r\n");
        for (name, value) in &self.headers {
            out.extend_from_slice(name);
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let len = self.body.len();
        let mut body = self.body.clone();
        match self.framing {
            Framing::Exact => {
                if len > 0 || self.method != b"GET" {
                    out.extend_from_slice(format!("content-length: {len}\r\n").as_bytes());
                }
            }
            Framing::Chunked => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n");
                body = chunked(&self.body);
            }
            Framing::ShortLength => {
                out.extend_from_slice(format!("content-length: {}\r\n", len / 2).as_bytes());
            }
            Framing::LongLengthThenEof => {
                out.extend_from_slice(format!("content-length: {}\r\n", len + 10).as_bytes());
            }
            Framing::InvalidLength(v) => {
                out.extend_from_slice(format!("content-length: {v}\r\n").as_bytes());
            }
            Framing::ConflictingLengths => {
                out.extend_from_slice(
                    format!("content-length: {len}\r\ncontent-length: {}\r\n", len + 1).as_bytes(),
                );
            }
            Framing::LengthAndChunked => {
                out.extend_from_slice(
                    format!("content-length: {len}\r\ntransfer-encoding: chunked\r\n").as_bytes(),
                );
                body = chunked(&self.body);
            }
        }
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(&body);
        out
    }

    /// The request for a failure report: the bytes with non-printable ones escaped, long runs
    /// shortened.
    pub fn describe(&self) -> String {
        let bytes = self.encode();
        let mut s = String::new();
        for &b in &bytes[..bytes.len().min(1500)] {
            match b {
                b'\r' => s.push_str("\\r"),
                b'\n' => s.push_str("\\n\n"),
                0x20..=0x7e => s.push(b as char),
                _ => s.push_str(&format!("\\x{b:02x}")),
            }
        }
        if bytes.len() > 1500 {
            s.push_str(&format!("… ({} bytes in all)", bytes.len()));
        }
        s
    }
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + 64);
    for part in body.chunks(4096) {
        out.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        out.extend_from_slice(part);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

/// Sends `req` to `addr` on a new connection and reads until the server closes it, within
/// `deadline`.
pub async fn send(addr: &str, req: &RawRequest, deadline: Duration) -> Outcome {
    match tokio::time::timeout(deadline, exchange(addr, req)).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::TimedOut,
    }
}

async fn exchange(addr: &str, req: &RawRequest) -> Outcome {
    let mut stream = match TcpStream::connect(addr).await {
        Ok(s) => s,
        Err(e) => return Outcome::Broken(format!("connect: {e}")),
    };
    // A server may answer (and close) before reading the whole body: a failed write is not a
    // failure of the exchange, what comes back decides.
    let _ = stream.write_all(&req.encode()).await;
    if req.framing == Framing::LongLengthThenEof {
        let _ = stream.shutdown().await;
    }
    let mut received = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            // A reset after the answer arrived (the server closed with unread request bytes).
            Err(_) if !received.is_empty() => break,
            Err(_) => return Outcome::Closed,
        }
    }
    if received.is_empty() {
        return Outcome::Closed;
    }
    match parse(&received, req.method == b"HEAD") {
        Ok(r) => Outcome::Answered(r),
        Err(e) => Outcome::Broken(e),
    }
}

/// Parses the final HTTP/1.1 answer (length-delimited, chunked, or delimited by the close;
/// without a body for `HEAD`), after any interim 1xx answers.
fn parse(mut bytes: &[u8], head_request: bool) -> Result<RawResponse, String> {
    let head_end = loop {
        let end = bytes
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .ok_or("no end of the response head")?;
        if bytes.starts_with(b"HTTP/1.1 1") {
            bytes = &bytes[end + 4..];
            continue;
        }
        break end;
    };
    let head = std::str::from_utf8(&bytes[..head_end]).map_err(|_| "head is not UTF-8")?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().ok_or("no status line")?;
    let status: u16 = status_line
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("bad status line {status_line:?}"))?;
    let mut headers = Vec::new();
    for line in lines {
        let (name, value) = line
            .split_once(':')
            .ok_or_else(|| format!("bad header line {line:?}"))?;
        headers.push((
            name.trim().to_ascii_lowercase(),
            value.trim().as_bytes().to_vec(),
        ));
    }
    let rest = &bytes[head_end + 4..];
    let response = RawResponse {
        status,
        headers,
        body: Vec::new(),
    };
    let body = if head_request {
        Vec::new()
    } else if response
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case(b"chunked"))
    {
        dechunk(rest)?
    } else if let Some(len) = response.header("content-length") {
        let len: usize = std::str::from_utf8(len)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or("bad content-length in the answer")?;
        if rest.len() < len {
            return Err(format!("answer body cut: {} of {len} bytes", rest.len()));
        }
        rest[..len].to_vec()
    } else {
        rest.to_vec()
    };
    Ok(RawResponse { body, ..response })
}

fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("chunk size line cut")?;
        let size_text = std::str::from_utf8(&rest[..line_end]).map_err(|_| "bad chunk size")?;
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(out);
        }
        if rest.len() < size + 2 {
            return Err("chunk cut".into());
        }
        out.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}
