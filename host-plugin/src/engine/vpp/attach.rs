//! ADD and DEL on VPP, step by step, each step undone on failure.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use userspace_cni_sdk::MAX_SOCKET_PATH;
use vpp_api::Client;
use vpp_api::codec::{FixedStr, Prefix};
use vpp_api::messages::arp::*;
use vpp_api::messages::interface::*;
use vpp_api::messages::ip::*;
use vpp_api::messages::l2::*;
use vpp_api::messages::memif::*;
use vpp_api::messages::vhost_user::*;

use super::VppEngineError;
use crate::engine::Held;

/// `bd_tag` on bridge domains this plugin creates, so a DEL without state can tell them apart.
pub const BD_TAG: &str = "userspace-cni";

/// Tag prefix of the loopbacks that hold a `netType: interface` gateway address.
pub const GATEWAY_TAG: &str = "userspace-cni gw";

/// The tag of the loopback holding `gateway` (one per subnet; VPP tags are at most 63 bytes,
/// the longest IPv6 prefix fits).
pub fn gateway_tag(gateway: &IpNet) -> String {
    format!("{GATEWAY_TAG} {gateway}")
}

/// The proxy ARP range of an IPv4 subnet: its host addresses (network + 1 to broadcast - 1).
/// Each pod has the subnet's prefix and ARPs for its neighbours directly, and VPP answers
/// ARP on an unnumbered interface only for its own addresses; with proxy ARP enabled on each
/// pod's interface VPP answers for the whole range and routes pod to pod by the host routes.
/// `None` for IPv6 (neighbour discovery has no ranges) and for /31 and /32 (no neighbours).
pub fn proxy_arp_range(gateway: &IpNet) -> Option<ProxyArp> {
    let IpNet::V4(net) = gateway.trunc() else {
        return None;
    };
    if net.prefix_len() > 30 {
        return None;
    }
    let low = u32::from(net.network()) + 1;
    let hi = u32::from(net.broadcast()) - 1;
    Some(ProxyArp {
        table_id: 0,
        low: low.to_be_bytes(),
        hi: hi.to_be_bytes(),
    })
}

/// Tag prefix of the memif and vhost-user interfaces the plugin makes.
pub const INTERFACE_TAG: &str = "userspace-cni if";

/// The tag of an attachment's interface: [`INTERFACE_TAG`], a space and 16 hex digits, the
/// FNV-1a 64 hash of `<attachment key>\n<network>` (a key has no newline, so the split is
/// unambiguous). VPP keeps 63 bytes of tag and a key can be longer (container IDs up to 128
/// bytes), so the tag does not name the owner: it proves a candidate. The candidate comes
/// from the socket file behind the interface (the claims name its owner); an interface is
/// this plugin's, and that attachment's, only when both agree.
pub fn interface_tag(owner: &str, network: &str) -> String {
    let h = crate::identity::fnv1a64(format!("{owner}\n{network}").as_bytes());
    format!("{INTERFACE_TAG} {h:016x}")
}

/// A memif or vhost-user interface tagged [`INTERFACE_TAG`], with what DEL needs to remove
/// it and what it holds of the shared objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaggedInterface {
    /// memif or vhost-user.
    pub iftype: VppIfType,
    /// VPP's index.
    pub sw_if_index: u32,
    /// Its tag.
    pub tag: String,
    /// The socket file behind it.
    pub socket: PathBuf,
    /// vhost-user: whether VPP is the socket's server.
    pub vhost_server: bool,
    /// The bridge domain it is a member of.
    pub bridge_domain: Option<u32>,
    /// The gateway whose tagged loopback it is unnumbered to.
    pub gateway: Option<IpNet>,
    /// The pod address routed (/32, /128) out of it, with the gateway's prefix length.
    pub pod: Option<IpNet>,
}

/// The MAC the plugin gives the loopback of `gateway`: locally administered, unicast, from
/// the tag's hash. VPP creates a loopback and tags it in two messages; one whose tagging a
/// kill cut short is still known as ours by this MAC, so DEL removes it and the next ADD
/// finishes it instead of leaving it behind.
pub fn gateway_mac(gateway: &IpNet) -> [u8; 6] {
    let h = crate::identity::fnv1a64(gateway_tag(gateway).as_bytes()).to_be_bytes();
    [0x02, 0x75, h[0], h[1], h[2], h[3]]
}

/// Interface kind on VPP: the NetConf's own type.
pub use userspace_cni_sdk::wire::IfType as VppIfType;

/// What to create.
#[derive(Debug, Clone)]
pub struct VppPlan {
    /// Interface kind.
    pub iftype: VppIfType,
    /// Socket path as VPP sees it.
    pub socket: PathBuf,
    /// memif: VPP's role (`master` listens on the socket).
    pub memif_role: MemifRole,
    /// memif: mode.
    pub memif_mode: MemifMode,
    /// vhost-user: whether VPP creates the socket.
    pub vhost_server: bool,
    /// `netType: bridge`: the bridge-domain id.
    pub bridge_domain: Option<u32>,
    /// `netType: interface`: the host side's address (the gateway, held by a loopback the
    /// interface is unnumbered to).
    pub address: Option<IpNet>,
    /// `netType: interface`: the pod's address, routed (/32, /128) through the interface.
    pub pod_address: Option<IpNet>,
    /// The interface's tag ([`interface_tag`]).
    pub tag: String,
    /// memif: rx and tx queues each.
    pub queues: u16,
    /// The interface's MTU (`sw_interface_set_mtu`).
    pub mtu: Option<u32>,
    /// The access VLAN on the bridge-domain member: a pushed 802.1Q tag (popped on egress)
    /// and the egress filter that keeps other VLANs' frames out.
    pub vlan: Option<u16>,
}

