//! A fake of VPP 25.10's stats segment and socket, laid out byte for byte as VPP does (see
//! [`crate::stats`] for the facts and their source files): a memfd holding the shared header,
//! a directory vector of 144-byte entries and, per interface counter, a vector (one per
//! thread) of pointers to counter vectors indexed by `sw_if_index`, all behind 8-byte
//! `vec_header_t`s, with pointers as absolute addresses from a `base` that is not 0.
//!
//! Like VPP (`src/vlib/stats/init.c`) it sends the memfd with an empty payload to each client
//! of a `SOCK_SEQPACKET` socket and closes the connection; rewrites follow VPP's protocol
//! (`in_progress` set, data written, `epoch` bumped, `in_progress` cleared), and
//! [`FakeStats::restart`] makes a new segment with zero counters, as a restarted VPP does.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::IoSlice;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::sys::socket::{
    AddressFamily, Backlog, ControlMessage, MsgFlags, SockFlag, SockType, UnixAddr, accept, bind,
    listen, sendmsg, socket,
};

use crate::stats::{
    ENTRY_SIZE, HEADER_SIZE, InterfaceCounters, NAME_SIZE, SEGMENT_VERSION, TYPE_COMBINED,
    TYPE_SIMPLE, VEC_HEADER_SIZE,
};

/// Where the fake pretends the segment is mapped; not 0, so a reader that forgets to
/// subtract `base` fails.
pub const FAKE_BASE: u64 = 0x7f3a_5c00_0000;
/// `STAT_DIR_TYPE_SCALAR_INDEX` and `STAT_DIR_TYPE_EMPTY` (`shared.h`).
const TYPE_SCALAR: u32 = 1;
const TYPE_EMPTY: u32 = 5;
/// The fake segment's size; VPP's is fixed too (32 MiB by default), larger than its content.
const SEGMENT_SIZE: u64 = 1 << 20;

/// Which values of [`InterfaceCounters`] a combined or simple counter carries.
type CombinedField = fn(&InterfaceCounters) -> (u64, u64);
type SimpleField = fn(&InterfaceCounters) -> u64;

/// Counters per `sw_if_index`, per thread.
type Counters = BTreeMap<u32, Vec<InterfaceCounters>>;

struct Segment {
    file: File,
    version: u64,
    epoch: u64,
    counters: Counters,
}

/// The fake stats socket and segment.
pub struct FakeStats {
    path: PathBuf,
    threads: usize,
    segment: Arc<Mutex<Segment>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for FakeStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeStats")
            .field("path", &self.path)
            .finish()
    }
}

