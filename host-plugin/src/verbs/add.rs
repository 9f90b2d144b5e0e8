//! ADD: IPAM → switch port → files for the pod → state. Every step that succeeded is undone
//! when a later one fails.

use std::net::IpAddr;
use std::path::PathBuf;

use userspace_cni_sdk::wire::{
    CniInterface, CniResult, ConfigurationData, Device, DeviceInfo, IfType, MemifDevice, MemifRole,
    VhostMode, VhostUserDevice, VhostUserIp4Conf,
};

use super::{attachment_mac, port_name};
use crate::cni::{CniCommand, CniError, ErrorCode, Verb};
use crate::config::Config;
use crate::engine::{AttachRequest, Attached, Switch};
use crate::state::{Attachment, Store};
use crate::vpp::attach::host_address;
use crate::{ipam, k8s, publish, shared_dir, state_err};

/// What has been done so far, for rollback.
#[derive(Default)]
struct Done {
    dir: Option<PathBuf>,
    alias: Option<PathBuf>,
    annotated: Option<k8s::Session>,
    ipam: bool,
    attached: Option<(Attached, PathBuf)>,
    files: Vec<PathBuf>,
}

/// Runs ADD; returns the result JSON in the config's version.
pub fn run(cmd: &CniCommand, config: &Config) -> Result<String, CniError> {
    let store = Store::new(&config.state_dir);
    let _lock = store
        .lock(&cmd.container_id, &cmd.ifname)
        .map_err(state_err)?;
    if store
        .load(&cmd.container_id, &cmd.ifname)
        .map_err(state_err)?
        .is_some()
    {
        return Err(CniError::new(
            ErrorCode::Internal,
            format!(
                "{}/{} is already attached: DEL it first",
                cmd.container_id, cmd.ifname
            ),
        ));
    }
    let mut done = Done::default();
    let mut switch: Option<Switch> = None;
    match steps(cmd, config, &store, &mut done, &mut switch) {
        Ok(out) => Ok(out),
        Err(e) => {
            tracing::warn!("ADD failed, rolling back: {e}");
            rollback(cmd, config, done, switch);
            Err(e)
        }
    }
}