/// What ADD did on VPP (kept in the state file).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VppAttached {
    /// Interface kind.
    pub iftype: Option<VppIfType>,
    /// VPP's index of the interface.
    pub sw_if_index: Option<u32>,
    /// VPP's name of it (`memif3/0`), to recognise it after VPP restarted.
    #[serde(default)]
    pub if_name: String,
    /// The socket path given to VPP.
    #[serde(default)]
    pub socket: PathBuf,
    /// memif socket id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket_id: Option<u32>,
    /// The bridge domain joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bridge_domain: Option<u32>,
    /// The loopback holding the gateway address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loopback: Option<u32>,
    /// Whether ADD created that loopback.
    #[serde(default)]
    pub loopback_created: bool,
}

/// `netType: interface` on the way out: the gateway whose loopback may go, the pod route.
#[derive(Debug, Clone, Copy, Default)]
pub struct L3 {
    /// The gateway address (its loopback is found by [`gateway_tag`]).
    pub gateway: Option<IpNet>,
    /// The pod's address, whose host route goes.
    pub pod: Option<IpNet>,
    /// A loopback this session created and may not have tagged yet (a rollback's).
    pub created_loopback: Option<u32>,
}

fn prefix(net: &IpNet) -> Prefix {
    Prefix::new(net.addr(), net.prefix_len())
}

/// The host route (/32 or /128) to `pod` out of `sw_if_index`, `pod` the next hop (an
/// attached next hop: VPP resolves it by ARP or ND on that interface).
fn host_route(pod: &IpNet, sw_if_index: u32, is_add: bool) -> IpRouteAddDel {
    let (len, proto) = match pod.addr() {
        IpAddr::V4(_) => (32, FibPathNhProto::IP4),
        IpAddr::V6(_) => (128, FibPathNhProto::IP6),
    };
    IpRouteAddDel {
        is_add,
        is_multipath: false,
        route: IpRoute {
            table_id: 0,
            stats_index: 0,
            prefix: Prefix::new(pod.addr(), len),
            paths: vec![FibPath {
                sw_if_index,
                weight: 1,
                proto,
                nh: FibPathNh {
                    address: host_nh(pod),
                    ..FibPathNh::default()
                },
                ..FibPath::default()
            }]
            .into(),
        },
    }
}

/// The host route's prefix.
pub fn host_prefix(pod: &IpNet) -> IpNet {
    IpNet::new(pod.addr(), if pod.addr().is_ipv4() { 32 } else { 128 }).unwrap_or(*pod)
}

fn host_nh(pod: &IpNet) -> [u8; 16] {
    match pod.addr() {
        IpAddr::V4(a) => {
            let mut b = [0u8; 16];
            b[..4].copy_from_slice(&a.octets());
            b
        }
        IpAddr::V6(a) => a.octets(),
    }
}

/// A session with the host's VPP.
pub struct Vpp {
    client: Client,
}

impl Vpp {
    /// Connects to VPP's API socket.
    pub fn connect(socket: &Path) -> Result<Self, VppEngineError> {
        let client = Client::connect(socket, "userspace-cni", Duration::from_secs(5))?;
        Ok(Self { client })
    }

    /// Every message ADD and DEL may send, checked by name_crc before anything changes.
    pub fn require_all(&mut self) -> Result<(), VppEngineError> {
        self.client
            .require(&[
                Client::id_of::<MemifSocketFilenameDump>,
                Client::id_of::<MemifSocketFilenameDetails>,
                Client::id_of::<MemifSocketFilenameAddDelV2>,
                Client::id_of::<MemifSocketFilenameAddDelV2Reply>,
                Client::id_of::<MemifCreateV2>,
                Client::id_of::<MemifCreateV2Reply>,
                Client::id_of::<MemifDelete>,
                Client::id_of::<MemifDeleteReply>,
                Client::id_of::<MemifDump>,
                Client::id_of::<MemifDetails>,
                Client::id_of::<SwInterfaceSetFlags>,
                Client::id_of::<SwInterfaceSetFlagsReply>,
                Client::id_of::<SwInterfaceAddDelAddress>,
                Client::id_of::<SwInterfaceAddDelAddressReply>,
                Client::id_of::<BridgeDomainAddDelV2>,
                Client::id_of::<BridgeDomainAddDelV2Reply>,
                Client::id_of::<BridgeDomainDump>,
                Client::id_of::<BridgeDomainDetails>,
                Client::id_of::<SwInterfaceSetL2Bridge>,
                Client::id_of::<SwInterfaceSetL2BridgeReply>,
            ])
            .map_err(VppEngineError::from)
    }

