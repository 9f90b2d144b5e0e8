//! GC: remove attachments of this network that the runtime no longer lists in
//! `cni.dev/valid-attachments`, and untracked ports tagged with this network.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::cni::{CniCommand, CniError, ErrorCode, Verb};
use crate::config::Config;
use crate::engine::{Ovs, tags};
use crate::state::Store;
use crate::{ipam, state_err};

#[derive(Deserialize)]
struct Valid {
    #[serde(rename = "containerID")]
    container_id: String,
    ifname: String,
}

/// Runs GC.
pub fn run(cmd: &CniCommand, config: &Config) -> Result<String, CniError> {
    let valid: Vec<Valid> = match config.net.extra.get("cni.dev/valid-attachments") {
        Some(v) => serde_json::from_value(v.clone()).map_err(|e| {
            CniError::new(ErrorCode::Decode, "cni.dev/valid-attachments is malformed")
                .with_details(e.to_string())
        })?,
        None => Vec::new(),
    };
    let keep: BTreeSet<(String, String)> = valid
        .into_iter()
        .map(|v| (v.container_id, v.ifname))
        .collect();
    let store = Store::new(&config.state_dir);
    let mut removed = BTreeSet::new();
    for a in store.list().map_err(state_err)? {
        if a.network != config.net.name
            || keep.contains(&(a.container_id.clone(), a.ifname.clone()))
        {
            continue;
        }
        let _lock = store.lock(&a.container_id, &a.ifname).map_err(state_err)?;
        super::del::undo(config, &a)?;
        if let Some(t) = config.ipam_type() {
            let mut c = cmd.clone();
            c.container_id = a.container_id.clone();
            c.ifname = a.ifname.clone();
            if let Err(e) = ipam::exec(&c, t, Verb::Del, &config.raw) {
                tracing::warn!("GC: IPAM DEL of {}/{}: {e}", a.container_id, a.ifname);
            }
        }
        store
            .remove(&a.container_id, &a.ifname)
            .map_err(state_err)?;
        removed.insert(a.port.clone());
    }
    // Ports with our tags but no state (a crash between the port and the state file). VPP
    // keeps no such tags on memif interfaces; there the state files are the record.
    if config.engine != userspace_cni_sdk::wire::Engine::OvsDpdk {
        return Ok(String::new());
    }
    let mut ovs = Ovs::connect(config)?;
    for (port, ids) in ovs.ports_of_network(&config.net.name)? {
        let key = (
            ids.get(tags::CONTAINER_ID).cloned().unwrap_or_default(),
            ids.get(tags::IFNAME).cloned().unwrap_or_default(),
        );
        if !keep.contains(&key)
            && !removed.contains(&port)
            && store.load(&key.0, &key.1).map_err(state_err)?.is_none()
        {
            ovs.delete_port(&port)?;
        }
    }
    Ok(String::new())
}
