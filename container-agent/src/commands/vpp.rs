//! `userspace-agent vpp`: configure the pod's own VPP from what the host pushed. memif
//! interfaces are created on the shared sockets (slave when the host's switch listens);
//! vhost-user and PCI interfaces exist already (from `vpp-startup`'s dpdk section) and are
//! found by their MAC. Then each is set up, addressed and routed. Running it again finds what
//! it made (the memif, and the addresses and routes VPP lists) and changes nothing: VPP
//! refuses an address an interface has already, so a restarted config container would
//! otherwise crash-loop.

use std::net::IpAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use ipnet::IpNet;
use serde::Serialize;
use userspace_cni_sdk::discovery::Locations;
use userspace_cni_sdk::interfaces::{InterfaceKind, PodInterface, SocketRole};
use userspace_cni_sdk::wire;
use vpp_api::Client;
use vpp_api::codec::Prefix;
use vpp_api::messages::interface::*;
use vpp_api::messages::ip::*;
use vpp_api::messages::memif::*;

use crate::cli::VppArgs;
use crate::wait;

/// What was configured for one interface.
#[derive(Debug, Serialize)]
struct Configured {
    name: String,
    kind: String,
    vpp_interface: String,
    sw_if_index: u32,
    created: bool,
    addresses: Vec<String>,
    routes: Vec<String>,
}

