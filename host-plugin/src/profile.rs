//! Where one invocation's time goes. With `USERSPACE_PROFILE` set, each phase (the journal
//! and claim files, the commit's fsync, IPAM, the switch, the pod's files, the API server) is timed and the totals
//! are printed to stderr as one JSON line at exit — what the add_del bench reads. Off, it
//! costs one cached check per phase.

use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// The environment variable that turns the profile on.
pub const ENV: &str = "USERSPACE_PROFILE";

/// A phase of an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Journal and claim files.
    State,
    /// The durable (fsynced) write of the completed journal.
    Commit,
    /// The shared directory and its alias.
    Dirs,
    /// The IPAM plugin's exec.
    Ipam,
    /// The switch: connecting and the port's calls.
    Switch,
    /// The files for the pod.
    Files,
    /// The Kubernetes API server.
    Kube,
}

impl Phase {
    const ALL: [Phase; 7] = [
        Phase::State,
        Phase::Commit,
        Phase::Dirs,
        Phase::Ipam,
        Phase::Switch,
        Phase::Files,
        Phase::Kube,
    ];

    fn name(self) -> &'static str {
        match self {
            Phase::State => "state",
            Phase::Commit => "commit",
            Phase::Dirs => "dirs",
            Phase::Ipam => "ipam",
            Phase::Switch => "switch",
            Phase::Files => "files",
            Phase::Kube => "kube",
        }
    }
}

static TOTALS: Mutex<[Duration; 7]> = Mutex::new([Duration::ZERO; 7]);

fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os(ENV).is_some())
}

/// Runs `f`, adding its time to `phase` when profiling.
pub fn time<T>(phase: Phase, f: impl FnOnce() -> T) -> T {
    if !enabled() {
        return f();
    }
    let t = Instant::now();
    let out = f();
    let spent = t.elapsed();
    if let Ok(mut totals) = TOTALS.lock()
        && let Some(slot) = Phase::ALL.iter().position(|p| *p == phase)
    {
        totals[slot] += spent;
    }
    out
}

/// The totals as one JSON object of microseconds, with `total` the whole invocation since
/// `start`; `None` when not profiling.
pub fn report(start: Instant) -> Option<String> {
    if !enabled() {
        return None;
    }
    let totals = TOTALS.lock().ok()?;
    let mut map = serde_json::Map::new();
    for (p, d) in Phase::ALL.iter().zip(totals.iter()) {
        map.insert(p.name().into(), micros(*d).into());
    }
    map.insert("total".into(), micros(start.elapsed()).into());
    Some(serde_json::Value::Object(map).to_string())
}

fn micros(d: Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
