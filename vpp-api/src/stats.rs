//! A reader of VPP's stats segment, the only place VPP 25.10 publishes per-interface counters.
//!
//! VPP hands the segment's memfd to whoever connects to its stats socket; the segment is read
//! here with `pread` instead of being mapped, because the workspace forbids `unsafe` code.
//! Pointers inside the segment are VPP's own virtual addresses; they are turned into file
//! offsets by subtracting the header's `base`.
//!
//! Layout facts, all from VPP v25.10 (FDio/vpp):
//! - `src/vlib/stats/shared.h`, `vlib_stats_shared_header_t`: at offset 0 `u64 version`,
//!   8 `void *base`, 16 `u64 epoch`, 24 `u64 in_progress`, 32 `vlib_stats_entry_t
//!   *directory_vector`; `version` is `STAT_SEGMENT_VERSION`, 2 (`src/vlib/stats/stats.h`,
//!   written by `src/vlib/stats/init.c`), and another version is refused.
//! - same file, `vlib_stats_entry_t`: `u32 type` (`stat_directory_type_t`), padded to 8; at 8
//!   an 8-byte union (`data` pointer, `value`, `index`); at 16 `char name[128]`
//!   (`VLIB_STATS_MAX_NAME_SZ`): 144 bytes in all. Types: 2 `COUNTER_VECTOR_SIMPLE`,
//!   3 `COUNTER_VECTOR_COMBINED`.
//! - `src/vppinfra/vec_bootstrap.h`, `vec_header_t`: 8 bytes right before a vector's data,
//!   starting with `u32 len`, the element count.
//! - `src/vpp-api/client/stat_client.c`: a simple counter's `data` is a vector (one per
//!   thread) of pointers to vectors of `counter_t` (u64, `src/vlib/counter_types.h`) indexed
//!   by `sw_if_index`; a combined counter's the same with `vlib_counter_t` = `{u64 packets,
//!   u64 bytes}`. The fd comes in one `SCM_RIGHTS` message on a `SOCK_SEQPACKET` socket.
//! - `src/vpp-api/client/stat_client.h`: a read is valid only if `in_progress` was 0 and
//!   `epoch` did not change across it (`stat_segment_access_start`/`_end`); the default socket
//!   is `/run/vpp/stats.sock`.
//! - `src/vnet/interface.c` and `interface.h`: the interface counters are named `/if/rx`,
//!   `/if/tx` (combined), `/if/drops`, `/if/rx-error`, `/if/tx-error` (simple).

use std::collections::BTreeMap;
use std::fs::File;
use std::io::IoSliceMut;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr, connect, recvmsg,
    socket,
};

/// VPP's default stats socket (`STAT_SEGMENT_SOCKET_FILE`, `stat_client.h`).
pub const DEFAULT_STATS_SOCKET: &str = "/run/vpp/stats.sock";

/// Size of `vlib_stats_shared_header_t` (`shared.h`).
pub const HEADER_SIZE: u64 = 40;
/// Size of `vlib_stats_entry_t` (`shared.h`).
pub const ENTRY_SIZE: u64 = 144;
/// Size of `vec_header_t` (`vec_bootstrap.h`), which sits right before a vector's data.
pub const VEC_HEADER_SIZE: u64 = 8;
/// `VLIB_STATS_MAX_NAME_SZ` (`shared.h`).
pub const NAME_SIZE: usize = 128;
/// `STAT_SEGMENT_VERSION` (`src/vlib/stats/stats.h`): the layout read here. VPP bumps it when
/// the layout changes, so another value is refused rather than misread.
pub const SEGMENT_VERSION: u64 = 2;
/// `STAT_DIR_TYPE_COUNTER_VECTOR_SIMPLE` (`shared.h`).
pub const TYPE_SIMPLE: u32 = 2;
/// `STAT_DIR_TYPE_COUNTER_VECTOR_COMBINED` (`shared.h`).
pub const TYPE_COMBINED: u32 = 3;

/// How often a read is retried while VPP is rewriting the directory.
const ATTEMPTS: u32 = 200;
const RETRY_PAUSE: Duration = Duration::from_millis(5);

