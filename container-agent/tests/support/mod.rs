//! Test support: real dpdk-testpmd processes driven through their interactive prompt, and
//! fixture pod directories (downward-API annotations, shared directory).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread;
use std::time::{Duration, Instant};

use userspace_cni_sdk::podinfo::downward;

/// The agent binary built by cargo for this test run.
pub fn agent_bin() -> &'static str {
    env!("CARGO_BIN_EXE_userspace-agent")
}

/// Fails (never skips) with a message naming what to install, unless the documented opt-out
/// `USERSPACE_TESTS_NO_DPDK=1` is set by a contributor without root.
///
/// Tests that start DPDK busy-poll the machine's CPUs, so they take a process-wide lock: the
/// returned guard serialises them while the rest of the suite runs in parallel.
pub fn require_dpdk(hugepages: bool) -> Option<MutexGuard<'static, ()>> {
    static DPDK: Mutex<()> = Mutex::new(());
    if std::env::var_os("USERSPACE_TESTS_NO_DPDK").is_some_and(|v| v == "1") {
        eprintln!("USERSPACE_TESTS_NO_DPDK=1: skipping a test that needs dpdk-testpmd");
        return None;
    }
    assert!(
        which_testpmd().is_some(),
        "dpdk-testpmd is not installed: run `bash scripts/setup-host.sh` (apt-get install dpdk-dev)"
    );
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test runs DPDK and must run as root"
    );
    if hugepages {
        let free =
            std::fs::read_to_string("/sys/kernel/mm/hugepages/hugepages-2048kB/free_hugepages")
                .ok()
                .and_then(|s| s.trim().parse::<u64>().ok())
                .unwrap_or(0);
        let mounted = std::fs::read_to_string("/proc/self/mountinfo")
            .map(|m| m.lines().any(|l| l.contains(" - hugetlbfs ")))
            .unwrap_or(false);
        assert!(
            mounted && free >= 256,
            "needs a hugetlbfs mount and >= 256 free 2 MiB hugepages (have {free}): run `bash scripts/setup-host.sh`"
        );
    }
    Some(DPDK.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
}

pub fn which_testpmd() -> Option<PathBuf> {
    which::which("dpdk-testpmd").ok()
}

/// A testpmd process with its stdin and collected stdout.
pub struct Testpmd {
    pub name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    // stdout and stderr apart: interleaved, a log line on stderr can split the prompt.
    out: Arc<Mutex<String>>,
    err: Arc<Mutex<String>>,
    // The threads collecting them: joined once the process is gone, so its output is whole.
    readers: Vec<thread::JoinHandle<()>>,
    prefix: Option<String>,
}

