//! DEL: undo what ADD recorded; idempotent, and succeeds when things are already gone.

use std::collections::BTreeMap;

use userspace_cni_sdk::wire::{Engine as EngineKind, IfType, NetType};

use super::add::socket_name;
use super::port_name;
use crate::cni::{CniCommand, CniError, Verb};
use crate::config::Config;
use crate::engine::{Attached, Ovs, Switch, tags};
use crate::state::{Attachment, Store};
use crate::vpp::{Vpp, VppIfType};
use crate::{ipam, k8s, publish, shared_dir, state_err};

/// Runs DEL.
pub fn run(cmd: &CniCommand, config: &Config) -> Result<String, CniError> {
    let store = Store::new(&config.state_dir);
    let _lock = store
        .lock(&cmd.container_id, &cmd.ifname)
        .map_err(state_err)?;
    match store
        .load(&cmd.container_id, &cmd.ifname)
        .map_err(state_err)?
    {
        Some(a) => undo(config, &a)?,
        None => best_effort(cmd, config)?,
    }
    if let Some(t) = config.ipam_type() {
        ipam::exec(cmd, t, Verb::Del, &config.raw)?;
    }
    if let Some(path) = config
        .net
        .runtime_config
        .as_ref()
        .and_then(|r| r.cni_device_info_file.as_ref())
    {
        publish::remove_files(&[path.into()]);
    }
    store
        .remove(&cmd.container_id, &cmd.ifname)
        .map_err(state_err)?;
    Ok(String::new())
}

/// Undoes a recorded attachment (also used by GC).
pub fn undo(config: &Config, a: &Attachment) -> Result<(), CniError> {
    // The engine ADD used, whatever the config says now.
    let mut switch = if a.engine == EngineKind::OvsDpdk.as_str() {
        Switch::Ovs(Ovs::connect(config)?)
    } else {
        Switch::Vpp(Vpp::connect(&config.vpp_socket)?)
    };
    let attached = Attached {
        bridge: a.bridge.clone(),
        bridge_created: a.bridge_created,
        port: a.port.clone(),
        socket_bind_mounted: a.socket_bind_mounted,
        vpp: a.vpp.clone(),
    };
    switch.detach(&attached, &a.socket)?;
    for (p, e) in publish::remove_files(&a.files) {
        tracing::warn!("cannot remove {}: {e}", p.display());
    }
    if let Some(alias) = &a.alias {
        shared_dir::remove_alias(alias);
    }
    if let (Some(pod), Some(kubeconfig)) = (&a.pod, &config.net.kubeconfig)
        && let Some((namespace, name)) = pod.split_once('/')
    {
        // The pod may be gone or the API down: a stale entry must not block the DEL.
        let pod = k8s::PodRef {
            namespace: namespace.to_owned(),
            name: name.to_owned(),
        };
        let r = k8s::Session::connect(kubeconfig, pod)
            .and_then(|s| s.withdraw(&a.container_id, &a.ifname));
        if let Err(e) = r {
            tracing::warn!(
                "cannot remove the annotation entry of {}/{}: {e}",
                a.container_id,
                a.ifname
            );
        }
    }
    if a.shared_dir_created {
        shared_dir::remove_if_empty(&a.shared_dir);
    }
    Ok(())
}

/// Nothing recorded: ADD never finished (or state was lost). Remove what ADD would have
/// made, if it is there and tagged as ours; an unreachable switch is not an error here, since
/// nothing says a port exists.
fn best_effort(cmd: &CniCommand, config: &Config) -> Result<(), CniError> {
    let id12 = cmd.id12();
    let port = port_name(id12, &cmd.ifname);
    if config.engine == EngineKind::OvsDpdk {
        match Ovs::connect(config) {
            Ok(mut ovs) => {
                let ours: BTreeMap<String, String> = [
                    (tags::CONTAINER_ID.to_owned(), cmd.container_id.clone()),
                    (tags::IFNAME.to_owned(), cmd.ifname.clone()),
                ]
                .into();
                let matches =
                    ovs.ports_of_network(&config.net.name)?
                        .into_iter()
                        .any(|(name, ids)| {
                            name == port && ours.iter().all(|(k, v)| ids.get(k) == Some(v))
                        });
                if matches {
                    ovs.delete_port(&port)?;
                }
            }
            Err(e) => {
                tracing::warn!("DEL without state: switch unreachable, skipping port cleanup: {e}")
            }
        }
    }
    let dir = shared_dir::for_attachment(config, id12);
    let socket = dir.join(socket_name(config, id12, &cmd.ifname));
    if config.engine == EngineKind::Vpp {
        let iftype = match config.iftype {
            IfType::Memif => VppIfType::Memif,
            IfType::Vhostuser => VppIfType::Vhostuser,
        };
        let bd = match config.host_net_type() {
            NetType::Bridge => config.vpp_bridge_domain()?,
            _ => None,
        };
        match Vpp::connect(&config.vpp_socket) {
            Ok(mut vpp) => {
                vpp.detach_by_socket(iftype, &socket, bd)?;
            }
            Err(e) => {
                tracing::warn!("DEL without state: VPP unreachable, skipping its cleanup: {e}")
            }
        }
    }
    let files = [
        publish::config_data_path(&dir, id12, &cmd.ifname),
        publish::ip4conf_path(&dir, id12, &cmd.ifname),
        dir.join(&port),
        socket,
    ];
    publish::remove_files(&files);
    shared_dir::remove_if_empty(&dir);
    Ok(())
}
