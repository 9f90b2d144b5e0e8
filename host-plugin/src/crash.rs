//! The crash hook: where the crash tests kill a debug build of the plugin.

/// Where a debug build may be told to die, as `kill -9` would: `USERSPACE_CRASH_AT` =
/// `<where>#<n>:<phase>`, e.g. `port#0:before` (ADD: after the intent was written, before
/// the effect), `file#2:after` (after the third file was written, before anything else),
/// `undo-lease#0:after` (DEL: after the lease was released). Release builds ignore it, so a
/// plugin on a node never aborts on an environment variable.
pub fn crash_point(place: &str, n: usize, phase: &str) {
    #[cfg(debug_assertions)]
    if let Ok(want) = std::env::var("USERSPACE_CRASH_AT")
        && want == format!("{place}#{n}:{phase}")
    {
        eprintln!("userspace: USERSPACE_CRASH_AT={want}: aborting");
        // SIGKILL, not abort(): no handler, no core, exactly what a node's OOM killer does.
        let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGKILL);
    }
    #[cfg(not(debug_assertions))]
    let _ = (place, n, phase);
}
