//! DEL: replay the journal's undo, last step first; idempotent, and fine when things are gone
//! already or were never made.

use super::Ctx;
use super::undo::{Engines, undo_journal};
use crate::attachment::AttachmentId;
use crate::cni::{CniError, Verb};
use crate::{ipam, publish};

/// Runs DEL.
pub fn run(ctx: &Ctx<'_>) -> Result<String, CniError> {
    let id = ctx.id()?;
    let lock = ctx.store.lock(&id)?;
    let mut engines = Engines::default();
    match ctx.store.load(&id)? {
        Some(j) => undo_journal(ctx, &j, &mut engines, |_| true)?,
        None => without_journal(ctx, &id, &mut engines)?,
    }
    ctx.store.remove(&id)?;
    lock.remove()?;
    Ok(String::new())
}

/// Nothing recorded: ADD never began, or the state was lost. A port whose tags prove it this
/// attachment's goes, so does the lease (IPAM DEL is idempotent) and the runtime's
/// device-info file. An unreachable switch is not an error here: nothing says a port exists.
fn without_journal(
    ctx: &Ctx<'_>,
    id: &AttachmentId,
    engines: &mut Engines,
) -> Result<(), CniError> {
    match engines.get(ctx, ctx.config.engine) {
        Ok(engine) => {
            for (owner, record) in engine.untracked(&ctx.config.net.name)? {
                if &owner == id {
                    engine.detach(&record)?;
                }
            }
        }
        Err(e) => tracing::warn!("DEL without state: switch unreachable, skipping: {e}"),
    }
    if let Some(t) = ctx.config.ipam_type() {
        ipam::exec(ctx.cmd, t, Verb::Del, &ctx.config.raw)?;
    }
    if let Some(path) = ctx
        .config
        .net
        .runtime_config
        .as_ref()
        .and_then(|r| r.cni_device_info_file.as_ref())
    {
        publish::remove_files(&[path.into()]);
    }
    Ok(())
}
