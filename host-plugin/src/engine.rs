//! The vswitch engines behind one trait; the verbs do not know which switch they drive.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use ipnet::IpNet;
use userspace_cni_sdk::wire::{self, Engine as EngineKind, IfType, NetType, VhostMode};
use vpp_api::messages::memif::{MemifMode, MemifRole};

use crate::cni::{CniError, ErrorCode};
use crate::config::Config;
use crate::ovs::{OvsClient, OvsError, PortKind, PortSpec};
use crate::vpp::{Vpp, VppAttached, VppIfType, VppPlan};

/// `external_ids` keys on ports.
pub mod tags {
    /// CNI_CONTAINERID.
    pub const CONTAINER_ID: &str = "userspace-cni/container-id";
    /// CNI_IFNAME.
    pub const IFNAME: &str = "userspace-cni/ifname";
    /// Network name.
    pub const NETWORK: &str = "userspace-cni/network";
}

/// What the engine must create.
#[derive(Debug, Clone)]
pub struct AttachRequest {
    /// Container ID.
    pub container_id: String,
    /// Interface name.
    pub ifname: String,
    /// Network name.
    pub network: String,
    /// Port name on the switch.
    pub port: String,
    /// Where the socket must be on the host.
    pub socket: PathBuf,
    /// The host side's address for `netType: interface` (VPP).
    pub host_address: Option<IpNet>,
}

/// What the engine created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    /// Bridge.
    pub bridge: String,
    /// Whether the bridge was created.
    pub bridge_created: bool,
    /// Port.
    pub port: String,
    /// Whether the socket is a bind mount of the switch's own socket (EXDEV fallback).
    pub socket_bind_mounted: bool,
    /// What was done on VPP.
    pub vpp: Option<VppAttached>,
}

fn ovs_err(e: OvsError) -> CniError {
    let code = if e.is_transient() {
        ErrorCode::TryAgainLater
    } else {
        ErrorCode::Internal
    };
    let mut chain = String::new();
    let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = src {
        chain.push_str(&s.to_string());
        src = s.source();
    }
    CniError::new(code, e.to_string()).with_details(chain)
}

/// The OVS-DPDK engine.
pub struct Ovs {
    client: OvsClient,
    run_dir: PathBuf,
}

