//! What the fake VPP does with each request it models, with VPP's return codes.

use std::collections::BTreeMap;
use std::os::unix::net::UnixListener;
use std::path::Path;

use super::{BridgeDomain, IfKind, Interface, Route, State};
use crate::codec::{FixedStr, Prefix};
use crate::error::Retval;
use crate::message::{self, Dump, Header, Message, Request};
use crate::messages::arp::*;
use crate::messages::interface::*;
use crate::messages::ip::*;
use crate::messages::l2::*;
use crate::messages::memclnt::*;
use crate::messages::memif::*;
use crate::messages::vhost_user::*;
use crate::messages::vlib::*;

/// Reply ids by message name, from the session's table.
type Ids = BTreeMap<&'static str, u16>;

/// Every message the fake knows, as (name, crc): the requests it answers and their replies.
pub(super) fn catalogue() -> Vec<(&'static str, &'static str)> {
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
        SwInterfaceSetMtu,
        SwInterfaceSetMtuReply,
        L2InterfaceVlanTagRewrite,
        L2InterfaceVlanTagRewriteReply,
        L2InterfaceEfpFilter,
        L2InterfaceEfpFilterReply,
        CreateVhostUserIfV2,
        CreateVhostUserIfV2Reply,
        DeleteVhostUserIf,
        DeleteVhostUserIfReply,
        SwInterfaceVhostUserDump,
        SwInterfaceVhostUserDetails,
        IpRouteAddDel,
        IpRouteAddDelReply,
        IpAddressDump,
        IpAddressDetails,
        IpRouteDump,
        IpRouteDetails,
        CreateLoopback,
        CreateLoopbackReply,
        DeleteLoopback,
        DeleteLoopbackReply,
        SwInterfaceSetUnnumbered,
        SwInterfaceSetUnnumberedReply,
        SwInterfaceTagAddDel,
        SwInterfaceTagAddDelReply,
        IpUnnumberedDump,
        IpUnnumberedDetails,
        ProxyArpAddDel,
        ProxyArpAddDelReply,
        ProxyArpDump,
        ProxyArpDetails,
        ProxyArpIntfcEnableDisable,
        ProxyArpIntfcEnableDisableReply,
        ProxyArpIntfcDump,
        ProxyArpIntfcDetails,
    ]
}

