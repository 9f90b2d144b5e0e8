//! A VPP API server for tests (feature `fake`). VPP is not packaged for Debian, so the plugin
//! and the agent are tested against this: it speaks the real framing, handshake and encoding
//! with the real name_crc table, keeps the state VPP would (memif sockets and interfaces,
//! vhost-user interfaces, bridge domains, addresses, routes) with VPP's return codes for the
//! cases the plugin meets, and records every request by name so a test can check the exact
//! sequence. Like VPP it ignores a request with a wrong `client_index` (no reply at all).
//!
//! What it does not do: move packets, or model VPP's many other messages.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use crate::codec::{FixedStr, Prefix};
use crate::frame::{FrameDecoder, frame};
use crate::message::{self, Header, Message, Request};
use crate::messages::interface::*;
use crate::messages::ip::*;
use crate::messages::l2::*;
use crate::messages::memclnt::*;
use crate::messages::memif::*;
use crate::messages::vhost_user::*;
use crate::messages::vlib::*;

/// The default version string the fake reports.
pub const FAKE_VERSION: &str = "v25.10-release";

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
    /// Routes.
    pub routes: Vec<Route>,
    /// Every request received, by name, in order.
    pub log: Vec<String>,
    next_sw_if_index: u32,
    vhost_instance: u32,
    next_client: u32,
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
                },
            )]
            .into(),
            bridge_domains: [(0, BridgeDomain::default())].into(),
            routes: Vec::new(),
            log: Vec::new(),
            next_sw_if_index: 1,
            vhost_instance: 0,
            next_client: 0,
        }
    }
}

impl State {
    /// The requests received, without the `control_ping`s that end dumps.
    pub fn requests(&self) -> Vec<String> {
        self.log
            .iter()
            .filter(|n| n.as_str() != "control_ping")
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

    /// The interface with this name.
    pub fn interface_named(&self, name: &str) -> Option<(u32, &Interface)> {
        self.interfaces
            .iter()
            .find(|(_, i)| i.name == name)
            .map(|(k, i)| (*k, i))
    }
}

/// A running fake VPP listening on a unix socket.
pub struct FakeVpp {
    path: PathBuf,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<UnixStream>>>,
    thread: Option<JoinHandle<()>>,
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
                        cs.lock().unwrap_or_else(|p| p.into_inner()).push(c);
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
        })
    }

    /// The socket path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The state (lock held while the guard lives).
    pub fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
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
        for c in self
            .conns
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            let _ = c.shutdown(std::net::Shutdown::Both);
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Every message the fake knows, as (name, crc).
fn catalogue() -> Vec<(&'static str, &'static str)> {
    macro_rules! names {
        ($($t:ty),* $(,)?) => { vec![$((<$t>::NAME, <$t>::CRC)),*] };
    }
    names![
        SockclntCreate,
        SockclntCreateReply,
        SockclntDelete,
        SockclntDeleteReply,
        ControlPing,
        ControlPingReply,
        CliInband,
        CliInbandReply,
        ShowVersion,
        ShowVersionReply,
        MemifSocketFilenameAddDelV2,
        MemifSocketFilenameAddDelV2Reply,
        MemifSocketFilenameDump,
        MemifSocketFilenameDetails,
        MemifCreateV2,
        MemifCreateV2Reply,
        MemifDelete,
        MemifDeleteReply,
        MemifDump,
        MemifDetails,
        SwInterfaceSetFlags,
        SwInterfaceSetFlagsReply,
        SwInterfaceAddDelAddress,
        SwInterfaceAddDelAddressReply,
        SwInterfaceDump,
        SwInterfaceDetails,
        BridgeDomainAddDelV2,
        BridgeDomainAddDelV2Reply,
        BridgeDomainDump,
        BridgeDomainDetails,
        SwInterfaceSetL2Bridge,
        SwInterfaceSetL2BridgeReply,
        CreateVhostUserIfV2,
        CreateVhostUserIfV2Reply,
        DeleteVhostUserIf,
        DeleteVhostUserIfReply,
        SwInterfaceVhostUserDump,
        SwInterfaceVhostUserDetails,
        IpRouteAddDel,
        IpRouteAddDelReply,
    ]
}

