//! VPP: keeps its configuration in memory only, so after a restart every interface, bridge
//! domain, loopback and route the plugin made is gone while the pods keep running. The agent
//! re-applies each committed attachment with the VPP engine's own attach (the same requests
//! ADD sent), under the attachment's lock, and appends the new record to its journal.
//!
//! VPP attachments' counters are read at each scrape, in `vpp_counters`.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use userspace_cni_sdk::wire::Engine as EngineKind;
use userspace_plugin::attachment::journal::{Step, Store, StoreError};
use userspace_plugin::cni::CniError;
use userspace_plugin::engine::ovs::OvsError;
use userspace_plugin::engine::vpp::{VppEngine, VppEngineError};
use userspace_plugin::engine::{EngineRecord, Held, Ownership, Switch};

/// Why a pass could not run.
#[derive(Debug, thiserror::Error)]
pub enum HealError {
    /// The switch did not answer, or refused (through the plugin's [`Switch`]).
    #[error("switch: {0}")]
    Switch(#[from] CniError),
    /// OVS could not be reached.
    #[error("switch: {0}")]
    Ovs(#[from] OvsError),
    /// VPP could not be reached.
    #[error("switch: {0}")]
    Vpp(#[from] VppEngineError),
    /// The state directory could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What one pass did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pass {
    /// Attachments made again.
    pub reapplied: u64,
    /// Attachments VPP still had (nothing sent but the check).
    pub present: u64,
    /// Attachments that could not be made again (logged; the next pass retries).
    pub failed: u64,
}

/// Re-applies every committed VPP attachment VPP does not have, in the order of their
/// journals' names. Idempotent: an attachment VPP has is left alone.
pub fn reapply_all(store: &Store, socket: &Path) -> Result<Pass, HealError> {
    let mut engine = VppEngine::open(socket)?;
    remake_missing(store, &mut engine, EngineKind::Vpp)
}

/// Makes again, with `engine`'s own attach, every committed attachment of `kind` the switch
/// does not have (its CHECK says so), under the attachment's lock, and appends the new
/// record to the journal.
pub fn remake_missing(
    store: &Store,
    engine: &mut dyn Switch,
    kind: EngineKind,
) -> Result<Pass, HealError> {
    let mut pass = Pass::default();
    for listed in store.list()? {
        if !listed.is_whole() || listed.port().map(EngineRecord::kind) != Some(kind) {
            continue;
        }
        // Waits while a plugin invocation (an ADD finishing, a DEL) holds the attachment.
        let _lock = store.lock(&listed.id)?;
        let Some(j) = store.load(&listed.id)? else {
            continue; // deleted meanwhile
        };
        let (Some(index), Some(record)) = (j.port_index(), j.port()) else {
            continue;
        };
        if !j.is_whole() {
            continue;
        }
        match engine.check(record) {
            Ok(Ownership::Ours) => {
                pass.present += 1;
                continue;
            }
            Ok(Ownership::Missing) => {}
            Ok(Ownership::NotOurs(who)) => {
                tracing::warn!(attachment = %j.id, "not re-made: the name is {who}'s");
                pass.failed += 1;
                continue;
            }
            Err(e) => {
                // The interface is there but not whole (VPP: its L3): re-attaching would make
                // a second one; DEL and ADD of the pod repair it.
                tracing::warn!(attachment = %j.id, "not re-made: {e}");
                pass.failed += 1;
                continue;
            }
        }
        // What the last attach made is not part of the plan.
        let planned = record.replanned();
        // The plugin's verbs hold the shared-objects lock around such an attach: so does this.
        let shared = planned.shares_objects();
        let _names = shared.then(|| store.names_lock()).transpose()?;
        match engine.attach(&planned, &Held::new(shared, &|_, _| {})) {
            Ok(made) => {
                store.record_remade(&j.id, index, Step::Port { record: made })?;
                tracing::info!(attachment = %j.id, port = %record.name(), "made again");
                pass.reapplied += 1;
            }
            Err(e) => {
                tracing::warn!(attachment = %j.id, "making it again failed: {e}");
                pass.failed += 1;
            }
        }
    }
    Ok(pass)
}

/// What the VPP watcher reports.
#[derive(Debug, Default)]
pub struct VppStatus {
    /// VPP answers.
    pub reachable: AtomicBool,
    /// Restarts seen (a session lost, then VPP back).
    pub restarts: AtomicU64,
    /// Attachments re-applied in all.
    pub reapplied: AtomicU64,
    /// Re-applications that failed in all.
    pub failures: AtomicU64,
    /// The last pass's error, for logs.
    pub last_error: Mutex<Option<String>>,
}

const TICK: Duration = Duration::from_millis(200);

/// Watches VPP at `socket` until `stop`: a session kept open and pinged every second; when it
/// is lost, VPP restarted (or stopped): once it answers again every committed attachment is
/// re-applied. A first pass runs at start (VPP may have restarted while the agent was down).
pub fn spawn_watcher(
    socket: PathBuf,
    store: Store,
    status: Arc<VppStatus>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut backoff = TICK;
        let mut seen_up = false;
        while !stop.load(Ordering::Relaxed) {
            let session =
                vpp_api::Client::connect(&socket, "userspace-node", Duration::from_secs(5));
            let Ok(mut client) = session else {
                status.reachable.store(false, Ordering::Relaxed);
                sleep_unless(&stop, backoff);
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            };
            backoff = TICK;
            status.reachable.store(true, Ordering::Relaxed);
            if seen_up {
                status.restarts.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(socket = %socket.display(), "VPP is back after losing its session: re-applying the journals");
            }
            seen_up = true;
            // Retried each second until a pass runs whole (VPP may restart again meanwhile).
            let mut pending = true;
            while !stop.load(Ordering::Relaxed) {
                if pending {
                    match reapply_all(&store, &socket) {
                        Ok(p) => {
                            status.reapplied.fetch_add(p.reapplied, Ordering::Relaxed);
                            status.failures.fetch_add(p.failed, Ordering::Relaxed);
                            pending = p.failed > 0;
                        }
                        Err(e) => {
                            tracing::warn!("re-application pass failed: {e}");
                            *status.last_error.lock().unwrap_or_else(|p| p.into_inner()) =
                                Some(e.to_string());
                        }
                    }
                }
                sleep_unless(&stop, Duration::from_secs(1));
                if client.ping().is_err() {
                    status.reachable.store(false, Ordering::Relaxed);
                    tracing::warn!(socket = %socket.display(), "VPP session lost");
                    break;
                }
            }
        }
    })
}

fn sleep_unless(stop: &AtomicBool, d: Duration) {
    let mut left = d;
    while !left.is_zero() && !stop.load(Ordering::Relaxed) {
        let step = left.min(TICK);
        std::thread::sleep(step);
        left -= step;
    }
}
