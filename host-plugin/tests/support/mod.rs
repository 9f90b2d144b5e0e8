//! Test support: the plugin binary run as a runtime runs it, and a node for the verb tests
//! (the private ovsdb-server is test-support's `Ovs`).
#![allow(dead_code)]

pub mod node;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs a CNI plugin binary once: `CNI_*` from the arguments (plus `extra_env`), `stdin` as
/// the config; returns stdout as JSON (`Null` when empty) and the exit code.
pub fn run_plugin(
    bin: &str,
    verb: &str,
    id: &str,
    ifname: &str,
    cni_args: &str,
    extra_env: &[(&str, &str)],
    stdin: &[u8],
) -> (serde_json::Value, i32) {
    let mut cmd = Command::new(bin);
    cni_env(&mut cmd, verb, id, ifname)
        .env("CNI_ARGS", cni_args)
        .envs(extra_env.iter().copied());
    finish(start(&mut cmd, stdin, true))
}

/// One profiled invocation (`USERSPACE_PROFILE=1`, for the benches): its wall time, whether
/// it exited 0 with stdout, and the phases (µs) of the JSON line it printed last on stderr
/// (empty for a program that prints none).
pub fn run_profiled(
    bin: &str,
    verb: &str,
    id: &str,
    stdin: &str,
) -> (Duration, std::collections::BTreeMap<String, u64>) {
    let t = Instant::now();
    let mut cmd = Command::new(bin);
    cni_env(&mut cmd, verb, id, "net1").env("USERSPACE_PROFILE", "1");
    let out = start(&mut cmd, stdin.as_bytes(), true)
        .wait_with_output()
        .unwrap();
    let wall = t.elapsed();
    assert!(
        out.status.success(),
        "{bin} {verb} {id}: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let phases = String::from_utf8_lossy(&out.stderr)
        .lines()
        .rev()
        .find_map(|l| serde_json::from_str(l).ok())
        .unwrap_or_default();
    (wall, phases)
}

/// Starts the plugin binary for `verb` with `stdin` written and closed; the caller waits or
/// kills it.
pub fn spawn_plugin(bin: &str, verb: &str, id: &str, ifname: &str, stdin: &str) -> Child {
    let mut cmd = Command::new(bin);
    cni_env(&mut cmd, verb, id, ifname);
    start(&mut cmd, stdin.as_bytes(), false)
}

/// Runs the plugin binary under `umask` (as a runtime with a strict umask would).
pub fn run_plugin_with_umask(
    umask: u32,
    verb: &str,
    id: &str,
    ifname: &str,
    stdin: &str,
) -> (serde_json::Value, i32) {
    let sh = format!(
        "umask {umask:03o} && exec {}",
        env!("CARGO_BIN_EXE_userspace")
    );
    let mut cmd = Command::new("sh");
    cmd.arg("-c").arg(sh);
    cni_env(&mut cmd, verb, id, ifname).env("PATH", "/usr/bin:/bin");
    finish(start(&mut cmd, stdin.as_bytes(), true))
}

/// A clean environment with the `CNI_*` variables of one verb (the netns is our own).
fn cni_env<'a>(cmd: &'a mut Command, verb: &str, id: &str, ifname: &str) -> &'a mut Command {
    cmd.env_clear()
        .env("CNI_COMMAND", verb)
        .env("CNI_CONTAINERID", id)
        .env("CNI_IFNAME", ifname)
        .env("CNI_NETNS", "/proc/self/ns/net")
        .env("CNI_PATH", "/usr/lib/cni")
}

/// Spawns `cmd` with `stdin` written and closed; stdout and stderr are captured or dropped.
fn start(cmd: &mut Command, stdin: &[u8], capture: bool) -> Child {
    use std::io::Write;
    let out = || {
        if capture {
            Stdio::piped()
        } else {
            Stdio::null()
        }
    };
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(out())
        .stderr(out())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child
}

/// Waits for a captured child: stdout as JSON (`Null` when empty) and the exit code.
fn finish(child: Child) -> (serde_json::Value, i32) {
    let out = child.wait_with_output().unwrap();
    let v = if out.stdout.is_empty() {
        serde_json::Value::Null
    } else {
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}): {}",
                String::from_utf8_lossy(&out.stdout)
            )
        })
    };
    (v, out.status.code().unwrap_or(-1))
}
