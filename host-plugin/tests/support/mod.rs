//! Test support: a private ovsdb-server (Debian's openvswitch packages) in a temp dir, and
//! `ovs-vsctl --no-wait` as an independent oracle.
#![allow(dead_code)]

pub mod node;

use std::path::{Path, PathBuf};
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

/// A running ovsdb-server, killed on drop.
pub struct Ovsdb {
    pub dir: tempfile::TempDir,
    child: Child,
}

fn need(bin: &str) {
    assert!(
        which(bin).is_some(),
        "{bin} is not installed: run `bash scripts/setup-host.sh` (apt-get install openvswitch-switch-dpdk)"
    );
}

pub fn which(bin: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join(bin))
            .find(|p| p.exists())
    })
}

impl Ovsdb {
    pub fn start() -> Self {
        need("ovsdb-server");
        need("ovsdb-tool");
        need("ovs-vsctl");
        // Short path: unix socket paths are limited to 107 bytes.
        let dir = tempfile::Builder::new()
            .prefix("ovs")
            .tempdir_in("/tmp")
            .unwrap();
        let db = dir.path().join("conf.db");
        let status = Command::new("ovsdb-tool")
            .arg("create")
            .arg(&db)
            .arg("/usr/share/openvswitch/vswitch.ovsschema")
            .status()
            .unwrap();
        assert!(status.success(), "ovsdb-tool create failed");
        let sock = dir.path().join("db.sock");
        let child = Command::new("ovsdb-server")
            .arg(&db)
            .arg(format!("--remote=punix:{}", sock.display()))
            .arg(format!("--unixctl={}", dir.path().join("ctl").display()))
            .arg(format!("--pidfile={}", dir.path().join("pid").display()))
            .arg(format!("--log-file={}", dir.path().join("log").display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Self { dir, child };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !sock.exists() {
            assert!(
                Instant::now() < deadline,
                "ovsdb-server did not create {}",
                sock.display()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        s.vsctl(&["init"]);
        s
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.path().join("db.sock")
    }

    pub fn endpoint(&self) -> String {
        format!("unix:{}", self.sock().display())
    }

    /// `ovs-vsctl --no-wait` against this server; panics on failure; returns stdout.
    pub fn vsctl(&self, args: &[&str]) -> String {
        let out = Command::new("ovs-vsctl")
            .arg(format!("--db=unix:{}", self.sock().display()))
            .arg("--no-wait")
            .arg("--timeout=10")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "ovs-vsctl {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// Ports of a bridge, sorted.
    pub fn ports(&self, bridge: &str) -> Vec<String> {
        let mut v: Vec<String> = self
            .vsctl(&["list-ports", bridge])
            .lines()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    }

    /// Bridges, sorted.
    pub fn bridges(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .vsctl(&["list-br"])
            .lines()
            .map(str::to_owned)
            .collect();
        v.sort();
        v
    }

    /// Number of rows in a table.
    pub fn rows(&self, table: &str) -> usize {
        self.vsctl(&["--columns=_uuid", "list", table])
            .lines()
            .filter(|l| l.starts_with("_uuid"))
            .count()
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Ovsdb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
