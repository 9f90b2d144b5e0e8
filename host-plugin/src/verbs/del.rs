//! DEL: replay the journal's undo, last step first; idempotent, and fine when things are gone
//! already or were never made. When the journal is missing, damaged or uncommitted, what it
//! cannot name is found by the switch's tags and the claims ([`super::recover`]).

use super::Ctx;
use super::recover::undo_attachment;
use super::switches::Engines;
use crate::cni::CniError;

/// Runs DEL.
pub fn run(ctx: &Ctx<'_>) -> Result<String, CniError> {
    let id = ctx.id()?;
    let lock = ctx.store.lock(&id)?;
    let journal = ctx.store.load(&id)?;
    undo_attachment(ctx, &id, journal.as_ref(), &mut Engines::default())?;
    ctx.store.remove(&id)?;
    lock.remove()?;
    Ok(String::new())
}