/// The replies to one request, or `None` when the fake does not model it.
pub(super) fn dispatch(st: &mut State, name: &str, body: &[u8], ids: &Ids) -> Option<Vec<Vec<u8>>> {
    let replies = match name {
        ControlPing::NAME => answer(st, body, ids, |_, _: ControlPing| ControlPingReply {
            retval: 0,
            client_index: 0,
            vpe_pid: std::process::id(),
        }),
        SockclntDelete::NAME => answer(st, body, ids, |_, _: SockclntDelete| SockclntDeleteReply {
            retval: 1,
        }),
        ShowVersion::NAME => answer(st, body, ids, show_version),
        CliInband::NAME => answer(st, body, ids, |st, req: CliInband| CliInbandReply {
            retval: 0,
            reply: cli(st, &req.cmd),
        }),
        MemifSocketFilenameAddDelV2::NAME => answer(st, body, ids, socket_filename),
        MemifSocketFilenameDump::NAME => list(st, body, ids, socket_details),
        MemifCreateV2::NAME => answer(st, body, ids, memif_create),
        MemifDelete::NAME => answer(st, body, ids, |st, req: MemifDelete| MemifDeleteReply {
            retval: delete_if(st, req.sw_if_index, |k| matches!(k, IfKind::Memif { .. })),
        }),
        MemifDump::NAME => list(st, body, ids, memif_details),
        SwInterfaceSetFlags::NAME => answer(st, body, ids, set_flags),
        SwInterfaceAddDelAddress::NAME => {
            answer(st, body, ids, |st, req| SwInterfaceAddDelAddressReply {
                retval: add_del_address(st, &req),
            })
        }
        SwInterfaceDump::NAME => list(st, body, ids, interface_details),
        BridgeDomainAddDelV2::NAME => answer(st, body, ids, bd_add_del),
        BridgeDomainDump::NAME => list(st, body, ids, bd_details),
        SwInterfaceSetL2Bridge::NAME => {
            answer(st, body, ids, |st, req| SwInterfaceSetL2BridgeReply {
                retval: set_l2_bridge(st, &req),
            })
        }
        SwInterfaceSetMtu::NAME => answer(st, body, ids, |st, req: SwInterfaceSetMtu| {
            SwInterfaceSetMtuReply {
                retval: set_mtu(st, &req),
            }
        }),
        L2InterfaceVlanTagRewrite::NAME => {
            answer(st, body, ids, |st, req: L2InterfaceVlanTagRewrite| {
                L2InterfaceVlanTagRewriteReply {
                    retval: vlan_tag_rewrite(st, &req),
                }
            })
        }
        L2InterfaceEfpFilter::NAME => answer(st, body, ids, |st, req: L2InterfaceEfpFilter| {
            L2InterfaceEfpFilterReply {
                retval: match st.interfaces.get_mut(&req.sw_if_index) {
                    Some(i) => {
                        i.l2.efp_filter = req.enable_disable;
                        0
                    }
                    None => Retval::InvalidSwIfIndex.code(),
                },
            }
        }),
        CreateVhostUserIfV2::NAME => answer(st, body, ids, vhost_create),
        DeleteVhostUserIf::NAME => answer(st, body, ids, |st, req: DeleteVhostUserIf| {
            DeleteVhostUserIfReply {
                retval: delete_if(st, req.sw_if_index, |k| {
                    matches!(k, IfKind::VhostUser { .. })
                }),
            }
        }),
        SwInterfaceVhostUserDump::NAME => list(st, body, ids, vhost_details),
        IpRouteAddDel::NAME => answer(st, body, ids, route_add_del),
        IpAddressDump::NAME => list(st, body, ids, address_details),
        IpRouteDump::NAME => list(st, body, ids, route_details),
        CreateLoopback::NAME => answer(st, body, ids, create_loopback),
        DeleteLoopback::NAME => answer(st, body, ids, |st, req: DeleteLoopback| {
            DeleteLoopbackReply {
                retval: delete_if(st, req.sw_if_index, |k| {
                    matches!(k, IfKind::Loopback { .. })
                }),
            }
        }),
        SwInterfaceSetUnnumbered::NAME => {
            answer(st, body, ids, |st, req| SwInterfaceSetUnnumberedReply {
                retval: set_unnumbered(st, &req),
            })
        }
        SwInterfaceTagAddDel::NAME => answer(st, body, ids, |st, req| SwInterfaceTagAddDelReply {
            retval: tag_add_del(st, req),
        }),
        IpUnnumberedDump::NAME => list(st, body, ids, unnumbered_details),
        ProxyArpAddDel::NAME => answer(st, body, ids, |st, req| ProxyArpAddDelReply {
            retval: proxy_arp_add_del(st, &req),
        }),
        ProxyArpDump::NAME => list(st, body, ids, |st, _: ProxyArpDump| {
            st.proxy_arps
                .iter()
                .map(|p| ProxyArpDetails { proxy: p.clone() })
                .collect()
        }),
        ProxyArpIntfcEnableDisable::NAME => {
            answer(st, body, ids, |st, req| ProxyArpIntfcEnableDisableReply {
                retval: proxy_arp_enable(st, &req),
            })
        }
        ProxyArpIntfcDump::NAME => list(st, body, ids, |st, _: ProxyArpIntfcDump| {
            st.proxy_arp_enabled
                .iter()
                .map(|&sw_if_index| ProxyArpIntfcDetails { sw_if_index })
                .collect()
        }),
        _ => return None,
    };
    Some(replies)
}

