//! RFC 7047 §4: requests and replies are bare JSON objects written back to back with no
//! framing, so the byte stream is split by scanning bracket depth.

use serde_json::Value;

use crate::Error;

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
    pub fn next_message(&mut self) -> Result<Option<Value>, Error> {
        let Some(end) = self.ends.pop_front() else {
            if let Some(why) = &self.broken {
                return Err(Error::Protocol(why.clone()));
            }
            if self.buf.len() > MAX_PENDING {
                return Err(Error::Protocol(format!(
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
        let v = parsed.map_err(|e| Error::Protocol(e.to_string()))?;
        if !v.is_object() {
            return Err(Error::Protocol(format!("expected an object, got {v}")));
        }
        Ok(Some(v))
    }
}
