//! Undo without a whole journal: what a power cut, a full disk or a lost file left. When the
//! journal is missing, damaged or was never committed (and so never fsynced), its lines may
//! not name everything that was made; the rest is found by evidence that does not depend on
//! it, each piece proving whose a thing is:
//!
//! - the switch's tags (OVS `external_ids`, VPP interface tags): ports of this attachment;
//! - the claims that list this attachment as a holder: its stem, socket and directory;
//! - the names this attachment would derive (its stem, its per-container directory), when no
//!   readable claim says they are another's and no other journal names them;
//! - IPAM's DEL, idempotent and keyed by container ID and interface;
//! - the runtime's device-info path and the pod's annotation entry, both named by the runtime.
//!
//! Nothing provably another's is touched; what cannot be proved is left and logged.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use super::Ctx;
use super::names::{managed_dir_candidates, socket_name};
use super::switches::Engines;
use super::undo::{remove_file_and_temp, undo_journal, withdraw};
use crate::attachment::AttachmentId;
use crate::attachment::claims::ClaimName;
use crate::attachment::journal::Journal;
use crate::cni::{CniCommand, CniError, Verb};
use crate::{ipam, k8s, publish, shared_dir};

/// Undoes everything of `id`: its journal's steps, last first, and, when the journal is not
/// whole (missing, damaged, or never committed and so never made durable), what the
/// switch's tags and the claims prove is its ([`super::recover`]).
pub fn undo_attachment(
    ctx: &Ctx<'_>,
    id: &AttachmentId,
    journal: Option<&Journal>,
    engines: &mut Engines,
) -> Result<(), CniError> {
    if let Some(j) = journal {
        if let Some(why) = &j.damage {
            tracing::warn!(
                "{id}: the journal is damaged ({why}); undoing what it names, then what the evidence proves"
            );
        }
        undo_journal(ctx, j, engines, |_| true)?;
    }
    if !journal.is_some_and(Journal::is_whole) {
        let names: Vec<_> = journal
            .map(|j| j.claim_names().collect())
            .unwrap_or_default();
        sweep(ctx, id, &names, engines)?;
    }
    Ok(())
}

/// Removes what the evidence proves is `id`'s. `journal_names` are the claim names the
/// attachment's own (damaged) journal holds, which are its to release.
pub fn sweep(
    ctx: &Ctx<'_>,
    id: &AttachmentId,
    journal_names: &[ClaimName],
    engines: &mut Engines,
) -> Result<(), CniError> {
    let key = id.key();
    let cmd = CniCommand {
        container_id: id.container_id.to_string(),
        ifname: id.ifname.clone(),
        ..ctx.cmd.clone()
    };
    if let Some(pod) = k8s::PodRef::from_args(&cmd.args) {
        withdraw(ctx, &cmd, &pod.namespace, &pod.name);
    }
    let sockets = detach_tagged(ctx, id, engines)?;
    let names = evidence(ctx, id, journal_names, &sockets)?;
    for dir in &names.dirs {
        for stem in &names.stems {
            remove_file_and_temp(&publish::config_data_path(dir, stem));
            remove_file_and_temp(&publish::ip4conf_path(dir, stem));
            remove_socket(&dir.join(socket_name(ctx.config, stem)));
        }
    }
    for socket in names.sockets.iter().chain(&sockets) {
        remove_socket(socket);
    }
    if let Some(path) = ctx
        .config
        .net
        .runtime_config
        .as_ref()
        .and_then(|r| r.cni_device_info_file.as_ref())
    {
        remove_file_and_temp(Path::new(path));
    }
    if let Some(t) = ctx.config.ipam_type() {
        ipam::exec(&cmd, t, Verb::Del, &ctx.config.raw)?;
    }
    let _lock = ctx.store.names_lock()?;
    for stem in &names.stems {
        shared_dir::remove_alias(&ctx.config.alias_root.join(stem));
    }
    let claims = ctx.store.claims();
    for name in &names.claims {
        let last = claims.release(name, &key)?;
        if let (ClaimName::Dir(d), true) = (name, last) {
            shared_dir::remove_if_empty(d);
        }
    }
    Ok(())
}

