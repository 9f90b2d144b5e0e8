//! A VPP API server for tests (feature `fake`). VPP is not packaged for Debian, so the plugin
//! and the agent are tested against this: it speaks the real framing, handshake and encoding
//! with the real name_crc table, keeps the state VPP would (memif sockets and interfaces,
//! vhost-user interfaces, bridge domains, addresses, routes) with VPP's return codes for the
//! cases the plugin meets, and records every request by name so a test can check the exact
//! sequence. Like VPP it ignores a request with a wrong `client_index` (no reply at all).
//!
//! Where it was checked against VPP 25.10-release it behaves the same: an address the
//! interface has already is refused with `ADDRESS_IN_USE`, deleting one it lacks with
//! `ADDRESS_NOT_FOUND_FOR_INTERFACE`; a socket id VPP is asked to pick is large and comes
//! from a fixed pseudo-random sequence; and after [`FakeVpp::restart`] VPP hands out the
//! same socket ids and `sw_if_index`es again, in the same order.
//!
//! A message it does not model is a loud failure: it gets no reply (the client times out),
//! is logged naming the message, is listed in [`State::unmodelled`], and dropping the
//! [`FakeVpp`] then panics, so the test that sent it fails.
//!
//! A test can hang it: [`State::silent_after`] names a request after which it answers
//! nothing (as a VPP stuck in a long operation), until the test clears [`State::silent`].
//!
//! What it does not do: move packets, or model VPP's many other messages.

mod handlers;
mod stats;

pub use stats::{FAKE_BASE, FakeStats};

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::codec::{FixedStr, Prefix};
use crate::frame::{FrameDecoder, frame};
use crate::message::{self, Header, Message};
use crate::messages::arp::ProxyArp;
use crate::messages::ip::FibPath;
use crate::messages::memclnt::*;
use crate::messages::memif::{MemifMode, MemifRole};

/// The default version string the fake reports.
pub const FAKE_VERSION: &str = "v25.10-release";

/// The first socket id VPP 25.10 picks for `memif_socket_filename_add_del_v2` with
/// `socket_id` ~0 (seen on a real VPP; its picks follow a pseudo-random sequence).
pub const FIRST_PICKED_SOCKET_ID: u32 = 1_013_904_223;

/// What kind of interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfKind {
    /// `local0`.
    Local,
    /// A memif interface.
    Memif {
        /// Socket id.
        socket_id: u32,
        /// Interface id on the socket.
        id: u32,
        /// Role.
        role: MemifRole,
        /// Mode.
        mode: MemifMode,
        /// rx and tx queues as created.
        queues: (u8, u8),
    },
    /// A loopback (`loop<instance>`).
    Loopback {
        /// Instance: the lowest free one at creation.
        instance: u32,
    },
    /// A vhost-user interface.
    VhostUser {
        /// Socket path.
        path: String,
        /// Whether VPP is the socket server.
        is_server: bool,
    },
}

/// An interface of the fake VPP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    /// VPP's name (`memif1/0`, `VirtualEthernet0/0/0`).
    pub name: String,
    /// Kind.
    pub kind: IfKind,
    /// MAC.
    pub mac: [u8; 6],
    /// Admin up.
    pub admin_up: bool,
    /// L3 addresses.
    pub addresses: Vec<Prefix>,
    /// Bridge domain it is a member of.
    pub bridge: Option<u32>,
    /// MTU and VLAN settings.
    pub l2: IfSettings,
    /// Tag (`sw_interface_tag_add_del`); empty: none.
    pub tag: String,
    /// Unnumbered: the interface whose addresses this one uses.
    pub unnumbered: Option<u32>,
}

/// What `sw_interface_set_mtu`, `l2_interface_vlan_tag_rewrite` and `l2_interface_efp_filter`
/// set on an interface.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IfSettings {
    /// Per-protocol MTUs (L3, IPv4, IPv6, MPLS) as last set; `None`: never set.
    pub mtu: Option<[u32; 4]>,
    /// VLAN tag rewrite: (`vtr_op`, `tag1`); `None`: disabled.
    pub vtr: Option<(u32, u32)>,
    /// Egress filter on.
    pub efp_filter: bool,
}

