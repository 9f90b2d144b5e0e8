//! CHECK: the attachment ADD recorded is still there.

use crate::cni::{CniCommand, CniError, ErrorCode, Verb};
use crate::config::Config;
use crate::engine::{Attached, Switch};
use crate::state::Store;
use crate::{ipam, state_err};

/// Runs CHECK.
pub fn run(cmd: &CniCommand, config: &Config) -> Result<String, CniError> {
    let store = Store::new(&config.state_dir);
    let _lock = store
        .lock(&cmd.container_id, &cmd.ifname)
        .map_err(state_err)?;
    let a = store
        .load(&cmd.container_id, &cmd.ifname)
        .map_err(state_err)?
        .ok_or_else(|| {
            CniError::new(
                ErrorCode::UnknownContainer,
                format!(
                    "no attachment {}/{} was made by this plugin",
                    cmd.container_id, cmd.ifname
                ),
            )
        })?;
    Switch::connect(config)?.check(&Attached {
        bridge: a.bridge.clone(),
        bridge_created: a.bridge_created,
        port: a.port.clone(),
        socket_bind_mounted: a.socket_bind_mounted,
        vpp: a.vpp.clone(),
    })?;
    for f in &a.files {
        if !f.exists() {
            return Err(CniError::new(
                ErrorCode::Internal,
                format!("file {} for the pod is missing", f.display()),
            ));
        }
    }
    if let Some(t) = config.ipam_type() {
        ipam::exec(cmd, t, Verb::Check, &config.raw)?;
    }
    Ok(String::new())
}