    /// The messages of the optional settings a plan uses, checked before anything changes.
    fn require_settings(&mut self, plan: &VppPlan) -> Result<(), VppEngineError> {
        if plan.mtu.is_some() {
            self.client.require(&[
                Client::id_of::<SwInterfaceSetMtu>,
                Client::id_of::<SwInterfaceSetMtuReply>,
            ])?;
        }
        if plan.address.is_some() {
            self.require_l3()?;
        }
        if plan.vlan.is_some() {
            self.client.require(&[
                Client::id_of::<L2InterfaceVlanTagRewrite>,
                Client::id_of::<L2InterfaceVlanTagRewriteReply>,
                Client::id_of::<L2InterfaceEfpFilter>,
                Client::id_of::<L2InterfaceEfpFilterReply>,
            ])?;
        }
        Ok(())
    }

    /// `netType: interface`'s messages: the gateway loopback, unnumbered, host routes.
    fn require_l3(&mut self) -> Result<(), VppEngineError> {
        self.client
            .require(&[
                Client::id_of::<SwInterfaceDump>,
                Client::id_of::<SwInterfaceDetails>,
                Client::id_of::<CreateLoopback>,
                Client::id_of::<CreateLoopbackReply>,
                Client::id_of::<DeleteLoopback>,
                Client::id_of::<DeleteLoopbackReply>,
                Client::id_of::<SwInterfaceTagAddDel>,
                Client::id_of::<SwInterfaceTagAddDelReply>,
                Client::id_of::<SwInterfaceSetUnnumbered>,
                Client::id_of::<SwInterfaceSetUnnumberedReply>,
                Client::id_of::<IpUnnumberedDump>,
                Client::id_of::<IpUnnumberedDetails>,
                Client::id_of::<IpRouteAddDel>,
                Client::id_of::<IpRouteAddDelReply>,
                Client::id_of::<ProxyArpAddDel>,
                Client::id_of::<ProxyArpAddDelReply>,
                Client::id_of::<ProxyArpIntfcEnableDisable>,
                Client::id_of::<ProxyArpIntfcEnableDisableReply>,
            ])
            .map_err(VppEngineError::from)
    }

    fn require_vhost(&mut self) -> Result<(), VppEngineError> {
        self.client
            .require(&[
                Client::id_of::<CreateVhostUserIfV2>,
                Client::id_of::<CreateVhostUserIfV2Reply>,
                Client::id_of::<DeleteVhostUserIf>,
                Client::id_of::<DeleteVhostUserIfReply>,
                Client::id_of::<SwInterfaceVhostUserDump>,
                Client::id_of::<SwInterfaceVhostUserDetails>,
            ])
            .map_err(VppEngineError::from)
    }

    /// Creates the interface, brings it up and wires it; on failure undoes what it did.
    /// `held` tells the verb of the inner steps (the crash tests' points).
    pub fn attach(
        &mut self,
        plan: &VppPlan,
        held: &Held<'_>,
    ) -> Result<VppAttached, VppEngineError> {
        self.require_all()?;
        if plan.iftype == VppIfType::Vhostuser {
            self.require_vhost()?;
        }
        self.require_settings(plan)?;
        let mut done = VppAttached {
            iftype: Some(plan.iftype),
            socket: plan.socket.clone(),
            ..VppAttached::default()
        };
        match self.attach_steps(plan, &mut done, held) {
            Ok(()) => Ok(done),
            Err(e) => {
                let l3 = L3 {
                    gateway: plan.address,
                    pod: plan.pod_address,
                    created_loopback: done.loopback.filter(|_| done.loopback_created),
                };
                if let Err(u) =
                    self.detach_by_socket(plan.iftype, &plan.socket, plan.bridge_domain, l3)
                {
                    tracing::warn!("VPP rollback incomplete: {u}");
                }
                Err(e)
            }
        }
    }

    /// The memif or vhost-user interface: its `sw_if_index` and VPP's name of it.
    fn create_interface(
        &mut self,
        plan: &VppPlan,
        done: &mut VppAttached,
    ) -> Result<(u32, String), VppEngineError> {
        let socket = plan.socket.to_string_lossy().into_owned();
        Ok(match plan.iftype {
            VppIfType::Memif => {
                let (socket_id, _created) = self.socket_id(&socket)?;
                done.socket_id = Some(socket_id);
                let memifs = self.client.dump(&MemifDump {})?;
                // memif ids are per socket: the lowest one not in use there.
                let id = (0u32..)
                    .find(|i| {
                        !memifs
                            .iter()
                            .any(|m| m.socket_id == socket_id && m.id == *i)
                    })
                    .unwrap_or(0);
                let r = self.client.request(&MemifCreateV2 {
                    role: plan.memif_role,
                    mode: plan.memif_mode,
                    rx_queues: plan.queues.clamp(1, 255) as u8,
                    tx_queues: plan.queues.clamp(1, 255) as u8,
                    id,
                    socket_id,
                    ring_size: 1024,
                    buffer_size: 2048,
                    ..MemifCreateV2::default()
                })?;
                // Tagged before anything else, so a DEL without journal finds it.
                self.client.request(&SwInterfaceTagAddDel {
                    is_add: true,
                    sw_if_index: r.sw_if_index,
                    tag: FixedStr::new(plan.tag.clone()),
                })?;
                (r.sw_if_index, format!("memif{socket_id}/{id}"))
            }
            VppIfType::Vhostuser => {
                if socket.len() > 255 {
                    return Err(VppEngineError::VhostSocketTooLong {
                        path: socket.clone(),
                    });
                }
                let r = self.client.request(&CreateVhostUserIfV2 {
                    is_server: plan.vhost_server,
                    sock_filename: FixedStr::new(socket.clone()),
                    tag: FixedStr::new(plan.tag.clone()),
                    ..CreateVhostUserIfV2::default()
                })?;
                let name = self
                    .client
                    .dump(&SwInterfaceVhostUserDump {
                        sw_if_index: r.sw_if_index,
                    })?
                    .into_iter()
                    .next()
                    .map(|d| d.interface_name.0)
                    .unwrap_or_default();
                (r.sw_if_index, name)
            }
        })
    }

