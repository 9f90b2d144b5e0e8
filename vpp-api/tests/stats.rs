//! The stats segment reader against the fake segment, and the fake segment against VPP
//! 25.10's layout read byte by byte (so a layout mismatch fails here loudly, not as wrong
//! numbers on a dashboard).

use std::fs::File;
use std::io::IoSliceMut;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use nix::sys::socket::{
    AddressFamily, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr, connect, recvmsg,
    socket,
};
use vpp_api::fake::{FAKE_BASE, FakeStats};
use vpp_api::stats::{InterfaceCounters, StatsError, StatsSegment};

fn counters(seed: u64) -> InterfaceCounters {
    InterfaceCounters {
        rx_packets: seed + 1,
        rx_bytes: seed + 2,
        tx_packets: seed + 3,
        tx_bytes: seed + 4,
        drops: seed + 5,
        rx_errors: seed + 6,
        tx_errors: seed + 7,
    }
}

#[test]
fn interface_counters_are_summed_over_threads_per_sw_if_index() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeStats::start(dir.path().join("stats.sock"), 3).expect("fake stats");
    fake.set(0, 1, counters(100));
    fake.set(2, 1, counters(1000));
    fake.set(1, 4, counters(10));

    let read = StatsSegment::connect(fake.path())
        .expect("connect")
        .interface_counters()
        .expect("read");

    assert_eq!(read.get(&1), Some(&counters_sum(&[100, 1000])));
    assert_eq!(read.get(&4), Some(&counters(10)));
    // Interfaces without counters (local0, 2, 3) read as zero, as in VPP's vectors.
    assert_eq!(read.get(&0), Some(&InterfaceCounters::default()));
    assert_eq!(read.len(), 5);
}

fn counters_sum(seeds: &[u64]) -> InterfaceCounters {
    seeds.iter().fold(InterfaceCounters::default(), |a, &s| {
        let c = counters(s);
        InterfaceCounters {
            rx_packets: a.rx_packets + c.rx_packets,
            rx_bytes: a.rx_bytes + c.rx_bytes,
            tx_packets: a.tx_packets + c.tx_packets,
            tx_bytes: a.tx_bytes + c.tx_bytes,
            drops: a.drops + c.drops,
            rx_errors: a.rx_errors + c.rx_errors,
            tx_errors: a.tx_errors + c.tx_errors,
        }
    })
}

#[test]
fn a_connection_reads_later_updates_and_a_restart_gives_a_new_zeroed_segment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeStats::start(dir.path().join("stats.sock"), 1).expect("fake stats");
    fake.set(0, 2, counters(0));
    let seg = StatsSegment::connect(fake.path()).expect("connect");
    fake.set(0, 2, counters(50));
    assert_eq!(seg.interface_counters().expect("read")[&2], counters(50));

    fake.restart();

    // The old segment is VPP's old memory: stale. A new connection sees the new one.
    let fresh = StatsSegment::connect(fake.path())
        .expect("reconnect")
        .interface_counters()
        .expect("read");
    assert_eq!(fresh.get(&2), None);
}

#[test]
fn a_segment_left_in_progress_is_reported_busy_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeStats::start(dir.path().join("stats.sock"), 1).expect("fake stats");
    fake.set(0, 1, counters(0));
    let seg = StatsSegment::connect(fake.path()).expect("connect");

    fake.hold_in_progress();
    assert!(matches!(seg.interface_counters(), Err(StatsError::Busy)));

    fake.set(0, 1, counters(7));
    assert_eq!(seg.interface_counters().expect("read")[&1], counters(7));
}

#[test]
fn a_segment_of_another_layout_version_is_refused_not_misread() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeStats::start(dir.path().join("stats.sock"), 1).expect("fake stats");
    fake.set(0, 1, counters(0));
    fake.set_version(3);

    let err = StatsSegment::connect(fake.path())
        .expect("connect")
        .interface_counters()
        .expect_err("version 3");
    assert!(matches!(err, StatsError::Version(3)), "{err:?}");
}

#[test]
fn a_missing_socket_is_a_connect_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = StatsSegment::connect(dir.path().join("none.sock")).expect_err("no socket");
    assert!(matches!(err, StatsError::Connect { .. }), "{err:?}");
}