/// The id table: memclnt's fixed ids, then the rest from 29 on in an order unrelated to
/// names, as ids differ between VPP builds.
fn id_table(st: &State) -> Vec<(u16, String, &'static str)> {
    let fixed = |n: &str| match n {
        "sockclnt_create" => Some(15),
        "sockclnt_create_reply" => Some(16),
        "sockclnt_delete" => Some(17),
        "sockclnt_delete_reply" => Some(18),
        "control_ping" => Some(23),
        "control_ping_reply" => Some(24),
        _ => None,
    };
    let mut next = 29u16;
    let mut out = Vec::new();
    let mut cat = catalogue();
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

fn serve(mut conn: UnixStream, state: &Mutex<State>) {
    let mut frames = FrameDecoder::default();
    let mut handle: Option<u32> = None;
    let mut ids: BTreeMap<u16, &'static str> = BTreeMap::new();
    let mut reply_ids: BTreeMap<&'static str, u16> = BTreeMap::new();
    let mut chunk = [0u8; 64 * 1024];
    loop {
        let n = match conn.read(&mut chunk) {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        frames.push(&chunk[..n]);
        while let Ok(Some(body)) = frames.next_frame() {
            let mut st = state.lock().unwrap_or_else(|p| p.into_inner());
            let Some(id) = message::peek_id(&body) else {
                continue;
            };
            if id == SOCKCLNT_CREATE_ID {
                let Ok((_, req)) = message::decode::<SockclntCreate>(&body) else {
                    continue;
                };
                st.log.push(SockclntCreate::NAME.into());
                st.next_client += 1;
                let index = 0x8000_0000 | st.next_client;
                handle = Some(index);
                let table = id_table(&st);
                ids = table.iter().map(|(i, _, n)| (*i, *n)).collect();
                reply_ids = table.iter().map(|(i, _, n)| (*n, *i)).collect();
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
                let out = message::encode(
                    Header {
                        id: SOCKCLNT_CREATE_REPLY_ID,
                        ..Header::default()
                    },
                    &reply,
                );
                if conn.write_all(&frame(&out)).is_err() {
                    return;
                }
                continue;
            }
            let Some(&name) = ids.get(&id) else {
                continue; // VPP: "no handler for msg id", no reply.
            };
            let Ok((h, _)) = message::decode::<ControlPing>(&body) else {
                continue;
            };
            if Some(h.client_index) != handle {
                continue; // VPP finds no registration and stays silent.
            }
            st.log.push(name.to_owned());
            let replies = dispatch(&mut st, name, &body, &reply_ids);
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

/// Decodes a request as `R`, runs `f`, and encodes its reply with the request's context.
fn answer<R: Request>(
    st: &mut State,
    body: &[u8],
    reply_ids: &BTreeMap<&'static str, u16>,
    f: impl FnOnce(&mut State, R) -> R::Reply,
) -> Vec<Vec<u8>> {
    // A message shorter than its definition is dropped without a reply, as VPP does.
    let Ok((h, req)) = message::decode::<R>(body) else {
        return Vec::new();
    };
    let reply = f(st, req);
    vec![message::encode(
        Header {
            id: reply_ids.get(<R::Reply>::NAME).copied().unwrap_or(0),
            client_index: 0,
            context: h.context,
        },
        &reply,
    )]
}

fn details<D: Message>(
    context: u32,
    reply_ids: &BTreeMap<&'static str, u16>,
    items: Vec<D>,
) -> Vec<Vec<u8>> {
    let id = reply_ids.get(D::NAME).copied().unwrap_or(0);
    items
        .iter()
        .map(|d| {
            message::encode(
                Header {
                    id,
                    client_index: 0,
                    context,
                },
                d,
            )
        })
        .collect()
}

fn dump_context(body: &[u8]) -> u32 {
    message::decode::<ControlPing>(body)
        .map(|(h, _)| h.context)
        .unwrap_or(0)
}

fn dispatch(
    st: &mut State,
    name: &str,
    body: &[u8],
    ids: &BTreeMap<&'static str, u16>,
) -> Vec<Vec<u8>> {
    match name {
        "control_ping" => answer::<ControlPing>(st, body, ids, |_, _| ControlPingReply {
            retval: 0,
            client_index: 0,
            vpe_pid: std::process::id(),
        }),
        "sockclnt_delete" => {
            answer::<SockclntDelete>(st, body, ids, |_, _| SockclntDeleteReply { retval: 1 })
        }
        "show_version" => answer::<ShowVersion>(st, body, ids, |st, _| ShowVersionReply {
            retval: 0,
            program: FixedStr::new("vpe"),
            version: FixedStr::new(st.version.clone()),
            build_date: FixedStr::new("fake"),
            build_directory: FixedStr::new("/fake"),
        }),
        "cli_inband" => answer::<CliInband>(st, body, ids, |st, req| CliInbandReply {
            retval: 0,
            reply: cli(st, &req.cmd),
        }),
        "memif_socket_filename_add_del_v2" => {
            answer::<MemifSocketFilenameAddDelV2>(st, body, ids, socket_filename)
        }
        "memif_socket_filename_dump" => details(
            dump_context(body),
            ids,
            st.sockets
                .iter()
                .map(|(id, f)| MemifSocketFilenameDetails {
                    socket_id: *id,
                    socket_filename: FixedStr::new(f.clone()),
                })
                .collect(),
        ),
        "memif_create_v2" => answer::<MemifCreateV2>(st, body, ids, memif_create),
        "memif_delete" => answer::<MemifDelete>(st, body, ids, |st, req| MemifDeleteReply {
            retval: delete_if(st, req.sw_if_index, |k| matches!(k, IfKind::Memif { .. })),
        }),
        "memif_dump" => details(
            dump_context(body),
            ids,
            st.interfaces
                .iter()
                .filter_map(|(sw, i)| match &i.kind {
                    IfKind::Memif {
                        socket_id,
                        id,
                        role,
                        mode,
                    } => Some(MemifDetails {
                        sw_if_index: *sw,
                        hw_addr: i.mac,
                        id: *id,
                        role: *role,
                        mode: *mode,
                        zero_copy: true,
                        socket_id: *socket_id,
                        ring_size: 1024,
                        buffer_size: 2048,
                        flags: u32::from(i.admin_up),
                        if_name: FixedStr::new(i.name.clone()),
                    }),
                    _ => None,
                })
                .collect(),
        ),
        "sw_interface_set_flags" => {
            answer::<SwInterfaceSetFlags>(st, body, ids, |st, req| SwInterfaceSetFlagsReply {
                retval: match st.interfaces.get_mut(&req.sw_if_index) {
                    Some(i) => {
                        i.admin_up = req.flags.0 & IfStatusFlags::ADMIN_UP.0 != 0;
                        0
                    }
                    None => -2,
                },
            })
        }
        "sw_interface_add_del_address" => {
            answer::<SwInterfaceAddDelAddress>(st, body, ids, |st, req| {
                SwInterfaceAddDelAddressReply {
                    retval: add_del_address(st, &req),
                }
            })
        }
        "sw_interface_dump" => {
            let ctx = dump_context(body);
            let items = st
                .interfaces
                .iter()
                .map(|(sw, i)| SwInterfaceDetails {
                    sw_if_index: *sw,
                    sup_sw_if_index: *sw,
                    l2_address: i.mac,
                    flags: IfStatusFlags(u32::from(i.admin_up)),
                    interface_name: FixedStr::new(i.name.clone()),
                    ..SwInterfaceDetails::default()
                })
                .collect();
            details(ctx, ids, items)
        }
        "bridge_domain_add_del_v2" => answer::<BridgeDomainAddDelV2>(st, body, ids, bd_add_del),
        "bridge_domain_dump" => {
            let ctx = dump_context(body);
            let Ok((_, req)) = message::decode::<BridgeDomainDump>(body) else {
                return Vec::new();
            };
            // VPP: sw_if_index must be ~0; bd 0 is never listed.
            let items = if req.sw_if_index != ANY_SW_IF_INDEX || req.bd_id == 0 {
                Vec::new()
            } else {
                st.bridge_domains
                    .iter()
                    .filter(|(id, _)| **id != 0 && (req.bd_id == u32::MAX || **id == req.bd_id))
                    .map(|(id, bd)| BridgeDomainDetails {
                        bd_id: *id,
                        flood: bd.flood,
                        learn: bd.learn,
                        bd_tag: FixedStr::new(bd.tag.clone()),
                        bvi_sw_if_index: u32::MAX,
                        uu_fwd_sw_if_index: u32::MAX,
                        sw_if_details: st
                            .members(*id)
                            .into_iter()
                            .map(|sw_if_index| BridgeDomainSwIf {
                                context: 0,
                                sw_if_index,
                                shg: 0,
                            })
                            .collect::<Vec<_>>()
                            .into(),
                        ..BridgeDomainDetails::default()
                    })
                    .collect()
            };
            details(ctx, ids, items)
        }
        "sw_interface_set_l2_bridge" => {
            answer::<SwInterfaceSetL2Bridge>(st, body, ids, |st, req| SwInterfaceSetL2BridgeReply {
                retval: set_l2_bridge(st, &req),
            })
        }
        "create_vhost_user_if_v2" => answer::<CreateVhostUserIfV2>(st, body, ids, vhost_create),
        "delete_vhost_user_if" => {
            answer::<DeleteVhostUserIf>(st, body, ids, |st, req| DeleteVhostUserIfReply {
                retval: delete_if(st, req.sw_if_index, |k| {
                    matches!(k, IfKind::VhostUser { .. })
                }),
            })
        }
        "sw_interface_vhost_user_dump" => details(
            dump_context(body),
            ids,
            st.interfaces
                .iter()
                .filter_map(|(sw, i)| match &i.kind {
                    IfKind::VhostUser { path, is_server } => Some(SwInterfaceVhostUserDetails {
                        sw_if_index: *sw,
                        interface_name: FixedStr::new(i.name.clone()),
                        is_server: *is_server,
                        sock_filename: FixedStr::new(path.clone()),
                        ..SwInterfaceVhostUserDetails::default()
                    }),
                    _ => None,
                })
                .collect(),
        ),
        "ip_route_add_del" => answer::<IpRouteAddDel>(st, body, ids, |st, req| {
            let r = Route {
                table_id: req.route.table_id,
                prefix: req.route.prefix,
                paths: req.route.paths.0.clone(),
            };
            let retval = if req.is_add {
                st.routes.push(r);
                0
            } else {
                let before = st.routes.len();
                st.routes
                    .retain(|x| !(x.table_id == r.table_id && x.prefix == r.prefix));
                if st.routes.len() == before { -6 } else { 0 }
            };
            IpRouteAddDelReply {
                retval,
                stats_index: 0,
            }
        }),
        _ => Vec::new(),
    }
}

fn cli(st: &State, cmd: &str) -> String {
    match cmd.trim() {
        "show version" => format!("vpp {} built by fake on fake\n", st.version),
        "show interface" => st
            .interfaces
            .iter()
            .map(|(sw, i)| {
                format!(
                    "{:<24}{sw:>4}  {}\n",
                    i.name,
                    if i.admin_up { "up" } else { "down" }
                )
            })
            .collect(),
        other => format!("unknown input `{other}'\n"),
    }
}

fn socket_filename(
    st: &mut State,
    req: MemifSocketFilenameAddDelV2,
) -> MemifSocketFilenameAddDelV2Reply {
    let reply = |retval, socket_id| MemifSocketFilenameAddDelV2Reply { retval, socket_id };
    if req.is_add {
        let id = match req.socket_id {
            0 => return reply(-73, 0),
            PICK_SOCKET_ID => (1..).find(|i| !st.sockets.contains_key(i)).unwrap_or(0),
            id => id,
        };
        match st.sockets.get(&id) {
            Some(f) if *f == req.socket_filename => reply(0, id),
            Some(_) => reply(-116, id),
            None => {
                st.sockets.insert(id, req.socket_filename);
                reply(0, id)
            }
        }
    } else {
        if req.socket_id == 0 || !st.sockets.contains_key(&req.socket_id) {
            return reply(-73, req.socket_id);
        }
        let used = st.interfaces.values().any(
            |i| matches!(i.kind, IfKind::Memif { socket_id, .. } if socket_id == req.socket_id),
        );
        if used {
            return reply(-74, req.socket_id);
        }
        st.sockets.remove(&req.socket_id);
        reply(0, req.socket_id)
    }
}

fn new_sw_if_index(st: &mut State) -> u32 {
    let i = st.next_sw_if_index;
    st.next_sw_if_index += 1;
    i
}

fn memif_create(st: &mut State, req: MemifCreateV2) -> MemifCreateV2Reply {
    let fail = |retval| MemifCreateV2Reply {
        retval,
        sw_if_index: u32::MAX,
    };
    let Some(file) = st.sockets.get(&req.socket_id).cloned() else {
        return fail(-73);
    };
    let ring = if req.ring_size == 0 {
        1024
    } else {
        req.ring_size
    };
    if !ring.is_power_of_two() {
        return fail(-73);
    }
    let taken = st.interfaces.values().any(|i| {
        matches!(i.kind, IfKind::Memif { socket_id, id, .. } if socket_id == req.socket_id && id == req.id)
    });
    if taken {
        return fail(-116);
    }
    // A master listens on the socket: VPP creates the file.
    if req.role == MemifRole::MASTER && !Path::new(&file).exists() {
        let _ = UnixListener::bind(&file);
    }
    let sw = new_sw_if_index(st);
    let mac = if req.hw_addr == [0; 6] {
        [0x02, 0xfe, 0, 0, 0, sw as u8]
    } else {
        req.hw_addr
    };
    st.interfaces.insert(
        sw,
        Interface {
            name: format!("memif{}/{}", req.socket_id, req.id),
            kind: IfKind::Memif {
                socket_id: req.socket_id,
                id: req.id,
                role: req.role,
                mode: req.mode,
            },
            mac,
            admin_up: false,
            addresses: Vec::new(),
            bridge: None,
        },
    );
    MemifCreateV2Reply {
        retval: 0,
        sw_if_index: sw,
    }
}

fn vhost_create(st: &mut State, req: CreateVhostUserIfV2) -> CreateVhostUserIfV2Reply {
    let path = req.sock_filename.0.clone();
    let dup = st
        .interfaces
        .values()
        .any(|i| matches!(&i.kind, IfKind::VhostUser { path: p, .. } if *p == path));
    if dup {
        return CreateVhostUserIfV2Reply {
            retval: -116,
            sw_if_index: u32::MAX,
        };
    }
    if req.is_server {
        let _ = UnixListener::bind(&path);
    }
    let sw = new_sw_if_index(st);
    let name = format!("VirtualEthernet0/0/{}", st.vhost_instance);
    st.vhost_instance += 1;
    st.interfaces.insert(
        sw,
        Interface {
            name,
            kind: IfKind::VhostUser {
                path,
                is_server: req.is_server,
            },
            mac: if req.use_custom_mac {
                req.mac_address
            } else {
                [0x02, 0xfe, 0, 0, 1, sw as u8]
            },
            admin_up: false,
            addresses: Vec::new(),
            bridge: None,
        },
    );
    CreateVhostUserIfV2Reply {
        retval: 0,
        sw_if_index: sw,
    }
}

fn delete_if(st: &mut State, sw: u32, kind: impl Fn(&IfKind) -> bool) -> i32 {
    match st.interfaces.get(&sw) {
        Some(i) if kind(&i.kind) => {
            st.interfaces.remove(&sw);
            st.routes
                .retain(|r| !r.paths.iter().any(|p| p.sw_if_index == sw));
            0
        }
        _ => -2,
    }
}

fn add_del_address(st: &mut State, req: &SwInterfaceAddDelAddress) -> i32 {
    if !st.interfaces.contains_key(&req.sw_if_index) {
        return -2;
    }
    if req.del_all {
        if let Some(i) = st.interfaces.get_mut(&req.sw_if_index) {
            i.addresses.clear();
        }
        return 0;
    }
    if req.is_add {
        // VPP refuses an address whose subnet is already on another interface.
        let clash = st.interfaces.iter().any(|(sw, i)| {
            *sw != req.sw_if_index && i.addresses.iter().any(|a| same_subnet(a, &req.prefix))
        });
        if clash {
            return -105;
        }
        if let Some(i) = st.interfaces.get_mut(&req.sw_if_index)
            && !i.addresses.contains(&req.prefix)
        {
            i.addresses.push(req.prefix);
        }
        0
    } else {
        match st.interfaces.get_mut(&req.sw_if_index) {
            Some(i) if i.addresses.contains(&req.prefix) => {
                i.addresses.retain(|a| *a != req.prefix);
                0
            }
            _ => -6,
        }
    }
}

fn same_subnet(a: &Prefix, b: &Prefix) -> bool {
    if a.address.af != b.address.af {
        return false;
    }
    let len = a.len.min(b.len) as usize;
    let bits = |p: &Prefix| u128::from_be_bytes(p.address.un);
    let mask = if len == 0 {
        0
    } else {
        u128::MAX << (128 - len.min(128))
    };
    let (x, y) = if a.address.af == 0 {
        ((bits(a) >> 96) << 96, (bits(b) >> 96) << 96)
    } else {
        (bits(a), bits(b))
    };
    x & mask == y & mask
}

fn bd_add_del(st: &mut State, req: BridgeDomainAddDelV2) -> BridgeDomainAddDelV2Reply {
    let reply = |retval, bd_id| BridgeDomainAddDelV2Reply { retval, bd_id };
    if req.bd_id == 0 {
        return reply(-121, 0);
    }
    if req.is_add {
        let id = if req.bd_id == u32::MAX {
            (1..)
                .find(|i| !st.bridge_domains.contains_key(i))
                .unwrap_or(1)
        } else {
            req.bd_id
        };
        if st.bridge_domains.contains_key(&id) {
            return reply(-119, id);
        }
        st.bridge_domains.insert(
            id,
            BridgeDomain {
                flood: req.flood,
                learn: req.learn,
                tag: req.bd_tag.0,
            },
        );
        reply(0, id)
    } else {
        if !st.bridge_domains.contains_key(&req.bd_id) {
            return reply(-6, req.bd_id);
        }
        if !st.members(req.bd_id).is_empty() {
            return reply(-120, req.bd_id);
        }
        st.bridge_domains.remove(&req.bd_id);
        reply(0, req.bd_id)
    }
}

fn set_l2_bridge(st: &mut State, req: &SwInterfaceSetL2Bridge) -> i32 {
    if !st.interfaces.contains_key(&req.rx_sw_if_index) {
        return -2;
    }
    if req.enable {
        // VPP creates a missing bridge domain on join (with default flags).
        st.bridge_domains.entry(req.bd_id).or_insert(BridgeDomain {
            flood: true,
            learn: true,
            tag: String::new(),
        });
    }
    if let Some(i) = st.interfaces.get_mut(&req.rx_sw_if_index) {
        i.bridge = req.enable.then_some(req.bd_id);
    }
    0
}