fn steps(
    cmd: &CniCommand,
    config: &Config,
    store: &Store,
    done: &mut Done,
    switch_slot: &mut Option<Switch>,
) -> Result<String, CniError> {
    let id12 = cmd.id12();
    let host_vhost = config.host.vhost.clone().unwrap_or_default();
    let sockname = socket_name(config, id12, &cmd.ifname);

    // With a kubeconfig and a Kubernetes pod: the pod's own `shared-dir` volume.
    let kube = match (&config.net.kubeconfig, k8s::PodRef::from_args(&cmd.args)) {
        (Some(path), Some(pod)) => {
            let session = k8s::Session::connect(path, pod)?;
            let facts = session.pod_facts()?;
            Some((session, facts))
        }
        _ => None,
    };
    let dir = match kube.as_ref().and_then(|(_, f)| f.volume.clone()) {
        Some(k8s::SharedVolume::HostPath(p)) => {
            shared_dir::check_allowed(&p, &config.allowed_roots)?;
            p
        }
        Some(k8s::SharedVolume::EmptyDir(p)) => p,
        None => shared_dir::for_attachment(config, id12),
    };
    let socket = dir.join(&sockname);
    if shared_dir::ensure(&dir, host_vhost.group.as_deref())? {
        done.dir = Some(dir.clone());
    }
    // kubelet's emptyDir paths are long: the switch then uses a short alias of the directory.
    let switch_socket = if shared_dir::check_socket_path(&socket).is_err() {
        let alias = shared_dir::short_alias(&dir, &cmd.container_id)?;
        done.alias = Some(alias.clone());
        alias.join(&sockname)
    } else {
        socket.clone()
    };
    shared_dir::check_socket_path(&switch_socket)?;
    shared_dir::clear_socket_path(&socket)?;

    // IPAM first: an address shortage must fail before a port exists.
    let ipam_result = match config.ipam_type() {
        Some(t) => {
            done.ipam = true;
            let out = ipam::exec(cmd, t, Verb::Add, &config.raw)?;
            Some(serde_json::from_slice::<CniResult>(&out).map_err(|e| {
                CniError::new(
                    ErrorCode::Decode,
                    format!("IPAM plugin {t} returned an unreadable result"),
                )
                .with_details(e.to_string())
            })?)
        }
        None => config
            .net
            .prev_result
            .clone()
            .and_then(|v| serde_json::from_value(v).ok()),
    };

    let switch = switch_slot.insert(Switch::connect(config)?);
    let req = AttachRequest {
        container_id: cmd.container_id.clone(),
        ifname: cmd.ifname.clone(),
        network: config.net.name.clone(),
        port: port_name(id12, &cmd.ifname),
        socket: switch_socket.clone(),
        host_address: ipam_result
            .as_ref()
            .and_then(|r| r.ips.first())
            .and_then(|ip| host_address(&ip.address, ip.gateway)),
    };
    crash_point("ipam");
    let attached = switch.attach(config, &req)?;
    crash_point("ovsdb");
    done.attached = Some((attached.clone(), switch_socket.clone()));
    if config.iftype == IfType::Vhostuser
        && let Some(g) = host_vhost.group.as_deref()
    {
        set_socket_group(&socket, g);
    }

    // The result.
    let mac = attachment_mac(&cmd.container_id, &cmd.ifname);
    let mut result = CniResult::new("1.1.0");
    result.interfaces.push(CniInterface {
        name: cmd.ifname.clone(),
        mac: Some(mac.to_string()),
        mtu: None,
        sandbox: cmd.netns.as_ref().map(|p| p.display().to_string()),
        socket_path: Some(socket.display().to_string()),
        pci_id: None,
    });
    if let Some(r) = &ipam_result {
        for ip in &r.ips {
            let mut ip = ip.clone();
            ip.interface = Some(0);
            result.ips.push(ip);
        }
        result.routes = r.routes.clone();
        result.dns = r.dns.clone();
    }

    // What the pod reads.
    let mut container = config.net.container_conf(!result.ips.is_empty());
    if let Some(v) = container.vhost.as_mut() {
        v.socketfile = Some(sockname.clone());
    }
    if let Some(m) = container.memif.as_mut() {
        m.socketfile = Some(sockname.clone());
    }
    let entry_result = result
        .convert_to(config.version())
        .map_err(|e| CniError::new(ErrorCode::IncompatibleVersion, e.to_string()))?;
    let entry = ConfigurationData {
        container_id: cmd.container_id.clone(),
        if_name: cmd.ifname.clone(),
        name: config.net.name.clone(),
        config: container.clone(),
        ip_result: Some(entry_result),
    };
    let pub_err = |e: publish::PublishError| {
        CniError::new(ErrorCode::Io, e.to_string()).with_details(format!("{:?}", e.source))
    };
    done.files
        .push(publish::config_data_path(&dir, id12, &cmd.ifname));
    publish::write_config_data(&dir, id12, &entry).map_err(pub_err)?;
    if let Some(v4) = result.first_ipv4() {
        let conf = VhostUserIp4Conf {
            ip_addr: v4.address.to_string(),
            mac_addr: mac.to_string(),
            gateway: v4.gateway.map(|g: IpAddr| g.to_string()),
            gw_mac: None,
        };
        done.files
            .push(publish::ip4conf_path(&dir, id12, &cmd.ifname));
        publish::write_ip4conf(&dir, id12, &cmd.ifname, &conf).map_err(pub_err)?;
    }
    if let Some(path) = config
        .net
        .runtime_config
        .as_ref()
        .and_then(|r| r.cni_device_info_file.clone())
    {
        let device = match config.iftype {
            IfType::Vhostuser => Device::VhostUser {
                vhost_user: VhostUserDevice {
                    mode: container
                        .vhost
                        .as_ref()
                        .and_then(|v| v.mode)
                        .unwrap_or(VhostMode::Client),
                    path: socket.display().to_string(),
                },
            },
            IfType::Memif => Device::Memif {
                memif: MemifDevice {
                    role: container
                        .memif
                        .as_ref()
                        .and_then(|m| m.role)
                        .unwrap_or(MemifRole::Slave),
                    path: socket.display().to_string(),
                    mode: container.memif.as_ref().and_then(|m| m.mode),
                },
            },
        };
        let info = DeviceInfo {
            version: "1.1.0".into(),
            device,
        };
        let path = PathBuf::from(path);
        done.files.push(path.clone());
        publish::write_device_info(&path, &info).map_err(pub_err)?;
    }

    if let Some((session, facts)) = kube {
        session.publish(&entry, facts.mount_path.as_deref())?;
        done.annotated = Some(session);
    }

    crash_point("files");
    store
        .save(&Attachment {
            container_id: cmd.container_id.clone(),
            ifname: cmd.ifname.clone(),
            network: config.net.name.clone(),
            engine: config.engine.to_string(),
            bridge: attached.bridge.clone(),
            bridge_created: attached.bridge_created,
            port: attached.port.clone(),
            socket: switch_socket.clone(),
            alias: done.alias.clone(),
            pod: done
                .annotated
                .as_ref()
                .map(|s| format!("{}/{}", s.pod.namespace, s.pod.name)),
            socket_bind_mounted: attached.socket_bind_mounted,
            vpp: attached.vpp.clone(),
            shared_dir: dir,
            shared_dir_created: done.dir.is_some(),
            files: done.files.clone(),
            ipam: config.ipam_type().map(str::to_owned),
            result: serde_json::to_value(&result).unwrap_or_default(),
        })
        .map_err(state_err)?;

    let out = result
        .convert_to(config.version())
        .map_err(|e| CniError::new(ErrorCode::IncompatibleVersion, e.to_string()))?;
    serde_json::to_string(&out).map_err(|e| {
        CniError::new(ErrorCode::Internal, "cannot encode the result").with_details(e.to_string())
    })
}

