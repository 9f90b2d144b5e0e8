//! JSON-RPC 1.0 as OVSDB uses it (RFC 7047 §4): requests and replies are bare JSON objects
//! written back to back with no framing, so replies are stream-parsed; the server's `echo`
//! requests must be answered or it drops the connection.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// Where ovsdb-server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Endpoint {
    /// `unix:/path/to/db.sock`.
    Unix(PathBuf),
}

impl Endpoint {
    /// Parses `unix:<path>` (a bare absolute path is accepted too).
    pub fn parse(s: &str) -> Result<Self, RpcError> {
        if let Some(p) = s.strip_prefix("unix:") {
            return Ok(Self::Unix(PathBuf::from(p)));
        }
        if s.starts_with('/') {
            return Ok(Self::Unix(PathBuf::from(s)));
        }
        Err(RpcError::BadEndpoint(s.to_owned()))
    }
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unix(p) => write!(f, "unix:{}", p.display()),
        }
    }
}

/// Transport failures.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// Not an endpoint this client speaks.
    #[error("OVSDB endpoint {0:?} is not unix:<path>")]
    BadEndpoint(String),
    /// Cannot connect.
    #[error("cannot connect to OVSDB at {endpoint}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The connection failed mid-call (the cause is in the message: callers that flatten the
    /// chain into CNI's `details` would otherwise say only "OVSDB connection").
    #[error("OVSDB connection failed: {0}")]
    Io(std::io::Error),
    /// The server closed the connection.
    #[error("OVSDB closed the connection")]
    Closed,
    /// No reply in time.
    #[error("no reply from OVSDB to {method} within {timeout:?}")]
    Timeout {
        /// The method.
        method: String,
        /// The limit.
        timeout: Duration,
    },
    /// Bytes that are not JSON-RPC.
    #[error("OVSDB sent malformed JSON-RPC: {0}")]
    Protocol(String),
    /// The server answered with an error.
    #[error("OVSDB {method} failed: {error}")]
    Server {
        /// The method.
        method: String,
        /// The error object.
        error: Value,
    },
}

impl RpcError {
    /// Worth retrying later: the server is down, restarting or slow.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Io(_) | Self::Closed | Self::Timeout { .. }
        )
    }
}

/// A connection.
#[derive(Debug)]
pub struct Connection {
    stream: UnixStream,
    decoder: StreamDecoder,
    next_id: u64,
    timeout: Duration,
}

impl Connection {
    /// Connects.
    pub fn connect(endpoint: &Endpoint, timeout: Duration) -> Result<Self, RpcError> {
        let Endpoint::Unix(path) = endpoint;
        let stream = UnixStream::connect(path).map_err(|source| RpcError::Connect {
            endpoint: endpoint.to_string(),
            source,
        })?;
        Ok(Self::from_stream(stream, timeout))
    }

    /// Wraps a connected stream (tests use a socket pair).
    pub fn from_stream(stream: UnixStream, timeout: Duration) -> Self {
        Self {
            stream,
            decoder: StreamDecoder::default(),
            next_id: 1,
            timeout,
        }
    }

