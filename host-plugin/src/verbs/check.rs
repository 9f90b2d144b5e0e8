//! CHECK: the attachment ADD recorded is still there and still this attachment's.

use std::collections::BTreeSet;

use userspace_cni_sdk::wire::CniResult;

use super::Ctx;
use super::switches::Engines;
use crate::attachment::AttachmentId;
use crate::cni::{CniError, ErrorCode, Verb};
use crate::engine::Ownership;
use crate::ipam;

/// Runs CHECK.
pub fn run(ctx: &Ctx<'_>) -> Result<String, CniError> {
    if ctx.config.net.disable_check == Some(true) {
        tracing::info!("disableCheck is set: nothing to check");
        return Ok(String::new());
    }
    let id = ctx.id()?;
    let lock = ctx.store.lock(&id)?;
    let journal = match ctx.store.load(&id)? {
        Some(j) if j.damage.is_some() => {
            return Err(CniError::new(
                ErrorCode::Internal,
                format!(
                    "the state of {id} is damaged ({}): DEL the attachment and ADD it again",
                    j.damage.unwrap_or_default()
                ),
            ));
        }
        Some(j) if j.complete => j,
        found => {
            if found.is_none() {
                lock.remove()?;
            }
            return Err(CniError::new(
                ErrorCode::UnknownContainer,
                format!("no attachment {id} was made by this plugin"),
            ));
        }
    };
    if let Some(recorded) = &journal.result {
        compare_prev_result(ctx, &id, recorded)?;
    }
    let record = journal.port().ok_or_else(|| {
        CniError::new(
            ErrorCode::Internal,
            format!("the journal of {id} has no port"),
        )
    })?;
    let mut engines = Engines::default();
    match engines.check(ctx, record)? {
        Ownership::Ours => {}
        Ownership::Missing => {
            return Err(CniError::new(
                ErrorCode::Internal,
                format!(
                    "the attachment's {} port {} is missing (did the switch restart?)",
                    record.kind(),
                    record.name()
                ),
            ));
        }
        Ownership::NotOurs(why) => {
            return Err(CniError::new(
                ErrorCode::Internal,
                format!(
                    "the attachment's port {} is missing: the name is another's now ({why})",
                    record.name()
                ),
            ));
        }
    }
    if let Some(f) = journal.files().find(|f| !f.exists()) {
        return Err(CniError::new(
            ErrorCode::Internal,
            format!("file {} for the pod is missing", f.display()),
        ));
    }
    if let Some(t) = ctx.config.ipam_type() {
        ipam::exec(ctx.cmd, t, Verb::Check, &ctx.config.raw)?;
    }
    Ok(String::new())
}

/// SPEC: CHECK gets the result ADD returned as `prevResult`; it must match what was made.
fn compare_prev_result(
    ctx: &Ctx<'_>,
    id: &AttachmentId,
    recorded: &serde_json::Value,
) -> Result<(), CniError> {
    let invalid = |m: String| CniError::new(ErrorCode::InvalidConfig, m);
    let prev =
        ctx.config.net.prev_result.as_ref().ok_or_else(|| {
            invalid("prevResult is required for CHECK (the result of ADD)".into())
        })?;
    let prev: CniResult = serde_json::from_value(prev.clone())
        .map_err(|e| invalid(format!("prevResult is not a CNI result: {e}")))?;
    let ours: CniResult = serde_json::from_value(recorded.clone()).map_err(|e| {
        CniError::new(
            ErrorCode::Internal,
            format!("the journal's result of {id}: {e}"),
        )
    })?;
    let Some(mine) = ours.interfaces.first() else {
        return Ok(());
    };
    let index = prev.interfaces.iter().position(|i| i.name == id.ifname);
    let theirs = index.map(|i| &prev.interfaces[i]).ok_or_else(|| {
        invalid(format!(
            "prevResult has no interface {} (it lists {:?})",
            id.ifname,
            prev.interfaces.iter().map(|i| &i.name).collect::<Vec<_>>()
        ))
    })?;
    if theirs.mac.is_some() && theirs.mac != mine.mac {
        return Err(CniError::new(
            ErrorCode::Internal,
            format!(
                "prevResult says {} has MAC {:?}; ADD gave it {:?}",
                id.ifname, theirs.mac, mine.mac
            ),
        ));
    }
    let addresses = |r: &CniResult, idx: Option<usize>| -> BTreeSet<String> {
        r.ips
            .iter()
            .filter(|ip| ip.interface.is_none() || ip.interface == idx)
            .map(|ip| ip.address.to_string())
            .collect()
    };
    let (want, got) = (addresses(&ours, Some(0)), addresses(&prev, index));
    if want != got {
        return Err(CniError::new(
            ErrorCode::Internal,
            format!(
                "prevResult says {} has addresses {got:?}; ADD gave it {want:?}",
                id.ifname
            ),
        ));
    }
    Ok(())
}
