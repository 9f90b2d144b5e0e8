//! Running a command the way PID 1 must: forward termination signals to it, reap every child
//! (orphans are re-parented to PID 1 in a container), and return the command's exit status.

use std::process::Command;

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::Pid;
use signal_hook::consts::{SIGCHLD, SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;

const FORWARDED: [i32; 6] = [SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2];

/// Runs `argv` with `env` added; returns its exit code (128 + signal when killed).
pub fn run_as_init(argv: &[String], env: &[(String, String)]) -> anyhow::Result<u8> {
    let (program, args) = argv.split_first().context("no command given")?;
    // Handlers go in before the spawn so that no signal or exit is missed.
    let mut signals = Signals::new(FORWARDED.iter().copied().chain([SIGCHLD]))
        .context("installing signal handlers")?;
    let child = Command::new(program)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .spawn()
        .with_context(|| format!("starting {program}"))?;
    let child_pid = Pid::from_raw(i32::try_from(child.id()).context("child pid out of range")?);
    // The Child handle is not used to wait: waitpid(-1) below reaps it with the orphans.
    drop(child);
    loop {
        if let Some(code) = reap(child_pid)? {
            return Ok(code);
        }
        for sig in signals.wait() {
            if sig == SIGCHLD {
                continue;
            }
            if let Ok(s) = Signal::try_from(sig) {
                tracing::info!(signal = %s, "forwarding");
                // The child may just have exited; then there is nothing to forward to.
                let _ = kill(child_pid, s);
            }
        }
    }
}

/// Reaps every exited child; returns the main child's exit code once it is gone.
fn reap(main: Pid) -> anyhow::Result<Option<u8>> {
    loop {
        match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::Exited(pid, code)) if pid == main => {
                return Ok(Some(u8::try_from(code).unwrap_or(1)));
            }
            Ok(WaitStatus::Signaled(pid, sig, _)) if pid == main => {
                return Ok(Some(128u8.saturating_add(sig as u8)));
            }
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(_) => continue,
            Err(nix::errno::Errno::ECHILD) => return Ok(None),
            Err(e) => return Err(e).context("waitpid"),
        }
    }
}