/// A bridge domain of the fake VPP.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BridgeDomain {
    /// Flags as created.
    pub flood: bool,
    /// Learning.
    pub learn: bool,
    /// Tag.
    pub tag: String,
}

/// A route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// FIB table.
    pub table_id: u32,
    /// Destination.
    pub prefix: Prefix,
    /// Next hops (address bytes of each path).
    pub paths: Vec<FibPath>,
}

/// The fake's state, readable and adjustable by tests.
#[derive(Debug)]
pub struct State {
    /// `show_version`'s version.
    pub version: String,
    /// name → CRC overrides in the handshake table (a VPP whose definition changed).
    pub crc_overrides: BTreeMap<&'static str, &'static str>,
    /// Messages left out of the table (a plugin not loaded).
    pub absent: Vec<&'static str>,
    /// memif socket ids → file names; id 0 is VPP's built-in socket.
    pub sockets: BTreeMap<u32, String>,
    /// sw_if_index → interface; 0 is `local0`.
    pub interfaces: BTreeMap<u32, Interface>,
    /// bd_id → bridge domain; bd 0 exists and cannot be changed.
    pub bridge_domains: BTreeMap<u32, BridgeDomain>,
    /// Routes added through the API.
    pub routes: Vec<Route>,
    /// Proxy ARP ranges, in the order added (VPP keeps each range once).
    pub proxy_arps: Vec<ProxyArp>,
    /// Interfaces proxy ARP is enabled on. As in VPP 25.10 (`enabled_by_sw_if_index`),
    /// deleting an interface does not clear its flag: it stays listed.
    pub proxy_arp_enabled: BTreeSet<u32>,
    /// Every request received, by name, in order (kept across [`FakeVpp::restart`]).
    pub log: Vec<String>,
    /// Requests the fake does not model, by name (or id): each one fails the test.
    pub unmodelled: Vec<String>,
    /// Requests to fail, by name: the next one of that name gets this return value and
    /// changes nothing (a test's way to make VPP refuse one step); the entry is then gone.
    pub fail: BTreeMap<String, crate::error::Retval>,
    /// Requests of a name in [`State::fail`] to serve normally before the refused one (the
    /// second `sw_interface_tag_add_del` of an ADD, say); absent: none.
    pub fail_after: BTreeMap<String, usize>,
    /// A request name after which VPP stops answering (a hung VPP): that request is served
    /// and answered, then [`State::silent`] is set.
    pub silent_after: Option<String>,
    /// VPP answers nothing, not even `sockclnt_create`, while this is set; requests are still
    /// logged. A test clears it to revive VPP.
    pub silent: bool,
    /// While silent, how many requests VPP leaves unanswered before it answers again (a VPP
    /// that hangs for a while); `None`: until a test clears [`State::silent`].
    pub silent_for: Option<usize>,
    next_sw_if_index: u32,
    vhost_instance: u32,
    next_client: u32,
    socket_id_seed: u32,
    /// Counts restarts: a session from before one is closed, never served again.
    generation: u64,
}

impl Default for State {
    fn default() -> Self {
        Self {
            version: FAKE_VERSION.into(),
            crc_overrides: BTreeMap::new(),
            absent: Vec::new(),
            sockets: [(0, "/run/vpp/memif.sock".to_owned())].into(),
            interfaces: [(
                0,
                Interface {
                    name: "local0".into(),
                    kind: IfKind::Local,
                    mac: [0; 6],
                    admin_up: false,
                    addresses: Vec::new(),
                    bridge: None,
                    l2: Default::default(),
                    tag: String::new(),
                    unnumbered: None,
                },
            )]
            .into(),
            bridge_domains: [(0, BridgeDomain::default())].into(),
            routes: Vec::new(),
            proxy_arps: Vec::new(),
            proxy_arp_enabled: BTreeSet::new(),
            log: Vec::new(),
            unmodelled: Vec::new(),
            fail: BTreeMap::new(),
            fail_after: BTreeMap::new(),
            silent_after: None,
            silent: false,
            silent_for: None,
            next_sw_if_index: 1,
            vhost_instance: 0,
            next_client: 0,
            socket_id_seed: 0,
            generation: 0,
        }
    }
}