/// Decodes a request as `R`, runs `f`, and encodes its reply with the request's context.
fn answer<R: Request>(
    st: &mut State,
    body: &[u8],
    ids: &Ids,
    f: impl FnOnce(&mut State, R) -> R::Reply,
) -> Vec<Vec<u8>>
where
    R::Reply: Default,
{
    // A message shorter than its definition is dropped without a reply, as VPP does.
    let Ok((h, req)) = message::decode::<R>(body) else {
        return Vec::new();
    };
    let spared = match st.fail_after.get_mut(R::NAME) {
        Some(n) if *n > 0 && st.fail.contains_key(R::NAME) => {
            *n -= 1;
            true
        }
        _ => false,
    };
    let refused = if spared {
        None
    } else {
        st.fail.remove(R::NAME)
    };
    if let Some(rv) = refused {
        // A refused request: the reply's other fields as VPP leaves them (zero), retval
        // right after the context.
        let mut reply = encode_reply(h.context, ids, &R::Reply::default());
        reply[6..10].copy_from_slice(&rv.code().to_be_bytes());
        return vec![reply];
    }
    let reply = f(st, req);
    vec![encode_reply(h.context, ids, &reply)]
}

/// Decodes a dump request as `D` and encodes the details `f` lists; the `control_ping`
/// the client sends next ends the dump.
fn list<D: Dump>(
    st: &mut State,
    body: &[u8],
    ids: &Ids,
    f: impl FnOnce(&State, D) -> Vec<D::Details>,
) -> Vec<Vec<u8>> {
    let Ok((h, req)) = message::decode::<D>(body) else {
        return Vec::new();
    };
    f(st, req)
        .iter()
        .map(|d| encode_reply(h.context, ids, d))
        .collect()
}

fn encode_reply<M: Message>(context: u32, ids: &Ids, m: &M) -> Vec<u8> {
    message::encode(
        Header {
            id: ids.get(M::NAME).copied().unwrap_or(0),
            client_index: 0,
            context,
        },
        m,
    )
}

fn show_version(st: &mut State, _: ShowVersion) -> ShowVersionReply {
    ShowVersionReply {
        retval: 0,
        program: FixedStr::new("vpe"),
        version: FixedStr::new(st.version.clone()),
        build_date: FixedStr::new("fake"),
        build_directory: FixedStr::new("/fake"),
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
    let reply = |retval: Retval, socket_id| MemifSocketFilenameAddDelV2Reply {
        retval: retval.code(),
        socket_id,
    };
    let ok = |socket_id| MemifSocketFilenameAddDelV2Reply {
        retval: 0,
        socket_id,
    };
    if req.is_add {
        let id = match req.socket_id {
            0 => return reply(Retval::InvalidArgument, 0),
            PICK_SOCKET_ID => st.pick_socket_id(),
            id => id,
        };
        match st.sockets.get(&id) {
            Some(f) if *f == req.socket_filename => ok(id),
            Some(_) => reply(Retval::EntryAlreadyExists, id),
            None => {
                st.sockets.insert(id, req.socket_filename);
                ok(id)
            }
        }
    } else {
        if req.socket_id == 0 || !st.sockets.contains_key(&req.socket_id) {
            return reply(Retval::InvalidArgument, req.socket_id);
        }
        let used = st.interfaces.values().any(
            |i| matches!(i.kind, IfKind::Memif { socket_id, .. } if socket_id == req.socket_id),
        );
        if used {
            return reply(Retval::UnexpectedIntfState, req.socket_id);
        }
        st.sockets.remove(&req.socket_id);
        ok(req.socket_id)
    }
}

fn socket_details(st: &State, _: MemifSocketFilenameDump) -> Vec<MemifSocketFilenameDetails> {
    st.sockets
        .iter()
        .map(|(id, f)| MemifSocketFilenameDetails {
            socket_id: *id,
            socket_filename: FixedStr::new(f.clone()),
        })
        .collect()
}

fn memif_create(st: &mut State, req: MemifCreateV2) -> MemifCreateV2Reply {
    let fail = |retval: Retval| MemifCreateV2Reply {
        retval: retval.code(),
        sw_if_index: u32::MAX,
    };
    let Some(file) = st.sockets.get(&req.socket_id).cloned() else {
        return fail(Retval::InvalidArgument);
    };
    let ring = if req.ring_size == 0 {
        1024
    } else {
        req.ring_size
    };
    if !ring.is_power_of_two() {
        return fail(Retval::InvalidArgument);
    }
    let taken = st.interfaces.values().any(|i| {
        matches!(i.kind, IfKind::Memif { socket_id, id, .. } if socket_id == req.socket_id && id == req.id)
    });
    if taken {
        return fail(Retval::EntryAlreadyExists);
    }
    // A master listens on the socket: VPP creates the file.
    if req.role == MemifRole::MASTER && !Path::new(&file).exists() {
        let _ = UnixListener::bind(&file);
    }
    let sw = st.new_sw_if_index();
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
                queues: (req.rx_queues.max(1), req.tx_queues.max(1)),
            },
            mac,
            admin_up: false,
            addresses: Vec::new(),
            bridge: None,
            l2: Default::default(),
            tag: String::new(),
            unnumbered: None,
        },
    );
    MemifCreateV2Reply {
        retval: 0,
        sw_if_index: sw,
    }
}