/// What went wrong reading the stats segment.
#[derive(Debug, thiserror::Error)]
pub enum StatsError {
    /// The stats socket cannot be reached.
    #[error("cannot connect to the VPP stats socket {path}")]
    Connect {
        /// The socket.
        path: PathBuf,
        /// The cause.
        #[source]
        source: nix::Error,
    },
    /// VPP sent no file descriptor.
    #[error("the VPP stats socket {path} sent no segment fd")]
    NoFd {
        /// The socket.
        path: PathBuf,
    },
    /// Reading the segment failed.
    #[error("cannot read the VPP stats segment")]
    Io(#[from] std::io::Error),
    /// A pointer or length points outside the segment: a layout mismatch or a torn read.
    #[error("VPP stats segment layout mismatch: {0}")]
    Layout(String),
    /// The segment has a layout version this reader does not know.
    #[error("VPP stats segment version {0}, this reader knows version {SEGMENT_VERSION}")]
    Version(u64),
    /// VPP kept rewriting the segment for the whole retry budget.
    #[error("the VPP stats segment stayed busy (in_progress or a changing epoch)")]
    Busy,
}

/// One interface's counters, summed over VPP's threads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InterfaceCounters {
    /// `/if/rx` packets.
    pub rx_packets: u64,
    /// `/if/rx` bytes.
    pub rx_bytes: u64,
    /// `/if/tx` packets.
    pub tx_packets: u64,
    /// `/if/tx` bytes.
    pub tx_bytes: u64,
    /// `/if/drops`.
    pub drops: u64,
    /// `/if/rx-error`.
    pub rx_errors: u64,
    /// `/if/tx-error`.
    pub tx_errors: u64,
}

/// The segment as read by one connection. VPP re-creates it on restart, so a reader whose
/// reads fail should reconnect.
#[derive(Debug)]
pub struct StatsSegment {
    file: File,
    size: u64,
}