/// Takes the fd as VPP's `stat_client.c` does: SOCK_SEQPACKET, one SCM_RIGHTS message.
fn receive_segment(path: &std::path::Path) -> File {
    let sock = socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::empty(),
        None,
    )
    .expect("socket");
    connect(sock.as_raw_fd(), &UnixAddr::new(path).expect("addr")).expect("connect");
    let mut buf = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!(std::os::fd::RawFd);
    let msg = recvmsg::<()>(
        sock.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::empty(),
    )
    .expect("recvmsg");
    assert_eq!(msg.bytes, 0, "VPP sends the fd with an empty payload");
    let fd = msg
        .cmsgs()
        .expect("cmsgs")
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(fds) => fds.first().copied(),
            _ => None,
        })
        .expect("an SCM_RIGHTS fd");
    let file = File::open(format!("/proc/self/fd/{fd}")).expect("open the received fd");
    nix::unistd::close(fd).expect("close the received fd");
    file
}

fn u64_at(f: &File, at: u64) -> u64 {
    let mut b = [0u8; 8];
    f.read_exact_at(&mut b, at).expect("read");
    u64::from_le_bytes(b)
}

fn u32_at(f: &File, at: u64) -> u32 {
    let mut b = [0u8; 4];
    f.read_exact_at(&mut b, at).expect("read");
    u32::from_le_bytes(b)
}

/// Offsets written out literally from VPP v25.10's headers, not from the crate's constants.
#[test]
fn the_fake_segment_has_vpp_25_10_layout_byte_by_byte() {
    let dir = tempfile::tempdir().expect("tempdir");
    let fake = FakeStats::start(dir.path().join("stats.sock"), 2).expect("fake stats");
    fake.set(1, 3, counters(40));
    let f = receive_segment(fake.path());

    // vlib_stats_shared_header_t (src/vlib/stats/shared.h): version, base, epoch,
    // in_progress, directory_vector; STAT_SEGMENT_VERSION 2 (src/vlib/stats/stats.h).
    assert_eq!(u64_at(&f, 0), 2, "version");
    let base = u64_at(&f, 8);
    assert_eq!(base, FAKE_BASE, "base");
    assert!(u64_at(&f, 16) > 0, "epoch bumped by each update");
    assert_eq!(u64_at(&f, 24), 0, "in_progress");
    let directory = u64_at(&f, 32) - base;

    // vec_header_t (src/vppinfra/vec_bootstrap.h): u32 len 8 bytes before the data;
    // vlib_stats_entry_t (shared.h): u32 type, union at 8, name[128] at 16: 144 bytes.
    let entries = u32_at(&f, directory - 8);
    let mut found = Vec::new();
    for i in 0..u64::from(entries) {
        let e = directory + i * 144;
        let mut name = [0u8; 128];
        f.read_exact_at(&mut name, e + 16).expect("name");
        let name =
            String::from_utf8_lossy(&name[..name.iter().position(|&b| b == 0).expect("NUL")])
                .into_owned();
        found.push((name, u32_at(&f, e), u64_at(&f, e + 8)));
    }
    let kinds: Vec<(&str, u32)> = found.iter().map(|(n, k, _)| (n.as_str(), *k)).collect();
    // stat_directory_type_t (shared.h): 1 scalar, 2 simple, 3 combined, 5 empty; names from
    // src/vnet/interface.h and interface.c.
    assert_eq!(
        kinds,
        [
            ("/sys/boottime", 1),
            ("", 5),
            ("/if/rx", 3),
            ("/if/tx", 3),
            ("/if/drops", 2),
            ("/if/rx-error", 2),
            ("/if/tx-error", 2),
        ]
    );

    // Combined counter (stat_client.c, counter_types.h): vector of per-thread pointers to
    // vectors of {u64 packets, u64 bytes} indexed by sw_if_index.
    let rx = found[2].2 - base;
    assert_eq!(u32_at(&f, rx - 8), 2, "one vector per thread");
    let thread1 = u64_at(&f, rx + 8) - base;
    assert_eq!(u32_at(&f, thread1 - 8), 4, "sw_if_index 0..=3");
    assert_eq!(u64_at(&f, thread1 + 3 * 16), 41, "packets of sw_if_index 3");
    assert_eq!(
        u64_at(&f, thread1 + 3 * 16 + 8),
        42,
        "bytes of sw_if_index 3"
    );

    // Simple counter: per-thread pointers to vectors of u64.
    let drops = found[4].2 - base;
    let thread1 = u64_at(&f, drops + 8) - base;
    assert_eq!(u64_at(&f, thread1 + 3 * 8), 45, "drops of sw_if_index 3");
    let thread0 = u64_at(&f, drops) - base;
    assert_eq!(u64_at(&f, thread0 + 3 * 8), 0, "thread 0 untouched");
}
