//! GC: remove this network's attachments that the runtime no longer lists as valid, and
//! untracked ports of the network. Without the list nothing is removed: a missing key is not
//! "nothing is valid".

use std::collections::BTreeSet;

use serde::Deserialize;

use super::Ctx;
use super::undo::{Engines, undo_journal};
use crate::attachment::AttachmentId;
use crate::cni::{CniError, ErrorCode, Verb};
use crate::ipam;

/// The key SPEC 1.1.0 names, and the spelling of the 1.1.0 tag (renamed later).
pub const VALID_ATTACHMENTS_KEYS: [&str; 2] = ["cni.dev/valid-attachments", "cni.dev/attachments"];

#[derive(Deserialize)]
struct Valid {
    #[serde(rename = "containerID")]
    container_id: String,
    ifname: String,
}

fn valid_attachments(ctx: &Ctx<'_>) -> Result<BTreeSet<(String, String)>, CniError> {
    let (key, value) = VALID_ATTACHMENTS_KEYS
        .iter()
        .find_map(|k| ctx.config.net.extra.get(*k).map(|v| (*k, v)))
        .ok_or_else(|| {
            CniError::new(
                ErrorCode::InvalidConfig,
                format!(
                    "GC needs {} (the attachments still in use): without it nothing is removed",
                    VALID_ATTACHMENTS_KEYS[0]
                ),
            )
        })?;
    let valid: Vec<Valid> = serde_json::from_value(value.clone()).map_err(|e| {
        CniError::new(
            ErrorCode::InvalidConfig,
            format!("{key}: expected a list of {{\"containerID\", \"ifname\"}}: {e}"),
        )
    })?;
    Ok(valid
        .into_iter()
        .map(|v| (v.container_id, v.ifname))
        .collect())
}

/// Runs GC. The IPAM plugin gets GC too where it speaks 1.1.0 (SPEC 1.1: GC is forwarded to
/// delegates); with an older one (Debian's host-local stops at 1.0.0) each stale attachment's
/// lease is released by an IPAM DEL, as its DEL would.
pub fn run(ctx: &Ctx<'_>) -> Result<String, CniError> {
    if ctx.config.net.disable_gc == Some(true) {
        tracing::info!("disableGC is set: nothing is collected");
        return Ok(String::new());
    }
    let keep = valid_attachments(ctx)?;
    let kept = |id: &AttachmentId| keep.contains(&(id.container_id.to_string(), id.ifname.clone()));
    let mut engines = Engines::default();
    for listed in ctx.store.list()? {
        if listed.network != ctx.config.net.name || kept(&listed.id) {
            continue;
        }
        let lock = ctx.store.lock(&listed.id)?;
        if let Some(j) = ctx.store.load(&listed.id)? {
            undo_journal(ctx, &j, &mut engines, |_| true)?;
            ctx.store.remove(&j.id)?;
        }
        lock.remove()?;
    }
    // Ports the switch says are ours but no journal knows (state lost).
    let engine = engines.get(ctx, ctx.config.engine)?;
    for (id, record) in engine.untracked(&ctx.config.net.name)? {
        if !kept(&id) && ctx.store.load(&id)?.is_none() {
            engine.detach(&record)?;
        }
    }
    if let Some(plugin) = ctx.config.ipam_type()
        && ipam::supports(ctx.cmd, plugin, "1.1.0")
    {
        ipam::exec(ctx.cmd, plugin, Verb::Gc, &ctx.config.raw)?;
    }
    Ok(String::new())
}
