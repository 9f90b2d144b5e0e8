//! The engines of one invocation, connected on first use, and what a verb holds around them:
//! the shared-objects lock for records that need it, the crash hook and the profiler between
//! the engine's inner steps, and the evidence (claims, journals) an engine may weigh when it
//! says whose a tagged port is.

use std::path::Path;

use userspace_cni_sdk::wire::Engine as EngineKind;

use super::Ctx;
use crate::attachment::claims::{ClaimName, Claims};
use crate::cni::CniError;
use crate::crash::crash_point;
use crate::engine::{EngineRecord, Evidence, Held, Ownership, Switch};
use crate::identity::AttachmentId;

/// Engines connected on first use, one per kind.
#[derive(Default)]
pub struct Engines {
    open: Vec<(EngineKind, Box<dyn Switch>)>,
}

impl Engines {
    /// The session with `kind`, connecting on first use.
    pub fn get(&mut self, ctx: &Ctx<'_>, kind: EngineKind) -> Result<&mut dyn Switch, CniError> {
        let i = match self.open.iter().position(|(k, _)| *k == kind) {
            Some(i) => i,
            None => {
                self.open
                    .push((kind, ctx.switches.connect(ctx.config, kind)?));
                self.open.len() - 1
            }
        };
        Ok(self.open[i].1.as_mut())
    }

    /// Makes what `planned` describes, holding the shared-objects lock if it needs it.
    pub fn attach(
        &mut self,
        ctx: &Ctx<'_>,
        planned: &EngineRecord,
    ) -> Result<EngineRecord, CniError> {
        let engine = self.get(ctx, planned.kind())?;
        let _shared = shared_lock(ctx, planned)?;
        engine.attach(planned, &Held::new(planned.shares_objects(), &hook))
    }

    /// Removes what `record` describes, holding the shared-objects lock if it needs it.
    pub fn detach(&mut self, ctx: &Ctx<'_>, record: &EngineRecord) -> Result<(), CniError> {
        let engine = self.get(ctx, record.kind())?;
        let _shared = shared_lock(ctx, record)?;
        engine.detach(record, &Held::new(record.shares_objects(), &hook))
    }

    /// Whether the recorded port is there and this attachment's.
    pub fn check(&mut self, ctx: &Ctx<'_>, record: &EngineRecord) -> Result<Ownership, CniError> {
        self.get(ctx, record.kind())?.check(record)
    }

    /// The ports of the config's network on the config's engine that the switch's tags (and
    /// the claims and journals, read under the names lock) say are the plugin's.
    pub fn untracked(
        &mut self,
        ctx: &Ctx<'_>,
    ) -> Result<Vec<(AttachmentId, EngineRecord)>, CniError> {
        let engine = self.get(ctx, ctx.config.engine)?;
        let _names = ctx.store.names_lock()?;
        let evidence = StateEvidence {
            claims: ctx.store.claims(),
            known: ctx.store.named_attachments(),
        };
        engine.untracked(&ctx.config.net.name, &evidence)
    }
}

/// The verb's crash points between an engine's inner steps.
fn hook(place: &str, phase: &str) {
    crash_point(place, 0, phase);
}

fn shared_lock(
    ctx: &Ctx<'_>,
    record: &EngineRecord,
) -> Result<Option<crate::attachment::lock::DirectoryLock>, CniError> {
    if !record.shares_objects() {
        return Ok(None);
    }
    Ok(Some(ctx.store.names_lock()?))
}

/// The state directory as evidence: claims on short names and the attachments with a
/// journal or lock file.
struct StateEvidence {
    claims: Claims,
    known: Vec<String>,
}

impl StateEvidence {
    fn owner(&self, name: &ClaimName) -> Option<String> {
        self.claims
            .owner(name)
            .inspect_err(|e| tracing::warn!("claim {name:?}: {e}"))
            .ok()
            .flatten()
    }
}

impl Evidence for StateEvidence {
    fn socket_owner(&self, socket: &Path) -> Option<String> {
        self.owner(&ClaimName::Socket(socket.to_path_buf()))
    }

    fn stem_owner(&self, stem: &str) -> Option<String> {
        self.owner(&ClaimName::Stem(stem.to_owned()))
    }

    fn known(&self) -> &[String] {
        &self.known
    }
}