impl Ovs {
    /// Connects to the configured OVSDB.
    pub fn connect(config: &Config) -> Result<Self, CniError> {
        let client = OvsClient::connect(&config.ovsdb, Duration::from_secs(5)).map_err(ovs_err)?;
        // ovs-vswitchd puts dpdkvhostuser sockets in its run directory, where db.sock lives.
        let run_dir = config
            .ovsdb
            .strip_prefix("unix:")
            .and_then(|p| Path::new(p).parent())
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("/var/run/openvswitch"));
        Ok(Self { client, run_dir })
    }

    /// Adds the port; for `dpdkvhostuser` also brings OVS's socket into the shared directory.
    pub fn attach(&mut self, config: &Config, req: &AttachRequest) -> Result<Attached, CniError> {
        let pod_is_server = config.host_vhost_mode() == VhostMode::Client;
        let kind = if pod_is_server {
            PortKind::DpdkVhostUserClient {
                server_path: req.socket.clone(),
            }
        } else {
            PortKind::DpdkVhostUser
        };
        let external_ids: BTreeMap<String, String> = [
            (tags::CONTAINER_ID.to_owned(), req.container_id.clone()),
            (tags::IFNAME.to_owned(), req.ifname.clone()),
            (tags::NETWORK.to_owned(), req.network.clone()),
        ]
        .into();
        let bridge = config.bridge();
        let added = self
            .client
            .add_port(&PortSpec {
                bridge: bridge.clone(),
                port: req.port.clone(),
                kind,
                external_ids,
                create_bridge: true,
            })
            .map_err(ovs_err)?;
        let mut attached = Attached {
            bridge,
            bridge_created: added.bridge_created,
            port: req.port.clone(),
            socket_bind_mounted: false,
            vpp: None,
        };
        if !pod_is_server {
            match self.bring_socket(&req.port, &req.socket) {
                Ok(bound) => attached.socket_bind_mounted = bound,
                Err(e) => {
                    let _ = self.detach(&attached, &req.socket);
                    return Err(e);
                }
            }
        }
        Ok(attached)
    }

    /// Waits for ovs-vswitchd to create `<run_dir>/<port>`, then renames it into the shared
    /// directory; across filesystems (EXDEV) the socket is bind-mounted there instead.
    fn bring_socket(&self, port: &str, target: &Path) -> Result<bool, CniError> {
        let src = self.run_dir.join(port);
        let deadline = Instant::now() + Duration::from_secs(5);
        while !src.exists() {
            if Instant::now() > deadline {
                return Err(CniError::new(
                    ErrorCode::TryAgainLater,
                    format!(
                        "ovs-vswitchd did not create {} within 5s: is it running with dpdk-init=true?",
                        src.display()
                    ),
                ));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        match std::fs::rename(&src, target) {
            Ok(()) => Ok(false),
            Err(e) if e.raw_os_error() == Some(nix::libc::EXDEV) => {
                std::fs::File::create(target).map(|_| ()).map_err(|e| {
                    CniError::new(ErrorCode::Io, format!("cannot create {}", target.display()))
                        .with_details(e.to_string())
                })?;
                nix::mount::mount(
                    Some(&src),
                    target,
                    None::<&str>,
                    nix::mount::MsFlags::MS_BIND,
                    None::<&str>,
                )
                .map_err(|e| {
                    let _ = std::fs::remove_file(target);
                    CniError::new(
                        ErrorCode::Io,
                        format!(
                            "cannot bind-mount {} on {}",
                            src.display(),
                            target.display()
                        ),
                    )
                    .with_details(e.to_string())
                })?;
                Ok(true)
            }
            Err(e) => Err(CniError::new(
                ErrorCode::Io,
                format!("cannot move {} to {}", src.display(), target.display()),
            )
            .with_details(e.to_string())),
        }
    }

    /// Deletes the port, the bridge if this plugin made it and it is empty, and the socket.
    pub fn detach(&mut self, a: &Attached, socket: &Path) -> Result<(), CniError> {
        self.client.delete_port(&a.port).map_err(ovs_err)?;
        if a.bridge_created {
            self.client
                .delete_bridge_if_ours_and_empty(&a.bridge)
                .map_err(ovs_err)?;
        }
        if a.socket_bind_mounted {
            let _ = nix::mount::umount2(socket, nix::mount::MntFlags::MNT_DETACH);
        }
        let _ = std::fs::remove_file(socket);
        // A dpdkvhostuser socket that was never moved stays in OVS's run directory.
        let _ = std::fs::remove_file(self.run_dir.join(&a.port));
        Ok(())
    }

    /// CHECK: the port exists, and ovs-vswitchd did not flag an error on it.
    pub fn check(&mut self, port: &str) -> Result<(), CniError> {
        match self.client.get_interface(port).map_err(ovs_err)? {
            None => Err(CniError::new(
                ErrorCode::Internal,
                format!("OVS port {port} is missing"),
            )),
            Some(i) => match i.error {
                Some(e) => Err(CniError::new(
                    ErrorCode::Internal,
                    format!("OVS reports an error on port {port}: {e}"),
                )),
                None => Ok(()),
            },
        }
    }

    /// Ports this plugin made for a network.
    pub fn ports_of_network(&mut self, network: &str) -> Result<Vec<TaggedPort>, CniError> {
        let filter: BTreeMap<String, String> =
            [(tags::NETWORK.to_owned(), network.to_owned())].into();
        Ok(self
            .client
            .find_ports(&filter)
            .map_err(ovs_err)?
            .into_iter()
            .map(|p| (p.name, p.external_ids))
            .collect())
    }

    /// Deletes a port by name (GC, DEL without state).
    pub fn delete_port(&mut self, port: &str) -> Result<bool, CniError> {
        self.client.delete_port(port).map_err(ovs_err)
    }
}

/// A port name and its `external_ids`.
pub type TaggedPort = (String, BTreeMap<String, String>);

/// The switch of the configured engine.
pub enum Switch {
    /// OVS-DPDK.
    Ovs(Ovs),
    /// VPP.
    Vpp(Vpp),
}

impl Switch {
    /// Connects to the configured engine.
    pub fn connect(config: &Config) -> Result<Self, CniError> {
        match config.engine {
            EngineKind::OvsDpdk => Ovs::connect(config).map(Self::Ovs),
            EngineKind::Vpp => Vpp::connect(&config.vpp_socket).map(Self::Vpp),
        }
    }

    /// Creates the port or interface.
    pub fn attach(&mut self, config: &Config, req: &AttachRequest) -> Result<Attached, CniError> {
        match self {
            Self::Ovs(o) => o.attach(config, req),
            Self::Vpp(v) => {
                let plan = vpp_plan(config, req)?;
                let a = v.attach(&plan).inspect_err(|_| {
                    // VPP made the socket file (master / server) before the step that failed.
                    let _ = std::fs::remove_file(&req.socket);
                })?;
                Ok(Attached {
                    bridge: a.bridge_domain.map(|b| b.to_string()).unwrap_or_default(),
                    bridge_created: a.bridge_domain_created,
                    port: a.if_name.clone(),
                    socket_bind_mounted: false,
                    vpp: Some(a),
                })
            }
        }
    }

    /// Undoes `attach`, and removes the socket file.
    pub fn detach(&mut self, a: &Attached, socket: &Path) -> Result<(), CniError> {
        match self {
            Self::Ovs(o) => o.detach(a, socket),
            Self::Vpp(v) => {
                if let Some(done) = &a.vpp {
                    v.detach(done)?;
                }
                let _ = std::fs::remove_file(socket);
                Ok(())
            }
        }
    }

    /// CHECK.
    pub fn check(&mut self, a: &Attached) -> Result<(), CniError> {
        match (self, &a.vpp) {
            (Self::Ovs(o), _) => o.check(&a.port),
            (Self::Vpp(v), Some(done)) => v.check(done),
            (Self::Vpp(_), None) => Err(CniError::new(
                ErrorCode::Internal,
                "the state of this attachment has no VPP record",
            )),
        }
    }
}

/// What the VPP engine must do for this config.
fn vpp_plan(config: &Config, req: &AttachRequest) -> Result<VppPlan, CniError> {
    let memif = config.host.memif.clone().unwrap_or_default();
    let net_type = config.host_net_type();
    let address = match net_type {
        NetType::Interface => Some(req.host_address.ok_or_else(|| {
            CniError::new(
                ErrorCode::InvalidConfig,
                "host.netType interface needs an address for the host side: configure IPAM with a gateway",
            )
        })?),
        _ => None,
    };
    Ok(VppPlan {
        iftype: match config.iftype {
            IfType::Memif => VppIfType::Memif,
            IfType::Vhostuser => VppIfType::Vhostuser,
        },
        socket: req.socket.clone(),
        memif_role: match memif.role.unwrap_or(wire::MemifRole::Master) {
            wire::MemifRole::Master => MemifRole::MASTER,
            wire::MemifRole::Slave => MemifRole::SLAVE,
        },
        memif_mode: match memif.mode.unwrap_or(wire::MemifMode::Ethernet) {
            wire::MemifMode::Ethernet => MemifMode::ETHERNET,
            wire::MemifMode::Ip => MemifMode::IP,
            wire::MemifMode::InjectPunt => MemifMode::PUNT_INJECT,
        },
        vhost_server: config.host_vhost_mode() == VhostMode::Server,
        bridge_domain: match net_type {
            NetType::Bridge => config.vpp_bridge_domain()?,
            _ => None,
        },
        address,
        tag: format!("userspace-cni {}", req.port),
    })
}
