//! JSON-RPC 1.0 as OVSDB uses it (RFC 7047 §4): calls and their replies matched by id, the
//! server's `echo` answered (or it drops the connection), and notifications (a monitor's
//! `update`, `update2`, `locked`) kept in arrival order for the caller, also when they arrive
//! while a call waits for its reply.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::stream::StreamDecoder;
use crate::transport::{TlsFiles, Transport};
use crate::{Endpoint, Error};

/// A connection to one server.
#[derive(Debug)]
pub struct Connection {
    transport: Transport,
    decoder: StreamDecoder,
    next_id: u64,
    timeout: Duration,
    notifications: VecDeque<(String, Value)>,
}

impl Connection {
    /// Connects; `tls` is needed for an `ssl:` endpoint. `timeout` bounds each call (and the
    /// TCP connect).
    pub fn connect(
        endpoint: &Endpoint,
        tls: Option<&TlsFiles>,
        timeout: Duration,
    ) -> Result<Self, Error> {
        Ok(Self::new(
            Transport::connect(endpoint, tls, timeout)?,
            timeout,
        ))
    }

    /// Wraps a connected unix stream (tests use a socket pair).
    pub fn from_unix(stream: UnixStream, timeout: Duration) -> Self {
        Self::new(Transport::Unix(stream), timeout)
    }

    fn new(transport: Transport, timeout: Duration) -> Self {
        Self {
            transport,
            decoder: StreamDecoder::default(),
            next_id: 1,
            timeout,
            notifications: VecDeque::new(),
        }
    }