impl StatsSegment {
    /// Connects to the stats socket and takes the segment's fd.
    pub fn connect(path: impl AsRef<Path>) -> Result<Self, StatsError> {
        let path = path.as_ref().to_path_buf();
        let connect_err = |source| StatsError::Connect {
            path: path.clone(),
            source,
        };
        // SOCK_SEQPACKET as the reference client (`stat_client.c`): VPP sends the fd with an
        // empty payload, which a stream socket would not deliver.
        let sock = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )
        .map_err(connect_err)?;
        let addr = UnixAddr::new(&path).map_err(connect_err)?;
        connect(std::os::fd::AsRawFd::as_raw_fd(&sock), &addr).map_err(connect_err)?;
        let mut buf = [0u8; 1];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!(std::os::fd::RawFd);
        let msg = recvmsg::<()>(
            std::os::fd::AsRawFd::as_raw_fd(&sock),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        )
        .map_err(connect_err)?;
        let mut fd = None;
        for cmsg in msg.cmsgs().map_err(connect_err)? {
            if let ControlMessageOwned::ScmRights(fds) = cmsg {
                fd = fds.first().copied();
            }
        }
        let fd = fd.ok_or(StatsError::NoFd { path: path.clone() })?;
        let file = open_received(fd)?;
        let size = file.metadata()?.len();
        tracing::debug!(socket = %path.display(), size, "VPP stats segment received");
        Ok(Self { file, size })
    }

    /// The per-`sw_if_index` interface counters, summed over threads, read consistently
    /// (retried while VPP is rewriting the directory).
    pub fn interface_counters(&self) -> Result<BTreeMap<u32, InterfaceCounters>, StatsError> {
        for _ in 0..ATTEMPTS {
            let before = self.header()?;
            if before.in_progress != 0 {
                std::thread::sleep(RETRY_PAUSE);
                continue;
            }
            // A read racing a rewrite may see garbage pointers; the epoch check below decides
            // whether an error is real.
            let read = self.read_interface_counters(&before);
            let after = self.header()?;
            if after.in_progress == 0 && after.epoch == before.epoch {
                return read;
            }
            std::thread::sleep(RETRY_PAUSE);
        }
        Err(StatsError::Busy)
    }

    fn header(&self) -> Result<Header, StatsError> {
        let version = self.u64_at(0)?;
        if version != SEGMENT_VERSION {
            return Err(StatsError::Version(version));
        }
        Ok(Header {
            base: self.u64_at(8)?,
            epoch: self.u64_at(16)?,
            in_progress: self.u64_at(24)?,
            directory: self.u64_at(32)?,
        })
    }

    fn read_interface_counters(
        &self,
        h: &Header,
    ) -> Result<BTreeMap<u32, InterfaceCounters>, StatsError> {
        let mut out: BTreeMap<u32, InterfaceCounters> = BTreeMap::new();
        let (dir, entries) = self.vector(h, h.directory, ENTRY_SIZE)?;
        for i in 0..entries {
            let at = dir + i * ENTRY_SIZE;
            let kind = self.u32_at(at)?;
            let data = self.u64_at(at + 8)?;
            let mut name = [0u8; NAME_SIZE];
            self.file.read_exact_at(&mut name, at + 16)?;
            let len = name.iter().position(|&b| b == 0).unwrap_or(NAME_SIZE);
            let field: fn(&mut InterfaceCounters, u64, u64) = match (&name[..len], kind) {
                (b"/if/rx", TYPE_COMBINED) => |c, p, b| {
                    c.rx_packets += p;
                    c.rx_bytes += b;
                },
                (b"/if/tx", TYPE_COMBINED) => |c, p, b| {
                    c.tx_packets += p;
                    c.tx_bytes += b;
                },
                (b"/if/drops", TYPE_SIMPLE) => |c, v, _| c.drops += v,
                (b"/if/rx-error", TYPE_SIMPLE) => |c, v, _| c.rx_errors += v,
                (b"/if/tx-error", TYPE_SIMPLE) => |c, v, _| c.tx_errors += v,
                (b"/if/rx" | b"/if/tx" | b"/if/drops" | b"/if/rx-error" | b"/if/tx-error", _) => {
                    return Err(StatsError::Layout(format!(
                        "{} has type {kind}",
                        String::from_utf8_lossy(&name[..len])
                    )));
                }
                _ => continue,
            };
            let combined = kind == TYPE_COMBINED;
            let (threads, n_threads) = self.vector(h, data, 8)?;
            for t in 0..n_threads {
                let per_thread = self.u64_at(threads + t * 8)?;
                let elt = if combined { 16 } else { 8 };
                let (counters, n_if) = self.vector(h, per_thread, elt)?;
                let mut buf = vec![0u8; usize::try_from(n_if * elt).unwrap_or(0)];
                self.file.read_exact_at(&mut buf, counters)?;
                for (sw_if_index, chunk) in buf.chunks_exact(elt as usize).enumerate() {
                    let first = le_u64(&chunk[..8]);
                    let second = if combined { le_u64(&chunk[8..]) } else { 0 };
                    let Ok(sw_if_index) = u32::try_from(sw_if_index) else {
                        break;
                    };
                    field(out.entry(sw_if_index).or_default(), first, second);
                }
            }
        }
        Ok(out)
    }

    /// The file offset of a vector's data and its length, checked to lie in the segment.
    fn vector(&self, h: &Header, pointer: u64, elt_size: u64) -> Result<(u64, u64), StatsError> {
        let at = self.offset(h, pointer)?;
        if at < HEADER_SIZE + VEC_HEADER_SIZE {
            return Err(StatsError::Layout(format!(
                "vector at {pointer:#x} overlaps the header"
            )));
        }
        let len = u64::from(self.u32_at(at - VEC_HEADER_SIZE)?);
        match len.checked_mul(elt_size).and_then(|n| n.checked_add(at)) {
            Some(end) if end <= self.size => Ok((at, len)),
            _ => Err(StatsError::Layout(format!(
                "vector at {pointer:#x} of {len} elements runs past the segment ({} bytes)",
                self.size
            ))),
        }
    }

    /// VPP's pointer as a file offset (`stat_segment_adjust`, `stat_client.h`).
    fn offset(&self, h: &Header, pointer: u64) -> Result<u64, StatsError> {
        match pointer.checked_sub(h.base) {
            Some(off) if off > 0 && off < self.size => Ok(off),
            _ => Err(StatsError::Layout(format!(
                "pointer {pointer:#x} outside the segment (base {:#x}, {} bytes)",
                h.base, self.size
            ))),
        }
    }

    fn u64_at(&self, at: u64) -> Result<u64, StatsError> {
        let mut b = [0u8; 8];
        self.file.read_exact_at(&mut b, at)?;
        Ok(u64::from_le_bytes(b))
    }

    fn u32_at(&self, at: u64) -> Result<u32, StatsError> {
        let mut b = [0u8; 4];
        self.file.read_exact_at(&mut b, at)?;
        Ok(u32::from_le_bytes(b))
    }
}

#[derive(Debug)]
struct Header {
    base: u64,
    epoch: u64,
    in_progress: u64,
    directory: u64,
}

fn le_u64(b: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    u64::from_le_bytes(a)
}

/// Opens the received fd as a `File` without unsafe code: nix hands it over as a bare
/// `RawFd`, and making an `OwnedFd` of that needs `unsafe`. Re-opening it through
/// `/proc/self/fd` (which works for a memfd) gives a safe `File`; the raw one is closed.
fn open_received(fd: std::os::fd::RawFd) -> Result<File, StatsError> {
    let opened = File::open(format!("/proc/self/fd/{fd}"));
    if let Err(e) = nix::unistd::close(fd) {
        tracing::warn!(fd, error = %e, "closing the received stats fd failed");
    }
    Ok(opened?)
}