impl FakeStats {
    /// Serves a segment with `threads` VPP threads (main + workers) on the socket `path`.
    pub fn start(path: impl AsRef<Path>, threads: usize) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let _ = std::fs::remove_file(&path);
        let sock = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        bind(sock.as_raw_fd(), &UnixAddr::new(&path)?)?;
        listen(&sock, Backlog::new(16)?)?;
        let segment = Arc::new(Mutex::new(new_segment(threads)?));
        let stop = Arc::new(AtomicBool::new(false));
        let (seg, sp) = (segment.clone(), stop.clone());
        let thread = std::thread::spawn(move || serve(&sock, &seg, &sp));
        Ok(Self {
            path,
            threads: threads.max(1),
            segment,
            stop,
            thread: Some(thread),
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sets one thread's counters of one interface and rewrites the segment.
    pub fn set(&self, thread: usize, sw_if_index: u32, counters: InterfaceCounters) {
        let mut seg = lock(&self.segment);
        let per_thread = seg
            .counters
            .entry(sw_if_index)
            .or_insert_with(|| vec![InterfaceCounters::default(); self.threads]);
        if let Some(c) = per_thread.get_mut(thread) {
            *c = counters;
        } else {
            panic!("fake VPP stats: thread {thread} of {}", self.threads);
        }
        if let Err(e) = seg.publish(self.threads) {
            panic!("fake VPP stats: cannot write the segment: {e}");
        }
    }

    /// Rewrites the segment with another layout version (as a VPP whose layout changed).
    pub fn set_version(&self, version: u64) {
        let mut seg = lock(&self.segment);
        seg.version = version;
        if let Err(e) = seg.publish(self.threads) {
            panic!("fake VPP stats: cannot write the segment: {e}");
        }
    }

    /// A new segment with no counters, as VPP makes when it restarts.
    pub fn restart(&self) {
        match new_segment(self.threads) {
            Ok(s) => *lock(&self.segment) = s,
            Err(e) => panic!("fake VPP stats: cannot re-create the segment: {e}"),
        }
    }

    /// Starts a rewrite and leaves it unfinished (`in_progress` stays 1), as a VPP caught
    /// mid-update; [`FakeStats::set`] finishes it.
    pub fn hold_in_progress(&self) {
        let seg = lock(&self.segment);
        if let Err(e) = seg.file.write_all_at(&1u64.to_le_bytes(), 24) {
            panic!("fake VPP stats: {e}");
        }
    }
}

impl Drop for FakeStats {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop.
        if let Ok(s) = socket(
            AddressFamily::Unix,
            SockType::SeqPacket,
            SockFlag::SOCK_CLOEXEC,
            None,
        ) && let Ok(addr) = UnixAddr::new(&self.path)
        {
            let _ = nix::sys::socket::connect(s.as_raw_fd(), &addr);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn lock(m: &Mutex<Segment>) -> std::sync::MutexGuard<'_, Segment> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn new_segment(threads: usize) -> std::io::Result<Segment> {
    let fd: OwnedFd = memfd_create("vpp stats segment (fake)", MFdFlags::MFD_CLOEXEC)?;
    let file = File::from(fd);
    file.set_len(SEGMENT_SIZE)?;
    let mut seg = Segment {
        file,
        version: SEGMENT_VERSION,
        epoch: 0,
        counters: BTreeMap::new(),
    };
    seg.publish(threads.max(1))?;
    Ok(seg)
}

fn serve(sock: &OwnedFd, segment: &Mutex<Segment>, stop: &AtomicBool) {
    loop {
        let conn = accept(sock.as_raw_fd());
        if stop.load(Ordering::SeqCst) {
            if let Ok(c) = conn {
                let _ = nix::unistd::close(c);
            }
            return;
        }
        let Ok(conn) = conn else {
            // Not a hot loop on a lasting error (e.g. out of fds).
            std::thread::sleep(std::time::Duration::from_millis(10));
            continue;
        };
        let fd = lock(segment).file.as_raw_fd();
        // An empty payload with the fd, then close, as VPP's stats_socket_accept_ready.
        let empty: [IoSlice<'_>; 0] = [];
        if let Err(e) = sendmsg::<()>(
            conn,
            &empty,
            &[ControlMessage::ScmRights(&[fd])],
            MsgFlags::empty(),
            None,
        ) {
            tracing::warn!(error = %e, "fake VPP stats: sending the segment fd failed");
        }
        let _ = nix::unistd::close(conn);
    }
}

impl Segment {
    /// Writes the whole segment under VPP's update protocol.
    fn publish(&mut self, threads: usize) -> std::io::Result<()> {
        self.file.write_all_at(&1u64.to_le_bytes(), 24)?;
        let image = self.image(threads);
        self.file.write_all_at(&image[..32], 0)?;
        self.file.write_all_at(&image[32..], 32)?;
        self.epoch += 1;
        self.file.write_all_at(&self.epoch.to_le_bytes(), 16)?;
        self.file.write_all_at(&0u64.to_le_bytes(), 24)
    }

    fn image(&self, threads: usize) -> Vec<u8> {
        let mut img = Image {
            bytes: vec![0; usize_of(HEADER_SIZE)],
        };
        // VPP sizes the counter vectors by the highest sw_if_index (local0 is 0).
        let n_if = self
            .counters
            .keys()
            .next_back()
            .map_or(1, |&i| i as usize + 1);
        let value = |sw: u32, t: usize| {
            self.counters
                .get(&sw)
                .and_then(|v| v.get(t))
                .copied()
                .unwrap_or_default()
        };
        let mut entries: Vec<(u32, u64, &str)> = vec![
            // A scalar and an empty slot first, so a reader has to skip entries.
            (TYPE_SCALAR, 1_765_000_000f64.to_bits(), "/sys/boottime"),
            (TYPE_EMPTY, 0, ""),
        ];
        let combined: [(&str, CombinedField); 2] = [
            ("/if/rx", |c| (c.rx_packets, c.rx_bytes)),
            ("/if/tx", |c| (c.tx_packets, c.tx_bytes)),
        ];
        for (name, f) in combined {
            let per_thread: Vec<u64> = (0..threads)
                .map(|t| {
                    let data: Vec<u8> = (0..n_if)
                        .flat_map(|sw| {
                            let (p, b) = f(&value(sw as u32, t));
                            [p.to_le_bytes(), b.to_le_bytes()].concat()
                        })
                        .collect();
                    img.vector(&data, n_if)
                })
                .collect();
            entries.push((TYPE_COMBINED, img.pointers(&per_thread), name));
        }
        let simple: [(&str, SimpleField); 3] = [
            ("/if/drops", |c| c.drops),
            ("/if/rx-error", |c| c.rx_errors),
            ("/if/tx-error", |c| c.tx_errors),
        ];
        for (name, f) in simple {
            let per_thread: Vec<u64> = (0..threads)
                .map(|t| {
                    let data: Vec<u8> = (0..n_if)
                        .flat_map(|sw| f(&value(sw as u32, t)).to_le_bytes())
                        .collect();
                    img.vector(&data, n_if)
                })
                .collect();
            entries.push((TYPE_SIMPLE, img.pointers(&per_thread), name));
        }
        let dir: Vec<u8> = entries
            .iter()
            .flat_map(|(kind, data, name)| {
                let mut e = vec![0u8; usize_of(ENTRY_SIZE)];
                e[..4].copy_from_slice(&kind.to_le_bytes());
                e[8..16].copy_from_slice(&data.to_le_bytes());
                let n = name.len().min(NAME_SIZE - 1);
                e[16..16 + n].copy_from_slice(&name.as_bytes()[..n]);
                e
            })
            .collect();
        let directory = img.vector(&dir, entries.len());
        let h = &mut img.bytes;
        h[0..8].copy_from_slice(&self.version.to_le_bytes());
        h[8..16].copy_from_slice(&FAKE_BASE.to_le_bytes());
        h[16..24].copy_from_slice(&self.epoch.to_le_bytes());
        h[24..32].copy_from_slice(&1u64.to_le_bytes());
        h[32..40].copy_from_slice(&directory.to_le_bytes());
        img.bytes
    }
}

struct Image {
    bytes: Vec<u8>,
}

impl Image {
    /// Appends a vector (`vec_header_t` then data, 8-aligned) and returns its address.
    fn vector(&mut self, data: &[u8], len: usize) -> u64 {
        while !self.bytes.len().is_multiple_of(8) {
            self.bytes.push(0);
        }
        let len = u32::try_from(len).unwrap_or(u32::MAX);
        // vec_header_t: u32 len, u8 hdr_size (in VEC_MIN_ALIGN = 8 units), u8 log2_align,
        // u8 grow_elts, u8 pad.
        self.bytes.extend_from_slice(&len.to_le_bytes());
        self.bytes
            .extend_from_slice(&[(VEC_HEADER_SIZE / 8) as u8, 3, 0, 0]);
        let at = self.bytes.len() as u64;
        self.bytes.extend_from_slice(data);
        FAKE_BASE + at
    }

    /// Appends a vector of pointers.
    fn pointers(&mut self, ptrs: &[u64]) -> u64 {
        let data: Vec<u8> = ptrs.iter().flat_map(|p| p.to_le_bytes()).collect();
        self.vector(&data, ptrs.len())
    }
}

fn usize_of(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}
