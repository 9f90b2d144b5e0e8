//! GC: remove this network's attachments that the runtime no longer lists as valid, and
//! untracked ports of the network. Without the list nothing is removed: a missing key is not
//! "nothing is valid".

use std::collections::BTreeSet;

use serde::Deserialize;

use super::Ctx;
use super::recover::undo_attachment;
use super::switches::Engines;
use crate::attachment::AttachmentId;
use crate::attachment::claims::ClaimName;
use crate::cni::{CniError, ErrorCode, Verb};
use crate::crash::crash_point;
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
/// lease is released by an IPAM DEL, as its DEL would. One attachment that cannot be
/// collected does not stop the others (the spec: GC "should continue, removing as many
/// resources as possible"); the first such failure is the error, after everything else.
pub fn run(ctx: &Ctx<'_>) -> Result<String, CniError> {
    if ctx.config.net.disable_gc == Some(true) {
        tracing::info!("disableGC is set: nothing is collected");
        return Ok(String::new());
    }
    let keep = valid_attachments(ctx)?;
    let kept = |id: &AttachmentId| keep.contains(&(id.container_id.to_string(), id.ifname.clone()));
    let mut engines = Engines::default();
    let mut failed: Option<CniError> = None;
    let mut note = |id: &AttachmentId, e: CniError| {
        tracing::warn!("GC: {id} not collected: {e}");
        failed.get_or_insert(e);
    };
    // Ports the switch says are ours, by owner: they tell whose a damaged journal is.
    let tagged = match engines.get(ctx, ctx.config.engine) {
        Ok(_) => engines.untracked(ctx)?,
        Err(e) => {
            tracing::warn!("GC: switch unreachable, its ports are left: {e}");
            Vec::new()
        }
    };
    for (n, listed) in ctx.store.list()?.into_iter().enumerate() {
        let ours = listed.network == ctx.config.net.name
            || (listed.damage.is_some() && tagged.iter().any(|(o, _)| *o == listed.id));
        if listed.damage.is_some() && listed.network.is_empty() && !ours {
            tracing::warn!(
                "GC: {}'s journal does not say its network and no port of {} is tagged as its: left for its DEL",
                listed.id,
                ctx.config.net.name
            );
        }
        if !ours || kept(&listed.id) {
            continue;
        }
        if let Err(e) = collect(ctx, &listed.id, &mut engines, n, false) {
            note(&listed.id, e);
        }
    }
    // Ports the switch says are ours but no journal knows (state lost): the port, and what
    // the claims and derived names prove is the same attachment's.
    let lost: BTreeSet<AttachmentId> = tagged
        .into_iter()
        .map(|(id, _)| id)
        .filter(|id| !kept(id) && !ctx.store.exists(id))
        .collect();
    for id in lost {
        if let Err(e) = collect(ctx, &id, &mut engines, 0, true) {
            note(&id, e);
        }
    }
    if let Err(e) = leftovers(ctx) {
        failed.get_or_insert(e);
    }
    if let Some(plugin) = ctx.config.ipam_type()
        && ipam::supports(ctx.cmd, plugin, "1.1.0")
    {
        ipam::exec(ctx.cmd, plugin, Verb::Gc, &ctx.config.raw)?;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(String::new()),
    }
}

/// One stale attachment, under its lock, as its DEL would; `lost`: its journal is gone, and
/// the switch's tags said it is this network's.
fn collect(
    ctx: &Ctx<'_>,
    id: &AttachmentId,
    engines: &mut Engines,
    n: usize,
    lost: bool,
) -> Result<(), CniError> {
    let lock = ctx.store.lock(id)?;
    let journal = ctx.store.load(id)?;
    if journal.is_some() || lost {
        undo_attachment(ctx, id, journal.as_ref(), engines)?;
        ctx.store.remove(id)?;
    }
    crash_point("gc-journal", n, "after");
    lock.remove()?;
    Ok(())
}

/// What killed invocations and power cuts left beside the journals: locks without a journal,
/// and claims that do not read and that no journal names.
fn leftovers(ctx: &Ctx<'_>) -> Result<(), CniError> {
    for id in ctx.store.stray_locks()? {
        let lock = ctx.store.lock(&id)?;
        if !ctx.store.exists(&id) {
            lock.remove()?;
        }
    }
    let named: Vec<ClaimName> = ctx
        .store
        .list()?
        .iter()
        .flat_map(|j| j.claim_names())
        .collect();
    let _names = ctx.store.names_lock()?;
    ctx.store.claims().collect_unreadable(&named)?;
    Ok(())
}