    /// The time a call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends a request and waits for its reply (at most the connection's timeout, or `wait`
    /// when longer: a `wait` operation blocks server-side).
    pub fn call_within(
        &mut self,
        method: &str,
        params: Value,
        wait: Duration,
    ) -> Result<Value, Error> {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"method": method, "params": params, "id": id}))?;
        let limit = wait.max(self.timeout);
        let deadline = Instant::now() + limit;
        let timeout = || Error::Timeout {
            method: method.to_owned(),
            timeout: limit,
        };
        loop {
            while let Some(msg) = self.decoder.next_message()? {
                if let Some(reply) = self.dispatch(msg)?
                    && reply.get("id").and_then(Value::as_u64) == Some(id)
                {
                    let error = reply.get("error").cloned().unwrap_or(Value::Null);
                    if !error.is_null() {
                        return Err(Error::Server {
                            method: method.to_owned(),
                            error,
                        });
                    }
                    return Ok(reply.get("result").cloned().unwrap_or(Value::Null));
                }
            }
            if !self.read_until(deadline)? {
                return Err(timeout());
            }
        }
    }

    /// [`Self::call_within`] the connection's timeout.
    pub fn call(&mut self, method: &str, params: Value) -> Result<Value, Error> {
        self.call_within(method, params, Duration::ZERO)
    }

    /// The next notification (method and params), waiting up to `wait`; `None` when none
    /// came in time.
    pub fn next_notification(&mut self, wait: Duration) -> Result<Option<(String, Value)>, Error> {
        let deadline = Instant::now() + wait;
        loop {
            while self.notifications.is_empty()
                && let Some(msg) = self.decoder.next_message()?
            {
                self.dispatch(msg)?;
            }
            if let Some(n) = self.notifications.pop_front() {
                return Ok(Some(n));
            }
            if !self.read_until(deadline)? {
                return Ok(None);
            }
        }
    }

    /// Answers an echo, queues a notification; hands back anything else (a reply).
    fn dispatch(&mut self, msg: Value) -> Result<Option<Value>, Error> {
        let method = msg.get("method").and_then(Value::as_str).map(str::to_owned);
        match method {
            Some(m) if m == "echo" => {
                let reply = json!({"result": msg["params"].clone(), "error": null, "id": msg["id"].clone()});
                self.send(&reply)?;
                Ok(None)
            }
            Some(m) => {
                let params = msg.get("params").cloned().unwrap_or(Value::Null);
                self.notifications.push_back((m, params));
                Ok(None)
            }
            None => Ok(Some(msg)),
        }
    }

    /// Reads more bytes; `false` when the deadline passed with none.
    fn read_until(&mut self, deadline: Instant) -> Result<bool, Error> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(false);
        }
        self.transport
            .set_timeouts(left, self.timeout)
            .map_err(Error::Io)?;
        let mut chunk = [0u8; 16 * 1024];
        match self.transport.read(&mut chunk) {
            Ok(0) => Err(Error::Closed),
            Ok(n) => {
                self.decoder.push(&chunk[..n]);
                Ok(true)
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                Ok(Instant::now() < deadline)
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => Ok(true),
            Err(e) => Err(Error::Io(e)),
        }
    }

    fn send(&mut self, v: &Value) -> Result<(), Error> {
        self.transport
            .set_timeouts(self.timeout, self.timeout)
            .map_err(Error::Io)?;
        let bytes = serde_json::to_vec(v).map_err(|e| Error::Protocol(e.to_string()))?;
        self.transport.write_all(&bytes).map_err(Error::Io)?;
        self.transport.flush().map_err(Error::Io)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // test code: a failed unwrap is a failed test
    use std::thread;

    use super::*;

    fn pair() -> (Connection, UnixStream) {
        let (a, b) = UnixStream::pair().unwrap();
        (Connection::from_unix(a, Duration::from_secs(5)), b)
    }

    fn read_request(s: &mut UnixStream) -> Value {
        let mut d = StreamDecoder::default();
        let mut buf = [0u8; 4096];
        loop {
            if let Some(v) = d.next_message().unwrap() {
                return v;
            }
            let n = s.read(&mut buf).unwrap();
            d.push(&buf[..n]);
        }
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
            for chunk in reply.as_bytes().chunks(3) {
                server.write_all(chunk).unwrap();
            }
        });
        assert_eq!(
            c.call("list_dbs", json!([])).unwrap(),
            json!(["Open_vSwitch"])
        );
        t.join().unwrap();
    }

    #[test]
    fn a_notification_arriving_during_a_call_is_kept_and_echo_answered() {
        let (mut c, mut server) = pair();
        let t = thread::spawn(move || {
            let req = read_request(&mut server);
            let msgs = format!(
                r#"{{"method":"echo","params":["x"],"id":"e1"}}{{"method":"update2","params":["m",{{"T":{{}}}}],"id":null}}{{"id":{},"result":{{}},"error":null}}"#,
                req["id"]
            );
            server.write_all(msgs.as_bytes()).unwrap();
            read_request(&mut server)
        });
        assert_eq!(c.call("monitor_cond", json!([])).unwrap(), json!({}));
        let (m, p) = c
            .next_notification(Duration::from_secs(1))
            .unwrap()
            .unwrap();
        assert_eq!((m.as_str(), &p[0]), ("update2", &json!("m")));
        assert_eq!(
            t.join().unwrap(),
            json!({"result": ["x"], "error": null, "id": "e1"})
        );
    }

    #[test]
    fn a_server_error_a_timeout_and_a_closed_socket_are_told_apart() {
        let (mut c, mut server) = pair();
        let t = thread::spawn(move || {
            let req = read_request(&mut server);
            let reply = format!(
                r#"{{"id":{},"result":null,"error":"unknown database"}}"#,
                req["id"]
            );
            server.write_all(reply.as_bytes()).unwrap();
            server
        });
        assert!(matches!(
            c.call("get_schema", json!(["X"])),
            Err(Error::Server { .. })
        ));
        let server = t.join().unwrap();
        assert!(
            c.next_notification(Duration::from_millis(20))
                .unwrap()
                .is_none()
        );
        drop(server);
        assert!(matches!(
            c.call("list_dbs", json!([])),
            Err(Error::Closed | Error::Io(_))
        ));
    }

    #[test]
    fn a_connection_dropped_mid_call_says_why_in_its_message() {
        let e = Error::Io(std::io::Error::from(std::io::ErrorKind::ConnectionReset));
        assert!(e.to_string().contains("reset"), "{e}");
        assert!(
            std::error::Error::source(&e).is_none(),
            "the cause is printed once"
        );
    }
}