impl State {
    /// The requests received, without the `control_ping`s that end dumps.
    pub fn requests(&self) -> Vec<String> {
        self.log
            .iter()
            .filter(|n| n.as_str() != ControlPing::NAME)
            .cloned()
            .collect()
    }

    /// Members of a bridge domain.
    pub fn members(&self, bd_id: u32) -> Vec<u32> {
        self.interfaces
            .iter()
            .filter(|(_, i)| i.bridge == Some(bd_id))
            .map(|(k, _)| *k)
            .collect()
    }

    /// The interfaces unnumbered to `sw_if_index` (using its addresses).
    pub fn unnumbered_to(&self, sw_if_index: u32) -> Vec<u32> {
        self.interfaces
            .iter()
            .filter(|(_, i)| i.unnumbered == Some(sw_if_index))
            .map(|(k, _)| *k)
            .collect()
    }

    /// Whether VPP would answer an ARP request for `target` arriving on `sw_if_index`, as
    /// VPP 25.10's `arp-reply` and `arp-proxy` nodes decide: the interface must be IP-enabled
    /// (an address, or unnumbered to an interface with one); an address of its own (or of
    /// the interface it borrows from) is answered; any other only when proxy ARP is enabled
    /// on the interface and `target` is in a range of its table (table 0 here).
    pub fn answers_arp(&self, sw_if_index: u32, target: Ipv4Addr) -> bool {
        let Some(i) = self.interfaces.get(&sw_if_index) else {
            return false;
        };
        let own = match i.unnumbered {
            Some(ip) => self.interfaces.get(&ip).map(|l| &l.addresses),
            None => Some(&i.addresses),
        };
        let Some(own) = own.filter(|a| {
            a.iter()
                .any(|p| p.address.ip().is_some_and(|a| a.is_ipv4()))
        }) else {
            return false; // arp-input: "Interface is not IP enabled"
        };
        if own.iter().any(|p| p.address.ip() == Some(target.into())) {
            return true;
        }
        let t = u32::from(target);
        self.proxy_arp_enabled.contains(&sw_if_index)
            && self.proxy_arps.iter().any(|r| {
                r.table_id == 0
                    && u32::from(Ipv4Addr::from(r.low)) <= t
                    && t <= u32::from(Ipv4Addr::from(r.hi))
            })
    }

    /// The loopbacks, by `sw_if_index`.
    pub fn loopbacks(&self) -> Vec<(u32, &Interface)> {
        self.interfaces
            .iter()
            .filter(|(_, i)| matches!(i.kind, IfKind::Loopback { .. }))
            .map(|(k, i)| (*k, i))
            .collect()
    }

    /// The interface with this name.
    pub fn interface_named(&self, name: &str) -> Option<(u32, &Interface)> {
        self.interfaces
            .iter()
            .find(|(_, i)| i.name == name)
            .map(|(k, i)| (*k, i))
    }

    /// The state VPP comes back with after a restart: nothing the API made survives; the
    /// test's configuration of this VPP (version, CRCs, absent messages) and the log do.
    fn restarted(&mut self) -> Self {
        Self {
            version: std::mem::take(&mut self.version),
            crc_overrides: std::mem::take(&mut self.crc_overrides),
            absent: std::mem::take(&mut self.absent),
            log: std::mem::take(&mut self.log),
            unmodelled: std::mem::take(&mut self.unmodelled),
            fail: std::mem::take(&mut self.fail),
            fail_after: std::mem::take(&mut self.fail_after),
            generation: self.generation + 1,
            ..Self::default()
        }
    }

    /// The next socket id VPP picks: a linear congruential sequence (Numerical Recipes'
    /// constants) whose first value is the one a real VPP picked, so ids are large, fixed
    /// for a given history, and repeat after a restart as VPP's do.
    fn pick_socket_id(&mut self) -> u32 {
        loop {
            self.socket_id_seed = self
                .socket_id_seed
                .wrapping_mul(1_664_525)
                .wrapping_add(FIRST_PICKED_SOCKET_ID);
            let id = self.socket_id_seed;
            if id != 0 && id != u32::MAX && !self.sockets.contains_key(&id) {
                return id;
            }
        }
    }