impl Testpmd {
    /// Starts `program args…` with piped stdio; `prefix` is the EAL file prefix to clean up.
    pub fn spawn(name: &str, program: &str, args: &[String], prefix: Option<&str>) -> Self {
        eprintln!("[{name}] {program} {}", args.join(" "));
        // testpmd's printf output to a pipe is block-buffered while its prompt is written
        // directly; stdbuf makes stdout line-buffered (it survives the agent's exec).
        let mut child = Command::new("stdbuf")
            .arg("-oL")
            .arg(program)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let out = Arc::new(Mutex::new(String::new()));
        let err = Arc::new(Mutex::new(String::new()));
        let mut readers = Vec::new();
        for (mut stream, out) in [
            (
                Box::new(child.stdout.take().unwrap()) as Box<dyn Read + Send>,
                out.clone(),
            ),
            (Box::new(child.stderr.take().unwrap()), err.clone()),
        ] {
            readers.push(thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock()
                        .unwrap()
                        .push_str(&String::from_utf8_lossy(&buf[..n]));
                }
            }));
        }
        let stdin = child.stdin.take();
        Self {
            name: name.into(),
            child,
            stdin,
            out,
            err,
            readers,
            prefix: prefix.map(str::to_owned),
        }
    }

    /// stdout, then stderr (each in order; not interleaved).
    pub fn output(&self) -> String {
        format!(
            "{}\n{}",
            self.stdout(),
            strip_ansi(&self.err.lock().unwrap())
        )
    }

    /// stdout alone (the prompt and the statistics).
    pub fn stdout(&self) -> String {
        strip_ansi(&self.out.lock().unwrap())
    }

    /// Waits until the output contains `needle` `count` times; panics with the output on timeout
    /// or when the process exits first.
    pub fn wait_for(&mut self, needle: &str, count: usize, timeout: Duration) {
        let start = Instant::now();
        loop {
            if self.output().matches(needle).count() >= count {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                for r in self.readers.drain(..) {
                    let _ = r.join();
                }
                panic!(
                    "[{}] exited ({status}) before printing {needle:?}:\n{}",
                    self.name,
                    self.output()
                );
            }
            if start.elapsed() > timeout {
                panic!(
                    "[{}] did not print {needle:?} within {timeout:?}:\n{}",
                    self.name,
                    self.output()
                );
            }
            thread::sleep(Duration::from_millis(50));
        }
    }

    /// Sends one command line and waits for the next prompt.
    pub fn cmd(&mut self, line: &str) {
        let prompts = self.stdout().matches("testpmd> ").count();
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        self.wait_for("testpmd> ", prompts + 1, Duration::from_secs(30));
    }

    /// `show port stats all` → (rx, tx) per port.
    pub fn port_stats(&mut self) -> Vec<(u64, u64)> {
        let before = self.stdout().len();
        self.cmd("show port stats all");
        let text = self.stdout()[before..].to_owned();
        let stats = parse_port_stats(&text);
        assert!(
            !stats.is_empty(),
            "[{}] no port statistics in:\n{}",
            self.name,
            self.output()
        );
        stats
    }

    /// Polls `show port stats all` until `done` holds for the (rx, tx) counters; panics with
    /// the last ones after `timeout`. Counters are read as soon as they are right, and a
    /// count that overshoots still fails the exact assertions that follow.
    pub fn stats_until(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[(u64, u64)]) -> bool,
    ) -> Vec<(u64, u64)> {
        let deadline = Instant::now() + timeout;
        loop {
            let stats = self.port_stats();
            if done(&stats) {
                return stats;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] {what} not reached within {timeout:?}: (rx, tx) per port {stats:?}",
                self.name
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// Polls `show port info <port>` until its link is up (or down); panics after `timeout`.
    pub fn wait_link(&mut self, port: u16, up: bool, timeout: Duration) {
        let want = if up {
            "Link status: up"
        } else {
            "Link status: down"
        };
        let deadline = Instant::now() + timeout;
        loop {
            let before = self.stdout().len();
            self.cmd(&format!("show port info {port}"));
            if self.stdout()[before..].contains(want) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "[{}] port {port}: no {want:?} within {timeout:?}:\n{}",
                self.name,
                self.output()
            );
            thread::sleep(Duration::from_millis(100));
        }
    }

    /// `quit`, then waits for a clean exit.
    pub fn quit(mut self) -> String {
        if let Some(mut stdin) = self.stdin.take() {
            let _ = writeln!(stdin, "quit");
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    for r in self.readers.drain(..) {
                        let _ = r.join();
                    }
                    let out = self.output();
                    assert!(
                        status.success(),
                        "[{}] exited with {status}:\n{out}",
                        self.name
                    );
                    return out;
                }
                _ if Instant::now() > deadline => {
                    panic!("[{}] did not quit:\n{}", self.name, self.output())
                }
                _ => thread::sleep(Duration::from_millis(50)),
            }
        }
    }
}

impl Drop for Testpmd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if let Some(p) = &self.prefix {
            remove_runtime_files(p);
        }
    }
}

