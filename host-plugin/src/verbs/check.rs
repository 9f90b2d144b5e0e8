//! CHECK: the attachment ADD recorded is still there and still this attachment's.

use super::Ctx;
use super::undo::Engines;
use crate::cni::{CniError, ErrorCode, Verb};
use crate::engine::Ownership;
use crate::ipam;

/// Runs CHECK.
pub fn run(ctx: &Ctx<'_>) -> Result<String, CniError> {
    let id = ctx.id()?;
    let lock = ctx.store.lock(&id)?;
    let journal = match ctx.store.load(&id)? {
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
    let record = journal.port().ok_or_else(|| {
        CniError::new(
            ErrorCode::Internal,
            format!("the journal of {id} has no port"),
        )
    })?;
    let mut engines = Engines::default();
    match engines.get(ctx, record.kind())?.check(record)? {
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