    /// Sends a request and waits for its reply, answering `echo` meanwhile.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, RpcError> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"method": method, "params": params, "id": id}))?;
        let deadline = Instant::now() + self.timeout;
        loop {
            while let Some(msg) = self.decoder.next_message()? {
                if msg.get("method").and_then(Value::as_str) == Some("echo") {
                    let reply = json!({"result": msg["params"].clone(), "error": null, "id": msg["id"].clone()});
                    self.send(&reply)?;
                    continue;
                }
                if msg.get("id").and_then(Value::as_u64) == Some(id) {
                    let error = msg.get("error").cloned().unwrap_or(Value::Null);
                    if !error.is_null() {
                        return Err(RpcError::Server {
                            method: method.to_owned(),
                            error,
                        });
                    }
                    return Ok(msg.get("result").cloned().unwrap_or(Value::Null));
                }
                // Notifications (`update`, `locked`) and stale replies are not ours.
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(RpcError::Timeout {
                    method: method.to_owned(),
                    timeout: self.timeout,
                });
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(RpcError::Io)?;
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(RpcError::Closed),
                Ok(n) => self.decoder.push(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(RpcError::Timeout {
                        method: method.to_owned(),
                        timeout: self.timeout,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RpcError::Io(e)),
            }
        }
    }

    /// Waits up to `wait` for the server's next notification (a `monitor`'s `update`),
    /// answering `echo` meanwhile; `None` when none came in time. Replies to calls are not
    /// notifications and are dropped.
    pub fn next_notification(
        &mut self,
        wait: Duration,
    ) -> Result<Option<(String, Value)>, RpcError> {
        let deadline = Instant::now() + wait;
        loop {
            while let Some(msg) = self.decoder.next_message()? {
                let method = msg.get("method").and_then(Value::as_str).map(str::to_owned);
                match method.as_deref() {
                    Some("echo") => {
                        let reply = json!({"result": msg["params"].clone(), "error": null, "id": msg["id"].clone()});
                        self.send(&reply)?;
                    }
                    Some(m) if msg.get("id").is_none_or(Value::is_null) => {
                        let params = msg.get("params").cloned().unwrap_or(Value::Null);
                        return Ok(Some((m.to_owned(), params)));
                    }
                    _ => {}
                }
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream
                .set_read_timeout(Some(left))
                .map_err(RpcError::Io)?;
            let mut chunk = [0u8; 16 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(RpcError::Closed),
                Ok(n) => self.decoder.push(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock
                            | std::io::ErrorKind::TimedOut
                            | std::io::ErrorKind::Interrupted
                    ) => {}
                Err(e) => return Err(RpcError::Io(e)),
            }
        }
    }

    fn send(&mut self, v: &Value) -> Result<(), RpcError> {
        self.stream
            .set_write_timeout(Some(self.timeout))
            .map_err(RpcError::Io)?;
        let bytes = serde_json::to_vec(v).map_err(|e| RpcError::Protocol(e.to_string()))?;
        self.stream.write_all(&bytes).map_err(RpcError::Io)
    }
}

/// Splits the unframed byte stream into JSON-RPC messages. Kept apart from the socket so the
/// parser can be fed arbitrary bytes (tests, fuzzing).
///
/// Each byte is scanned once (bracket depth, outside strings) to find where a top-level value
/// ends; only complete values are handed to serde. Re-parsing the buffer on every read instead
/// would cost quadratic time for a large reply arriving in small pieces.
#[derive(Debug, Default)]
pub struct StreamDecoder {
    buf: Vec<u8>,
    scanned: usize,
    depth: usize,
    in_string: bool,
    escaped: bool,
    ends: std::collections::VecDeque<usize>,
    broken: Option<String>,
}

/// More than this buffered without a complete message is not OVSDB talking.
const MAX_PENDING: usize = 64 << 20;

impl StreamDecoder {
    /// Appends bytes read from the server.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
        while self.scanned < self.buf.len() && self.broken.is_none() {
            let b = self.buf[self.scanned];
            self.scanned += 1;
            if self.in_string {
                match b {
                    _ if self.escaped => self.escaped = false,
                    b'\\' => self.escaped = true,
                    b'"' => self.in_string = false,
                    _ => {}
                }
                continue;
            }
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => {}
                b'{' | b'[' => self.depth += 1,
                other if self.depth == 0 => {
                    self.broken = Some(format!("{:?} outside any object", other as char));
                }
                b'"' => self.in_string = true,
                b'}' | b']' => {
                    self.depth -= 1;
                    if self.depth == 0 {
                        self.ends.push_back(self.scanned);
                    }
                }
                _ => {}
            }
        }
    }