/// Ports the switch's tags say are `id`'s on this network: detached; their sockets returned.
/// An unreachable switch is not an error here: nothing says a port exists, and GC finds a
/// tagged port later.
fn detach_tagged(
    ctx: &Ctx<'_>,
    id: &AttachmentId,
    engines: &mut Engines,
) -> Result<Vec<PathBuf>, CniError> {
    if let Err(e) = engines.get(ctx, ctx.config.engine) {
        tracing::warn!("{id}: switch unreachable, its ports are left for GC: {e}");
        return Ok(Vec::new());
    }
    let mut sockets = Vec::new();
    for (owner, record) in engines.untracked(ctx)? {
        if &owner == id {
            tracing::info!("{id}: port {} found by its tags", record.name());
            engines.detach(ctx, &record)?;
            sockets.push(record.socket().to_path_buf());
        }
    }
    Ok(sockets)
}

/// What the names say is this attachment's.
#[derive(Default)]
struct Names {
    /// Stems of the short names (files, socket, alias).
    stems: BTreeSet<String>,
    /// Directories its files may be in.
    dirs: BTreeSet<PathBuf>,
    /// Socket paths.
    sockets: BTreeSet<PathBuf>,
    /// Claims to release.
    claims: Vec<ClaimName>,
}

fn evidence(
    ctx: &Ctx<'_>,
    id: &AttachmentId,
    journal_names: &[ClaimName],
    switch_sockets: &[PathBuf],
) -> Result<Names, CniError> {
    let key = id.key();
    let container = id.container_id.as_str();
    let _lock = ctx.store.names_lock()?;
    let claims = ctx.store.claims();
    let others: BTreeSet<ClaimName> = other_journals_names(ctx, id)?;
    // A derived name is ours unless a readable claim, or another journal, says otherwise.
    let ours = |name: &ClaimName, owner: &str| -> Result<bool, CniError> {
        Ok(!others.contains(name) && !claims.is_others(name, owner)?)
    };
    let mut names = Names::default();
    let mut held: Vec<ClaimName> = claims.held_by(&key)?;
    held.extend(journal_names.iter().cloned());
    for disambiguate in [false, true] {
        let stem = ClaimName::Stem(id.stem(disambiguate));
        if ours(&stem, &key)? {
            held.push(stem);
        }
    }
    for dir in managed_dir_candidates(ctx.config, id) {
        let name = ClaimName::Dir(dir);
        if ours(&name, container)? {
            held.push(name);
        }
    }
    for name in held {
        match &name {
            ClaimName::Stem(s) => {
                names.stems.insert(s.clone());
            }
            ClaimName::Socket(p) => {
                names.sockets.insert(p.clone());
                names.dirs.extend(p.parent().map(Path::to_path_buf));
            }
            ClaimName::Dir(d) => {
                names.dirs.insert(d.clone());
            }
        }
        if !names.claims.contains(&name) {
            names.claims.push(name);
        }
    }
    // A socket the switch used outside the alias root names the pod's directory too.
    for s in switch_sockets {
        if let Some(parent) = s.parent()
            && !parent.starts_with(&ctx.config.alias_root)
        {
            names.dirs.insert(parent.to_path_buf());
        }
    }
    // The socket claims of the derived names, so an empty one a power cut left goes too.
    for dir in names.dirs.clone() {
        for stem in &names.stems {
            let name = ClaimName::Socket(dir.join(socket_name(ctx.config, stem)));
            if ours(&name, &key)? && !names.claims.contains(&name) {
                names.claims.push(name);
            }
        }
    }
    Ok(names)
}

/// The claim names other attachments' journals hold (read without their locks: a journal is
/// only appended to, and a name it holds is claimed under the names lock we hold).
fn other_journals_names(ctx: &Ctx<'_>, id: &AttachmentId) -> Result<BTreeSet<ClaimName>, CniError> {
    Ok(ctx
        .store
        .list()?
        .iter()
        .filter(|j| &j.id != id)
        .flat_map(|j| j.claim_names())
        .collect())
}

fn remove_socket(path: &Path) {
    if let Ok(meta) = std::fs::symlink_metadata(path)
        && !meta.is_dir()
        && let Err(e) = std::fs::remove_file(path)
    {
        tracing::warn!("cannot remove {}: {e}", path.display());
    }
}
