//! Daemons and their ends: liveness that counts a zombie as dead (and waits for every
//! thread), reaping, killing, and finding processes by what their command line names.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

pub(crate) fn read_pid(pidfile: &Path) -> Option<i32> {
    std::fs::read_to_string(pidfile)
        .ok()
        .and_then(|s| s.trim().parse().ok())
}

/// The state letter in `/proc/<pid>/task/<tid>/stat` (after the last `)`: comm may hold any).
fn task_state(stat: &str) -> Option<char> {
    stat.rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next())
}

/// Whether any thread of `pid` still runs. A detached daemon that exits stays a zombie until
/// its reaper collects it, and its main thread turns `Z` while its PMD and vhost threads
/// still tear down and hold DPDK's files: only when every thread is gone or `Z` is it over.
pub(crate) fn alive(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|t| {
        std::fs::read_to_string(t.path().join("stat"))
            .ok()
            .and_then(|s| task_state(&s))
            .is_some_and(|c| c != 'Z')
    })
}

/// Collects `pid`'s exit status if it is our child (it is, through the subreaper, once its
/// launcher has exited); harmless otherwise.
pub(crate) fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(
        nix::unistd::Pid::from_raw(pid),
        Some(nix::sys::wait::WaitPidFlag::WNOHANG),
    );
}

pub(crate) fn wait_dead(pid: i32, timeout: Duration) -> bool {
    let start = Instant::now();
    while alive(pid) {
        if start.elapsed() > timeout {
            return false;
        }
        thread::sleep(Duration::from_millis(20));
    }
    reap(pid);
    true
}

/// Ends `pid`: SIGTERM, then SIGKILL; each given a few seconds.
pub(crate) fn kill(pid: i32) {
    use nix::sys::signal::{Signal, kill};
    for sig in [Signal::SIGTERM, Signal::SIGKILL] {
        let _ = kill(nix::unistd::Pid::from_raw(pid), sig);
        if wait_dead(pid, Duration::from_secs(5)) {
            return;
        }
    }
}

/// Processes (not zombies) whose command line mentions `marker`: this cluster's daemons
/// and any pod whose vhost-user socket is in a node's run directory.
pub(crate) fn processes_with(marker: &str) -> Vec<(i32, String)> {
    let me = std::process::id();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for e in entries.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        if u32::try_from(pid).is_ok_and(|p| p == me) {
            continue;
        }
        let cmdline = std::fs::read(e.path().join("cmdline"))
            .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
            .unwrap_or_default();
        if cmdline.contains(marker) && alive(pid) {
            found.push((pid, cmdline.trim().to_owned()));
        }
    }
    found
}