/// Removes what DPDK leaves for a file prefix: `/dev/hugepages/<prefix>*` and
/// `/var/run/dpdk/<prefix>/`.
pub fn remove_runtime_files(prefix: &str) {
    if let Ok(entries) = std::fs::read_dir("/dev/hugepages") {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(prefix) {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let _ = std::fs::remove_dir_all(Path::new("/var/run/dpdk").join(prefix));
}

/// Leftover runtime files of a prefix (for residue checks).
pub fn runtime_files(prefix: &str) -> Vec<PathBuf> {
    let mut v = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/dev/hugepages") {
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(prefix) {
                v.push(e.path());
            }
        }
    }
    let run = Path::new("/var/run/dpdk").join(prefix);
    if run.exists() {
        v.push(run);
    }
    v
}

pub fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\x1b' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Parses testpmd's `show port stats all`: one (RX-packets, TX-packets) per port block.
pub fn parse_port_stats(text: &str) -> Vec<(u64, u64)> {
    let field = |block: &str, key: &str| -> u64 {
        block
            .split(key)
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("no {key} in {block}"))
    };
    text.split("NIC statistics for port")
        .skip(1)
        .map(|b| (field(b, "RX-packets:"), field(b, "TX-packets:")))
        .collect()
}

/// A fake pod: downward-API directory, shared directory and container ID.
pub struct Pod {
    pub dir: tempfile::TempDir,
    pub id: String,
}

impl Pod {
    pub fn new() -> Self {
        // Short base path: socket paths must stay under 108 bytes.
        let dir = tempfile::Builder::new()
            .prefix("usp")
            .tempdir_in("/tmp")
            .unwrap();
        let id = format!("{:016x}{}", rand_u64(), "c0ffee".repeat(8));
        std::fs::create_dir_all(dir.path().join("podinfo")).unwrap();
        std::fs::create_dir_all(dir.path().join("shared")).unwrap();
        Self { dir, id }
    }

    pub fn id12(&self) -> &str {
        &self.id[..12]
    }

    pub fn podinfo(&self) -> PathBuf {
        self.dir.path().join("podinfo")
    }

    pub fn shared(&self) -> PathBuf {
        self.dir.path().join("shared")
    }

    /// Writes the downward-API annotations file from key/value pairs.
    pub fn annotate(&self, pairs: &[(&str, String)]) {
        let map = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        std::fs::write(self.podinfo().join("annotations"), downward::render(&map)).unwrap();
    }

    /// The plugin's view of this pod: the configuration-data entries and the mapped dir
    /// (`mapped` defaults to this pod's shared dir).
    pub fn configure(&self, entries: &[serde_json::Value], mapped: Option<&Path>) {
        let shared = self.shared();
        self.annotate(&[
            (
                "userspace/configuration-data",
                serde_json::to_string(entries).unwrap(),
            ),
            (
                "userspace/mapped-dir",
                mapped.unwrap_or(&shared).display().to_string(),
            ),
        ]);
    }

    /// A pod with one interface `net1` of the given container-side config.
    pub fn with_one_interface(config: serde_json::Value, ip: &str) -> Self {
        let pod = Self::new();
        pod.configure(&[config_entry(&pod.id, "net1", config, ip)], None);
        pod
    }

    /// The agent command with this pod's locations.
    pub fn agent_args(&self, sub: &[&str]) -> Vec<String> {
        let mut v = vec![
            "--podinfo".to_owned(),
            self.podinfo().display().to_string(),
            "--container-id".to_owned(),
            self.id.clone(),
        ];
        v.extend(sub.iter().map(|s| s.to_string()));
        v
    }
}

pub fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish()
}

/// A configuration-data entry as the plugin writes it.
pub fn config_entry(
    id: &str,
    ifname: &str,
    config: serde_json::Value,
    ip: &str,
) -> serde_json::Value {
    serde_json::json!({
        "containerId": id,
        "ifName": ifname,
        "name": "userspace-net",
        "config": config,
        "ipResult": {
            "cniVersion": "1.0.0",
            "interfaces": [{"name": ifname, "mac": "02:00:00:00:00:01", "sandbox": "/proc/1/ns/net"}],
            "ips": [{"address": ip, "gateway": "10.56.217.1", "interface": 0}],
            "routes": [{"dst": "0.0.0.0/0"}],
            "dns": {}
        }
    })
}