    fn attach_steps(
        &mut self,
        plan: &VppPlan,
        done: &mut VppAttached,
        held: &Held<'_>,
    ) -> Result<(), VppEngineError> {
        let (sw_if_index, if_name) = self.create_interface(plan, done)?;
        done.sw_if_index = Some(sw_if_index);
        done.if_name = if_name;
        if let Some(mtu) = plan.mtu {
            self.client.request(&SwInterfaceSetMtu {
                sw_if_index,
                mtu_l3: mtu,
                mtu_ip4: mtu,
                mtu_ip6: mtu,
                mtu_mpls: mtu,
            })?;
        }
        self.client.request(&SwInterfaceSetFlags {
            sw_if_index,
            flags: IfStatusFlags::ADMIN_UP,
        })?;
        if let Some(bd_id) = plan.bridge_domain {
            let exists = !self
                .client
                .dump(&BridgeDomainDump {
                    bd_id,
                    sw_if_index: ANY_SW_IF_INDEX,
                })?
                .is_empty();
            if !exists {
                let made = self.client.request(&BridgeDomainAddDelV2 {
                    bd_id,
                    flood: true,
                    uu_flood: true,
                    forward: true,
                    learn: true,
                    bd_tag: FixedStr::new(BD_TAG),
                    is_add: true,
                    ..BridgeDomainAddDelV2::default()
                });
                match made {
                    Ok(_) => {}
                    // Made in between by someone outside the plugin's lock: joined, not ours.
                    Err(e) if e.is_retval(vpp_api::Retval::BdAlreadyExists) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            done.bridge_domain = Some(bd_id);
            self.client.request(&SwInterfaceSetL2Bridge {
                rx_sw_if_index: sw_if_index,
                bd_id,
                port_type: L2PortType::NORMAL,
                shg: 0,
                enable: true,
            })?;
            if let Some(vlan) = plan.vlan {
                self.client.request(&L2InterfaceVlanTagRewrite {
                    sw_if_index,
                    vtr_op: L2VtrOp::PUSH_1,
                    push_dot1q: 1,
                    tag1: u32::from(vlan),
                    tag2: 0,
                })?;
                self.client.request(&L2InterfaceEfpFilter {
                    sw_if_index,
                    enable_disable: true,
                })?;
            }
        }
        self.join_l3(plan, sw_if_index, done, held)
    }

    /// `netType: interface`: the interface unnumbered to the subnet's gateway loopback, proxy
    /// ARP for the subnet on it, the pod's host route out of it.
    fn join_l3(
        &mut self,
        plan: &VppPlan,
        sw_if_index: u32,
        done: &mut VppAttached,
        held: &Held<'_>,
    ) -> Result<(), VppEngineError> {
        let Some(addr) = plan.address else {
            return Ok(());
        };
        let lo = self.gateway_loopback(&addr, done, held)?;
        self.client.request(&SwInterfaceSetUnnumbered {
            sw_if_index: lo,
            unnumbered_sw_if_index: sw_if_index,
            is_add: true,
        })?;
        if let Some(proxy) = proxy_arp_range(&addr) {
            // Every ADD: VPP keeps a range once (a second add is 0), and a subnet whose
            // first ADD was killed before this step gets it all the same.
            self.client.request(&ProxyArpAddDel {
                is_add: true,
                proxy,
            })?;
            self.client.request(&ProxyArpIntfcEnableDisable {
                sw_if_index,
                enable: true,
            })?;
        }
        if let Some(pod) = plan.pod_address {
            self.client.request(&host_route(&pod, sw_if_index, true))?;
        }
        Ok(())
    }

    /// The loopback tagged for `gateway`, if VPP has one.
    fn find_gateway_loopback(&mut self, gateway: &IpNet) -> Result<Option<u32>, VppEngineError> {
        Ok(self
            .gateway_loopbacks(gateway)?
            .into_iter()
            .find_map(|(sw, tagged)| tagged.then_some(sw)))
    }

    /// The loopbacks of `gateway`: the tagged one, and any untagged one with the gateway's MAC
    /// (made by an ADD killed before it tagged it), each with whether it is tagged.
    fn gateway_loopbacks(&mut self, gateway: &IpNet) -> Result<Vec<(u32, bool)>, VppEngineError> {
        let tag = gateway_tag(gateway);
        let mac = gateway_mac(gateway);
        Ok(self
            .client
            .dump(&SwInterfaceDump {
                sw_if_index: ANY_SW_IF_INDEX,
                name_filter_valid: false,
                name_filter: String::new(),
            })?
            .into_iter()
            .filter_map(|d| {
                let half_made = d.tag.0.is_empty()
                    && d.l2_address == mac
                    && d.interface_name.0.starts_with("loop");
                (d.tag.0 == tag || half_made).then_some((d.sw_if_index, d.tag.0 == tag))
            })
            .collect())
    }

    /// The loopback holding `gateway`: the one tagged for it, or one a killed ADD made and did
    /// not tag, or a new one (with the gateway's MAC; tagged first, so a DEL finds it, then
    /// given the address and brought up).
    fn gateway_loopback(
        &mut self,
        gateway: &IpNet,
        done: &mut VppAttached,
        held: &Held<'_>,
    ) -> Result<u32, VppEngineError> {
        let found = self.gateway_loopbacks(gateway)?;
        if let Some(lo) = found.iter().find_map(|&(sw, tagged)| tagged.then_some(sw)) {
            done.loopback = Some(lo);
            return Ok(lo);
        }
        let lo = match found.first() {
            Some(&(half_made, _)) => half_made,
            None => {
                self.client
                    .request(&CreateLoopback {
                        mac_address: gateway_mac(gateway),
                    })?
                    .sw_if_index
            }
        };
        held.reached("vpp-loopback", "created");
        done.loopback = Some(lo);
        done.loopback_created = true;
        self.client.request(&SwInterfaceTagAddDel {
            is_add: true,
            sw_if_index: lo,
            tag: FixedStr::new(gateway_tag(gateway)),
        })?;
        self.client
            .request(&SwInterfaceAddDelAddress {
                sw_if_index: lo,
                is_add: true,
                del_all: false,
                prefix: prefix(gateway),
            })
            .map_err(|e| {
                if e.is_retval(vpp_api::Retval::AddressInUse) {
                    VppEngineError::GatewaySubnetTaken {
                        gateway: *gateway,
                        cause: e,
                    }
                } else {
                    e.into()
                }
            })?;
        self.client.request(&SwInterfaceSetFlags {
            sw_if_index: lo,
            flags: IfStatusFlags::ADMIN_UP,
        })?;
        Ok(lo)
    }

    /// Before the interface goes: its host route, and its unnumbered binding if it has one.
    fn leave_l3(
        &mut self,
        sw_if_index: u32,
        l3: &L3,
        unnumbered: &[(u32, u32)],
    ) -> Result<(), VppEngineError> {
        if l3.gateway.is_none() {
            return Ok(());
        }
        // ADD makes the interface unnumbered before it routes the pod: one that is not
        // unnumbered has no route of ours.
        let Some((_, ip)) = unnumbered.iter().find(|(u, _)| *u == sw_if_index) else {
            return Ok(());
        };
        if let Some(pod) = &l3.pod {
            // A route that is not there (ADD stopped before it) is nothing to undo.
            let r = self
                .client
                .request_raw(&host_route(pod, sw_if_index, false))?;
            if r.retval != 0 && r.retval != vpp_api::Retval::NoSuchEntry.code() {
                return Err(VppEngineError::Refused {
                    what: format!("remove the route to {pod}"),
                    retval: r.retval,
                });
            }
        }
        if l3.gateway.as_ref().and_then(proxy_arp_range).is_some() {
            // VPP keeps the flag of a deleted interface (and of the next one given its
            // index): off before the interface goes. Disabling twice is 0.
            self.client.request(&ProxyArpIntfcEnableDisable {
                sw_if_index,
                enable: false,
            })?;
        }
        self.client.request(&SwInterfaceSetUnnumbered {
            sw_if_index: *ip,
            unnumbered_sw_if_index: sw_if_index,
            is_add: false,
        })?;
        Ok(())
    }

    /// Who is unnumbered to whom: (interface, the one whose address it uses).
    fn unnumbered(&mut self) -> Result<Vec<(u32, u32)>, VppEngineError> {
        Ok(self
            .client
            .dump(&IpUnnumberedDump {
                sw_if_index: ANY_SW_IF_INDEX,
            })?
            .into_iter()
            .map(|d| (d.sw_if_index, d.ip_sw_if_index))
            .collect())
    }

    /// Deletes the gateway's loopback once no interface is unnumbered to it (deleting it
    /// takes its address).
    fn remove_gateway_loopback_if_unused(&mut self, l3: &L3) -> Result<(), VppEngineError> {
        let Some(gateway) = &l3.gateway else {
            return Ok(());
        };
        // The tagged one first; else one a killed ADD left untagged (known by its MAC).
        let mut found = self.gateway_loopbacks(gateway)?;
        found.sort_by_key(|&(_, tagged)| !tagged);
        let Some(lo) = found.first().map(|&(sw, _)| sw).or(l3.created_loopback) else {
            return Ok(());
        };
        if self.unnumbered()?.iter().any(|(_, ip)| *ip == lo) {
            return Ok(());
        }
        self.remove_proxy_arp_range(gateway)?;
        let r = self
            .client
            .request_raw(&DeleteLoopback { sw_if_index: lo })?;
        // A rollback's untagged loopback may be gone already; anything else is an error.
        if r.retval != 0
            && !(r.retval == vpp_api::Retval::InvalidSwIfIndex.code()
                && l3.created_loopback == Some(lo))
        {
            return Err(VppEngineError::Refused {
                what: format!("delete the loopback of {gateway}"),
                retval: r.retval,
            });
        }
        Ok(())
    }

    /// The subnet's proxy ARP range goes with its loopback: both are the plugin's while it
    /// holds the subnet. Not there (an ADD killed before it added it) is nothing to undo.
    fn remove_proxy_arp_range(&mut self, gateway: &IpNet) -> Result<(), VppEngineError> {
        let Some(proxy) = proxy_arp_range(gateway) else {
            return Ok(());
        };
        let r = self.client.request_raw(&ProxyArpAddDel {
            is_add: false,
            proxy,
        })?;
        if r.retval != 0 && r.retval != vpp_api::Retval::NoSuchEntry.code() {
            return Err(VppEngineError::Refused {
                what: format!("remove the proxy ARP range of {gateway}"),
                retval: r.retval,
            });
        }
        Ok(())
    }

    /// The id of `socket` in VPP's memif socket table, registering it when absent.
    fn socket_id(&mut self, socket: &str) -> Result<(u32, bool), VppEngineError> {
        if socket.len() > MAX_SOCKET_PATH {
            return Err(VppEngineError::MemifSocketTooLong {
                path: socket.to_owned(),
                max: MAX_SOCKET_PATH,
            });
        }
        let known = self.client.dump(&MemifSocketFilenameDump {})?;
        if let Some(s) = known.iter().find(|s| s.socket_filename.0 == socket) {
            return Ok((s.socket_id, false));
        }
        // VPP picks a free id: no table of our own to size or to get out of step with VPP.
        let r = self.client.request(&MemifSocketFilenameAddDelV2 {
            is_add: true,
            socket_id: PICK_SOCKET_ID,
            socket_filename: socket.to_owned(),
        })?;
        Ok((r.socket_id, true))
    }

    /// The `sw_if_index` of the interface on `socket`, if VPP has one. The socket *file
    /// name* is what proves an interface ours: VPP reuses socket ids and `sw_if_index`es (in
    /// the same order after a restart), the file name is this attachment's alone.
    pub fn interface_on(
        &mut self,
        iftype: VppIfType,
        socket: &Path,
    ) -> Result<Option<u32>, VppEngineError> {
        let path = socket.to_string_lossy();
        Ok(match iftype {
            VppIfType::Memif => {
                let ids: Vec<u32> = self
                    .client
                    .dump(&MemifSocketFilenameDump {})?
                    .iter()
                    .filter(|s| s.socket_filename.0 == path)
                    .map(|s| s.socket_id)
                    .collect();
                if ids.is_empty() {
                    return Ok(None);
                }
                self.client
                    .dump(&MemifDump {})?
                    .iter()
                    .find(|m| ids.contains(&m.socket_id))
                    .map(|m| m.sw_if_index)
            }
            VppIfType::Vhostuser => self
                .client
                .dump(&SwInterfaceVhostUserDump {
                    sw_if_index: ANY_SW_IF_INDEX,
                })?
                .iter()
                .find(|v| v.sock_filename.0 == path)
                .map(|v| v.sw_if_index),
        })
    }

    /// CHECK of `netType: interface`: what is missing of the L3 ADD made for interface `sw`
    /// (the subnet's tagged loopback, `sw` unnumbered to it, the pod's host route out of it),
    /// or `None` when all is there.
    pub fn l3_missing(
        &mut self,
        sw: u32,
        gateway: &IpNet,
        pod: Option<&IpNet>,
    ) -> Result<Option<String>, VppEngineError> {
        let Some(lo) = self.find_gateway_loopback(gateway)? else {
            return Ok(Some(format!(
                "no loopback tagged \"{}\" holds the gateway",
                gateway_tag(gateway)
            )));
        };
        if !self.unnumbered()?.contains(&(sw, lo)) {
            return Ok(Some(format!(
                "interface {sw} is not unnumbered to the gateway's loopback {lo}"
            )));
        }
        if let Some(what) = self.proxy_arp_missing(sw, gateway)? {
            return Ok(Some(what));
        }
        let Some(pod) = pod else {
            return Ok(None);
        };
        let want = prefix(&host_prefix(pod));
        let routed = self
            .client
            .dump(&IpRouteDump {
                table: IpTable {
                    table_id: 0,
                    is_ip6: pod.addr().is_ipv6(),
                    name: FixedStr::default(),
                },
            })?
            .iter()
            .any(|r| r.route.prefix == want && r.route.paths.0.iter().any(|p| p.sw_if_index == sw));
        Ok((!routed).then(|| format!("no route to {} out of interface {sw}", host_prefix(pod))))
    }

    /// CHECK of the subnet's proxy ARP: enabled on interface `sw`, the range there.
    fn proxy_arp_missing(
        &mut self,
        sw: u32,
        gateway: &IpNet,
    ) -> Result<Option<String>, VppEngineError> {
        let Some(range) = proxy_arp_range(gateway) else {
            return Ok(None);
        };
        let enabled = self
            .client
            .dump(&ProxyArpIntfcDump {})?
            .iter()
            .any(|d| d.sw_if_index == sw);
        if !enabled {
            return Ok(Some(format!("proxy ARP is not enabled on interface {sw}")));
        }
        let ranged = self
            .client
            .dump(&ProxyArpDump {})?
            .iter()
            .any(|d| d.proxy == range);
        Ok((!ranged).then(|| format!("no proxy ARP range for {}", gateway.trunc())))
    }

    /// Takes the interface out of the bridge domain before it is deleted.
    fn leave_bridge(
        &mut self,
        sw_if_index: u32,
        bridge_domain: Option<u32>,
    ) -> Result<(), VppEngineError> {
        let Some(bd_id) = bridge_domain else {
            return Ok(());
        };
        self.client.request(&SwInterfaceSetL2Bridge {
            rx_sw_if_index: sw_if_index,
            bd_id,
            port_type: L2PortType::NORMAL,
            shg: 0,
            enable: false,
        })?;
        Ok(())
    }

    fn remove_socket_id_if_unused(
        &mut self,
        socket_id: u32,
        socket: &Path,
    ) -> Result<(), VppEngineError> {
        let registered = self
            .client
            .dump(&MemifSocketFilenameDump {})?
            .iter()
            .any(|s| s.socket_id == socket_id && Path::new(&s.socket_filename.0) == socket);
        let used = self
            .client
            .dump(&MemifDump {})?
            .iter()
            .any(|m| m.socket_id == socket_id);
        if registered && !used {
            self.client.request(&MemifSocketFilenameAddDelV2 {
                is_add: false,
                socket_id,
                socket_filename: socket.to_string_lossy().into_owned(),
            })?;
        }
        Ok(())
    }

    /// Deletes a bridge domain this plugin created (it carries [`BD_TAG`]) once it has no
    /// members.
    fn remove_bridge_domain_if_empty(&mut self, bd_id: u32) -> Result<(), VppEngineError> {
        let bds = self.client.dump(&BridgeDomainDump {
            bd_id,
            sw_if_index: ANY_SW_IF_INDEX,
        })?;
        if let Some(bd) = bds.first()
            && bd.sw_if_details.is_empty()
            && bd.bd_tag.0 == BD_TAG
        {
            self.client.request(&BridgeDomainAddDelV2 {
                bd_id,
                is_add: false,
                ..BridgeDomainAddDelV2::default()
            })?;
        }
        Ok(())
    }

    /// Removes the interface on `socket` (and the socket id registered for that file, and a
    /// plugin-made bridge domain, when nothing else uses them). Idempotent: what is gone is
    /// skipped.
    pub fn detach_by_socket(
        &mut self,
        iftype: VppIfType,
        socket: &Path,
        bridge_domain: Option<u32>,
        l3: L3,
    ) -> Result<bool, VppEngineError> {
        let path = socket.to_string_lossy().into_owned();
        let mut found = false;
        let unnumbered = if l3.gateway.is_some() {
            self.unnumbered()?
        } else {
            Vec::new()
        };
        match iftype {
            VppIfType::Memif => {
                let sockets = self.client.dump(&MemifSocketFilenameDump {})?;
                if let Some(s) = sockets.iter().find(|s| s.socket_filename.0 == path) {
                    for m in self.client.dump(&MemifDump {})? {
                        if m.socket_id == s.socket_id {
                            self.leave_l3(m.sw_if_index, &l3, &unnumbered)?;
                            self.leave_bridge(m.sw_if_index, bridge_domain)?;
                            self.client.request(&MemifDelete {
                                sw_if_index: m.sw_if_index,
                            })?;
                            found = true;
                        }
                    }
                    self.remove_socket_id_if_unused(s.socket_id, socket)?;
                }
            }
            VppIfType::Vhostuser => {
                let all = self.client.dump(&SwInterfaceVhostUserDump {
                    sw_if_index: ANY_SW_IF_INDEX,
                })?;
                for v in all.iter().filter(|v| v.sock_filename.0 == path) {
                    self.leave_l3(v.sw_if_index, &l3, &unnumbered)?;
                    self.leave_bridge(v.sw_if_index, bridge_domain)?;
                    self.client.request(&DeleteVhostUserIf {
                        sw_if_index: v.sw_if_index,
                    })?;
                    found = true;
                }
            }
        }
        if let Some(bd_id) = bridge_domain {
            self.remove_bridge_domain_if_empty(bd_id)?;
        }
        self.remove_gateway_loopback_if_unused(&l3)?;
        Ok(found)
    }
}

impl Vpp {
    /// The memif and vhost-user interfaces tagged [`INTERFACE_TAG`], with their socket files
    /// and what they hold of the shared objects (bridge domain, gateway, pod route).
    pub fn tagged_interfaces(&mut self) -> Result<Vec<TaggedInterface>, VppEngineError> {
        let all = self.client.dump(&SwInterfaceDump {
            sw_if_index: ANY_SW_IF_INDEX,
            name_filter_valid: false,
            name_filter: String::new(),
        })?;
        let prefix = format!("{INTERFACE_TAG} ");
        if !all.iter().any(|d| d.tag.0.starts_with(&prefix)) {
            return Ok(Vec::new());
        }
        let tags: Vec<(u32, String)> = all
            .iter()
            .map(|d| (d.sw_if_index, d.tag.0.clone()))
            .collect();
        let mut out = Vec::new();
        let sockets = self.client.dump(&MemifSocketFilenameDump {})?;
        for m in self.client.dump(&MemifDump {})? {
            let socket = sockets.iter().find(|s| s.socket_id == m.socket_id);
            out.extend(socket.map(|s| TaggedInterface {
                iftype: VppIfType::Memif,
                sw_if_index: m.sw_if_index,
                tag: String::new(),
                socket: PathBuf::from(&s.socket_filename.0),
                vhost_server: false,
                bridge_domain: None,
                gateway: None,
                pod: None,
            }));
        }
        // The vhost plugin may not be loaded: then there is no vhost-user interface to find.
        let vhost = [
            Client::id_of::<SwInterfaceVhostUserDump>,
            Client::id_of::<SwInterfaceVhostUserDetails>,
        ];
        if self.client.require(&vhost).is_ok() {
            let vhosts = self.client.dump(&SwInterfaceVhostUserDump {
                sw_if_index: ANY_SW_IF_INDEX,
            })?;
            out.extend(vhosts.into_iter().map(|v| TaggedInterface {
                iftype: VppIfType::Vhostuser,
                sw_if_index: v.sw_if_index,
                tag: String::new(),
                socket: PathBuf::from(v.sock_filename.0),
                vhost_server: v.is_server,
                bridge_domain: None,
                gateway: None,
                pod: None,
            }));
        }
        out.retain_mut(|t| {
            let tag = tags.iter().find(|(sw, _)| *sw == t.sw_if_index);
            t.tag = tag.map(|(_, tag)| tag.clone()).unwrap_or_default();
            t.tag.starts_with(&prefix)
        });
        self.shared_objects_of(&mut out, &all)?;
        Ok(out)
    }

    /// Fills in each interface's bridge domain, gateway and pod route.
    fn shared_objects_of(
        &mut self,
        found: &mut [TaggedInterface],
        all: &[SwInterfaceDetails],
    ) -> Result<(), VppEngineError> {
        let bds = self.client.dump(&BridgeDomainDump {
            bd_id: u32::MAX,
            sw_if_index: ANY_SW_IF_INDEX,
        })?;
        // No unnumbered messages, no L3 attachment of the plugin's.
        let l3 = [
            Client::id_of::<IpUnnumberedDump>,
            Client::id_of::<IpUnnumberedDetails>,
        ];
        let unnumbered = if self.client.require(&l3).is_ok() {
            self.unnumbered()?
        } else {
            Vec::new()
        };
        for t in found.iter_mut() {
            t.bridge_domain = bds
                .iter()
                .find(|b| {
                    b.sw_if_details
                        .0
                        .iter()
                        .any(|m| m.sw_if_index == t.sw_if_index)
                })
                .map(|b| b.bd_id);
            let lo = unnumbered
                .iter()
                .find(|(u, _)| *u == t.sw_if_index)
                .map(|(_, ip)| *ip);
            let gw_prefix = format!("{GATEWAY_TAG} ");
            t.gateway = all
                .iter()
                .find(|d| Some(d.sw_if_index) == lo)
                .and_then(|d| d.tag.0.strip_prefix(&gw_prefix)?.parse().ok());
            if let Some(gw) = t.gateway {
                t.pod = self.pod_route_of(t.sw_if_index, &gw)?;
            }
        }
        Ok(())
    }

    /// The pod address routed out of `sw_if_index` (a host route of the gateway's family).
    fn pod_route_of(
        &mut self,
        sw_if_index: u32,
        gateway: &IpNet,
    ) -> Result<Option<IpNet>, VppEngineError> {
        let host_len = if gateway.addr().is_ipv4() { 32 } else { 128 };
        let routes = self.client.dump(&IpRouteDump {
            table: IpTable {
                table_id: 0,
                is_ip6: gateway.addr().is_ipv6(),
                name: FixedStr::default(),
            },
        })?;
        Ok(routes
            .iter()
            .filter(|r| r.route.prefix.len == host_len)
            .filter(|r| r.route.paths.0.iter().any(|p| p.sw_if_index == sw_if_index))
            .filter_map(|r| IpNet::new(r.route.prefix.address.ip()?, gateway.prefix_len()).ok())
            .find(|p| gateway.contains(&p.addr())))
    }
}

/// The host side's address for `netType: interface`: the IPAM gateway, with the pod's prefix
/// length (the host end of the pod's link).
pub fn host_address(pod: &IpNet, gateway: Option<IpAddr>) -> Option<IpNet> {
    IpNet::new(gateway?, pod.prefix_len()).ok()
}