    /// Adds an interface VPP made by itself (as the DPDK interfaces of its startup.conf),
    /// taking the next `sw_if_index`, which it returns.
    pub fn add_interface(&mut self, interface: Interface) -> u32 {
        let i = self.new_sw_if_index();
        self.interfaces.insert(i, interface);
        i
    }

    fn new_sw_if_index(&mut self) -> u32 {
        let i = self.next_sw_if_index;
        self.next_sw_if_index += 1;
        i
    }

    fn unmodelled(&mut self, what: String) {
        tracing::error!("fake VPP: {what} is not modelled, so it gets no reply");
        eprintln!("fake VPP: {what} is not modelled, so it gets no reply");
        self.unmodelled.push(what);
    }
}

/// A running fake VPP listening on a unix socket.
pub struct FakeVpp {
    path: PathBuf,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<UnixStream>>>,
    thread: Option<JoinHandle<()>>,
    stats: Option<FakeStats>,
}

impl FakeVpp {
    /// Starts listening on `path`.
    pub fn start(path: impl AsRef<Path>) -> std::io::Result<Self> {
        Self::start_with(path, State::default())
    }

    /// Starts with a prepared state (CRC overrides, existing objects).
    pub fn start_with(path: impl AsRef<Path>, state: State) -> std::io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path)?;
        let state = Arc::new(Mutex::new(state));
        let stop = Arc::new(AtomicBool::new(false));
        let conns = Arc::new(Mutex::new(Vec::new()));
        let (st, sp, cs) = (state.clone(), stop.clone(), conns.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    break;
                }
                if let Ok(conn) = conn {
                    if let Ok(c) = conn.try_clone() {
                        lock(&cs).push(c);
                    }
                    let st = st.clone();
                    std::thread::spawn(move || serve(conn, &st));
                }
            }
        });
        Ok(Self {
            path,
            state,
            stop,
            conns,
            thread: Some(thread),
            stats: None,
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state (lock held while the guard lives).
    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Also serves a stats segment with `threads` threads on the socket `path`, re-created
    /// by [`FakeVpp::restart`].
    pub fn with_stats(mut self, path: impl AsRef<Path>, threads: usize) -> std::io::Result<Self> {
        self.stats = Some(FakeStats::start(path, threads)?);
        Ok(self)
    }

    /// The stats segment, if [`FakeVpp::with_stats`] started one.
    pub fn stats(&self) -> Option<&FakeStats> {
        self.stats.as_ref()
    }

    /// Simulates VPP restarting on the same socket: every API session is closed (clients
    /// see the connection lost and must handshake again), and everything made through the
    /// API is gone: memif sockets but the built-in one, interfaces but `local0`, bridge
    /// domains, addresses, routes. Socket ids and `sw_if_index`es are then handed out again
    /// from the start of the same sequences. Kept: version, CRC overrides, absent messages,
    /// the request log and the unmodelled list. A stats segment (see [`FakeVpp::with_stats`]) is
    /// re-created with zero counters.
    pub fn restart(&self) {
        self.restart_into(|_| {});
    }

    /// Like [`restart`](Self::restart), then lets `setup` add what VPP's own configuration
    /// recreates at start (e.g. the DPDK interfaces of its startup.conf).
    pub fn restart_into(&self, setup: impl FnOnce(&mut State)) {
        let mut st = self.state();
        for c in lock(&self.conns).drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        *st = st.restarted();
        if let Some(stats) = &self.stats {
            stats.restart();
        }
        setup(&mut st);
        tracing::info!("fake VPP on {} restarted", self.path.display());
    }
}

impl Drop for FakeVpp {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = UnixStream::connect(&self.path);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // VPP going away closes every session.
        for c in lock(&self.conns).drain(..) {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.path);
        let unmodelled = std::mem::take(&mut self.state().unmodelled);
        if !unmodelled.is_empty() && !std::thread::panicking() {
            panic!(
                "the fake VPP was sent messages it does not model: {}",
                unmodelled.join(", ")
            );
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The id table: memclnt's fixed ids, then the rest from 29 on in an order unrelated to
/// names, as ids differ between VPP builds.
fn id_table(st: &State) -> Vec<(u16, String, &'static str)> {
    let fixed = |n: &str| match n {
        SockclntCreate::NAME => Some(SOCKCLNT_CREATE_ID),
        SockclntCreateReply::NAME => Some(SOCKCLNT_CREATE_REPLY_ID),
        SockclntDelete::NAME => Some(17),
        SockclntDeleteReply::NAME => Some(18),
        ControlPing::NAME => Some(23),
        ControlPingReply::NAME => Some(24),
        _ => None,
    };
    let mut next = 29u16;
    let mut out = Vec::new();
    let mut cat = handlers::catalogue();
    cat.reverse();
    for (name, crc) in cat {
        let id = fixed(name).unwrap_or_else(|| {
            next += 3;
            next
        });
        if st.absent.contains(&name) {
            continue;
        }
        let crc = st.crc_overrides.get(name).copied().unwrap_or(crc);
        out.push((id, format!("{name}_{crc}"), name));
    }
    out
}

/// One API session's view: its handle and the id table it was given.
#[derive(Default)]
struct Session {
    handle: Option<u32>,
    generation: u64,
    ids: BTreeMap<u16, &'static str>,
    reply_ids: BTreeMap<&'static str, u16>,
}

fn serve(mut conn: UnixStream, state: &Mutex<State>) {
    let mut frames = FrameDecoder::default();
    let mut session = Session::default();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        frames.push(&chunk[..n]);
        while let Ok(Some(body)) = frames.next_frame() {
            let mut st = lock(state);
            if session.handle.is_some() && session.generation != st.generation {
                return; // VPP restarted: this connection is gone.
            }
            let Some(id) = message::peek_id(&body) else {
                continue;
            };
            if st.silent {
                // A hung VPP: it reads the request and never answers.
                let name = session.ids.get(&id).copied().unwrap_or("sockclnt_create");
                st.log.push(name.to_owned());
                match st.silent_for {
                    Some(n) if n <= 1 => {
                        st.silent = false;
                        st.silent_for = None;
                    }
                    Some(n) => st.silent_for = Some(n - 1),
                    None => {}
                }
                continue;
            }
            if id == SOCKCLNT_CREATE_ID {
                let Some(reply) = handshake(&mut st, &mut session, &body) else {
                    continue;
                };
                drop(st);
                if conn.write_all(&frame(&reply)).is_err() {
                    return;
                }
                continue;
            }
            let Some(&name) = session.ids.get(&id) else {
                // VPP: "no handler for msg id", no reply.
                st.unmodelled(format!("message id {id} (not in the table it handed out)"));
                continue;
            };
            let Ok((h, _)) = message::decode::<ControlPing>(&body) else {
                continue;
            };
            if Some(h.client_index) != session.handle {
                continue; // VPP finds no registration and stays silent.
            }
            st.log.push(name.to_owned());
            let Some(replies) = handlers::dispatch(&mut st, name, &body, &session.reply_ids) else {
                st.unmodelled(name.to_owned());
                continue;
            };
            if st.silent_after.as_deref() == Some(name) {
                st.silent_after = None;
                st.silent = true;
            }
            drop(st);
            for r in replies {
                if conn.write_all(&frame(&r)).is_err() {
                    return;
                }
            }
            if name == SockclntDelete::NAME {
                return;
            }
        }
    }
}

/// Answers `sockclnt_create` with a fresh handle and the id table.
fn handshake(st: &mut State, session: &mut Session, body: &[u8]) -> Option<Vec<u8>> {
    let (_, req) = message::decode::<SockclntCreate>(body).ok()?;
    st.log.push(SockclntCreate::NAME.into());
    st.next_client += 1;
    let index = 0x8000_0000 | st.next_client;
    session.handle = Some(index);
    session.generation = st.generation;
    let table = id_table(st);
    session.ids = table.iter().map(|(i, _, n)| (*i, *n)).collect();
    session.reply_ids = table.iter().map(|(i, _, n)| (*n, *i)).collect();
    let reply = SockclntCreateReply {
        client_index: 0,
        context: req.context,
        response: 0,
        index,
        message_table: table
            .into_iter()
            .map(|(index, name, _)| MessageTableEntry {
                index,
                name: FixedStr::new(name),
            })
            .collect::<Vec<_>>()
            .into(),
    };
    Some(message::encode(
        Header {
            id: SOCKCLNT_CREATE_REPLY_ID,
            ..Header::default()
        },
        &reply,
    ))
}