    /// The next complete message, if any; a partial trailing message stays buffered.
    pub fn next_message(&mut self) -> Result<Option<Value>, RpcError> {
        let Some(end) = self.ends.pop_front() else {
            if let Some(why) = &self.broken {
                return Err(RpcError::Protocol(why.clone()));
            }
            if self.buf.len() > MAX_PENDING {
                return Err(RpcError::Protocol(format!(
                    "{} bytes without a complete message",
                    self.buf.len()
                )));
            }
            return Ok(None);
        };
        let parsed = serde_json::from_slice::<Value>(&self.buf[..end]);
        self.buf.drain(..end);
        self.scanned -= end;
        for e in &mut self.ends {
            *e -= end;
        }
        let v = parsed.map_err(|e| RpcError::Protocol(e.to_string()))?;
        if !v.is_object() {
            return Err(RpcError::Protocol(format!("expected an object, got {v}")));
        }
        Ok(Some(v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::thread;

    fn pair() -> (Connection, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        (Connection::from_stream(a, Duration::from_secs(2)), b)
    }

    fn read_request(s: &mut UnixStream) -> Value {
        let mut buf = Vec::new();
        let mut byte = [0u8; 1];
        loop {
            s.read_exact(&mut byte).unwrap();
            buf.push(byte[0]);
            if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                return v;
            }
        }
    }

    #[test]
    fn notifications_are_returned_and_echo_answered_meanwhile() {
        let (mut c, mut server) = pair();
        let t = thread::spawn(move || {
            server
                .write_all(br#"{"method":"echo","params":["x"],"id":"e1"}{"method":"update","params":["m",{"Interface":{}}],"id":null}"#)
                .unwrap();
            read_request(&mut server)
        });
        let (method, params) = c
            .next_notification(Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert_eq!(method, "update");
        assert_eq!(params[0], "m");
        assert_eq!(
            t.join().unwrap(),
            json!({"result": ["x"], "error": null, "id": "e1"})
        );
    }

    #[test]
    fn no_notification_in_time_is_none_and_a_closed_server_an_error() {
        let (mut c, server) = pair();
        assert!(
            c.next_notification(Duration::from_millis(20))
                .unwrap()
                .is_none()
        );
        drop(server);
        assert!(matches!(
            c.next_notification(Duration::from_secs(5)),
            Err(RpcError::Closed)
        ));
    }

    #[test]
    fn a_connection_dropped_mid_call_says_why_in_its_message() {
        let e = RpcError::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(e.to_string().contains("reset"), "{e}");
        assert!(
            std::error::Error::source(&e).is_none(),
            "the cause is printed once"
        );
    }

    #[test]
    fn a_reply_split_across_reads_is_reassembled() {
        let (mut c, mut server) = pair();
        let t = thread::spawn(move || {
            let req = read_request(&mut server);
            let reply = format!(
                r#"{{"id":{},"result":["Open_vSwitch"],"error":null}}"#,
                req["id"]
            );
            let (a, b) = reply.split_at(10);
            server.write_all(a.as_bytes()).unwrap();
            thread::sleep(Duration::from_millis(50));
            server.write_all(b.as_bytes()).unwrap();
            server
        });
        assert_eq!(
            c.call("list_dbs", json!([])).unwrap(),
            json!(["Open_vSwitch"])
        );
        t.join().unwrap();
    }

    #[test]
    fn an_echo_is_answered_and_two_messages_in_one_read_are_both_seen() {
        let (mut c, mut server) = pair();
        let t = thread::spawn(move || {
            let req = read_request(&mut server);
            let both = format!(
                r#"{{"method":"echo","params":["ping"],"id":"echo"}}{{"id":{},"result":{{"ok":1}},"error":null}}"#,
                req["id"]
            );
            server.write_all(both.as_bytes()).unwrap();
            read_request(&mut server)
        });
        assert_eq!(c.call("x", json!([])).unwrap(), json!({"ok": 1}));
        let echo_reply = t.join().unwrap();
        assert_eq!(
            echo_reply,
            json!({"result": ["ping"], "error": null, "id": "echo"})
        );
    }

    #[test]
    fn a_server_error_and_a_closed_socket_are_told_apart() {
        let (mut c, mut server) = pair();
        let t = thread::spawn(move || {
            let req = read_request(&mut server);
            server
                .write_all(
                    format!(
                        r#"{{"id":{},"result":null,"error":"unknown database"}}"#,
                        req["id"]
                    )
                    .as_bytes(),
                )
                .unwrap();
            let _ = read_request(&mut server);
        });
        let e = c.call("get_schema", json!(["nope"])).unwrap_err();
        assert!(matches!(e, RpcError::Server { .. }) && !e.is_transient());
        let e = c.call("x", json!([])).unwrap_err();
        t.join().unwrap();
        assert!(e.is_transient(), "{e}");
    }

    #[test]
    fn a_silent_server_times_out() {
        let (a, _server) = UnixStream::pair().unwrap();
        let mut c = Connection::from_stream(a, Duration::from_millis(200));
        let e = c.call("x", json!([])).unwrap_err();
        assert!(matches!(e, RpcError::Timeout { .. }) && e.is_transient());
    }

    #[test]
    fn the_decoder_finds_messages_byte_by_byte_with_brackets_inside_strings() {
        let stream =
            br#" {"id":1,"result":[{"name":"a}]\"b"}]} {"method":"echo","params":[],"id":"e"}"#;
        let mut d = StreamDecoder::default();
        let mut got = Vec::new();
        for b in stream {
            d.push(&[*b]);
            while let Some(m) = d.next_message().unwrap() {
                got.push(m);
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0]["result"][0]["name"], "a}]\"b");
        assert_eq!(got[1]["method"], "echo");
    }

    #[test]
    fn bytes_outside_an_object_are_a_protocol_error() {
        let mut d = StreamDecoder::default();
        d.push(b"42 {}");
        assert!(matches!(d.next_message(), Err(RpcError::Protocol(_))));
        let mut d = StreamDecoder::default();
        d.push(b"{}]");
        assert!(d.next_message().unwrap().is_some());
        assert!(d.next_message().is_err());
    }

    #[test]
    fn endpoints_are_unix_paths() {
        assert_eq!(
            Endpoint::parse("unix:/run/ovs/db.sock").unwrap(),
            Endpoint::Unix("/run/ovs/db.sock".into())
        );
        assert!(Endpoint::parse("tcp:1.2.3.4:6640").is_err());
    }
}
