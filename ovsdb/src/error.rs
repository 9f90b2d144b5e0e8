//! What can go wrong talking to an OVSDB server.

use std::time::Duration;

use serde_json::Value;

/// An OVSDB failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Not an endpoint this client speaks.
    #[error("OVSDB endpoint {0:?} is not unix:<path>, tcp:<host>:<port> or ssl:<host>:<port>")]
    BadEndpoint(String),
    /// The TLS files or settings of an `ssl:` endpoint.
    #[error("OVSDB TLS set-up: {0}")]
    Tls(String),
    /// Cannot connect.
    #[error("cannot connect to OVSDB at {endpoint}")]
    Connect {
        /// The endpoint.
        endpoint: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The connection failed mid-call (the cause is in the message: callers that flatten
    /// the chain into one line would otherwise say only "OVSDB connection").
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
    /// The server answered a call with an error.
    #[error("OVSDB {method} failed: {error}")]
    Server {
        /// The method.
        method: String,
        /// The error object.
        error: Value,
    },
    /// One operation of a transaction failed (the server rolled the others back).
    #[error("OVSDB transaction failed at operation {index} ({op}): {error}{}", details.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    OpFailed {
        /// Index of the failed operation (= number of operations for a commit failure).
        index: usize,
        /// The operation's `op`.
        op: String,
        /// The server's `error`.
        error: String,
        /// The server's `details`.
        details: Option<String>,
    },
    /// A reply of an unexpected shape.
    #[error("unexpected OVSDB reply: {0}")]
    Unexpected(String),
}

impl Error {
    /// Worth retrying later: the server is down, restarting or slow.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Connect { .. } | Self::Io(_) | Self::Closed | Self::Timeout { .. }
        )
    }

    /// A constraint violation (e.g. a duplicate name in an indexed column).
    pub fn is_constraint_violation(&self) -> bool {
        matches!(self, Self::OpFailed { error, .. } if error == "constraint violation")
    }
}
