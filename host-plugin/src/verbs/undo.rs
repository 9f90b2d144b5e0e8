//! Reversing journal steps. Every undo is safe whether or not the effect happened, so DEL can
//! replay a journal left by a process killed at any point, and a failed ADD rolls back with
//! the same code.

use std::path::Path;

use super::Ctx;
use super::switches::Engines;
use crate::attachment::claims::ClaimName;
use crate::attachment::journal::{Entry, Journal, Step, StepKind};
use crate::cni::{CniCommand, CniError, Verb};
use crate::crash::crash_point;
use crate::{ipam, k8s, publish, shared_dir};

/// Which entries a rollback undoes: every step begun, except a lease that was never granted
/// (an IPAM ADD that failed allocated nothing; its DEL could only release what another
/// invocation holds). A port the engine failed to make is undone too: the engine's own
/// cleanup may have been cut short (a switch that stopped answering halfway), and detach is
/// idempotent and removes only what is provably this attachment's. A replay after a kill
/// undoes all.
pub fn rollback_wants(e: &Entry) -> bool {
    e.done || e.step.kind() != StepKind::Lease
}

/// Undoes `journal`'s entries that `wanted` selects, last first. Stops at the first failure
/// (the journal stays, so a retry finishes the job).
pub fn undo_journal(
    ctx: &Ctx<'_>,
    journal: &Journal,
    engines: &mut Engines,
    wanted: impl Fn(&Entry) -> bool,
) -> Result<(), CniError> {
    let cmd = CniCommand {
        container_id: journal.id.container_id.to_string(),
        ifname: journal.id.ifname.clone(),
        ..ctx.cmd.clone()
    };
    let key = journal.id.key();
    for (i, e) in journal.entries.iter().enumerate().rev() {
        if !wanted(e) {
            continue;
        }
        let kind = e.step.kind();
        let n = journal.entries[..i]
            .iter()
            .filter(|x| x.step.kind() == kind)
            .count();
        let place = format!("undo-{}", kind.as_str());
        crash_point(&place, n, "before");
        crate::profile::time(kind.phase(), || {
            undo_step(ctx, &cmd, &key, &e.step, engines)
        })?;
        crash_point(&place, n, "after");
    }
    Ok(())
}

fn undo_step(
    ctx: &Ctx<'_>,
    cmd: &CniCommand,
    key: &str,
    step: &Step,
    engines: &mut Engines,
) -> Result<(), CniError> {
    match step {
        Step::Claim { name } => {
            let _names = ctx.store.names_lock()?;
            ctx.store.claims().release(name, key)?;
        }
        Step::Dir { path, managed } => {
            let _names = ctx.store.names_lock()?;
            let last = !*managed
                || ctx
                    .store
                    .claims()
                    .release(&ClaimName::Dir(path.clone()), key)?;
            if last {
                shared_dir::remove_if_empty(path);
            }
        }
        Step::Alias { mount } => {
            let _names = ctx.store.names_lock()?;
            shared_dir::remove_alias(mount);
        }
        Step::Lease { plugin } => {
            ipam::exec(cmd, plugin, Verb::Del, &ctx.config.raw)?;
        }
        Step::Port { record } => engines.detach(ctx, record)?,
        Step::File { path } => remove_file_and_temp(path),
        Step::Annotation { namespace, name } => withdraw(ctx, cmd, namespace, name),
    }
    Ok(())
}

pub(super) fn remove_file_and_temp(path: &Path) {
    let failed = publish::remove_files([path.to_path_buf(), publish::temp_path(path)].iter());
    for (p, e) in failed {
        tracing::warn!("cannot remove {}: {e}", p.display());
    }
}

/// The pod may be gone or the API down: a stale annotation entry must not block the DEL.
pub(super) fn withdraw(ctx: &Ctx<'_>, cmd: &CniCommand, namespace: &str, name: &str) {
    let Some(kubeconfig) = &ctx.config.net.kubeconfig else {
        tracing::warn!("annotation entry on {namespace}/{name} left: the config has no kubeconfig");
        return;
    };
    let pod = k8s::PodRef {
        namespace: namespace.to_owned(),
        name: name.to_owned(),
    };
    let r = k8s::Session::connect(kubeconfig, pod)
        .and_then(|s| s.withdraw(&cmd.container_id, &cmd.ifname));
    if let Err(e) = r {
        tracing::warn!(
            "cannot remove the annotation entry of {}/{}: {e}",
            cmd.container_id,
            cmd.ifname
        );
    }
}
