//! A session on VPP's API socket: the handshake, request/reply matched by context, dumps
//! ended by `control_ping`, and a lazy reconnect after the connection is lost.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::codec::FixedStr;
use crate::error::VppError;
use crate::frame::{FrameDecoder, frame};
use crate::message::{self, Dump, Header, Message, Reply, Request};
use crate::messages::memclnt::{
    ControlPing, ControlPingReply, SOCKCLNT_CREATE_ID, SockclntCreate, SockclntCreateReply,
    SockclntDelete,
};
use crate::messages::vlib::{CliInband, ShowVersion};

/// VPP's API socket when it runs as root.
pub const DEFAULT_SOCKET: &str = "/run/vpp/api.sock";

/// A lookup of one message id, e.g. `Client::id_of::<MemifCreateV2>` (see [`Client::require`]).
pub type IdCheck = fn(&mut Client) -> Result<u16, VppError>;

/// The session with one VPP.
#[derive(Debug)]
pub struct Client {
    path: PathBuf,
    timeout: Duration,
    name: String,
    conn: Option<Conn>,
}

#[derive(Debug)]
struct Conn {
    stream: UnixStream,
    frames: FrameDecoder,
    client_index: u32,
    ids: HashMap<String, u16>,
    next_context: u32,
}

impl Client {
    /// Connects and performs the handshake; `name` shows in VPP's `show api clients`.
    pub fn connect(
        path: impl AsRef<Path>,
        name: &str,
        timeout: Duration,
    ) -> Result<Self, VppError> {
        let mut c = Self {
            path: path.as_ref().to_path_buf(),
            timeout,
            name: name.to_owned(),
            conn: None,
        };
        c.ensure()?;
        Ok(c)
    }