pub fn run(loc: &Locations, args: &VppArgs) -> anyhow::Result<ExitCode> {
    let deadline = Instant::now() + args.wait_timeout;
    let view = wait::for_interfaces(loc, 1, args.wait_timeout)?;
    let left = deadline.saturating_duration_since(Instant::now());
    let mut vpp = Client::connect_wait(
        &args.api_socket,
        "userspace-agent",
        Duration::from_secs(5),
        left.max(Duration::from_secs(1)),
    )
    .with_context(|| {
        format!(
            "connecting to VPP's API socket {} (is VPP running with `socksvr {{ socket-name {} }}`?)",
            args.api_socket.display(),
            args.api_socket.display()
        )
    })?;
    vpp.require(&[
        Client::id_of::<MemifSocketFilenameDump>,
        Client::id_of::<MemifSocketFilenameAddDelV2>,
        Client::id_of::<MemifDump>,
        Client::id_of::<MemifCreateV2>,
        Client::id_of::<SwInterfaceDump>,
        Client::id_of::<SwInterfaceSetFlags>,
        Client::id_of::<SwInterfaceAddDelAddress>,
        Client::id_of::<IpRouteAddDel>,
        Client::id_of::<IpAddressDump>,
        Client::id_of::<IpRouteDump>,
    ])
    .context("checking VPP's API")?;
    let version = vpp
        .show_version()
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let mut done = Vec::new();
    for iface in &view.interfaces {
        let Some(c) = configure(&mut vpp, iface)
            .with_context(|| format!("configuring {} in VPP", iface.name))?
        else {
            continue;
        };
        done.push(c);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({"vpp": version, "interfaces": done}))?
        );
    } else {
        println!("VPP {version} on {}", args.api_socket.display());
        for c in &done {
            println!(
                "  {} [{}] -> {} (sw_if_index {}{}) up{}{}",
                c.name,
                c.kind,
                c.vpp_interface,
                c.sw_if_index,
                if c.created { ", created" } else { "" },
                if c.addresses.is_empty() {
                    String::new()
                } else {
                    format!(", {}", c.addresses.join(" "))
                },
                if c.routes.is_empty() {
                    String::new()
                } else {
                    format!(", routes {}", c.routes.join("; "))
                },
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn configure(vpp: &mut Client, iface: &PodInterface) -> anyhow::Result<Option<Configured>> {
    let kind = iface.kind();
    let (sw_if_index, vpp_name, created) = match kind {
        Some(InterfaceKind::Memif) => memif(vpp, iface)?,
        Some(InterfaceKind::VhostUser) | Some(InterfaceKind::Pci) => by_mac(vpp, iface)?,
        Some(InterfaceKind::Vdpa) | None => {
            tracing::warn!("{}: not an interface VPP can use here, skipped", iface.name);
            return Ok(None);
        }
    };
    vpp.request(&SwInterfaceSetFlags {
        sw_if_index,
        flags: IfStatusFlags::ADMIN_UP,
    })
    .context("setting it up")?;
    let ips: Vec<IpNet> = iface
        .ips
        .as_ref()
        .map(|f| f.value.clone())
        .unwrap_or_default();
    add_addresses(vpp, sw_if_index, &ips)?;
    let routes = add_routes(vpp, iface, sw_if_index, &vpp_name)?;
    Ok(Some(Configured {
        name: iface.name.clone(),
        kind: kind.map(|k| k.to_string()).unwrap_or_default(),
        vpp_interface: vpp_name,
        sw_if_index,
        created,
        addresses: ips.iter().map(ToString::to_string).collect(),
        routes,
    }))
}

/// Adds the addresses the interface does not have yet: VPP refuses one it has
/// (ADDRESS_IN_USE), and a second run must change nothing.
fn add_addresses(vpp: &mut Client, sw_if_index: u32, ips: &[IpNet]) -> anyhow::Result<()> {
    let mut have = Vec::new();
    for is_ipv6 in [false, true] {
        if ips.iter().any(|ip| ip.addr().is_ipv6() == is_ipv6) {
            have.extend(
                vpp.dump(&IpAddressDump {
                    sw_if_index,
                    is_ipv6,
                })
                .context("listing the addresses it has")?
                .into_iter()
                .map(|d| d.prefix),
            );
        }
    }
    for ip in ips {
        let prefix = Prefix::new(ip.addr(), ip.prefix_len());
        if have.contains(&prefix) {
            tracing::debug!("{ip} is configured already");
            continue;
        }
        vpp.request(&SwInterfaceAddDelAddress {
            sw_if_index,
            is_add: true,
            del_all: false,
            prefix,
        })
        .with_context(|| format!("adding address {ip}"))?;
    }
    Ok(())
}

/// Adds the pod's routes through this interface that VPP's main table lacks; a route is
/// there when its prefix has a path out of this interface to the same next hop.
fn add_routes(
    vpp: &mut Client,
    iface: &PodInterface,
    sw_if_index: u32,
    vpp_name: &str,
) -> anyhow::Result<Vec<String>> {
    let wanted = iface
        .routes
        .as_ref()
        .map(|f| f.value.clone())
        .unwrap_or_default();
    let mut table = Vec::new();
    for is_ip6 in [false, true] {
        if wanted.iter().any(|r| r.dst.addr().is_ipv6() == is_ip6) {
            table.extend(
                vpp.dump(&IpRouteDump {
                    table: IpTable {
                        is_ip6,
                        ..IpTable::default()
                    },
                })
                .context("listing VPP's routes")?
                .into_iter()
                .map(|d| d.route),
            );
        }
    }
    let gateway = iface.gateway.as_ref().map(|g| g.value);
    let mut routes = Vec::new();
    for r in wanted {
        let via =
            r.gw.or(gateway)
                .filter(|g| g.is_ipv4() == r.dst.addr().is_ipv4());
        let add = route(r.dst, via, sw_if_index);
        let present = table.iter().any(|t| {
            t.prefix == add.route.prefix
                && t.paths.iter().any(|p| {
                    add.route
                        .paths
                        .iter()
                        .any(|q| p.sw_if_index == q.sw_if_index && p.nh.address == q.nh.address)
                })
        });
        if present {
            tracing::debug!("the route to {} is configured already", r.dst);
        } else {
            vpp.request(&add)
                .with_context(|| format!("adding route {}", r.dst))?;
        }
        routes.push(match via {
            Some(g) => format!("{} via {g}", r.dst.trunc()),
            None => format!("{} dev {vpp_name}", r.dst.trunc()),
        });
    }
    Ok(routes)
}

/// The pod's memif on its shared socket: found when it exists, else created.
fn memif(vpp: &mut Client, iface: &PodInterface) -> anyhow::Result<(u32, String, bool)> {
    let Some(path) = iface.socket_path.as_ref().map(|f| f.value.clone()) else {
        bail!("no socket path is known for it");
    };
    let socket = path.to_string_lossy().into_owned();
    let sockets = vpp.dump(&MemifSocketFilenameDump {})?;
    let socket_id = match sockets.iter().find(|s| s.socket_filename.0 == socket) {
        Some(s) => s.socket_id,
        None => {
            vpp.request(&MemifSocketFilenameAddDelV2 {
                is_add: true,
                socket_id: PICK_SOCKET_ID,
                socket_filename: socket.clone(),
            })
            .with_context(|| format!("registering memif socket {socket}"))?
            .socket_id
        }
    };
    if let Some(m) = vpp
        .dump(&MemifDump {})?
        .into_iter()
        .find(|m| m.socket_id == socket_id && m.id == 0)
    {
        return Ok((m.sw_if_index, m.if_name.0, false));
    }
    // The host side listens (master) unless the pod was told to.
    let role = match iface.role.as_ref().map(|r| r.value) {
        Some(SocketRole::Server) => MemifRole::MASTER,
        _ => MemifRole::SLAVE,
    };
    let mode = match iface.memif_mode.as_ref().map(|m| m.value) {
        Some(wire::MemifMode::Ip) => MemifMode::IP,
        Some(wire::MemifMode::InjectPunt) => MemifMode::PUNT_INJECT,
        _ => MemifMode::ETHERNET,
    };
    let r = vpp
        .request(&MemifCreateV2 {
            role,
            mode,
            rx_queues: 1,
            tx_queues: 1,
            id: 0,
            socket_id,
            ring_size: 1024,
            buffer_size: 2048,
            hw_addr: iface
                .mac
                .as_ref()
                .map(|m| m.value.octets())
                .unwrap_or([0; 6]),
            ..MemifCreateV2::default()
        })
        .context("creating the memif interface")?;
    Ok((r.sw_if_index, format!("memif{socket_id}/0"), true))
}

/// An interface VPP's DPDK plugin made from the startup.conf, recognised by its MAC.
fn by_mac(vpp: &mut Client, iface: &PodInterface) -> anyhow::Result<(u32, String, bool)> {
    let Some(mac) = iface.mac.as_ref().map(|m| m.value) else {
        bail!("no MAC is known for it, so it cannot be told apart among VPP's interfaces");
    };
    let all = vpp.dump(&SwInterfaceDump {
        sw_if_index: ANY_SW_IF_INDEX,
        name_filter_valid: false,
        name_filter: String::new(),
    })?;
    match all.into_iter().find(|d| d.l2_address == mac.octets()) {
        Some(d) => Ok((d.sw_if_index, d.interface_name.0, false)),
        None => bail!(
            "VPP has no interface with MAC {mac}: start VPP with the startup.conf from `userspace-agent vpp-startup`"
        ),
    }
}

fn route(dst: IpNet, via: Option<IpAddr>, sw_if_index: u32) -> IpRouteAddDel {
    let dst = dst.trunc();
    let mut nh = [0u8; 16];
    if let Some(g) = via {
        match g {
            IpAddr::V4(v4) => nh[..4].copy_from_slice(&v4.octets()),
            IpAddr::V6(v6) => nh = v6.octets(),
        }
    }
    IpRouteAddDel {
        is_add: true,
        is_multipath: false,
        route: IpRoute {
            table_id: 0,
            stats_index: 0,
            prefix: Prefix::new(dst.addr(), dst.prefix_len()),
            paths: vec![FibPath {
                sw_if_index,
                weight: 1,
                proto: if dst.addr().is_ipv4() {
                    FibPathNhProto::IP4
                } else {
                    FibPathNhProto::IP6
                },
                nh: FibPathNh {
                    address: nh,
                    ..FibPathNh::default()
                },
                ..FibPath::default()
            }]
            .into(),
        },
    }
}