/// The socket file name: the configured one, else `memif-<id12>-<ifname>.sock` for memif and
/// `<id12>-<ifname>` for vhost-user (the Go plugin's names).
pub fn socket_name(config: &Config, id12: &str, ifname: &str) -> String {
    match config.iftype {
        IfType::Memif => config
            .host
            .memif
            .as_ref()
            .and_then(|m| m.socketfile.clone())
            .unwrap_or_else(|| format!("memif-{id12}-{ifname}.sock")),
        IfType::Vhostuser => config
            .host
            .vhost
            .as_ref()
            .and_then(|v| v.socketfile.clone())
            .unwrap_or_else(|| port_name(id12, ifname)),
    }
}

/// Fault injection for the crash tests: `USERSPACE_CRASH_AFTER=ipam|ovsdb|files` aborts the
/// process right after that step, as a kill would. Compiled into debug builds only, so a
/// release plugin on a node ignores the variable.
fn crash_point(step: &str) {
    #[cfg(debug_assertions)]
    if std::env::var("USERSPACE_CRASH_AFTER").is_ok_and(|s| s == step) {
        eprintln!("userspace: USERSPACE_CRASH_AFTER={step}: aborting");
        std::process::abort();
    }
    #[cfg(not(debug_assertions))]
    let _ = step;
}

/// Gives the vhost group access to the socket (when it exists already, i.e. OVS made it).
fn set_socket_group(socket: &std::path::Path, group: &str) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(Some(g)) = nix::unistd::Group::from_name(group)
        && nix::unistd::chown(socket, None, Some(g.gid)).is_ok()
    {
        let _ = std::fs::set_permissions(socket, std::fs::Permissions::from_mode(0o660));
    }
}

fn rollback(cmd: &CniCommand, config: &Config, done: Done, switch: Option<Switch>) {
    if let Some(session) = &done.annotated
        && let Err(e) = session.withdraw(&cmd.container_id, &cmd.ifname)
    {
        tracing::warn!("rollback: cannot withdraw the annotation entry: {e}");
    }
    for (p, e) in publish::remove_files(&done.files) {
        tracing::warn!("rollback: cannot remove {}: {e}", p.display());
    }
    if let (Some((attached, socket)), Some(mut switch)) = (done.attached, switch)
        && let Err(e) = switch.detach(&attached, &socket)
    {
        tracing::warn!("rollback: cannot delete port {}: {e}", attached.port);
    }
    if done.ipam
        && let Some(t) = config.ipam_type()
        && let Err(e) = ipam::exec(cmd, t, Verb::Del, &config.raw)
    {
        tracing::warn!("rollback: IPAM DEL failed: {e}");
    }
    if let Some(alias) = done.alias {
        shared_dir::remove_alias(&alias);
    }
    if let Some(dir) = done.dir {
        shared_dir::remove_if_empty(&dir);
    }
}
