//! STATUS: can this plugin serve an ADD now?

use super::Ctx;
use crate::cni::{CniError, ErrorCode, Verb};
use crate::ipam;

/// Runs STATUS: the switch, then the IPAM plugin's own STATUS where it speaks 1.1.0 (SPEC 1.1:
/// a plugin that delegates must). A delegate that stops at 1.0.0 (Debian's host-local) has no
/// STATUS; it is found on CNI_PATH, which is all that can be asked of it.
pub fn run(ctx: &Ctx<'_>) -> Result<String, CniError> {
    switch(ctx)?;
    if let Some(plugin) = ctx.config.ipam_type() {
        if ipam::supports(ctx.cmd, plugin, "1.1.0") {
            ipam::exec(ctx.cmd, plugin, Verb::Status, &ctx.config.raw)?;
        } else {
            ipam::find_plugin(ctx.cmd, plugin)?;
        }
    }
    Ok(String::new())
}

fn switch(ctx: &Ctx<'_>) -> Result<(), CniError> {
    ctx.switches
        .connect(ctx.config, ctx.config.engine)
        .and_then(|mut e| e.status())
        .map_err(|e| {
            CniError::new(
                ErrorCode::NotAvailable,
                format!("the switch is not reachable: {}", e.msg),
            )
            .with_details(e.details)
        })
}