fn memif_details(st: &State, _: MemifDump) -> Vec<MemifDetails> {
    st.interfaces
        .iter()
        .filter_map(|(sw, i)| match &i.kind {
            IfKind::Memif {
                socket_id,
                id,
                role,
                mode,
                ..
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
        .collect()
}

fn set_flags(st: &mut State, req: SwInterfaceSetFlags) -> SwInterfaceSetFlagsReply {
    SwInterfaceSetFlagsReply {
        retval: match st.interfaces.get_mut(&req.sw_if_index) {
            Some(i) => {
                i.admin_up = req.flags.0 & IfStatusFlags::ADMIN_UP.0 != 0;
                0
            }
            None => Retval::InvalidSwIfIndex.code(),
        },
    }
}

fn interface_details(st: &State, _: SwInterfaceDump) -> Vec<SwInterfaceDetails> {
    st.interfaces
        .iter()
        .map(|(sw, i)| SwInterfaceDetails {
            sw_if_index: *sw,
            sup_sw_if_index: *sw,
            l2_address: i.mac,
            flags: IfStatusFlags(u32::from(i.admin_up)),
            interface_name: FixedStr::new(i.name.clone()),
            tag: FixedStr::new(i.tag.clone()),
            ..SwInterfaceDetails::default()
        })
        .collect()
}

fn vhost_create(st: &mut State, req: CreateVhostUserIfV2) -> CreateVhostUserIfV2Reply {
    let path = req.sock_filename.0.clone();
    let dup = st
        .interfaces
        .values()
        .any(|i| matches!(&i.kind, IfKind::VhostUser { path: p, .. } if *p == path));
    if dup {
        return CreateVhostUserIfV2Reply {
            retval: Retval::EntryAlreadyExists.code(),
            sw_if_index: u32::MAX,
        };
    }
    if req.is_server {
        let _ = UnixListener::bind(&path);
    }
    let sw = st.new_sw_if_index();
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
            l2: Default::default(),
            // VPP 25.10 tags the new interface with a non-empty `tag` (vhost_user_api.c).
            tag: req.tag.0.clone(),
            unnumbered: None,
        },
    );
    CreateVhostUserIfV2Reply {
        retval: 0,
        sw_if_index: sw,
    }
}

fn vhost_details(st: &State, _: SwInterfaceVhostUserDump) -> Vec<SwInterfaceVhostUserDetails> {
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
        .collect()
}

fn delete_if(st: &mut State, sw: u32, kind: impl Fn(&IfKind) -> bool) -> i32 {
    match st.interfaces.get(&sw) {
        Some(i) if kind(&i.kind) => {
            st.interfaces.remove(&sw);
            // What borrowed its addresses has none now.
            for i in st.interfaces.values_mut() {
                if i.unnumbered == Some(sw) {
                    i.unnumbered = None;
                }
            }
            st.routes
                .retain(|r| !r.paths.iter().any(|p| p.sw_if_index == sw));
            0
        }
        _ => Retval::InvalidSwIfIndex.code(),
    }
}

/// As VPP's `ip4_add_del_interface_address_internal` (and its IPv6 twin): an address the
/// interface has already, or whose subnet another interface has, is `ADDRESS_IN_USE`;
/// deleting an address the interface lacks is `ADDRESS_NOT_FOUND_FOR_INTERFACE`.
fn add_del_address(st: &mut State, req: &SwInterfaceAddDelAddress) -> i32 {
    let Some(iface) = st.interfaces.get(&req.sw_if_index) else {
        return Retval::InvalidSwIfIndex.code();
    };
    let has = iface.addresses.contains(&req.prefix);
    if req.del_all {
        if let Some(i) = st.interfaces.get_mut(&req.sw_if_index) {
            i.addresses.clear();
        }
        return 0;
    }
    if req.is_add {
        let clash = st.interfaces.iter().any(|(sw, i)| {
            *sw != req.sw_if_index && i.addresses.iter().any(|a| same_subnet(a, &req.prefix))
        });
        if has || clash {
            return Retval::AddressInUse.code();
        }
        if let Some(i) = st.interfaces.get_mut(&req.sw_if_index) {
            i.addresses.push(req.prefix);
        }
        0
    } else {
        if !has {
            return Retval::AddressNotFoundForInterface.code();
        }
        if let Some(i) = st.interfaces.get_mut(&req.sw_if_index) {
            i.addresses.retain(|a| *a != req.prefix);
        }
        0
    }
}

fn is_ip6(p: &Prefix) -> bool {
    p.address.af != 0
}

fn address_details(st: &State, req: IpAddressDump) -> Vec<IpAddressDetails> {
    // VPP lists nothing for an interface it does not have.
    st.interfaces
        .get(&req.sw_if_index)
        .map(|i| {
            i.addresses
                .iter()
                .filter(|a| is_ip6(a) == req.is_ipv6)
                .map(|a| IpAddressDetails {
                    sw_if_index: req.sw_if_index,
                    prefix: *a,
                })
                .collect()
        })
        .unwrap_or_default()
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

/// Without `is_multipath` an add replaces the prefix's paths, as VPP's does (so adding
/// the same route twice leaves one).
fn route_add_del(st: &mut State, req: IpRouteAddDel) -> IpRouteAddDelReply {
    let r = Route {
        table_id: req.route.table_id,
        prefix: req.route.prefix,
        paths: req.route.paths.0.clone(),
    };
    let same = |x: &Route| x.table_id == r.table_id && x.prefix == r.prefix;
    let retval = if req.is_add {
        match st.routes.iter_mut().find(|x| same(x)) {
            Some(x) if req.is_multipath => x.paths.extend(r.paths),
            Some(x) => *x = r,
            None => st.routes.push(r),
        }
        0
    } else {
        let before = st.routes.len();
        st.routes.retain(|x| !same(x));
        if st.routes.len() == before {
            Retval::NoSuchEntry.code()
        } else {
            0
        }
    };
    IpRouteAddDelReply {
        retval,
        stats_index: 0,
    }
}

/// The table's API routes, and, as in VPP, the default route that drops when no API route
/// replaced it (so finding a prefix is not finding one's route).
fn route_details(st: &State, req: IpRouteDump) -> Vec<IpRouteDetails> {
    let t = req.table;
    let mut routes: Vec<IpRoute> = st
        .routes
        .iter()
        .filter(|r| r.table_id == t.table_id && is_ip6(&r.prefix) == t.is_ip6)
        .map(|r| IpRoute {
            table_id: r.table_id,
            stats_index: 0,
            prefix: r.prefix,
            paths: r.paths.clone().into(),
        })
        .collect();
    if !routes.iter().any(|r| r.prefix.len == 0) {
        let any: std::net::IpAddr = if t.is_ip6 {
            std::net::Ipv6Addr::UNSPECIFIED.into()
        } else {
            std::net::Ipv4Addr::UNSPECIFIED.into()
        };
        let drop = FibPath {
            sw_if_index: u32::MAX,
            r#type: FibPathType::DROP,
            proto: if t.is_ip6 {
                FibPathNhProto::IP6
            } else {
                FibPathNhProto::IP4
            },
            ..FibPath::default()
        };
        routes.insert(
            0,
            IpRoute {
                table_id: t.table_id,
                stats_index: 0,
                prefix: Prefix::new(any, 0),
                paths: vec![drop].into(),
            },
        );
    }
    routes
        .into_iter()
        .map(|route| IpRouteDetails { route })
        .collect()
}

fn bd_add_del(st: &mut State, req: BridgeDomainAddDelV2) -> BridgeDomainAddDelV2Reply {
    let reply = |retval: Retval, bd_id| BridgeDomainAddDelV2Reply {
        retval: retval.code(),
        bd_id,
    };
    let ok = |bd_id| BridgeDomainAddDelV2Reply { retval: 0, bd_id };
    if req.bd_id == 0 {
        return reply(Retval::BdNotModifiable, 0);
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
            return reply(Retval::BdAlreadyExists, id);
        }
        st.bridge_domains.insert(
            id,
            BridgeDomain {
                flood: req.flood,
                learn: req.learn,
                tag: req.bd_tag.0,
            },
        );
        ok(id)
    } else {
        if !st.bridge_domains.contains_key(&req.bd_id) {
            return reply(Retval::NoSuchEntry, req.bd_id);
        }
        if !st.members(req.bd_id).is_empty() {
            return reply(Retval::BdInUse, req.bd_id);
        }
        st.bridge_domains.remove(&req.bd_id);
        ok(req.bd_id)
    }
}

fn bd_details(st: &State, req: BridgeDomainDump) -> Vec<BridgeDomainDetails> {
    // VPP: sw_if_index must be ~0; bd 0 is never listed.
    if req.sw_if_index != ANY_SW_IF_INDEX || req.bd_id == 0 {
        return Vec::new();
    }
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
}

/// VPP refuses an MTU above the interface's maximum frame (9216 here, memif's and
/// vhost-user's); entries of 0 are left as they are (9000 before any is set).
fn set_mtu(st: &mut State, req: &SwInterfaceSetMtu) -> i32 {
    let Some(i) = st.interfaces.get_mut(&req.sw_if_index) else {
        return Retval::InvalidSwIfIndex.code();
    };
    let mtu = [req.mtu_l3, req.mtu_ip4, req.mtu_ip6, req.mtu_mpls];
    if mtu.iter().any(|m| *m > 9216) {
        return Retval::InvalidValue.code();
    }
    let mut now = i.l2.mtu.unwrap_or([9000; 4]);
    for (n, m) in now.iter_mut().zip(mtu) {
        if m != 0 {
            *n = m;
        }
    }
    i.l2.mtu = Some(now);
    0
}

/// Only what the plugin uses is modelled: disable, and push-1 of an 802.1Q tag 1-4094 on a
/// bridged interface (VPP refuses a tag rewrite on an L3 interface).
fn vlan_tag_rewrite(st: &mut State, req: &L2InterfaceVlanTagRewrite) -> i32 {
    let Some(i) = st.interfaces.get_mut(&req.sw_if_index) else {
        return Retval::InvalidSwIfIndex.code();
    };
    match req.vtr_op {
        L2VtrOp::DISABLED => i.l2.vtr = None,
        L2VtrOp::PUSH_1
            if i.bridge.is_some() && (1..=4094).contains(&req.tag1) && req.push_dot1q == 1 =>
        {
            i.l2.vtr = Some((req.vtr_op, req.tag1));
        }
        L2VtrOp::PUSH_1 => return Retval::InvalidValue.code(),
        op => panic!("the fake VPP does not model l2_interface_vlan_tag_rewrite vtr_op {op}"),
    }
    0
}

fn set_l2_bridge(st: &mut State, req: &SwInterfaceSetL2Bridge) -> i32 {
    if !st.interfaces.contains_key(&req.rx_sw_if_index) {
        return Retval::InvalidSwIfIndex.code();
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

/// As VPP's `create_loopback`: `loop<n>` with the lowest free instance, a new `sw_if_index`
/// each time, admin down, and a MAC of VPP's making (`de:ad:00:00:00:<n>`) when none is given.
fn create_loopback(st: &mut State, req: CreateLoopback) -> CreateLoopbackReply {
    let instance = (0u32..)
        .find(|n| {
            !st.interfaces
                .values()
                .any(|i| i.kind == IfKind::Loopback { instance: *n })
        })
        .unwrap_or(0);
    let sw = st.new_sw_if_index();
    st.interfaces.insert(
        sw,
        Interface {
            name: format!("loop{instance}"),
            kind: IfKind::Loopback { instance },
            mac: if req.mac_address == [0; 6] {
                [0xde, 0xad, 0, 0, 0, instance as u8]
            } else {
                req.mac_address
            },
            admin_up: false,
            addresses: Vec::new(),
            bridge: None,
            l2: Default::default(),
            tag: String::new(),
            unnumbered: None,
        },
    );
    CreateLoopbackReply {
        retval: 0,
        sw_if_index: sw,
    }
}

/// As VPP's handler: `unnumbered_sw_if_index` must exist (`INVALID_SW_IF_INDEX`), and on add
/// `sw_if_index` too (`INVALID_SW_IF_INDEX_2`); an add replaces what it borrowed before, a
/// delete ends it whatever `sw_if_index` says.
fn set_unnumbered(st: &mut State, req: &SwInterfaceSetUnnumbered) -> i32 {
    if !st.interfaces.contains_key(&req.unnumbered_sw_if_index) {
        return Retval::InvalidSwIfIndex.code();
    }
    if req.is_add && !st.interfaces.contains_key(&req.sw_if_index) {
        return Retval::InvalidSwIfIndex2.code();
    }
    if let Some(i) = st.interfaces.get_mut(&req.unnumbered_sw_if_index) {
        i.unnumbered = req.is_add.then_some(req.sw_if_index);
    }
    0
}

/// As VPP's handler: an unknown interface is `INVALID_SW_IF_INDEX`, an empty tag on add
/// `INVALID_VALUE`; delete clears the tag.
fn tag_add_del(st: &mut State, req: SwInterfaceTagAddDel) -> i32 {
    let Some(i) = st.interfaces.get_mut(&req.sw_if_index) else {
        return Retval::InvalidSwIfIndex.code();
    };
    if req.is_add {
        if req.tag.0.is_empty() {
            return Retval::InvalidValue.code();
        }
        i.tag = req.tag.0;
    } else {
        i.tag.clear();
    }
    0
}

/// As VPP's: ~0 lists every unnumbered interface; one that is not unnumbered lists nothing.
fn unnumbered_details(st: &State, req: IpUnnumberedDump) -> Vec<IpUnnumberedDetails> {
    st.interfaces
        .iter()
        .filter(|(sw, _)| req.sw_if_index == u32::MAX || **sw == req.sw_if_index)
        .filter_map(|(sw, i)| {
            i.unnumbered.map(|ip| IpUnnumberedDetails {
                sw_if_index: *sw,
                ip_sw_if_index: ip,
            })
        })
        .collect()
}

/// As VPP 25.10's `vnet_proxy_arp_add_del`: a range is matched by both ends and the table;
/// adding one that is there changes nothing and is 0, deleting one that is not is
/// `NO_SUCH_ENTRY`; a table other than 0 does not exist here (`NO_SUCH_FIB`).
fn proxy_arp_add_del(st: &mut State, req: &ProxyArpAddDel) -> i32 {
    if req.proxy.table_id != 0 {
        return Retval::NoSuchFib.code();
    }
    let at = st.proxy_arps.iter().position(|p| *p == req.proxy);
    match (at, req.is_add) {
        (Some(_), true) => {}
        (Some(i), false) => {
            st.proxy_arps.remove(i);
        }
        (None, true) => st.proxy_arps.push(req.proxy.clone()),
        (None, false) => return Retval::NoSuchEntry.code(),
    }
    0
}

/// As VPP 25.10's handler: an unknown interface is `INVALID_SW_IF_INDEX`; enabling or
/// disabling twice is 0.
fn proxy_arp_enable(st: &mut State, req: &ProxyArpIntfcEnableDisable) -> i32 {
    if !st.interfaces.contains_key(&req.sw_if_index) {
        return Retval::InvalidSwIfIndex.code();
    }
    if req.enable {
        st.proxy_arp_enabled.insert(req.sw_if_index);
    } else {
        st.proxy_arp_enabled.remove(&req.sw_if_index);
    }
    0
}