    /// Like `connect`, retrying while the socket is absent or refuses (VPP starting) until
    /// `wait` has passed.
    pub fn connect_wait(
        path: impl AsRef<Path>,
        name: &str,
        timeout: Duration,
        wait: Duration,
    ) -> Result<Self, VppError> {
        // A wait too long for a deadline is a wait without end.
        let deadline = Instant::now().checked_add(wait);
        loop {
            match Self::connect(path.as_ref(), name, timeout) {
                Ok(c) => return Ok(c),
                Err(e) if e.is_transient() && deadline.is_none_or(|d| Instant::now() < d) => {
                    tracing::debug!("VPP not ready yet: {e}");
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Drops the connection; the next call reconnects.
    pub fn disconnect(&mut self) {
        if let Some(mut conn) = self.conn.take()
            && let Ok(id) = id_in(&conn.ids, &SockclntDelete::name_crc())
        {
            let index = conn.client_index;
            let body = message::encode(
                Header {
                    id,
                    client_index: index,
                    context: 0,
                },
                &SockclntDelete { index },
            );
            let _ = conn.stream.write_all(&frame(&body));
        }
    }

    /// Reconnects now (the handshake again: message ids may change after a VPP restart).
    pub fn reconnect(&mut self) -> Result<(), VppError> {
        self.conn = None;
        self.ensure().map(|_| ())
    }

    fn ensure(&mut self) -> Result<&mut Conn, VppError> {
        if self.conn.is_none() {
            self.conn = Some(self.handshake()?);
        }
        Ok(self.conn.as_mut().expect("set above"))
    }

    fn handshake(&self) -> Result<Conn, VppError> {
        let stream = UnixStream::connect(&self.path).map_err(|source| VppError::Connect {
            path: self.path.clone(),
            source,
        })?;
        let mut conn = Conn {
            stream,
            frames: FrameDecoder::default(),
            client_index: 0,
            ids: HashMap::new(),
            next_context: 1,
        };
        let body = message::encode(
            Header {
                id: SOCKCLNT_CREATE_ID,
                ..Header::default()
            },
            &SockclntCreate {
                context: 0x7573_6572,
                name: FixedStr::new(self.name.clone()),
            },
        );
        self.send(&mut conn, &body)?;
        let deadline = Instant::now() + self.timeout;
        let reply = loop {
            let body = self.read_frame(&mut conn, deadline, SockclntCreate::NAME)?;
            if message::peek_id(&body) == Some(crate::messages::memclnt::SOCKCLNT_CREATE_REPLY_ID) {
                let (_, r) = message::decode::<SockclntCreateReply>(&body).map_err(|source| {
                    VppError::Decode {
                        message: SockclntCreateReply::NAME,
                        source,
                    }
                })?;
                break r;
            }
        };
        if reply.response != 0 {
            return Err(VppError::Refused(reply.response));
        }
        conn.client_index = reply.index;
        conn.ids = reply
            .message_table
            .iter()
            .map(|e| (e.name.0.clone(), e.index))
            .collect();
        tracing::debug!(
            "VPP API session on {}: {} messages",
            self.path.display(),
            conn.ids.len()
        );
        Ok(conn)
    }

    /// The id of `M` in this VPP, or the reason it cannot be used.
    pub fn id_of<M: Message>(&mut self) -> Result<u16, VppError> {
        let conn = self.ensure()?;
        if let Ok(id) = id_in(&conn.ids, &M::name_crc()) {
            return Ok(id);
        }
        let prefix = format!("{}_", M::NAME);
        let found: Vec<String> = conn
            .ids
            .keys()
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|crc| crc.len() == 8 && crc.bytes().all(|b| b.is_ascii_hexdigit()))
            .map(str::to_owned)
            .collect();
        let vpp_version = self.version_for_error();
        if found.is_empty() {
            Err(VppError::Unsupported {
                message: M::NAME,
                ours: M::CRC,
                vpp_version,
            })
        } else {
            Err(VppError::CrcMismatch {
                message: M::NAME,
                ours: M::CRC,
                found: found.join(", "),
                vpp_version,
            })
        }
    }

    /// Checks up front that this VPP has every message as we know it, so that a
    /// sequence of requests does not fail halfway on a changed message.
    pub fn require(&mut self, checks: &[IdCheck]) -> Result<(), VppError> {
        for check in checks {
            check(self)?;
        }
        Ok(())
    }

    fn version_for_error(&mut self) -> String {
        match self.show_version() {
            Ok(v) => v,
            Err(e) => format!("(version unknown: {e})"),
        }
    }

    /// `show_version`'s version string.
    pub fn show_version(&mut self) -> Result<String, VppError> {
        // Not through `id_of`, which asks for the version when a CRC differs.
        let conn = self.ensure()?;
        if id_in(&conn.ids, &ShowVersion::name_crc()).is_err() {
            return Err(VppError::Unsupported {
                message: ShowVersion::NAME,
                ours: ShowVersion::CRC,
                vpp_version: "unknown".into(),
            });
        }
        Ok(self.request(&ShowVersion {})?.version.0)
    }

    /// Runs a CLI command and returns its output (diagnostics only).
    pub fn cli(&mut self, cmd: &str) -> Result<String, VppError> {
        Ok(self
            .request(&CliInband {
                cmd: cmd.to_owned(),
            })?
            .reply)
    }

    /// Sends `req` and waits for its reply; a non-zero `retval` is an error.
    pub fn request<R: Request>(&mut self, req: &R) -> Result<R::Reply, VppError> {
        let reply = self.request_raw(req)?;
        match reply.retval() {
            0 => Ok(reply),
            retval => Err(VppError::Retval {
                message: R::NAME,
                retval,
            }),
        }
    }

    /// Sends `req` and returns its reply whatever its `retval`.
    pub fn request_raw<R: Request>(&mut self, req: &R) -> Result<R::Reply, VppError> {
        let id = self.id_of::<R>()?;
        let reply_id = self.id_of::<R::Reply>()?;
        let context = self.send_request(id, req)?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let body = self.read_for(context, deadline, R::NAME)?;
            if message::peek_id(&body) == Some(reply_id) {
                return decode_as::<R::Reply>(&body);
            }
        }
    }

    /// Sends a dump request and collects the details until the `control_ping_reply` that
    /// follows them.
    pub fn dump<D: Dump>(&mut self, req: &D) -> Result<Vec<D::Details>, VppError> {
        let id = self.id_of::<D>()?;
        let details_id = self.id_of::<D::Details>()?;
        let ping_id = self.id_of::<ControlPing>()?;
        let ping_reply_id = self.id_of::<ControlPingReply>()?;
        let context = self.send_request(id, req)?;
        self.send_with_context(ping_id, context, &ControlPing {})?;
        let deadline = Instant::now() + self.timeout;
        let mut out = Vec::new();
        loop {
            let body = self.read_for(context, deadline, D::NAME)?;
            match message::peek_id(&body) {
                Some(i) if i == details_id => out.push(decode_as::<D::Details>(&body)?),
                Some(i) if i == ping_reply_id => return Ok(out),
                _ => {}
            }
        }
    }

    /// Liveness check.
    pub fn ping(&mut self) -> Result<(), VppError> {
        self.request(&ControlPing {}).map(|_| ())
    }

    fn send_request<M: Message>(&mut self, id: u16, m: &M) -> Result<u32, VppError> {
        let conn = self.ensure()?;
        let context = conn.next_context;
        conn.next_context = conn.next_context.wrapping_add(1).max(1);
        self.send_with_context(id, context, m)?;
        Ok(context)
    }

    fn send_with_context<M: Message>(
        &mut self,
        id: u16,
        context: u32,
        m: &M,
    ) -> Result<(), VppError> {
        let conn = self.ensure()?;
        let body = message::encode(
            Header {
                id,
                client_index: conn.client_index,
                context,
            },
            m,
        );
        let mut conn = self.conn.take().expect("ensured");
        let r = self.send(&mut conn, &body);
        if r.is_ok() {
            self.conn = Some(conn);
        }
        r
    }

    fn send(&self, conn: &mut Conn, body: &[u8]) -> Result<(), VppError> {
        conn.stream
            .set_write_timeout(Some(self.timeout))
            .and_then(|()| conn.stream.write_all(&frame(body)))
            .map_err(|source| VppError::Disconnected {
                path: self.path.clone(),
                source,
            })
    }

    /// The next reply with `context`; other messages (events, stale replies) are skipped.
    /// On a lost connection the session is dropped, to be re-made by the next call.
    fn read_for(
        &mut self,
        context: u32,
        deadline: Instant,
        message: &'static str,
    ) -> Result<Vec<u8>, VppError> {
        let mut conn = self.conn.take().expect("ensured");
        loop {
            match self.read_frame(&mut conn, deadline, message) {
                Ok(body) if message::peek_reply_context(&body) == Some(context) => {
                    self.conn = Some(conn);
                    return Ok(body);
                }
                Ok(_) => {}
                Err(e @ VppError::Timeout { .. }) => {
                    // A late reply would be mistaken for a later request's: start over.
                    return Err(e);
                }
                Err(e) => return Err(e),
            }
        }
    }

    fn read_frame(
        &self,
        conn: &mut Conn,
        deadline: Instant,
        message: &'static str,
    ) -> Result<Vec<u8>, VppError> {
        loop {
            if let Some(body) = conn.frames.next_frame()? {
                return Ok(body);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(VppError::Timeout {
                    message,
                    timeout: self.timeout,
                });
            }
            let lost = |source| VppError::Disconnected {
                path: self.path.clone(),
                source,
            };
            conn.stream.set_read_timeout(Some(left)).map_err(lost)?;
            let mut chunk = [0u8; 64 * 1024];
            match conn.stream.read(&mut chunk) {
                Ok(0) => {
                    return Err(lost(std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "VPP closed the connection",
                    )));
                }
                Ok(n) => conn.frames.push(&chunk[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    return Err(VppError::Timeout {
                        message,
                        timeout: self.timeout,
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(lost(e)),
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.disconnect();
    }
}

fn id_in(ids: &HashMap<String, u16>, name_crc: &str) -> Result<u16, ()> {
    ids.get(name_crc).copied().ok_or(())
}

fn decode_as<M: Message>(body: &[u8]) -> Result<M, VppError> {
    message::decode::<M>(body)
        .map(|(_, m)| m)
        .map_err(|source| VppError::Decode {
            message: M::NAME,
            source,
        })
}
